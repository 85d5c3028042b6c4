"""Deterministic Parquet output: Arrow types from the table specs, fixed writer settings."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from assist.features.schemas import TableSpec

_ARROW: dict[str, pa.DataType] = {
    "id": pa.string(), "str": pa.string(), "category": pa.string(), "int": pa.int64(),
    "float": pa.float64(), "bool": pa.bool_(), "date": pa.timestamp("ms"),
}
#: fixed writer settings: the same table always gives the same bytes
_PARQUET = {"compression": "zstd", "compression_level": 1, "use_dictionary": True,
            "write_statistics": True, "version": "2.6"}


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """Arrow schema of a raw extract in declared order (all nullable, so bad rows fit)."""
    return pa.schema([pa.field(c.name, _ARROW[c.kind]) for c in spec.columns])


def to_table(spec: TableSpec, columns: dict[str, pa.Array]) -> pa.Table:
    """The columns as an Arrow table in declared order; fails on a missing or extra column."""
    if set(columns) != set(spec.column_names):
        raise ValueError(f"{spec.name}: built columns {sorted(columns)} differ from the spec")
    schema = arrow_schema(spec)
    return pa.Table.from_arrays([columns[f.name].cast(f.type) for f in schema], schema=schema)


def write(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` (folders created) with fixed, deterministic settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **_PARQUET)


class TruthWriter:
    """Appends one month of hidden truth at a time to ``truth_out/need.parquet``."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(path, schema, **_PARQUET)

    def add(self, table: pa.Table) -> None:
        """Append ``table`` as a row group."""
        self._writer.write_table(table)

    def close(self) -> None:
        """Finish the file."""
        self._writer.close()
