"""Which rows of a raw extract break which rules, and in which columns.

The rules are the source-table schemas of :mod:`assist.features.schemas`: each column's
nullability and its declared :class:`pandera.Check` objects, the key's uniqueness (first copy
kept, as the schema's ``report_duplicates="exclude_first"``) and the table-wide checks (as-of
date inside the snapshot, no future events, cross-column orderings). The schema's own checks
are evaluated to row masks, one :class:`pandera.Check` call each, exactly as pandera's lazy
validation applies them (missing values skipped: every declared check has ``ignore_na``),
without building pandera's failure-case tables: those cost more than the checks on a large
extract, and pandera would report a failing table-wide check once per column of the row.
Ingest adds two rules that need context beyond one file: the snapshot column must match the
file's month, and the household must be among the accepted households of that snapshot.
A finding derived from a value that already failed (a missing or unreadable ``as_of_date``
is not also "outside the snapshot") is not reported twice.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandera.pandas import Check, DataFrameSchema

from assist.features.schemas import RULES, TABLES, TableSpec, raw_schema
from assist.ingest.coerce import arrow_text

FINDING_COLUMNS = ["row", "rule", "column"]


class DeclaredChecks:
    """The row rules a pandera schema declares, evaluated to row positions: nullability, the
    column checks, key uniqueness (first copy kept) and the table-wide checks."""

    def __init__(self, schema: DataFrameSchema, spec: TableSpec) -> None:
        self.frame_checks = list(schema.checks)
        self.required = [n for n, c in schema.columns.items() if not c.nullable]
        self.column_checks = [(n, check) for n, c in schema.columns.items()
                              for check in c.checks]
        for column, check in self.column_checks:
            if (check.name not in RULES or check.element_wise or check.groupby is not None
                    or not check.ignore_na):
                raise ValueError(f"table {spec.name!r}: check {check.name!r} on {column!r} is "
                                 "not a vectorised check that skips missing values, with a "
                                 "code in RULES")
        unique = schema.unique
        self.unique = [unique] if isinstance(unique, str) else list(unique or [])
        if self.unique and schema.report_duplicates != "exclude_first":
            raise ValueError(f"table {spec.name!r}: duplicates must be reported after the first")
        # a file holds one snapshot month (a few where rows are wrong): check each value once
        self._few_values = {"snapshot"}

    def missing(self, frame: pd.DataFrame) -> Iterator[tuple[str, np.ndarray]]:
        """(column, rows) where a required value is missing."""
        for column in self.required:
            yield column, np.flatnonzero(frame[column].isna().to_numpy())

    def failing(self, frame: pd.DataFrame) -> Iterator[tuple[str, str, np.ndarray]]:
        """(column, rule, rows) where a present value fails a column check."""
        for column, check in self.column_checks:
            yield column, check.name, failing_rows(check, frame[column],
                                                   few=column in self._few_values)

    def copies(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows whose complete key an earlier row already has."""
        if not self.unique:
            return np.array([], dtype=np.int64)
        key = frame[self.unique]
        # a missing key part is reported as such, not as a copy
        return np.flatnonzero(key.duplicated(keep="first").to_numpy()
                              & ~key.isna().any(axis=1).to_numpy())

    def table_wide(self, frame: pd.DataFrame) -> Iterator[tuple[str, np.ndarray]]:
        """(check, mask of passing rows) for each table-wide check."""
        for check in self.frame_checks:
            yield check.name, check(frame).check_output.to_numpy(dtype=bool)


class TableRules:
    """The checks of one source table, built once per run from its declared schema."""

    def __init__(self, name: str) -> None:
        self.spec = TABLES[name]
        # values are already typed column by column (unreadable ones reported) by ingest
        self._declared = DeclaredChecks(raw_schema(name), self.spec)
        self._inputs = {c.name: self._check_inputs(c.name)
                        for c in self._declared.frame_checks}

    def _check_inputs(self, check: str) -> tuple[str, ...]:
        """Columns a table-wide check reads; the first is the one reported."""
        if check not in RULES:
            raise ValueError(f"table {self.spec.name!r}: check {check!r} has no code in RULES")
        if check == "as_of_outside_snapshot":
            return ("as_of_date", "snapshot")
        if check == "future_date" and self.spec.event_date:
            return (self.spec.event_date, "as_of_date")
        for a, b in self.spec.not_greater:
            if check == f"{a}_exceeds_{b}":
                return (a, b)
        raise ValueError(f"table {self.spec.name!r}: unknown table-wide check {check!r}")

    def find(self, frame: pd.DataFrame, *, failed: dict[str, dict[str, np.ndarray]],
             snapshot: str, households: pa.Array | None = None,
             household_ids: pd.Series | None = None) -> pd.DataFrame:
        """Findings (row position, rule, column) for ``frame``, a coerced extract.

        ``failed`` holds the coercion failures per column and rule; ``households`` the ids
        of the accepted households of this snapshot as Arrow text (``None`` for the households
        table itself), compared with ``household_ids``: the frame's household ids as the same
        kind of id (default: the frame's own raw ids; ingest compares pseudonyms, so that an
        unchanged households file need not be read again).
        """
        n = len(frame)
        found = _Findings(n)
        for column, by_rule in failed.items():
            for rule, mask in by_rule.items():
                found.add(np.flatnonzero(mask), rule, column)
        unreadable = {c: np.logical_or.reduce(list(r.values())) for c, r in failed.items() if r}
        self._columns(frame, found, unreadable)
        self._snapshot(frame, found, snapshot)
        self._table_wide(frame, found)
        if households is not None and "household_id" in frame:
            hid = frame["household_id"] if household_ids is None else household_ids
            known = pc.is_in(arrow_text(hid), value_set=households)
            unknown = hid.notna().to_numpy() & ~known.to_numpy(zero_copy_only=False)
            found.add(np.flatnonzero(unknown & ~found.flagged("household_id")),
                      "unknown_household", "household_id")
        return found.frame()

    def _columns(self, frame: pd.DataFrame, found: _Findings,
                 unreadable: dict[str, np.ndarray]) -> None:
        """Nullability, column checks and key uniqueness of the declared schema."""
        for column, rows in self._declared.missing(frame):
            if column in unreadable:
                rows = rows[~unreadable[column][rows]]  # already reported as unreadable
            found.add(rows, "missing_value", column)
        for column, rule, rows in self._declared.failing(frame):
            found.add(rows, rule, column)
        copies = self._declared.copies(frame)
        for column in self._declared.unique:  # every part of the key is involved
            found.add(copies, "duplicate_key", column)

    def _table_wide(self, frame: pd.DataFrame, found: _Findings) -> None:
        results = []
        for name, passed in self._declared.table_wide(frame):  # all before adding: same inputs
            inputs = self._inputs[name]
            already = np.logical_or.reduce([found.flagged(c) for c in inputs])
            results.append((np.flatnonzero(~passed & ~already), name, inputs[0]))
        for rows, rule, column in results:
            found.add(rows, rule, column)

    @staticmethod
    def _snapshot(frame: pd.DataFrame, found: _Findings, snapshot: str) -> None:
        snap = frame["snapshot"]
        other = (snap.notna() & (snap != snapshot)).to_numpy(dtype=bool)
        found.add(np.flatnonzero(other & ~found.flagged("snapshot")), "snapshot_mismatch",
                  "snapshot")


def failing_rows(check: Check, values: pd.Series, *, few: bool = False) -> np.ndarray:
    """Row positions (``values`` has a RangeIndex) whose present value fails ``check``.

    Exactly pandera's application of a column check that skips missing values: the check is
    called once on the present values. With ``few`` (a text column holding few distinct values,
    such as codes), it is called on each distinct value once and mapped back to the rows —
    the same result for a per-value check, which every declared column check is.
    """
    if few and len(values) > 1 and pd.api.types.is_string_dtype(values.dtype):
        codes, distinct = pd.factorize(values, use_na_sentinel=True)
        if 2 * len(distinct) <= len(values):
            passed = check(pd.Series(distinct, dtype=values.dtype)).check_output
            bad = passed.index.to_numpy()[~passed.to_numpy(dtype=bool)]
            if not len(bad):
                return np.array([], dtype=np.int64)
            return np.flatnonzero(np.isin(codes, bad))
    # pandera drops missing values first (ignore_na): the output is indexed by the remaining
    # rows, whose labels are row positions
    passed = check(values).check_output
    return passed.index.to_numpy()[~passed.to_numpy(dtype=bool)].astype(np.int64)


class _Findings:
    """Accumulates (row, rule, column) findings and which cells already failed."""

    def __init__(self, n: int) -> None:
        self._n = n
        self._parts: list[pd.DataFrame] = []
        self._flagged: dict[str, np.ndarray] = {}

    def add(self, rows: np.ndarray, rule: str, column: str) -> None:
        if len(rows) == 0:
            return
        self._parts.append(pd.DataFrame({"row": rows.astype(np.int64), "rule": rule,
                                         "column": column}))
        mask = self._flagged.setdefault(column, np.zeros(self._n, dtype=bool))
        mask[rows] = True

    def flagged(self, column: str) -> np.ndarray:
        return self._flagged.get(column, np.zeros(self._n, dtype=bool))

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({"row": np.array([], dtype=np.int64),
                                 "rule": pd.array([], dtype=pd.StringDtype()),
                                 "column": pd.array([], dtype=pd.StringDtype())})
        out = pd.concat(self._parts, ignore_index=True).astype(
            {"rule": pd.StringDtype(), "column": pd.StringDtype()})
        out = out.drop_duplicates().sort_values(FINDING_COLUMNS, kind="stable")
        return out.reset_index(drop=True)
