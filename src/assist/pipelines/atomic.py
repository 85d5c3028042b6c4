"""Replace an output folder as a whole, or not at all.

Everything is written to a staging folder beside the output (``.<name>.incoming``); only when
it is complete is it swapped in with two renames: the current output moves aside
(``.<name>.previous``), the staging folder takes its place, the previous output is deleted.
A run that fails removes its staging folder and leaves the output untouched. A run killed
mid-swap is repaired by the next run (:func:`recover`): if the output is missing, the previous
output is put back (the killed run never reported success); leftovers are deleted.

One writer at a time per output folder: concurrent runs on the same folder are not supported.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assist.errors import InputError

STAGING_SUFFIX = ".incoming"
PREVIOUS_SUFFIX = ".previous"


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
