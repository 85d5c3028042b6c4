"""Hand-made ingested tables (the store's shape) for feature tests."""

from __future__ import annotations

import pandas as pd
import pytest

from assist.features.policy import month_end
from assist.features.schemas import TABLES, clean_schema


def hid(n: int) -> str:
    """A household pseudonym for test household ``n``."""
    return f"h{n:020x}"


def pid(n: int) -> str:
    """A person pseudonym for test person ``n``."""
    return f"p{n:020x}"


_DEFAULTS = {"str": "x", "category": None, "int": 0, "float": 0.0, "bool": False, "date": None}


def frame(name: str, rows: list[dict], snapshot: str = "2026-10") -> pd.DataFrame:
    """A clean table ``name`` from partial rows (snapshot and as_of_date filled in)."""
    spec = TABLES[name]
    cols = spec.clean_column_names
    full = []
    for r in rows:
        r = dict(r)
        r.setdefault("snapshot", snapshot)
        r.setdefault("as_of_date", month_end(r["snapshot"]))
        for c in spec.columns:
            if c.name in cols and c.name not in r:
                r[c.name] = None if c.nullable else _DEFAULTS[c.kind]
        full.append({c: r[c] for c in cols})
    df = pd.DataFrame(full, columns=cols)
    return clean_schema(name).validate(df)


def tables(**rows: list[dict]) -> dict[str, pd.DataFrame]:
    """All twelve clean tables, empty unless rows are given."""
    return {name: frame(name, rows.get(name, [])) for name in TABLES}


@pytest.fixture
def make_tables():
    """Factory building the twelve clean tables from partial rows."""
    return tables
