"""The scoring snapshot: its file names, its one writer and its one reader.

Layout of a scores folder (``<workspace>/scores``)::

    <as_of>/scores.parquet            every household: scores, ranks, allocation, explanation of
                                      the listed ones, indicators (pandas engine: one file indexed
                                      by household id; Spark engine: a Parquet dataset, a folder,
                                      with a ``household_id`` column)
    <as_of>/referrals.parquet         the listed households, allocated first, by street
    <as_of>/referrals/<street>.parquet|.csv   the same, one street each
    <as_of>/summary.json              the month's summary (its presence marks a whole snapshot)
    current.json                      {"as_of", "folder", "model_version", "config_hash"}

A month's folder is written as a whole or not at all (:func:`assist.storage.atomic.replacing`),
then ``current.json`` is replaced atomically. Factors, programmes and reasons
(:data:`LIST_COLUMNS`) are Parquet ``list<string>`` columns; the CSV lists join them with the
separator each had as text. Both engines write this format (the Spark engine takes the names
and the JSON texts from here) and :func:`read_snapshot` reads either engine's output.
"""

from __future__ import annotations

import json
import math
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
#: list columns (Parquet ``list<string>``) and the separator that joins them in CSV lists
LIST_COLUMNS: dict[str, str] = {
    "top_factors_en": "; ", "top_factors_zh": "；", "programmes": ";",
    "allocated_programmes": ";", "reasons_en": "; ", "reasons_zh": "；",
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
            config_hash: str) -> dict[str, str]:
    """``current.json``'s content."""
    return {"as_of": as_of, "folder": str(folder), "model_version": model_version,
            "config_hash": config_hash}


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
    long that took). Returns the snapshot folder.
    """
    target = folder(scores_dir, as_of)
    with replacing(target, marker=SUMMARY_FILE) as tmp:
        write_frame(scores, tmp / SCORES_FILE)
        write_referrals(referrals, tmp)
        write_json(dict(summary() if callable(summary) else summary), tmp / SUMMARY_FILE)
    write_json(pointer(as_of=as_of, folder=target, model_version=model_version,
                       config_hash=config_hash), Path(scores_dir) / CURRENT_FILE)
    return target


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


def read_snapshot(scores_dir: Path, as_of: str | None = None) -> SnapshotFiles:
    """The snapshot of ``as_of`` (default: the one ``current.json`` names)."""
    as_of = current(scores_dir) if as_of is None else as_of
    summary = read_summary(scores_dir, as_of)
    return SnapshotFiles(as_of=as_of, folder=folder(scores_dir, as_of), summary=summary,
                         scores=read_scores(scores_dir, as_of),
                         referrals=read_referrals(scores_dir, as_of))
