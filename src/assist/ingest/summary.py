"""What an ingest run read, accepted and quarantined (per file, per table), and which
table-months it validated: new, changed, re-checked, or unchanged and skipped.

:class:`IngestSummary` is both the run's report (printed as a Rich table) and, through
:meth:`IngestSummary.to_dict`, the store's ``summary.json``. That file depends only on the
source files and the key — never on how the store was built (full or incremental) — so the
change report (:class:`Changes`) is printed and returned but not written into the store.
Table-months accepted below their table's acceptance rule (``--accept-low``) are written into
it (``accepted_low``, only when there are any); what the source folder held besides extracts
(``ignored``) is printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

#: what happened to one table-month (one source file) in a run
NEW, CHANGED, RECHECKED, UNCHANGED = "new", "changed", "rechecked", "unchanged"
STATUSES = (NEW, CHANGED, RECHECKED, UNCHANGED)
_MEANING = {
    NEW: "new (validated)",
    CHANGED: "changed since the last ingest (re-validated)",
    RECHECKED: "unchanged, re-validated because its month's households changed",
    UNCHANGED: "unchanged (skipped, kept as stored)",
}


@dataclass
class FileResult:
    """Counts for one extract file."""

    snapshot: str
    source_file: str
    rows_read: int
    accepted: int
    quarantined: int
    by_rule: dict[str, int]
    extra_columns: list[str]

    def counts(self) -> dict[str, Any]:
        """The counts as JSON (what the store manifest keeps per source file)."""
        return {"rows_read": self.rows_read, "accepted": self.accepted,
                "quarantined": self.quarantined, "by_rule": dict(sorted(self.by_rule.items())),
                "extra_columns": list(self.extra_columns)}

    @classmethod
    def from_counts(cls, counts: dict[str, Any], *, snapshot: str,
                    source_file: str) -> FileResult:
        """The result :meth:`counts` described."""
        return cls(snapshot, source_file, int(counts["rows_read"]), int(counts["accepted"]),
                   int(counts["quarantined"]), {str(k): int(v) for k, v in
                                                counts["by_rule"].items()},
                   [str(c) for c in counts["extra_columns"]])


@dataclass
class TableCounts:
    """Rows of one table: read, accepted and quarantined (by rule), and ignored columns."""

    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    by_snapshot: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, result: FileResult) -> None:
        """Count one extract file."""
        self.rows_read += result.rows_read
        self.accepted += result.accepted
        self.quarantined += result.quarantined
        for rule, n in result.by_rule.items():
            self.by_rule[rule] = self.by_rule.get(rule, 0) + n
        self.extra_columns = sorted(set(self.extra_columns) | set(result.extra_columns))
        self.files.append(result.source_file)
        self.by_snapshot[result.snapshot] = {
            "rows_read": result.rows_read, "accepted": result.accepted,
            "quarantined": result.quarantined}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"rows_read": self.rows_read, "accepted": self.accepted,
                "quarantined": self.quarantined, "by_rule": dict(sorted(self.by_rule.items())),
                "extra_columns": list(self.extra_columns), "files": list(self.files),
                "by_snapshot": dict(sorted(self.by_snapshot.items()))}


@dataclass(frozen=True)
class Changes:
    """Which table-months a run validated and which it kept, and why.

    ``status`` maps ``(table, snapshot)`` to one of :data:`STATUSES`; ``removed`` lists the
    months the previous store held whose extracts are gone from the source (dropped);
    ``mode`` is ``"full"`` or ``"incremental"``, ``reason`` says why a run was full.
    """

    mode: str
    status: dict[tuple[str, str], str]
    removed: tuple[str, ...] = ()
    reason: str = ""

    def of(self, status: str) -> list[tuple[str, str]]:
        """The (table, snapshot) pairs with ``status``, in snapshot then table order."""
        return [tm for tm, s in self.status.items() if s == status]

    @property
    def validated(self) -> int:
        """Source files validated in this run."""
        return sum(s != UNCHANGED for s in self.status.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: ``{status: {snapshot: [tables]}}``, removed months, mode."""
        by: dict[str, dict[str, list[str]]] = {s: {} for s in STATUSES}
        for (table, snapshot), status in self.status.items():
            by[status].setdefault(snapshot, []).append(table)
        return {"mode": self.mode, "reason": self.reason, "validated": self.validated,
                "removed": list(self.removed), **by}

    def lines(self, tables: int) -> list[str]:
        """One plain line per kind of change, naming the table-months (a whole month once)."""
        out = [f"{self.mode} ingest" + (f" ({self.reason})" if self.reason else "")
               + f": {self.validated} file(s) validated, {len(self.of(UNCHANGED))} skipped"]
        for status in (NEW, CHANGED, RECHECKED):
            pairs = self.of(status)
            if pairs and not (self.mode == "full" and status == NEW):
                out.append(f"{_MEANING[status]}: {_months(pairs, tables)}")
        if self.removed:
            out.append(f"dropped, extracts gone from the source: {', '.join(self.removed)}")
        return out


def _months(pairs: list[tuple[str, str]], tables: int) -> str:
    """``2025-11 … 2026-01 (all tables); 2026-03: persons, income`` for (table, snapshot) pairs:
    a month with every table once, consecutive whole months as one span."""
    by: dict[str, list[str]] = {}
    for table, snapshot in pairs:
        by.setdefault(snapshot, []).append(table)
    spans: list[list[str]] = []
    parts: list[tuple[str, str]] = []
    for snap, names in sorted(by.items()):
        if len(names) < tables:
            parts.append((snap, f"{snap}: {', '.join(names)}"))
        elif spans and _next_month(spans[-1][-1]) == snap:
            spans[-1].append(snap)
        else:
            spans.append([snap])
    parts += [(span[0], (f"{span[0]} … {span[-1]}" if len(span) > 1 else span[0])
               + " (all tables)") for span in spans]
    return "; ".join(text for _, text in sorted(parts))


def _next_month(snapshot: str) -> str:
    year, month = int(snapshot[:4]), int(snapshot[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


@dataclass(frozen=True)
class IngestSummary:
    """What an ingest run read, accepted and quarantined, per table; and what it validated."""

    snapshots: tuple[str, ...]
    tables: dict[str, TableCounts]
    changes: Changes | None = field(default=None, compare=False)
    #: table-months accepted below their acceptance rule, by ``--accept-low``
    accepted_low: tuple[dict[str, Any], ...] = ()
    #: paths in the source folder that are no extract (reported, not read)
    ignored: tuple[str, ...] = field(default=(), compare=False)

    @property
    def rows_read(self) -> int:
        """Rows read over all tables."""
        return sum(t.rows_read for t in self.tables.values())

    @property
    def accepted(self) -> int:
        """Rows accepted over all tables."""
        return sum(t.accepted for t in self.tables.values())

    @property
    def quarantined(self) -> int:
        """Rows quarantined over all tables."""
        return sum(t.quarantined for t in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (what ``summary.json`` holds; without the change report)."""
        out = {"snapshots": list(self.snapshots),
               "totals": {"rows_read": self.rows_read, "accepted": self.accepted,
                          "quarantined": self.quarantined},
               "tables": {name: counts.to_dict() for name, counts in self.tables.items()}}
        if self.accepted_low:
            out["accepted_low"] = [dict(x) for x in self.accepted_low]
        return out

    def table(self) -> Table:
        """A Rich table: rows read / accepted / quarantined per table, by rule; the caption
        says how many files were validated, names new, changed and dropped months, and the
        ignored columns."""
        snaps = self.snapshots
        span = f"{snaps[0]} … {snaps[-1]}" if len(snaps) > 1 else (snaps[0] if snaps else "-")
        ignored = "; ".join(f"{name}: {', '.join(t.extra_columns)}"
                            for name, t in self.tables.items() if t.extra_columns)
        notes = self.changes.lines(len(self.tables)) if self.changes is not None else []
        if ignored:
            notes.append(f"ignored columns (not declared): {ignored}")
        if self.ignored:
            notes.append(f"not extracts, ignored: {', '.join(self.ignored)}")
        notes += [f"accepted below the rule (--accept-low): {x['source_file']}, "
                  f"{x['accepted']:,} of {x['rows_read']:,} rows" for x in self.accepted_low]
        out = Table(title=f"Ingest: {len(snaps)} snapshot(s), {span}",
                    caption="\n".join(notes) or None, caption_justify="left")
        out.add_column("table", no_wrap=True)
        for header in ("rows read", "accepted", "quarantined"):
            out.add_column(header, justify="right", no_wrap=True)
        out.add_column("quarantined by rule", overflow="fold")
        for name, t in self.tables.items():
            rules = ", ".join(f"{r} {n:,}" for r, n in sorted(
                t.by_rule.items(), key=lambda kv: (-kv[1], kv[0])))
            out.add_row(name, f"{t.rows_read:,}", f"{t.accepted:,}",
                        f"[red]{t.quarantined:,}[/red]" if t.quarantined else "0", rules or "-")
        out.add_row("total", f"{self.rows_read:,}", f"{self.accepted:,}",
                    f"{self.quarantined:,}", "", style="bold", end_section=True)
        return out

