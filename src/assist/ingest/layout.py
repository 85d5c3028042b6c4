"""How many household buckets ingest lays the store out in (:mod:`assist.storage.buckets`).

Asked for, it is that number. Otherwise an existing store keeps its own (so an incremental run
can carry its files over), and a new store gets about
:data:`~assist.storage.buckets.HOUSEHOLDS_PER_BUCKET` households per bucket, counted in the
latest households extract (Parquet: its footer; CSV: its lines) — one bucket for a small
district, whose store is then laid out exactly as before buckets existed. A store laid out in
another count, or written before buckets existed, is rebuilt in full
(:func:`why_rebuilt`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from assist.ingest.extracts import Extract
from assist.storage.buckets import count_for


def bucket_count(asked: int | None, *, manifest: dict[str, Any] | None,
                 extracts: list[Extract]) -> int:
    """The store's bucket count for this run (see the module docstring)."""
    if asked is not None:
        if asked < 1:
            raise ValueError("buckets must be at least 1")
        return asked
    if manifest is not None and isinstance(manifest.get("buckets"), int):
        return int(manifest["buckets"])
    registry = [e for e in extracts if e.table == "households"]
    return count_for(_rows(max(registry, key=lambda e: e.snapshot).path)) if registry else 1


def _rows(path: Path) -> int:
    """Rows of an extract file, without parsing it (a CSV's lines less its header)."""
    if path.suffix.lower() == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    lines = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


def why_rebuilt(manifest: dict[str, Any], buckets: int) -> str:
    """Why the previous store must be rebuilt in full for ``buckets`` ("" when it need not)."""
    held = manifest.get("buckets")
    if held is None:
        return "the store is not laid out by household bucket"
    if held != buckets:
        return f"the store is laid out in {held} household buckets, this run writes {buckets}"
    return ""
