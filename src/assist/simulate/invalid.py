"""Invalid rows planted in the extracts, so that ingest's validation and quarantine are exercised.

About ``rate`` of the rows of every file are broken, each in one way that violates a rule of
:func:`assist.features.schemas.raw_schema`: a malformed identifier, a missing required value,
an unknown code, a negative amount, a value below the minimum or above the maximum (age 150),
a date before 1900, an event dated after the extract's as-of day (in 2099), an as-of day outside the
snapshot month, a malformed snapshot, a repeated row (duplicate key), or an out-of-pocket cost
above the total. Kinds are named after the schema's rule codes. Clean rows stay clean: no
replacement value can collide with another row's key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assist.features.schemas import Col, TableSpec

MALFORMED_IDS = ("", "HH12 3", "??", "N/A", "x1", "P-0012#", "id:00042", "0" * 65)
UNKNOWN_CODES: dict[str, tuple[str, ...]] = {
    "street_code": ("S99", "S00", "s01"),
    "community_code": ("S99C999", "S01C999", "C001"),
    "sex": ("X", "U", "男"),
    "registration_type": ("foreign", "LOCAL"),
    "hukou": ("foreign", "unknown"),
    "relation": ("boss", "tenant"),
}
GENERIC_UNKNOWN = ("UNKNOWN", "-", "other_code", "99")
IMPLAUSIBLE_DATES = np.array(["1800-01-01", "1899-12-31", "1850-06-15"], dtype="datetime64[ms]")
FAR_FUTURE = np.datetime64("2099-01-01", "ms")
DUPLICATE = "duplicate_key"


@dataclass(frozen=True)
class Planted:
    """Planted invalid rows of one file: row number (after planting), kind and column."""

    row: np.ndarray
    kind: list[str]
    column: list[str | None]


def options(spec: TableSpec) -> dict[str, list[str | None]]:
    """Kinds of invalid value that can be planted in ``spec``'s table -> columns they apply to."""
    out: dict[str, list[str | None]] = {}

    def add(kind: str, column: str | None) -> None:
        out.setdefault(kind, []).append(column)

    for c in spec.columns:
        if c.kind == "id":
            add("malformed_id", c.name)
        if not c.nullable:
            add("missing_value", c.name)
        if c.allowed is not None:
            add("unknown_code", c.name)
        if c.ge is not None:
            add("negative_value" if c.ge == 0 else "below_minimum", c.name)
        if c.le is not None:
            add("above_maximum", c.name)
        if c.kind == "date":
            add("implausible_date", c.name)
    if spec.event_date is not None:
        add("future_date", spec.event_date)
    add("as_of_outside_snapshot", "as_of_date")
    add("bad_snapshot", "snapshot")
    add(DUPLICATE, None)
    for a, b in spec.not_greater:
        add(f"{a}_exceeds_{b}", a)
    return out


def _numbers(col: pa.ChunkedArray, rows: np.ndarray) -> np.ndarray:
    return np.nan_to_num(col.take(pa.array(rows)).to_numpy(zero_copy_only=False)
                         .astype(float), nan=0.0)


def _values(rng: np.random.Generator, spec: TableSpec, table: pa.Table, kind: str, column: str,
            rows: np.ndarray) -> pa.Array:
    """Replacement values breaking ``kind``'s rule in ``column`` at ``rows``."""
    m = len(rows)
    col = spec.col(column)
    typ = table.schema.field(column).type
    if kind == "malformed_id":
        return pa.array(rng.choice(MALFORMED_IDS, m).tolist(), typ)
    if kind == "missing_value":
        return pa.nulls(m, typ)
    if kind == "unknown_code":
        pool = [v for v in UNKNOWN_CODES.get(column, GENERIC_UNKNOWN) if v not in col.allowed]
        return pa.array(rng.choice(pool, m).tolist(), typ)
    if kind == "bad_snapshot":
        snap = table.column("snapshot").take(pa.array(rows)).to_pylist()
        fmt = rng.integers(0, 3, m)
        bad = [f"{s[:4]}/{s[5:]}" if f == 0 else f"{s[:4]}{s[5:]}" if f == 1 else f"{s}-01"
               for s, f in zip(snap, fmt, strict=True)]
        return pa.array(bad, typ)
    if col.kind == "date" or kind in ("future_date", "as_of_outside_snapshot"):
        return _dates(rng, table, kind, rows, typ)
    return _out_of_range(rng, col, table, kind, column, rows, typ)


def _dates(rng: np.random.Generator, table: pa.Table, kind: str, rows: np.ndarray,
           typ: pa.DataType) -> pa.Array:
    """Dates breaking ``kind``'s rule: implausible, far in the future, or after the snapshot."""
    m = len(rows)
    as_of = table.column("as_of_date").take(pa.array(rows)).to_numpy().astype("datetime64[ms]")
    if kind == "implausible_date":
        values = rng.choice(IMPLAUSIBLE_DATES, m)
    elif kind == "future_date":  # far ahead, so never equal to another file's real date
        values = FAR_FUTURE + rng.integers(0, 365, m).astype("timedelta64[D]")
    else:  # as_of_outside_snapshot: 35+ days later always falls in a later month
        values = as_of + rng.integers(35, 70, m).astype("timedelta64[D]")
    return pa.array(values.astype("datetime64[ms]"), typ)


def _out_of_range(rng: np.random.Generator, col: Col, table: pa.Table, kind: str,
                  column: str, rows: np.ndarray, typ: pa.DataType) -> pa.Array:
    """Numbers breaking ``kind``'s rule: negative, below/above the bounds, a above b."""
    m = len(rows)
    current = _numbers(table.column(column), rows)
    if kind == "negative_value":
        values = -(np.abs(current) + rng.integers(1, 100, m))
    elif kind == "below_minimum":
        values = np.full(m, col.ge - 1.0)
    elif kind == "above_maximum":
        values = col.le + 1 + np.floor(rng.random(m) * col.le)
        if column == "age":
            values = rng.choice([150.0, 999.0, 130.0], m)
    else:  # "<a>_exceeds_<b>": a above b
        other = kind.split("_exceeds_")[1]
        values = _numbers(table.column(other), rows) * 1.5 + 1
    if pa.types.is_integer(typ):
        return pa.array(np.round(values).astype(np.int64), typ)
    return pa.array(np.round(values, 2), typ)


def plant(rng: np.random.Generator, spec: TableSpec, table: pa.Table,
          rate: float) -> tuple[pa.Table, Planted]:
    """Break about ``rate`` of ``table``'s rows, one rule each; return the table and the list."""
    n = table.num_rows
    k = int(rng.binomial(n, rate)) if n and rate > 0 else 0
    if k == 0:
        return table, Planted(np.zeros(0, np.int64), [], [])
    rows = np.sort(rng.choice(n, k, replace=False))
    opts = options(spec)
    kinds = list(opts)
    kind_of = rng.integers(0, len(kinds), k)
    col_of = np.array([None] * k, dtype=object)
    changes: dict[str, list[tuple[np.ndarray, pa.Array]]] = {}
    for i, kind in enumerate(kinds):
        sel = np.flatnonzero(kind_of == i)
        if kind == DUPLICATE or not len(sel):
            continue
        columns = opts[kind]
        pick = rng.integers(0, len(columns), len(sel))
        for j, column in enumerate(columns):
            these = sel[pick == j]
            if len(these):
                col_of[these] = column
                changes.setdefault(column, []).append(
                    (rows[these], _values(rng, spec, table, kind, column, rows[these])))
    for column, parts in changes.items():
        at = np.concatenate([r for r, _ in parts])
        values = pa.concat_arrays([v for _, v in parts]).take(pa.array(np.argsort(at)))
        mask = np.zeros(n, bool)
        mask[at] = True
        i = table.schema.get_field_index(column)
        fixed = pc.replace_with_mask(table.column(column).combine_chunks(), pa.array(mask), values)
        table = table.set_column(i, table.schema.field(i), fixed)

    tag = np.full(n, -1)
    is_dup = kind_of == kinds.index(DUPLICATE)
    tag[rows[~is_dup]] = np.flatnonzero(~is_dup)
    src = rows[is_dup]
    order = np.insert(np.arange(n), src + 1, src)
    tags = np.insert(tag, src + 1, np.flatnonzero(is_dup))
    table = table.take(pa.array(order))
    final = np.flatnonzero(tags >= 0)
    which = tags[final]
    return table, Planted(final.astype(np.int64), [kinds[kind_of[i]] for i in which],
                          [col_of[i] for i in which])
