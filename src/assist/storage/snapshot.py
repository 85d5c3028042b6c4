"""The scoring snapshot: its file names, its one writer and its one reader.

Layout of a scores folder (``<workspace>/scores``)::

    <as_of>/scores.parquet            every household: scores, ranks, allocation, explanation of
                                      the listed ones, indicators (pandas engine: one file indexed
                                      by household id; Spark engine: a Parquet dataset, a folder,
                                      with a ``household_id`` column)
    <as_of>/referrals.parquet         the listed households, allocated first, by street
    <as_of>/referrals/<street>.parquet|.csv   the same, one street each
    <as_of>/summary.json              the month's summary (its presence marks a whole snapshot),
                                      with its ``revision`` (``r1``, ``r2``, ...)
    revisions/<as_of>/<rN>/           earlier revisions of the month, each a whole snapshot folder
    current.json                      {"as_of", "folder", "model_version", "config_hash",
                                      "revision"}

A month's folder is written as a whole or not at all (:func:`assist.storage.atomic.replacing`),
then ``current.json`` is replaced atomically (it never moves back to an earlier month).

Revisions: a month is identified by its model version and config hash. Writing a month already
scored with the same pair rewrites that revision in place; with another pair, the present
folder is first kept whole as ``revisions/<as_of>/<rN>/`` (hard links, atomic), then the new one
is written as ``r<N+1>``. :func:`scored_with` tells a caller, before any work, that a re-score
would change nothing. A killed run leaves either the old revision current (perhaps also kept)
or the new one: never a mix. Factors, programmes and reasons
(:data:`LIST_COLUMNS`) are Parquet ``list<string>`` columns; the CSV lists join them with the
separator each had as text. Both engines write this format (the Spark engine takes the names
and the JSON texts from here) and :func:`read_snapshot` reads either engine's output.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assist.errors import InputError
from assist.storage.atomic import json_text, replacing, write_json

SCORES_FILE = "scores.parquet"
REFERRALS_FILE = "referrals.parquet"
REFERRALS_DIR = "referrals"
SUMMARY_FILE = "summary.json"
CURRENT_FILE = "current.json"
REVISIONS_DIR = "revisions"
#: the revision of a month scored once (and of a summary written before revisions existed)
FIRST_REVISION = "r1"
#: list columns (Parquet ``list<string>``) and the separator that joins them in CSV lists
LIST_COLUMNS: dict[str, str] = {
    "top_factors_en": "; ", "top_factors_zh": "；", "programmes": ";",
    "allocated_programmes": ";", "reasons_en": "; ", "reasons_zh": "；", "receiving": ";",
}
LIST_TYPE = pa.list_(pa.string())


# -- where things are ---------------------------------------------------------------------------
def folder(scores_dir: Path, as_of: str) -> Path:
    """The snapshot folder of ``as_of``."""
    return Path(scores_dir) / as_of


def exists(scores_dir: Path, as_of: str) -> bool:
    """Whether ``as_of`` has a snapshot (its scores, from either engine)."""
    return (folder(scores_dir, as_of) / SCORES_FILE).exists()


def months(scores_dir: Path) -> list[str]:
    """Months with a snapshot, oldest first."""
    d = Path(scores_dir)
    return sorted(p.parent.name for p in d.glob(f"*/{SCORES_FILE}")) if d.is_dir() else []


def has_current(scores_dir: Path) -> bool:
    """Whether a snapshot has been named current (``current.json`` exists)."""
    return (Path(scores_dir) / CURRENT_FILE).is_file()


# -- the JSON files -----------------------------------------------------------------------------
def summary_text(summary: Mapping[str, Any]) -> str:
    """``summary.json``'s text (sorted keys, indent 2, UTF-8, final newline)."""
    return json_text(dict(summary))


def pointer(*, as_of: str, folder: str | Path, model_version: str,
            config_hash: str, revision: str | None = None) -> dict[str, str]:
    """``current.json``'s content (``revision`` left out when not given)."""
    out = {"as_of": as_of, "folder": str(folder), "model_version": model_version,
           "config_hash": config_hash}
    return out if revision is None else out | {"revision": revision}


def pointer_text(**fields: Any) -> str:  # noqa: ANN401
    """``current.json``'s text (the fields of :func:`pointer`)."""
    return json_text(pointer(**fields))


# -- list columns -------------------------------------------------------------------------------
def as_list(value: Any) -> list[str] | None:  # noqa: ANN401
    """One cell of a list column as a list of str (None when missing). Text — the ``flags``
    column, or a list column of a snapshot written before they were lists — is split at
    ``;`` or ``；``."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return [p.strip() for p in value.replace("；", ";").split(";") if p.strip()]
    return [str(v) for v in value]


def _lists(values: Iterable[Any]) -> list[list[str] | None]:
    return [as_list(v) for v in values]


def arrow_table(frame: pd.DataFrame, *, preserve_index: bool | None = None) -> pa.Table:
    """``frame`` as Arrow, its :data:`LIST_COLUMNS` typed ``list<string>`` (other columns as
    ``DataFrame.to_parquet`` converts them)."""
    lists = [c for c in LIST_COLUMNS if c in frame.columns]
    if not lists:
        return pa.Table.from_pandas(frame, preserve_index=preserve_index)
    frame = frame.copy(deep=False)
    for c in lists:
        frame[c] = pd.Series(_lists(frame[c]), index=frame.index, dtype=object)
    schema = pa.Schema.from_pandas(frame, preserve_index=preserve_index)
    for c in lists:
        schema = schema.set(schema.get_field_index(c), pa.field(c, LIST_TYPE))
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=preserve_index)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a snapshot table as ``DataFrame.to_parquet`` would, list columns as lists."""
    pq.write_table(arrow_table(frame), path, compression="snappy")


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its list columns joined into text (for CSV lists)."""
    out = frame.copy(deep=False)
    for c, sep in LIST_COLUMNS.items():
        if c in out.columns:
            out[c] = pd.array([None if v is None else sep.join(v) for v in _lists(out[c])],
                              dtype="string")
    return out


def _read_lists(frame: pd.DataFrame) -> pd.DataFrame:
    for c in LIST_COLUMNS:
        if c in frame.columns:
            frame[c] = pd.Series(_lists(frame[c]), index=frame.index, dtype=object)
    return frame


# -- the writer ---------------------------------------------------------------------------------
def write_referrals(referrals: pd.DataFrame, target: Path) -> None:
    """``referrals.parquet`` and ``referrals/<street>.parquet|.csv`` into the folder ``target``."""
    target = Path(target)
    write_frame(referrals, target / REFERRALS_FILE)
    (target / REFERRALS_DIR).mkdir()
    for street, part in referrals.groupby("street_code", sort=True):
        write_frame(part, target / REFERRALS_DIR / f"{street}.parquet")
        csv_frame(part).to_csv(target / REFERRALS_DIR / f"{street}.csv", encoding="utf-8")


def write_snapshot(scores_dir: Path, as_of: str, *, scores: pd.DataFrame,
                   referrals: pd.DataFrame,
                   summary: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
                   model_version: str, config_hash: str) -> Path:
    """Write the snapshot of ``as_of`` as a whole (or not at all), then name it current.

    ``summary`` may be a function, called once the tables are written (so it can tell how
    long that took); its revision, model version and config hash are set here (see
    :func:`keep_revision`). Returns the snapshot folder.
    """
    revision = keep_revision(scores_dir, as_of, model_version=model_version,
                             config_hash=config_hash)
    target = folder(scores_dir, as_of)
    with replacing(target, marker=SUMMARY_FILE) as tmp:
        write_frame(scores, tmp / SCORES_FILE)
        write_referrals(referrals, tmp)
        body = dict(summary() if callable(summary) else summary)
        write_json(body | {"revision": revision, "model_version": model_version,
                           "config_hash": config_hash}, tmp / SUMMARY_FILE)
    name_current(scores_dir, as_of=as_of, model_version=model_version,
                 config_hash=config_hash, revision=revision)
    return target


def name_current(scores_dir: Path, *, as_of: str, model_version: str, config_hash: str,
                 revision: str | None) -> bool:
    """Point ``current.json`` at ``as_of`` unless it names a later month; whether it did."""
    path = Path(scores_dir) / CURRENT_FILE
    if path.is_file() and str(json.loads(path.read_text(encoding="utf-8"))["as_of"]) > as_of:
        return False
    write_json(pointer(as_of=as_of, folder=folder(scores_dir, as_of), model_version=model_version,
                       config_hash=config_hash, revision=revision), path)
    return True


# -- revisions ----------------------------------------------------------------------------------
def revision_of(summary: Mapping[str, Any]) -> str:
    """A summary's revision id (``r1`` for one written before revisions existed)."""
    return str(summary.get("revision") or FIRST_REVISION)


def revision_key(summary: Mapping[str, Any]) -> tuple[str, str, str]:
    """What tells two loads of a month apart: revision, model version, config hash."""
    return (revision_of(summary), str(summary.get("model_version", "")),
            str(summary.get("config_hash", "")))


def _number(revision: str) -> int:
    return int(revision[1:]) if revision[:1] == "r" and revision[1:].isdigit() else 1


def revision_folder(scores_dir: Path, as_of: str, revision: str) -> Path:
    """Where an earlier revision of ``as_of`` is kept."""
    return Path(scores_dir) / REVISIONS_DIR / as_of / revision


def present_summary(scores_dir: Path, as_of: str) -> dict[str, Any] | None:
    """``summary.json`` of ``as_of``'s present revision (None when the month is not complete)."""
    path = folder(scores_dir, as_of) / SUMMARY_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def revisions(scores_dir: Path, as_of: str) -> list[str]:
    """Revisions of ``as_of`` that can be read, oldest first (the last is the present one)."""
    kept = Path(scores_dir) / REVISIONS_DIR / as_of
    out = {p.parent.name for p in kept.glob(f"*/{SUMMARY_FILE}")} if kept.is_dir() else set()
    present = present_summary(scores_dir, as_of)
    if present is not None:
        out.add(revision_of(present))
    return sorted(out, key=_number)


def scored_with(scores_dir: Path, as_of: str, *, model_version: str,
                config_hash: str) -> dict[str, Any] | None:
    """The month's summary when its present revision was scored with this model and config (so
    scoring it again would change nothing); None otherwise."""
    present = present_summary(scores_dir, as_of)
    if present is None or not exists(scores_dir, as_of):
        return None
    same = (str(present.get("model_version", "")), str(present.get("config_hash", ""))) == \
        (model_version, config_hash)
    return present if same else None


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # snapshot files are never changed in place: a link is a copy
    except OSError:
        shutil.copy2(src, dst)


def keep_revision(scores_dir: Path, as_of: str, *, model_version: str, config_hash: str) -> str:
    """Before ``as_of`` is written with this model and config: the revision id it gets.

    A new month: ``r1``. Scored with the same model and config: its present id (rewritten in
    place). Otherwise the present folder is kept whole under ``revisions/<as_of>/<rN>/`` and
    the id is the next one."""
    present = present_summary(scores_dir, as_of)
    if present is None:
        return FIRST_REVISION
    revision = revision_of(present)
    if scored_with(scores_dir, as_of, model_version=model_version, config_hash=config_hash):
        return revision
    with replacing(revision_folder(scores_dir, as_of, revision), marker=SUMMARY_FILE) as tmp:
        shutil.copytree(folder(scores_dir, as_of), tmp, copy_function=_link_or_copy,
                        dirs_exist_ok=True)
    return f"r{max(_number(r) for r in revisions(scores_dir, as_of)) + 1}"


def stamp_revision(scores_dir: Path, as_of: str, revision: str) -> None:
    """Write ``revision`` into a month's ``summary.json`` and, when it names the month, into
    ``current.json`` (for a writer that could not: the Spark engine)."""
    summary = present_summary(scores_dir, as_of)
    if summary is None or summary.get("revision") == revision:
        return
    write_json(summary | {"revision": revision}, folder(scores_dir, as_of) / SUMMARY_FILE)
    path = Path(scores_dir) / CURRENT_FILE
    if path.is_file():
        named = json.loads(path.read_text(encoding="utf-8"))
        if named.get("as_of") == as_of:
            write_json(named | {"revision": revision}, path)


# -- the reader ---------------------------------------------------------------------------------
def _read_table(path: Path, columns: list[str] | None) -> pd.DataFrame:
    """One snapshot table indexed by household id, whichever engine wrote it: the pandas engine
    writes one file with the id as index, the Spark engine a dataset (folder) with a
    ``household_id`` column."""
    if path.is_dir():
        cols = None if columns is None else ["household_id", *columns]
        frame = pd.read_parquet(path, columns=cols).set_index("household_id")
        return _read_lists(frame.sort_index() if path.name == SCORES_FILE else frame)
    return _read_lists(pd.read_parquet(path, columns=columns))


def read_scores(scores_dir: Path, as_of: str, *, columns: list[str] | None = None) -> pd.DataFrame:
    """``scores.parquet`` of ``as_of`` (every household, indexed by id; list columns as lists)."""
    path = folder(scores_dir, as_of) / SCORES_FILE
    if not path.exists():
        raise InputError(f"no scoring snapshot for {as_of} (run `assist score --as-of {as_of}`)",
                         file=str(path))
    return _read_table(path, columns)


def read_referrals(scores_dir: Path, as_of: str, *,
                   columns: list[str] | None = None) -> pd.DataFrame:
    """``referrals.parquet`` of ``as_of`` (listed households in list order)."""
    return _read_table(folder(scores_dir, as_of) / REFERRALS_FILE, columns)


def read_summary(scores_dir: Path, as_of: str) -> dict[str, Any]:
    """``summary.json`` of ``as_of``; :class:`InputError` when the snapshot is not complete."""
    path = folder(scores_dir, as_of) / SUMMARY_FILE
    if not path.is_file():
        raise InputError(f"no complete scoring snapshot for {as_of}", file=str(path))
    return json.loads(path.read_text(encoding="utf-8"))


def current(scores_dir: Path) -> str:
    """The month ``current.json`` names."""
    path = Path(scores_dir) / CURRENT_FILE
    if not path.is_file():
        raise InputError("no scoring snapshot yet: run `assist score` first", file=str(path))
    return str(json.loads(path.read_text(encoding="utf-8"))["as_of"])


@dataclass(frozen=True)
class SnapshotFiles:
    """A complete scoring snapshot read from disk."""

    as_of: str
    folder: Path
    summary: dict[str, Any]
    scores: pd.DataFrame
    referrals: pd.DataFrame


def read_snapshot(scores_dir: Path, as_of: str | None = None, *,
                  revision: str | None = None) -> SnapshotFiles:
    """The snapshot of ``as_of`` (default: the one ``current.json`` names), its present
    revision or, given ``revision``, that one (an earlier one is read from ``revisions/``)."""
    as_of = current(scores_dir) if as_of is None else as_of
    summary = read_summary(scores_dir, as_of)
    if revision is not None and revision != revision_of(summary):
        return _read_kept(scores_dir, as_of, revision)
    return SnapshotFiles(as_of=as_of, folder=folder(scores_dir, as_of), summary=summary,
                         scores=read_scores(scores_dir, as_of),
                         referrals=read_referrals(scores_dir, as_of))


def _read_kept(scores_dir: Path, as_of: str, revision: str) -> SnapshotFiles:
    base = revision_folder(scores_dir, as_of, revision)
    if not (base / SUMMARY_FILE).is_file():
        raise InputError(f"{as_of} has no revision {revision} (it has "
                         f"{', '.join(revisions(scores_dir, as_of))})", file=str(base))
    summary = json.loads((base / SUMMARY_FILE).read_text(encoding="utf-8"))
    return SnapshotFiles(as_of=as_of, folder=base, summary=summary,
                         scores=_read_table(base / SCORES_FILE, None),
                         referrals=_read_table(base / REFERRALS_FILE, None))
