"""The month's tables and last month's frame, one household bucket at a time.

Per bucket of the store (:mod:`assist.storage.buckets`): the bucket's tables of the month and
last month's frame of its households — from last month's scoring snapshot (read once, its
indicator and score columns only, split by bucket), else scored afresh from the bucket's
tables covering both months, else none. Where last month comes from is decided once, for
the whole district, by :func:`assist.pipelines.previous.source`, as both other engines do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from assist.features import CATALOG
from assist.models.need import NeedModel
from assist.pipelines.featurize import load_for_features, load_for_months, tables_as_of
from assist.pipelines.previous import (
    Months,
    describe,
    previous_from_tables,
    previous_month,
    source,
)
from assist.pipelines.score_config import ScoringConfig
from assist.storage import snapshot
from assist.storage.buckets import bucket_of
from assist.storage.store import list_snapshots, store_buckets

#: last month's columns that early warning compares with (besides the indicators)
PREVIOUS_COLUMNS = ("probability", "band", "deprivation_score", "deprivation_poor")


def _last_scores(out: Path, month: str) -> tuple[list[str], Path]:
    """The columns of last month's snapshot that early warning reads, and its scores file."""
    path = snapshot.folder(out, month) / snapshot.SCORES_FILE
    names = set(pq.read_schema(next(path.glob("*.parquet")) if path.is_dir() else path).names)
    return [c for c in [*CATALOG.ids, *PREVIOUS_COLUMNS] if c in names], path


def bucket_months(*, store: Path, out: Path, as_of: str, model: NeedModel,
                  config: ScoringConfig) -> Iterator[Months]:
    """Per bucket of the store, in bucket order: the month's tables and last month's frame."""
    store, out = Path(store), Path(out)
    prev = previous_month(as_of)
    mode = source(has_snapshot=snapshot.exists(out, prev), in_store=prev in list_snapshots(store))
    text = describe(mode, month=prev, folder=snapshot.folder(out, prev))
    n = store_buckets(store)
    last = where = None
    if mode == "snapshot":
        columns, _ = _last_scores(out, prev)
        last = snapshot.read_scores(out, prev, columns=columns)
        where = bucket_of(pa.array(last.index.astype(str), pa.string()), n)
    for bucket in range(n):
        if mode == "tables":
            both = load_for_months(store, as_of, earlier=1, bucket=bucket)
            previous = previous_from_tables(tables=both, as_of=as_of, model=model, config=config)
            yield Months(tables_as_of(both, as_of), previous, text)
            del both, previous
            continue
        tables = load_for_features(store, as_of, bucket=bucket)
        yield Months(tables, None if last is None else last[where == bucket], text)
