"""Which rows of a raw extract break which rules, and in which columns.

The rules are the source-table schemas of :mod:`assist.features.schemas`: per-column checks
and the key's uniqueness run through pandera (lazily, so every failure is collected), the
table-wide checks (as-of date inside the snapshot, no future events, cross-column orderings)
are the schema's own :class:`pandera.Check` objects evaluated to a row mask — pandera would
report a failing table-wide check once per column of the row, which explodes when a whole file
is wrong. Ingest adds two rules that need context beyond one file: the snapshot column must
match the file's month, and the household must be among the accepted households of that
snapshot. A finding derived from a value that already failed (a missing or unreadable
``as_of_date`` is not also "outside the snapshot") is not reported twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.errors as pe
import pyarrow as pa
import pyarrow.compute as pc

from assist.features.schemas import RULES, TABLES, raw_schema
from assist.pipelines.coerce import arrow_text

FINDING_COLUMNS = ["row", "rule", "column"]
#: pandera's names for its built-in checks -> our rule codes
PANDERA_RULES = {"not_nullable": "missing_value", "multiple_fields_uniqueness": "duplicate_key"}


class TableRules:
    """The checks of one source table, built once per run from its declared schema."""

    def __init__(self, name: str) -> None:
        self.spec = TABLES[name]
        schema = raw_schema(name)
        self._frame_checks = list(schema.checks)
        # values are already typed column by column (unreadable ones reported) by ingest
        columns = schema.update_columns({c: {"coerce": False, "dtype": None}
                                         for c in schema.columns})
        columns.coerce = False
        columns.checks = []
        self._columns_schema = columns
        self._inputs = {c.name: self._check_inputs(c.name) for c in self._frame_checks}

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
             snapshot: str, households: pa.Array | None = None) -> pd.DataFrame:
        """Findings (row position, rule, column) for ``frame``, a coerced extract.

        ``failed`` holds the coercion failures per column and rule; ``households`` the raw ids
        of the accepted households of this snapshot as Arrow text (``None`` for the households
        table itself).
        """
        n = len(frame)
        found = _Findings(n)
        for column, by_rule in failed.items():
            for rule, mask in by_rule.items():
                found.add(np.flatnonzero(mask), rule, column)
        unreadable = {c: np.logical_or.reduce(list(r.values())) for c, r in failed.items() if r}
        self._pandera(frame, found, unreadable)
        self._snapshot(frame, found, snapshot)
        self._table_wide(frame, found)
        if households is not None and "household_id" in frame:
            hid = frame["household_id"]
            known = pc.is_in(arrow_text(hid), value_set=households)
            unknown = hid.notna().to_numpy() & ~known.to_numpy(zero_copy_only=False)
            found.add(np.flatnonzero(unknown & ~found.flagged("household_id")),
                      "unknown_household", "household_id")
        return found.frame()

    def _pandera(self, frame: pd.DataFrame, found: _Findings,
                 unreadable: dict[str, np.ndarray]) -> None:
        try:
            self._columns_schema.validate(frame, lazy=True)
            return
        except pe.SchemaErrors as exc:  # never chain or log it: failure cases hold values
            cases = exc.failure_cases[["schema_context", "column", "check", "index"]]
        if cases["index"].isna().any():
            bad = cases.loc[cases["index"].isna(), ["column", "check"]].drop_duplicates()
            what = ", ".join(f"{c}:{k}" for c, k in bad.itertuples(index=False))
            raise RuntimeError(f"table {self.spec.name!r}: schema failures without a row ({what})")
        for (context, check, column), group in cases.groupby(
                ["schema_context", "check", "column"], sort=True):
            rule = PANDERA_RULES.get(str(check), str(check))
            if rule not in RULES or (context != "Column" and rule != "duplicate_key"):
                raise RuntimeError(
                    f"table {self.spec.name!r}: unexpected schema failure {check!r} ({column})")
            rows = group["index"].to_numpy(dtype=np.int64)
            if rule == "missing_value" and column in unreadable:
                rows = rows[~unreadable[column][rows]]  # already reported as unreadable
            if rule == "duplicate_key":  # a missing key part is reported as such, not as a copy
                key_missing = frame[list(self.spec.key)].isna().any(axis=1).to_numpy()
                rows = rows[~key_missing[rows]]
            found.add(rows, rule, str(column))

    def _table_wide(self, frame: pd.DataFrame, found: _Findings) -> None:
        results = []
        for check in self._frame_checks:  # evaluate all before adding: same inputs for each
            passed = check(frame).check_output.to_numpy(dtype=bool)
            inputs = self._inputs[check.name]
            already = np.logical_or.reduce([found.flagged(c) for c in inputs])
            results.append((np.flatnonzero(~passed & ~already), check.name, inputs[0]))
        for rows, rule, column in results:
            found.add(rows, rule, column)

    @staticmethod
    def _snapshot(frame: pd.DataFrame, found: _Findings, snapshot: str) -> None:
        snap = frame["snapshot"]
        other = (snap.notna() & (snap != snapshot)).to_numpy(dtype=bool)
        found.add(np.flatnonzero(other & ~found.flagged("snapshot")), "snapshot_mismatch",
                  "snapshot")


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
