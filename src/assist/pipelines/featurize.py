"""Stage ``features``: the validated store -> household features for one as-of month.

Writes ``<out>/<as_of>/``: ``features.parquet`` (one column per indicator),
``profile.parquet`` (per-dimension share deprived), ``attributes.parquet`` (jurisdiction
and groups) and ``meta.json``, atomically: a failed run leaves the previous folder in place.

The store is read one household bucket at a time (:mod:`assist.storage.buckets`): each
bucket's tables go through the one feature path and only its households' results are kept,
so memory holds one bucket's source rows, not the district's. The results, assembled in
household order (:func:`assemble`), are the same, bit for bit, whatever the bucket count.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assist.features import CATALOG, build, dimension_profile
from assist.features.attributes import household_attributes
from assist.features.catalog import Catalog
from assist.features.schemas import TABLE_ORDER
from assist.features.view import WINDOW_MONTHS, SourceView, months_needed
from assist.storage.atomic import replacing, write_json
from assist.storage.store import load_tables, store_buckets, window

META_FILE = "meta.json"


@dataclass(frozen=True)
class FeatureRun:
    """What ``assist features`` produced."""

    as_of: str
    households: int
    indicators: int
    catalog_version: str
    folder: str
    deprived_share: dict[str, float]

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


def load_features(folder: Path, as_of: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the features and attributes written for ``as_of``."""
    base = Path(folder) / as_of
    return (pd.read_parquet(base / "features.parquet"),
            pd.read_parquet(base / "attributes.parquet"))


def write_frames_atomically(target: Path, frames: dict[str, pd.DataFrame], meta: dict) -> None:
    """Write Parquet frames and ``meta.json`` into ``target`` as a whole, or not at all
    (:func:`assist.storage.atomic.replacing`)."""
    with replacing(Path(target), marker=META_FILE) as tmp:
        for name, df in frames.items():
            df.to_parquet(tmp / f"{name}.parquet")
        write_json(meta, tmp / META_FILE, ensure_ascii=True, allow_nan=True, newline=False)


def assemble(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-bucket results of the same columns as one frame in household (index) order."""
    kept = [f for f in frames if len(f)] or frames[:1]
    if len(kept) == 1:
        return kept[0] if kept[0].index.is_monotonic_increasing else kept[0].sort_index()
    return pd.concat(kept).sort_index()


def load_for_features(store: Path, as_of: str, *,
                      bucket: int | None = None) -> dict[str, pd.DataFrame]:
    """Load from the store exactly the snapshots each table needs for features as of ``as_of``
    (``bucket``: of that bucket's households only)."""
    by_months: dict[int, list[str]] = {}
    for table in TABLE_ORDER:
        by_months.setdefault(months_needed(table), []).append(table)
    tables: dict[str, pd.DataFrame] = {}
    for months, names in sorted(by_months.items()):
        tables.update(load_tables(store, as_of=as_of, months=months, tables=names,
                                  bucket=bucket))
    return tables


def load_for_months(store: Path, as_of: str, *, earlier: int = 0,
                    bucket: int | None = None) -> dict[str, pd.DataFrame]:
    """Load once what features need for ``as_of`` and for each of the ``earlier`` months before it.

    Pass the result through :func:`tables_as_of` to get exactly the rows
    :func:`load_for_features` would load for one of those months.
    """
    by_months: dict[int, list[str]] = {}
    for table in TABLE_ORDER:
        by_months.setdefault(months_needed(table) + earlier, []).append(table)
    tables: dict[str, pd.DataFrame] = {}
    for months, names in sorted(by_months.items()):
        tables.update(load_tables(store, as_of=as_of, months=months, tables=names,
                                  bucket=bucket))
    return tables


def tables_as_of(tables: dict[str, pd.DataFrame], as_of: str) -> dict[str, pd.DataFrame]:
    """The rows of ``tables`` (from :func:`load_for_months`) that :func:`load_for_features`
    loads for ``as_of``: each table's snapshot window, as slices of the loaded frames."""
    out = {}
    for name, df in tables.items():
        months = window(as_of, months_needed(name))
        snap = pa.array(df["snapshot"])
        inside = pc.and_(pc.greater_equal(snap, months[0]), pc.less_equal(snap, months[-1]))
        rows = np.flatnonzero(inside.fill_null(False).to_numpy(zero_copy_only=False))
        if len(rows) == len(df):
            out[name] = df
        elif len(rows) and rows[-1] - rows[0] + 1 == len(rows):   # snapshots are stored in order
            out[name] = df.iloc[rows[0]:rows[-1] + 1].reset_index(drop=True)
        else:
            out[name] = df.iloc[rows].reset_index(drop=True)
    return out


def tables_by_month(store: Path, months: Sequence[str], *, span: int = WINDOW_MONTHS,
                    bucket: int | None = None) -> Iterator[tuple[str, dict[str, pd.DataFrame]]]:
    """Yield each month of ``months`` with the tables :func:`load_for_features` loads for it
    (``bucket``: of that bucket's households), reading the store once per ``span``
    consecutive months rather than once per month.

    Within a run of up to ``span`` months, a table whose window is at least as long as the run
    (the look-back tables) is read once over the run, as :func:`load_for_months` does, and
    sliced per month with :func:`tables_as_of`; shorter-window tables (current-state tables)
    are read per month. A shared table thus holds at most twice its rows of one month, and
    every snapshot file is read about once (at 1M households: 10.9 GB peak for 10 months,
    against 10.2 GB for the latest month alone).
    """
    if span < 1:
        raise ValueError("span must be at least 1")
    ordered = sorted(set(months))
    for start in range(0, len(ordered), span):
        run = ordered[start:start + span]
        shared = [t for t in TABLE_ORDER if months_needed(t) >= len(run)]
        loaded: dict[str, pd.DataFrame] = {}
        for t in shared:
            loaded.update(load_tables(store, as_of=run[-1], tables=[t], bucket=bucket,
                                      months=months_needed(t) + len(run) - 1))
        for month in run:
            own = [t for t in TABLE_ORDER if t not in loaded]
            tables = tables_as_of(loaded, month)
            for t in own:
                tables.update(load_tables(store, as_of=month, months=months_needed(t),
                                          tables=[t], bucket=bucket))
            yield month, {t: tables[t] for t in TABLE_ORDER}
            del tables


def build_features(*, store: Path, as_of: str, out: Path, catalog: Catalog = CATALOG) -> FeatureRun:
    """Build and write the household features of ``as_of`` from the store, bucket by bucket."""
    parts: dict[str, list[pd.DataFrame]] = {"features": [], "profile": [], "attributes": []}
    for bucket in range(store_buckets(store)):
        tables = load_for_features(store, as_of, bucket=bucket)
        SourceView(tables, as_of)  # fails early, naming a missing snapshot or table
        values = build(tables, as_of, catalog)
        parts["features"].append(values)
        parts["profile"].append(dimension_profile(values, catalog))
        parts["attributes"].append(household_attributes(tables, as_of))
        del tables, values
    values, profile, attrs = (assemble(parts[k]) for k in ("features", "profile", "attributes"))
    deprived = catalog.deprivation(values).mean()
    run = FeatureRun(as_of=as_of, households=len(values), indicators=len(catalog),
                     catalog_version=catalog.version, folder=str(Path(out) / as_of),
                     deprived_share={k: round(float(v), 6) for k, v in deprived.items()})
    write_frames_atomically(Path(out) / as_of,
                            {"features": values, "profile": profile, "attributes": attrs},
                            {**run.to_dict(), "catalog": catalog.name, "indicator_ids": catalog.ids})
    return run
