"""The validated, pseudonymised store that ingest writes and feature building reads.

Layout (one folder, replaced as a whole by each ingest run)::

    tables/<table>/<YYYY-MM>.parquet   accepted rows of one snapshot: one row group per household
                                       bucket, rows sorted by the table's key within it
    quarantine/<table>.parquet         rejected rows of every snapshot, with the rules they broke
    summary.json                       rows read / accepted / quarantined per table and rule
    manifest.json                      every file with its SHA-256, the snapshots, key fingerprint,
                                       bucket count, and every source file ingested (``sources``)

Parquet files are written deterministically (no index, no timestamps, fixed options), so the
same input and key give byte-identical files.

The manifest's ``sources`` map each source file, by its path relative to the source folder
(``persons/2026-03.parquet``), to the table-month it produced (``table``, ``snapshot``), its
size (``bytes``), ``sha256`` and the ``counts`` its validation gave (rows read, accepted,
quarantined by rule, ignored columns). An incremental ingest compares the source folder with
them and carries unchanged table-months over (:func:`link_or_copy`). Nothing in the store
depends on how it was built: full or incremental, the same sources and key give the same bytes
(file modification times are deliberately not recorded).

**Household buckets.** The manifest's ``buckets`` (with ``bucket_hash``, see
:mod:`assist.storage.buckets`) says into how many buckets the households are split; every
table-month file holds one row group per bucket, bucket 0 first, so :func:`load_tables` with
``bucket=b`` reads the rows of bucket ``b``'s households from every file without touching
the others. A store written before buckets existed (no ``buckets`` in its manifest) reads as
one bucket, the whole district, as it always did; ``assist ingest`` lays it out by bucket (an
incremental run rebuilds it in full, saying why).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER, TABLES, dtypes
from assist.storage.atomic import write_json  # noqa: F401  (the store's JSON files: summary, manifest)
from assist.storage.buckets import bucket_column

TABLES_DIR = "tables"
QUARANTINE_DIR = "quarantine"
SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"
STORE_FORMAT = "assist-store/1"
SNAPSHOT_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(), "str": pa.string(), "category": pa.string(), "int": pa.int64(),
    "float": pa.float64(), "bool": pa.bool_(), "date": pa.timestamp("ns"),
}
_PANDAS_TYPES = {pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype(),
                 pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(),
                 pa.bool_(): pd.BooleanDtype()}


def table_path(store: Path, table: str, snapshot: str) -> Path:
    """Where the accepted rows of ``table`` for ``snapshot`` live in the store."""
    return Path(store) / TABLES_DIR / table / f"{snapshot}.parquet"


def quarantine_path(store: Path, table: str) -> Path:
    """Where the quarantined rows of ``table`` live in the store."""
    return Path(store) / QUARANTINE_DIR / f"{table}.parquet"


def arrow_schema(table: str) -> pa.Schema:
    """Arrow schema of an ingested table (dropped PII columns removed)."""
    spec = TABLES[table]
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.kind], nullable=True)
                      for c in spec.columns if c.pii != "drop"])


def write_parquet(frame: pd.DataFrame, path: Path, schema: pa.Schema, *,
                  sort_by: Iterable[str] = (), buckets: int = 1) -> None:
    """Write ``frame`` (no index; rows sorted by ``sort_by``) to ``path`` with fixed options,
    so the same rows always give the same bytes. With ``buckets`` > 1, one row group per
    bucket of ``household_id`` (:func:`assist.storage.buckets.bucket_of`), in bucket order."""
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    keys = [(k, "ascending") for k in sort_by]
    path.parent.mkdir(parents=True, exist_ok=True)
    if buckets == 1:
        pq.write_table(table.sort_by(keys) if keys else table, path, compression="zstd")
        return
    bucket = "__bucket"
    table = table.append_column(bucket, bucket_column(table["household_id"], buckets))
    table = table.sort_by([(bucket, "ascending"), *keys])
    ends = np.searchsorted(table[bucket].to_numpy(), np.arange(1, buckets + 1), side="left")
    table = table.drop_columns([bucket])
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        start = 0
        for end in ends:
            writer.write_table(table.slice(start, end - start), row_group_size=max(end - start, 1))
            start = end


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def link_or_copy(src: Path, dst: Path) -> bool:
    """Put the bytes of ``src`` at ``dst`` (a new path): a hard link where the file system
    allows one, else a copy. True when linked. Store files are never modified in place (they
    are replaced by rename), so a link shares bytes that no later write changes."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except FileNotFoundError:
        raise
    except OSError:  # another device, links not supported or not allowed: copy
        shutil.copyfile(src, dst)
        return False
    return True


def read_manifest(store: Path) -> dict[str, Any]:
    """The store's manifest; :class:`InputError` when the store or its manifest is missing."""
    store = Path(store)
    if not store.is_dir():
        raise InputError("store not found: run `assist ingest` first", file=str(store))
    path = store / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("not an ingested store (no manifest)", file=str(path)) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable store manifest ({type(exc).__name__})",
                         file=str(path)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
        raise InputError(f"store manifest is not format {STORE_FORMAT}", file=str(path))
    return manifest


def store_buckets(store: Path) -> int:
    """The store's household buckets (1 for a store written before buckets existed)."""
    return int(read_manifest(store).get("buckets", 1))


def list_snapshots(store: Path) -> list[str]:
    """Snapshot months (``YYYY-MM``) held in the store, oldest first."""
    return sorted(read_manifest(store)["snapshots"])


def window(as_of: str, months: int) -> list[str]:
    """The ``months`` snapshot months ending at ``as_of``, oldest first."""
    if not SNAPSHOT_RE.fullmatch(as_of):
        raise InputError(f"as-of month {as_of!r} is not written YYYY-MM")
    if months < 1:
        raise ValueError("months must be at least 1")
    end = pd.Period(as_of, freq="M")
    return [str(end - i) for i in range(months - 1, -1, -1)]


def load_tables(store: Path, *, as_of: str, months: int = 13,
                tables: Iterable[str] | None = None,
                bucket: int | None = None) -> dict[str, pd.DataFrame]:
    """Ingested tables over the ``months`` snapshots ending at ``as_of``, with declared dtypes
    (``bucket``: only the rows of that bucket's households, read as one row group per file).

    Snapshots missing at the start of the window (a short history) are skipped; the as-of
    snapshot itself, a table or a file the manifest lists must exist. Within a snapshot, rows
    come bucket by bucket, sorted by the table's key within each bucket.
    """
    store = Path(store)
    names = list(TABLE_ORDER if tables is None else tables)
    unknown = [t for t in names if t not in TABLES]
    if unknown:
        raise ValueError(f"unknown tables: {', '.join(unknown)}")
    months_wanted = window(as_of, months)
    held = set(list_snapshots(store))
    if as_of not in held:
        raise InputError(f"the store has no snapshot {as_of} (it holds "
                         f"{', '.join(sorted(held)) or 'none'})", file=str(store))
    wanted = [s for s in months_wanted if s in held]
    part = None if bucket is None else (bucket, store_buckets(store))
    if part is not None and not 0 <= bucket < part[1]:
        raise ValueError(f"bucket {bucket} is not one of the store's {part[1]} buckets")
    return {t: _load_table(store, t, wanted, part) for t in names}


def load_snapshots(store: Path, table: str, snapshots: list[str], *,
                   bucket: tuple[int, int] | None = None) -> pd.DataFrame:
    """Rows of ``table`` in the given ``snapshots`` (all listed in the manifest), with declared
    dtypes; ``bucket``: (bucket, buckets), only that bucket's households (what the Spark
    engine's tasks read, each its own bucket)."""
    return _load_table(Path(store), table, snapshots, bucket)


def _read(path: Path, columns: list[str], part: tuple[int, int] | None) -> pa.Table:
    """A store file's columns: all rows, or the row group of bucket ``part[0]`` of ``part[1]``."""
    if part is None or part[1] == 1:
        return pq.read_table(path, columns=columns)
    with pq.ParquetFile(path) as f:
        if f.num_row_groups != part[1]:
            raise InputError(f"store file is not laid out in the manifest's {part[1]} buckets: "
                             "run `assist ingest --full`", file=str(path))
        return f.read_row_group(part[0], columns=columns)


def _load_table(store: Path, table: str, snapshots: list[str],
                part: tuple[int, int] | None = None) -> pd.DataFrame:
    declared = dtypes(table, clean=True)
    folder = store / TABLES_DIR / table
    if not folder.is_dir():
        raise InputError(f"table {table!r} is missing from the store", file=str(folder))
    parts = []
    for snapshot in snapshots:
        path = table_path(store, table, snapshot)
        try:
            parts.append(_read(path, list(declared), part))
        except FileNotFoundError:
            raise InputError(f"snapshot {snapshot} of table {table!r} is missing from the store",
                             file=str(path)) from None
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"unreadable store file ({type(exc).__name__})",
                             file=str(path)) from None
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in declared.items()})
    data = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    del parts   # the Arrow buffers are freed column by column as they are converted
    out = data.to_pandas(types_mapper=_PANDAS_TYPES.get, ignore_metadata=True,
                         split_blocks=True, self_destruct=True)
    del data
    return out.astype(declared)
