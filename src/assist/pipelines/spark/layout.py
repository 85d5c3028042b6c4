"""The Spark engine on a store laid out by household bucket: each task reads its own bucket.

A store that ingest laid out in several household buckets (:mod:`assist.storage.buckets`:
one row group per bucket in every table-month file, Spark's own ``pmod(xxhash64(id), n)``)
needs no shuffle: a frame of bucket numbers, one per partition (:func:`bucket_ids`), is
mapped (``mapInPandas``) to the per-household work, and each task reads its bucket's row
groups straight from the store (:func:`read_bucket`, the pandas engine's own reader), so no
row of the store goes through Spark's exchange. Last month's scores, when they come from a
snapshot, are written once by bucket beside the run (:func:`previous_by_bucket`) and read
the same way.

The store must be on a file system the executors share with the driver's path (local
mode, or a mounted volume); a store on a Hadoop URI, a store in one bucket, or a bucket count
other than the store's is read with the shuffle (:func:`laid_out` says which).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assist.pipelines.spark.storeio import local_path
from assist.storage.store import load_snapshots, store_buckets, write_parquet

#: what a task does with one bucket's tables: its output rows (None: nothing)
Work = Callable[[dict[str, pd.DataFrame], int], pd.DataFrame | None]


def laid_out(store_uri: str, asked: int | None) -> int | None:
    """The store's bucket count when tasks can read their buckets directly (a local store in
    more than one bucket, and no other count asked for); None: read with the shuffle."""
    local = local_path(store_uri)
    if local is None:
        return None
    n = store_buckets(local)
    return n if n > 1 and asked in (None, n) else None


def read_bucket(store: Path, snapshots: Mapping[str, list[str]], bucket: int,
                buckets: int) -> dict[str, pd.DataFrame]:
    """One bucket's rows of the given tables and snapshots, exactly as the pandas engine loads
    them (:func:`assist.storage.store.load_tables` with ``bucket``)."""
    return {t: load_snapshots(store, t, snaps, bucket=(bucket, buckets))
            for t, snaps in snapshots.items()}


def bucket_ids(spark: Any, buckets: int) -> Any:  # noqa: ANN401 - a Spark DataFrame
    """Bucket numbers 0..buckets-1 in column ``id``, one per partition (no shuffle)."""
    return spark.range(0, buckets, 1, numPartitions=buckets)


def by_bucket(store: Path, snapshots: Mapping[str, list[str]], buckets: int,
              work: Work) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The mapInPandas body: for each bucket number of the batch, ``work`` on its tables."""

    def per_bucket(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for bucket in batch["id"].tolist():
                out = work(read_bucket(store, snapshots, int(bucket), buckets), int(bucket))
                if out is not None and len(out):
                    yield out

    return per_bucket


def previous_by_bucket(frame: pd.DataFrame, buckets: int, path: Path) -> Path:
    """Write last month's frame (a ``household_id`` column) with one row group per bucket."""
    write_parquet(frame, path, pa.Schema.from_pandas(frame, preserve_index=False),
                  buckets=buckets)
    return path


def previous_of(path: Path, bucket: int) -> pd.DataFrame:
    """One bucket's rows of :func:`previous_by_bucket`'s file, indexed by household id."""
    with pq.ParquetFile(path) as f:
        return f.read_row_group(bucket).to_pandas().set_index("household_id")
