"""Stage ``index``: the Alkire–Foster deprivation index of a flat household table.

Reads a household table (CSV or Parquet, one row per household) and an indicator catalog —
the district's own YAML catalog, or the built-in 22 indicators when the table already holds
their values in columns named by indicator id — and computes H, A, M0 with their
decompositions by indicator, dimension and (optionally) subgroup.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Group
from rich.table import Table

from assist.errors import InputError
from assist.features.catalog import Catalog
from assist.features.custom import check_columns, indicator_values, load_catalog, read_table
from assist.models.deprivation import AFResult, alkire_foster


def run_index(*, table: Path, catalog: Path | None, k: float, by: str | None,
              weight: str | None) -> AFResult:
    """Read the table and catalog and compute the Alkire–Foster index with its decompositions."""
    if not (math.isfinite(k) and 0 < k <= 1):
        raise InputError(f"the poverty cutoff k must lie in (0, 1], got {k}")
    frame = read_table(table)
    if frame.empty:
        raise InputError("the table has no households", file=str(table))
    for option, column in (("--by", by), ("--weight", weight)):
        if column is not None and column not in frame.columns:
            raise InputError(f"{option} names a column the table does not have",
                             file=str(table), column=column)
    cat = _builtin_catalog(frame, table) if catalog is None else load_catalog(catalog)
    check_columns(cat, frame.columns, table=str(table))
    try:
        values = indicator_values(frame, cat)
    except InputError as exc:
        raise InputError(str(exc), file=str(table)) from None
    return alkire_foster(
        values, cat, k=k,
        weights=None if weight is None else _sampling_weights(frame[weight], table, weight),
        by=None if by is None else frame[by],
    )


def _builtin_catalog(frame: pd.DataFrame, table: Path) -> Catalog:
    """The built-in catalog, read from columns named by indicator id."""
    from assist.features.indicators import CATALOG

    missing = [i for i in CATALOG.ids if i not in frame.columns]
    if missing:
        raise InputError(
            f"the table lacks {len(missing)} of the built-in catalog's indicator columns "
            f"({', '.join(missing)}); pass --catalog to declare the table's own indicators",
            file=str(table))
    return replace(CATALOG, indicators=tuple(replace(i, column=i.id, expr=None) for i in CATALOG))


def _sampling_weights(raw: pd.Series, table: Path, column: str) -> pd.Series:
    """Sampling weights as floats; each must be a finite, non-negative number."""
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    bad = ~np.isfinite(values.to_numpy()) | (values.to_numpy() < 0)
    if bad.any():
        pos = int(bad.argmax())
        raise InputError(f"{int(bad.sum())} sampling weight(s) are not finite, non-negative "
                         f"numbers, the first {raw.iloc[pos]!r} at data row {pos + 1}",
                         file=str(table), column=column)
    if values.sum() <= 0:
        raise InputError("the sampling weights sum to zero", file=str(table), column=column)
    return values


def default_out(table: Path) -> Path:
    """Where the JSON result goes by default: ``<table stem>.index.json`` next to the table."""
    return table.with_name(f"{table.stem}.index.json")


def write_result(result: AFResult, path: Path) -> Path:
    """Write ``result.to_dict()`` as JSON to ``path``; return the path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the result: {exc.strerror or exc}",
                         file=str(path)) from None
    return path


def render(result: AFResult) -> Group:
    """Rich tables of an index result: headline, indicators, dimensions and groups."""
    head = Table(title=f"Alkire–Foster deprivation index (k = {result.k:g})")
    for name in ("households", "H (headcount)", "A (intensity)", "M0 (H × A)"):
        head.add_column(name, justify="right")
    head.add_row(f"{result.n:,}", _pct(result.H), _pct(result.A), f"{result.M0:.4f}")

    ind = Table(title="Indicators")
    ind.add_column("indicator")
    ind.add_column("dimension")
    for name in ("weight", "uncensored", "censored", "contribution"):
        ind.add_column(name, justify="right")
    for ident, r in result.indicators.iterrows():
        ind.add_row(str(ident), str(r.dimension), f"{r.weight:.3f}", _pct(r.uncensored),
                    _pct(r.censored), _pct(r.contribution))

    dim = Table(title="Dimensions")
    dim.add_column("dimension")
    dim.add_column("weight", justify="right")
    dim.add_column("contribution", justify="right")
    for name, r in result.dimensions.iterrows():
        dim.add_row(str(name), f"{r.weight:.3f}", _pct(r.contribution))
    parts: list[Table] = [head, ind, dim]

    if len(result.groups):
        grp = Table(title="Groups")
        grp.add_column("group")
        for name in ("households", "population", "H", "A", "M0", "contribution"):
            grp.add_column(name, justify="right")
        for name, r in result.groups.iterrows():
            grp.add_row(str(name), f"{int(r.n):,}", _pct(r.population_share), _pct(r.H),
                        _pct(r.A), f"{r.M0:.4f}", _pct(r.contribution))
        parts.append(grp)
    return Group(*parts)


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"
