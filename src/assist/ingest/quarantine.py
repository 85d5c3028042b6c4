"""Quarantine: every rejected row, why it was rejected, and its content without personal data.

One Parquet file per source table (all snapshots, written even when empty) with the columns
of :data:`QUARANTINE_SCHEMA`:

``table``, ``snapshot``, ``source_file`` (relative to the source folder), ``row_number``
(1-based data row of the file; the CSV header is row 0), ``row_key`` (the row's key as JSON,
identifiers pseudonymised), ``household_id`` (pseudonym), ``rules`` and ``columns`` (the rule
codes of :data:`assist.features.schemas.RULES` it broke and the columns involved, each
comma-separated and sorted), ``reasons`` (the same in plain words, ``rule (columns):
meaning; ...``; ``malformed_row`` is ingest's own code, for a CSV row with another number of
fields than the header, whose ``row_number`` tells where it lies) and ``record`` (the raw row as JSON: household and person ids
pseudonymised; the PII columns — names, ID numbers, addresses, certificate numbers — and
undeclared columns left out).
"""

from __future__ import annotations

import itertools
import json
import math
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assist.features.schemas import RULES, TableSpec

#: ingest's own rule: a CSV row that cannot be split into the header's columns
MALFORMED_ROW = "malformed_row"
#: the column a malformed row is reported against (it has no readable column)
WHOLE_ROW = "(row)"
#: every rule code a quarantine row can name, in plain words
QUARANTINE_RULES = {**RULES, MALFORMED_ROW: "the CSV row has more or fewer fields than the "
                    "header (its values are not kept)"}

QUARANTINE_SCHEMA = pa.schema([
    pa.field("table", pa.string(), nullable=False),
    pa.field("snapshot", pa.string(), nullable=False),
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("row_number", pa.int64(), nullable=False),
    pa.field("row_key", pa.string(), nullable=False),
    pa.field("household_id", pa.string()),
    pa.field("rules", pa.string(), nullable=False),
    pa.field("columns", pa.string(), nullable=False),
    pa.field("reasons", pa.string(), nullable=False),
    pa.field("record", pa.string(), nullable=False),
])


def quarantine_frame(spec: TableSpec, findings: pd.DataFrame, raw: pd.DataFrame,
                     typed: pd.DataFrame, pseudonyms: dict[str, pd.Series], *, snapshot: str,
                     source_file: str) -> pd.DataFrame:
    """One quarantine row per failing source row, in file order.

    ``findings`` has columns row / rule / column (row = position in ``raw``); ``typed`` is
    ``raw`` read as the declared types (the row key is written from it, so that it reads the
    same whatever the file format; raw text where a value could not be read); ``pseudonyms``
    maps each household or person id column to its pseudonymised values.
    """
    rows, rules, columns, reasons = _describe(findings)
    shown = [c.name for c in spec.columns if c.pii != "drop"]
    values = {name: _plain(pseudonyms[name].iloc[rows] if name in pseudonyms
                           else raw[name].iloc[rows]) for name in shown}
    records = [json.dumps(dict(zip(shown, vals, strict=True)), ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")) for vals in zip(*(values[n] for n in shown), strict=True)]
    key_values = [values[k] if k in pseudonyms else
                  [t if t is not None else r for t, r in zip(_plain(typed[k].iloc[rows]),
                                                             values[k], strict=True)]
                  for k in spec.key]
    keys = [json.dumps(dict(zip(spec.key, vals, strict=True)), ensure_ascii=False, allow_nan=False,
                       separators=(",", ":")) for vals in zip(*key_values, strict=True)]
    household = (pseudonyms["household_id"].iloc[rows].to_numpy(dtype=object, na_value=None)
                 if "household_id" in pseudonyms else [None] * len(rows))
    return pd.DataFrame({
        "table": spec.name, "snapshot": snapshot, "source_file": source_file,
        "row_number": rows + 1, "row_key": keys, "household_id": household,
        "rules": rules, "columns": columns, "reasons": reasons, "record": records,
    })


def _describe(findings: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Per failing row (in order): its rules, its columns, and both in plain words."""
    ordered = findings.sort_values(["row", "rule", "column"], kind="stable")
    triples = zip(ordered["row"].tolist(), ordered["rule"].tolist(), ordered["column"].tolist(), strict=True)
    rows: list[int] = []
    rules: list[str] = []
    columns: list[str] = []
    reasons: list[str] = []
    for row, group in itertools.groupby(triples, key=itemgetter(0)):
        by_rule: dict[str, set[str]] = {}
        for _, rule, column in group:
            by_rule.setdefault(rule, set()).add(column)
        rows.append(row)
        rules.append(",".join(sorted(by_rule)))
        columns.append(",".join(sorted(set().union(*by_rule.values()))))
        reasons.append("; ".join(f"{rule} ({', '.join(sorted(cols))}): {QUARANTINE_RULES[rule]}"
                                 for rule, cols in sorted(by_rule.items())))
    return np.asarray(rows, dtype=np.int64), rules, columns, reasons


def _plain(values: pd.Series) -> list[object]:
    """Values as JSON-ready Python objects: missing -> None, dates -> ISO text."""
    return [_plain_value(v) for v in values.tolist()]


def _plain_value(v: object) -> object:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float):
        return None if math.isnan(v) else (v if math.isfinite(v) else str(v))
    if isinstance(v, datetime) and v == datetime(v.year, v.month, v.day):
        return v.date().isoformat()
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, np.generic):
        return _plain_value(v.item())
    if isinstance(v, (str, int, bool)):
        return v
    return str(v)


class QuarantineWriter:
    """Append quarantine rows to one Parquet file per table; every file exists when closed."""

    def __init__(self, folder: Path, tables: list[str] | tuple[str, ...]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._writers = {t: pq.ParquetWriter(folder / f"{t}.parquet", QUARANTINE_SCHEMA,
                                             compression="zstd") for t in tables}

    def write(self, table: str, frame: pd.DataFrame) -> None:
        """Append the quarantine rows of one extract file."""
        if len(frame):
            self._writers[table].write_table(
                pa.Table.from_pandas(frame, schema=QUARANTINE_SCHEMA, preserve_index=False))

    def write_rows(self, table: str, rows: pa.Table) -> None:
        """Append quarantine rows already in :data:`QUARANTINE_SCHEMA` (those of an unchanged
        extract, carried over from the previous store: the file gets the same bytes)."""
        if rows.num_rows:
            self._writers[table].write_table(rows.select(QUARANTINE_SCHEMA.names)
                                             .cast(QUARANTINE_SCHEMA))

    def close(self) -> None:
        """Finish every file."""
        for writer in self._writers.values():
            writer.close()

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
