"""Atomic writes: a file replaced as a whole (:func:`write_text`, :func:`write_bytes`,
:func:`write_json`), an output folder replaced as a whole (:func:`replacing`), or not at all.

A file is written to a temporary file beside it (``.<name>.<random>.tmp``) and renamed over
it: readers see the old content or the new, never a part. (A crash of the process is covered;
the data is not fsynced, so a power cut may still lose the last write.)

For a folder, everything is written to a staging folder beside the output (``.<name>.incoming``); only when
it is complete is it swapped in with two renames: the current output moves aside
(``.<name>.previous``), the staging folder takes its place, the previous output is deleted.
A run that fails removes its staging folder and leaves the output untouched. A run killed
mid-swap is repaired by the next run (:func:`recover`): if the output is missing, the previous
output is put back (the killed run never reported success); leftovers are deleted.

One writer at a time per output folder: concurrent runs on the same folder are not supported.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assist.errors import InputError

STAGING_SUFFIX = ".incoming"
PREVIOUS_SUFFIX = ".previous"


def write_bytes(data: bytes, path: Path) -> Path:
    """Replace the file ``path`` with ``data`` atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as fh:  # mode 0666 less the umask, as a plain write would
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(text: str, path: Path) -> Path:
    """Replace the file ``path`` with ``text`` (UTF-8) atomically."""
    return write_bytes(text.encode("utf-8"), path)


def json_text(obj: Any, *, indent: int | None = 2, sort_keys: bool = True,  # noqa: ANN401
              ensure_ascii: bool = False, allow_nan: bool = False, newline: bool = True) -> str:
    """``obj`` as JSON text; the defaults are the house format (stable, readable, UTF-8)."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii,
                      allow_nan=allow_nan)
    return text + "\n" if newline else text


def write_json(obj: Any, path: Path, **style: Any) -> Path:  # noqa: ANN401
    """Replace the file ``path`` with ``obj`` as JSON atomically (``style``: see
    :func:`json_text`; default sorted keys, indent 2, UTF-8, no NaN, final newline)."""
    return write_text(json_text(obj, **style), path)


def staging_path(out: Path) -> Path:
    """The staging folder used while ``out`` is being rebuilt."""
    return out.parent / f".{out.name}{STAGING_SUFFIX}"


def previous_path(out: Path) -> Path:
    """Where the current ``out`` waits during a swap."""
    return out.parent / f".{out.name}{PREVIOUS_SUFFIX}"


def recover(out: Path) -> None:
    """Repair what a killed run left: restore ``out`` if a swap was cut short, drop leftovers."""
    out = Path(out)
    previous, staging = previous_path(out), staging_path(out)
    if previous.exists():
        if out.exists():
            shutil.rmtree(previous)
        else:
            os.rename(previous, out)
    if staging.exists():
        shutil.rmtree(staging)


def check_replaceable(out: Path, *, marker: str) -> None:
    """Refuse to replace an existing, non-empty folder that does not hold ``marker``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a folder", file=str(out))
    if out.is_dir() and any(out.iterdir()) and not (out / marker).is_file():
        raise InputError(f"refusing to replace a non-empty folder without {marker} "
                         "(not an earlier output of this command)", file=str(out))


@contextmanager
def replacing(out: Path, *, marker: str) -> Iterator[Path]:
    """Yield an empty staging folder; swap it in for ``out`` on success, delete it on failure."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    check_replaceable(out, marker=marker)
    staging = staging_path(out)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap(staging, out)


def swap(staging: Path, out: Path) -> None:
    """Put ``staging`` in place of ``out`` with two renames, then delete the old output."""
    previous = previous_path(out)
    if out.exists():
        os.rename(out, previous)
    os.rename(staging, out)
    if previous.exists():
        shutil.rmtree(previous)
