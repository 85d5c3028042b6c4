"""An as-of view of the source tables, shared by every indicator's compute function.

Only records known at the end of the as-of month are visible: rows whose ``snapshot`` is not
after the as-of month and whose ``as_of_date`` is not after its last day. State tables are read
at the *current snapshot* — the latest household-registry snapshot so visible — and event
tables over a look-back window (12 months by default). Households are the registry's
households at the current snapshot; every aggregate is indexed by them, in sorted order.

Aggregations are vectorised: rows are mapped once per table to integer household codes and
summed with ``numpy.bincount`` / ``ufunc.at`` — never a Python loop or ``apply`` per household.
Codes come from an Arrow hash lookup of only the rows whose id differs from the row before
(tables are stored sorted by household, so that is about one lookup per household and month). The view
depends only on the rows of the households it is given, so building features on any subset
of households (with all their rows) gives the same values as building on all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property, partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assist.errors import InputError
from assist.features.catalog import Tables
from assist.features.policy import SHANGHAI_MINIMUM_LIVING_LINE, minimum_living_line, month_end
from assist.features.schemas import TABLES

WORKING_AGE = (16, 64)
ELDERLY_AGE = 60
SCHOOL_AGE = (6, 15)
SEVERE_DISABILITY_GRADE = 2
WINDOW_MONTHS = 12
#: state tables read over the look-back window; every other state table only at the current snapshot
HISTORY_TABLES = frozenset({"income", "employment"})
#: event tables read over a short window only (days), so loading two snapshots suffices
SHORT_EVENT_DAYS = {"water_readings": 30}


def months_needed(table: str, window_months: int = WINDOW_MONTHS) -> int:
    """How many monthly snapshots, ending at the as-of month, ``table`` must supply."""
    spec = TABLES[table]
    if spec.kind == "state":
        return window_months + 1 if table in HISTORY_TABLES else 1
    if table in SHORT_EVENT_DAYS:
        return 2
    return window_months + 1


def as_float(s: pd.Series) -> np.ndarray:
    """A numeric column as float64 with NaN for missing values."""
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def as_bool(s: pd.Series) -> np.ndarray:
    """A boolean column as numpy bool, missing counted as False."""
    return s.fillna(False).to_numpy(dtype=bool)


class SourceView:
    """Source tables restricted to what was known at the end of ``as_of`` (``YYYY-MM``)."""

    def __init__(self, tables: Tables, as_of: str, *, window_months: int = WINDOW_MONTHS,
                 line_table: Mapping[str, float] = SHANGHAI_MINIMUM_LIVING_LINE, required: Iterable[str] = ()) -> None:
        missing = [t for t in ("households", "persons", *required) if t not in tables]
        if missing:
            raise InputError(f"source tables missing for feature building: {', '.join(missing)}")
        self.as_of = as_of
        self.as_of_end = month_end(as_of)
        self.window_start = self.as_of_end - pd.DateOffset(months=window_months)
        self.minimum_living_line = float(minimum_living_line(self.as_of_end, line_table))
        # a plain function, not a bound method: no view <-> tables reference cycle, so a
        # month's working frames are freed as soon as the view goes
        self._tables = _KnownTables(tables, partial(_known, as_of=self.as_of,
                                                     as_of_end=self.as_of_end))
        self._rows: dict[tuple, pd.DataFrame] = {}
        self._table_codes: dict[str, np.ndarray] = {}
        self._person_positions: dict[tuple, np.ndarray] = {}
        #: tables whose household codes are looked up together, with one hash table
        self._lookup_together = [t for t in dict.fromkeys(("households", "persons", *required))
                                 if t in self._tables]
        known = self._tables["households"]["snapshot"]
        if known.empty:
            raise InputError(f"no household registry snapshot is known by {as_of}",
                             column="snapshot")
        self.current_snapshot: str = str(known.max())

    def _registered(self, key: tuple, df: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
        """Rows of ``df`` where ``mask`` holds and the household is registered, with their
        household code in ``_hh``; computed once per (table, selection)."""
        if key not in self._rows:
            codes = self._codes_of_table(key[0])
            keep = mask & (codes >= 0)
            self._rows[key] = _where(df, keep).assign(_hh=codes[keep])
        return self._rows[key]

    def _codes_of_table(self, name: str) -> np.ndarray:
        """Household code of every row of a table; the first call looks up all the tables the
        view was built for at once (one hash table of the household ids)."""
        if name not in self._table_codes:
            batch = [t for t in self._lookup_together if t not in self._table_codes]
            if name not in batch:
                batch = [name]
            found = positions_many([self._tables[t]["household_id"] for t in batch],
                                   self._household_keys)
            self._table_codes.update(zip(batch, found, strict=True))
        return self._table_codes[name]

    # -- tables ---------------------------------------------------------------------------
    def state(self, name: str) -> pd.DataFrame:
        """Rows of a state table at the current snapshot, for registered households."""
        df = self._tables[name]
        return self._registered((name, "state"), df,
                                (df["snapshot"] == self.current_snapshot).to_numpy(dtype=bool))

    def history(self, name: str) -> pd.DataFrame:
        """Rows of a state table over the look-back window (all snapshots known by as-of)."""
        if name not in HISTORY_TABLES:
            raise ValueError(f"{name} is read at the current snapshot only; add it to HISTORY_TABLES")
        df = self._tables[name]
        start = (self.window_start + pd.offsets.MonthBegin(1)).strftime("%Y-%m")
        return self._registered((name, "history"), df, (df["snapshot"] >= start).to_numpy(dtype=bool))

    def events(self, name: str, *, days: int | None = None) -> pd.DataFrame:
        """Events of the look-back window (or the last ``days`` days), for registered households."""
        spec = TABLES[name]
        limit = SHORT_EVENT_DAYS.get(name)
        if limit is not None and (days is None or days > limit):
            raise ValueError(f"{name} is loaded for the last {limit} days only")
        df = self._tables[name]
        date = df[spec.event_date]
        start = self.window_start if days is None else self.as_of_end - pd.Timedelta(days=days)
        ok = (date > start) & (date <= self.as_of_end)
        return self._registered((name, "events", days), df, ok.fillna(False).to_numpy(dtype=bool))

    # -- households and persons -----------------------------------------------------------
    @cached_property
    def households(self) -> pd.Index:
        """Household ids at the current snapshot, sorted."""
        df = self._tables["households"]
        ids = df.loc[(df["snapshot"] == self.current_snapshot).to_numpy(dtype=bool), "household_id"]
        unique = pc.unique(_arrow(ids.astype(str)))
        ordered = unique.take(pc.sort_indices(unique))   # byte order of UTF-8 = code-point order
        return pd.Index(pd.array(ordered, dtype=pd.StringDtype("pyarrow", na_value=np.nan)),
                        name="household_id")

    @cached_property
    def _household_keys(self) -> pa.Array:
        return _one_array(_arrow(self.households)).cast(pa.large_string())

    @property
    def n(self) -> int:
        """Number of households."""
        return len(self.households)

    def codes(self, df: pd.DataFrame) -> np.ndarray:
        """Position of each row's household in :attr:`households` (-1 when not registered)."""
        if "_hh" in df.columns:
            return df["_hh"].to_numpy()
        return positions(df["household_id"], self._household_keys)

    @cached_property
    def persons(self) -> pd.DataFrame:
        """Current members with an integer ``hh`` code and float ``age``."""
        p = self.state("persons")
        return pd.DataFrame({
            "person_id": p["person_id"].astype(str).reset_index(drop=True),
            "hh": self.codes(p),
            "age": as_float(p["age"]),
        })

    @cached_property
    def person_index(self) -> pd.Index:
        """Index of current member ids (positions match :attr:`persons`)."""
        return pd.Index(self.persons["person_id"])

    @cached_property
    def _person_keys(self) -> pa.Array:
        return _one_array(_arrow(self.person_index)).cast(pa.large_string())

    def person_age(self, df: pd.DataFrame) -> np.ndarray:
        """Current age of each row's person (NaN when the person is not a current member)."""
        key = next((k for k, frame in self._rows.items() if frame is df), None)
        pos = self._person_positions.get(key) if key is not None else None
        if pos is None:
            pos = positions(df["person_id"], self._person_keys)
            if key is not None:   # a table selection of this view: asked for again by others
                self._person_positions[key] = pos
        ages = self.persons["age"].to_numpy()
        return np.where(pos >= 0, ages[np.clip(pos, 0, None)], np.nan)

    @cached_property
    def severely_disabled(self) -> np.ndarray:
        """Whether each current member holds a grade 1-2 disability certificate."""
        d = self.state("disability")
        severe = d.loc[as_float(d["grade"]) <= SEVERE_DISABILITY_GRADE, "person_id"].astype(str)
        return self.persons["person_id"].isin(severe).to_numpy()

    @cached_property
    def size(self) -> np.ndarray:
        """Members per household (0 when the registry lists nobody)."""
        return self.count(self.persons["hh"].to_numpy())

    def members_aged(self, lo: float, hi: float) -> np.ndarray:
        """Members with lo <= age <= hi, per household."""
        age = self.persons["age"].to_numpy()
        return self.count(self.persons["hh"].to_numpy(), (age >= lo) & (age <= hi))

    @cached_property
    def monthly_income(self) -> np.ndarray:
        """Household income this month (NaN when not reported)."""
        inc = self.state("income")
        return self.first(self.codes(inc), as_float(inc["monthly_income"]))

    # -- vectorised aggregations over household codes -------------------------------------
    def count(self, codes: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Rows per household (optionally only rows where ``mask``)."""
        codes = np.asarray(codes)
        if mask is not None:
            codes = codes[np.asarray(mask, dtype=bool)]
        return np.bincount(codes, minlength=self.n).astype(float)

    def sum(self, codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Sum of values per household (missing values count as 0; no rows gives 0)."""
        v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
        return np.bincount(np.asarray(codes), weights=v, minlength=self.n)

    def max(self, codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Maximum per household, NaN when it has no non-missing value."""
        out = np.full(self.n, -np.inf)
        v = np.asarray(values, dtype=float)
        ok = ~np.isnan(v)
        np.maximum.at(out, np.asarray(codes)[ok], v[ok])
        out[np.isneginf(out)] = np.nan
        return out

    def first(self, codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The value of each household's row in a one-row-per-household table (NaN if none)."""
        out = np.full(self.n, np.nan)
        out[np.asarray(codes)] = np.asarray(values, dtype=float)
        return out

    def series(self, values: np.ndarray) -> pd.Series:
        """Wrap per-household values as a Series indexed by household id."""
        return pd.Series(np.asarray(values, dtype=float), index=self.households)


def _known(name: str, df: pd.DataFrame, *, as_of: str, as_of_end: pd.Timestamp) -> pd.DataFrame:
    """Rows of ``df`` whose snapshot and as-of date are not after the as-of month."""
    ok = (df["snapshot"] <= as_of) & (df["as_of_date"] <= as_of_end)
    return _where(df, ok.fillna(False).to_numpy(dtype=bool))


class _KnownTables(dict):
    """The source tables, each restricted to what was known by as-of when it is first read
    (tables a view never reads are never scanned)."""

    def __init__(self, tables: Tables, known) -> None:  # noqa: ANN001 - (name, frame) -> frame
        super().__init__()
        self._sources, self._restrict = tables, known

    def __missing__(self, name: str) -> pd.DataFrame:
        self[name] = self._restrict(name, self._sources[name])
        return self[name]

    def __contains__(self, name: object) -> bool:
        return name in self._sources


def _where(df: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """Rows where ``mask`` holds (the frame itself when all do, a slice when they are
    contiguous: no copy)."""
    if mask.all():
        return df
    rows = np.flatnonzero(mask)
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return df.iloc[rows[0]:rows[-1] + 1]
    return df.iloc[rows]


def _arrow(values: pd.Series | pd.Index) -> pa.Array | pa.ChunkedArray:
    """String values as Arrow (no copy when they are Arrow-backed already)."""
    arr = pa.array(values, from_pandas=True)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pa.array(pd.Series(values).astype(pd.StringDtype("pyarrow")), from_pandas=True)
    return arr


def _one_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def arrow_ids(values: pd.Series | pd.Index) -> pa.Array:
    """Id strings as one Arrow ``large_string`` array, for hash lookups with ``pyarrow.compute``."""
    return _one_array(_arrow(values)).cast(pa.large_string())


def _runs(values: pd.Series | pd.Index) -> tuple[pa.Array | pa.ChunkedArray, np.ndarray | None]:
    """The values that differ from the row before, and each row's run number (None when
    every row starts a run)."""
    arr = _arrow(values)
    n = len(arr)
    if n < 2:
        return arr, None
    same = pc.equal(arr.slice(1), arr.slice(0, n - 1)).fill_null(False)
    same = same.to_numpy(zero_copy_only=False)
    if not same.any():
        return arr, None
    new = np.ones(n, dtype=bool)
    new[1:] = ~same
    return arr.filter(pa.array(new)), np.cumsum(new) - 1


def positions_many(columns: Sequence[pd.Series | pd.Index], keys: pa.Array) -> list[np.ndarray]:
    """:func:`positions` of several columns, looked up with one hash table of ``keys``."""
    runs = [_runs(c) for c in columns]
    heads = [h.cast(pa.large_string()) for h, _ in runs]
    chunks = [c for h in heads for c in (h.chunks if isinstance(h, pa.ChunkedArray) else [h])]
    found = pc.index_in(pa.chunked_array(chunks, type=pa.large_string()),
                        value_set=keys.cast(pa.large_string()))
    flat = found.fill_null(-1).to_numpy().astype(np.int64)
    out, start = [], 0
    for head, run in zip(heads, (r for _, r in runs), strict=True):
        part = flat[start:start + len(head)]
        start += len(head)
        out.append(part if run is None else part[run])
    return out


def factorize_runs(values: pd.Series) -> tuple[np.ndarray, int]:
    """Codes of ``values`` (numbered by first appearance) and how many distinct values there are.

    Same codes as ``pd.factorize(values.astype(str))`` for non-missing ids, but only rows whose
    value differs from the row before are hashed: cheap for tables sorted by that id.
    """
    heads, run = _runs(values)
    codes, uniques = pd.factorize(pd.Series(heads.to_pandas(), dtype=str))
    return (codes if run is None else codes[run]), len(uniques)


def positions(values: pd.Series | pd.Index, keys: pa.Array) -> np.ndarray:
    """Position of each value in ``keys`` (unique strings), -1 when absent or missing.

    Same result as ``pd.Index(keys).get_indexer(values)``, but only rows whose value differs
    from the row before are looked up, with Arrow's hash lookup: tables sorted by id cost about
    one lookup per distinct id.
    """
    return positions_many([values], keys)[0]


#: the largest value :func:`ratio` returns (spending of ten times income, or more)
RATIO_CAP = 10.0


def ratio(num: np.ndarray, den: np.ndarray, *, cap: float = RATIO_CAP) -> np.ndarray:
    """num / den with an explicit rule for a zero denominator: cap when num > 0, 0 when num == 0.

    Missing inputs give NaN. Ratios are capped at ``cap`` (e.g. spending of ten times income).
    """
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    safe_den = np.where(den > 0, den, 1.0)
    r = np.where(den > 0, num / safe_den, np.where(num > 0, cap, 0.0))
    r = np.minimum(r, cap)
    r[np.isnan(num) | np.isnan(den)] = np.nan
    return r
