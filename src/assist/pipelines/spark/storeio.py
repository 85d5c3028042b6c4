"""Reading the store with Spark, handing each bucket's rows to pandas, and writing atomically.

Every table the features need is read from the store's Parquet files (a local path or any
Hadoop-compatible URI: ``hdfs://``, ``s3a://``, ``abfs://`` ...), reduced to its declared
columns, tagged with its name and unioned into one frame; each row gets the bucket of its
household, so one bucket holds *all* rows of its households. :func:`bucket_tables` turns one
bucket back into the exact frames :func:`assist.pipelines.featurize.load_for_features`
returns (same columns, dtypes, snapshots and row order), which is what makes the Spark engine
run the unchanged pandas feature code.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import reduce
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER, TABLES, dtypes
from assist.features.view import months_needed
from assist.storage.atomic import replacing
from assist.storage.atomic import write_text as write_local_text
from assist.storage.store import MANIFEST_FILE, STORE_FORMAT, TABLES_DIR, list_snapshots, window

TABLE_COL = "_table"
BUCKET_COL = "_bucket"
#: missing timestamps travel as this long (pandas' NaT), so nanoseconds never pass through float
NAT = np.iinfo(np.int64).min


def uri(location: str | Path) -> str:
    """A store or output location as a Hadoop URI string (local paths made absolute)."""
    text = str(location)
    return text if "://" in text else str(Path(text).resolve())


def join(base: str, *parts: str) -> str:
    """``base/part/...`` for a Hadoop URI or local path."""
    return "/".join([base.rstrip("/"), *parts])


def local_path(location: str) -> Path | None:
    """The local path of a location (a plain path or a ``file:`` URI); None on a cluster."""
    if "://" not in location and not location.startswith("file:"):
        return Path(location)
    if location.startswith("file:"):
        return Path(location.removeprefix("file://").removeprefix("file:"))
    return None


# -- Hadoop file system -------------------------------------------------------------------------
def _fs(spark: Any, location: str) -> tuple[Any, Any]:  # noqa: ANN401
    path = spark._jvm.org.apache.hadoop.fs.Path(location)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def exists(spark: Any, location: str) -> bool:  # noqa: ANN401
    """Whether a file or folder exists."""
    fs, path = _fs(spark, location)
    return bool(fs.exists(path))


def read_text(spark: Any, location: str) -> str:  # noqa: ANN401
    """A small text file's content (UTF-8)."""
    return spark.read.text(location, wholetext=True).first()[0]


def write_text(spark: Any, location: str, text: str) -> None:  # noqa: ANN401
    """Write a small text file (UTF-8), replacing it (atomically on a local file system)."""
    local = local_path(location)
    if local is not None:
        write_local_text(text, local)
        return
    fs, path = _fs(spark, location)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def replace_folder(spark: Any, tmp: str, target: str) -> None:  # noqa: ANN401
    """Move the finished folder ``tmp`` to ``target``; a previous ``target`` is removed only
    after the new one is in place (readers never see a half-written folder)."""
    fs, target_path = _fs(spark, target)
    _, tmp_path = _fs(spark, tmp)
    old = None
    if fs.exists(target_path):
        old = spark._jvm.org.apache.hadoop.fs.Path(f"{target.rstrip('/')}.old-{uuid.uuid4().hex[:8]}")
        if not fs.rename(target_path, old):
            raise OSError(f"could not move the previous output aside: {target}")
    if not fs.rename(tmp_path, target_path):
        raise OSError(f"could not move the new output into place: {target}")
    if old is not None:
        fs.delete(old, True)


@contextmanager
def replacing_folder(spark: Any, target: str, *, marker: str) -> Iterator[str]:  # noqa: ANN401
    """Yield where to write the new ``target``; swap it in when the block succeeds, drop it when
    it fails. Locally :func:`assist.storage.atomic.replacing` (with its repair of a swap cut
    short); on a cluster a hidden sibling and :func:`replace_folder`."""
    local = local_path(target)
    if local is not None:
        with replacing(local, marker=marker) as staging:
            yield str(staging)
        return
    tmp = temporary_sibling(target)
    try:
        yield tmp
        replace_folder(spark, tmp, target)
    finally:
        delete(spark, tmp)


def delete(spark: Any, location: str) -> None:  # noqa: ANN401
    """Remove a file or folder (recursively) if it exists."""
    fs, path = _fs(spark, location)
    if fs.exists(path):
        fs.delete(path, True)


def temporary_sibling(target: str) -> str:
    """A fresh hidden folder next to ``target`` to write into before :func:`replace_folder`."""
    parent, _, name = target.rstrip("/").rpartition("/")
    return f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:12]}"


# -- the store ----------------------------------------------------------------------------------
def store_snapshots(spark: Any, store: str) -> list[str]:  # noqa: ANN401
    """The snapshot months the store's manifest lists (a clear error when it is no store)."""
    if "://" not in store or store.startswith("file:"):  # a local store: no Spark job needed
        return list_snapshots(Path(store.removeprefix("file://").removeprefix("file:")))
    location = join(store, MANIFEST_FILE)
    if not exists(spark, location):
        raise InputError("not an ingested store (no manifest): run `assist ingest` first",
                         file=location)
    try:
        manifest = json.loads(read_text(spark, location))
    except ValueError:
        raise InputError("unreadable store manifest", file=location) from None
    if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
        raise InputError(f"store manifest is not format {STORE_FORMAT}", file=location)
    return sorted(manifest["snapshots"])


def feature_windows(as_of: str, held: Iterable[str]) -> dict[str, list[str]]:
    """Per table, the snapshots :func:`load_for_features` loads for ``as_of`` (held ones only)."""
    held = set(held)
    if as_of not in held:
        raise InputError(f"the store has no snapshot {as_of} (it holds "
                         f"{', '.join(sorted(held)) or 'none'})")
    return {t: [s for s in window(as_of, months_needed(t)) if s in held] for t in TABLE_ORDER}


_SPARK_TYPES = {"id": "string", "str": "string", "category": "string", "int": "long",
                "float": "double", "bool": "boolean", "date": "long"}


def spark_schema(table: str) -> str:
    """DDL schema of a store table as Spark reads it (timestamps in nanoseconds as longs)."""
    return ", ".join(f"`{c.name}` {_SPARK_TYPES[c.kind]}" for c in TABLES[table].columns
                     if c.pii != "drop")


def read_tables(spark: Any, store: str, snapshots: Mapping[str, list[str]], *,  # noqa: ANN401
                buckets: int) -> Any:  # noqa: ANN401 - a Spark DataFrame
    """All rows of the given tables and snapshots as one Spark frame with the table's name in
    ``_table`` and the household's bucket (0..buckets-1) in ``_bucket``."""
    from pyspark.sql import functions as F  # noqa: N812

    frames = []
    for table, snaps in snapshots.items():
        columns = list(dtypes(table, clean=True))
        if not snaps:
            continue
        paths = [join(store, TABLES_DIR, table, f"{s}.parquet") for s in snaps]
        for p in paths:
            if not exists(spark, p):
                raise InputError(f"table {table!r} is missing from the store", file=p)
        frames.append(spark.read.schema(spark_schema(table)).parquet(*paths)
                      .select(*columns).withColumn(TABLE_COL, F.lit(table)))
    data = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    dates = sorted({c.name for t in snapshots for c in TABLES[t].columns
                    if c.kind == "date" and c.pii != "drop"})
    for col in dates:  # after the union: other tables' rows must not bring nulls back
        data = data.withColumn(col, F.coalesce(F.col(col).cast("long"), F.lit(NAT)))
    return data.withColumn(BUCKET_COL, F.pmod(F.xxhash64("household_id"), F.lit(buckets)))


def bucket_tables(rows: pd.DataFrame, snapshots: Mapping[str, list[str]]) -> dict[str, pd.DataFrame]:
    """One bucket's rows back as the frames the store loader gives: declared columns and dtypes,
    only the given snapshots, rows in store order (by snapshot, then the table's key)."""
    out: dict[str, pd.DataFrame] = {}
    tag = rows[TABLE_COL].to_numpy()
    for table, snaps in snapshots.items():
        declared = dtypes(table, clean=True)
        part = rows.loc[tag == table, list(declared)]
        part = part.loc[part["snapshot"].isin(snaps).to_numpy(dtype=bool)]
        key = ["snapshot", *[k for k in TABLES[table].key if k != "snapshot"]]
        part = part.sort_values(key, kind="stable").reset_index(drop=True)
        frame = {}
        for col, dtype in declared.items():
            values = part[col]
            if str(dtype).startswith("datetime64"):
                values = pd.Series(values.to_numpy(dtype="int64").view("datetime64[ns]"))
            frame[col] = values.astype(dtype)
        out[table] = pd.DataFrame(frame)
    return out
