"""Acceptance rules: how much of a table-month must pass validation for a run to go ahead.

Quarantining bad rows is right for a few of them; a file whose rows nearly all fail (a numeric
column exported as text, a header without rows, the wrong file under the right name) is a bad
delivery, and storing what is left of it would leave features silently empty. So each table
declares, once, a minimum share of accepted rows and a minimum number of accepted rows per
table-month (:data:`ACCEPTANCE`). A file below either fails the run with one line naming the
file, table, month, rate and the top rejection reasons; the store stays as it was. An operator
who has checked the file can accept it (``assist ingest --accept-low TABLE``): the override is
recorded in the summary (``accepted_low``).

Tables of events that may well be absent in a month (appeals, visits, certificates issued,
claims, readings) need no rows, only a rate when there are any.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER
from assist.ingest.summary import FileResult


@dataclass(frozen=True)
class Acceptance:
    """A table-month is acceptable when at least ``min_rate`` of its rows and at least
    ``min_rows`` rows are accepted (the rate is not checked on an empty file)."""

    min_rate: float = 0.5
    min_rows: int = 1


#: tables whose month may be empty: events, not registers
_MAY_BE_EMPTY = ("medical_claims", "disability", "school_enrolment", "assistance",
                 "hotline_appeals", "verifications", "water_readings")

#: the declared acceptance rule of every source table
ACCEPTANCE: dict[str, Acceptance] = {
    name: Acceptance(min_rows=0) if name in _MAY_BE_EMPTY else Acceptance()
    for name in TABLE_ORDER}

#: rejection reasons named in the failure message
TOP_REASONS = 3


def shortfall(result: FileResult, table: str) -> str:
    """Why ``result`` falls below its table's rule ("" when it does not)."""
    rule = ACCEPTANCE[table]
    rate = result.accepted / result.rows_read if result.rows_read else None
    if rate is not None and rate < rule.min_rate:
        return (f"{result.accepted:,} of {result.rows_read:,} rows accepted ({rate:.1%}, "
                f"minimum {rule.min_rate:.0%})")
    if result.accepted < rule.min_rows:
        return (f"{result.accepted:,} of {result.rows_read:,} rows accepted (minimum "
                f"{rule.min_rows:,} rows)")
    return ""


def top_reasons(result: FileResult) -> str:
    """The most frequent rejection rules of a file, ``rule xN`` comma-separated."""
    ranked = sorted(result.by_rule.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
    return ", ".join(f"{rule} x{n:,}" for rule, n in ranked) or "no rows"


def check(result: FileResult, table: str, *, file: str,
          accept_low: Collection[str]) -> dict[str, Any] | None:
    """Refuse a file below its table's rule (an InputError naming file, table, month, rate and
    the top reasons), unless ``accept_low`` names the table: then the record of the override."""
    why = shortfall(result, table)
    if not why:
        return None
    if table in accept_low:
        return {"table": table, "snapshot": result.snapshot, "source_file": result.source_file,
                "rows_read": result.rows_read, "accepted": result.accepted,
                "by_rule": dict(sorted(result.by_rule.items()))}
    raise InputError(f"too few rows accepted in table {table}, month {result.snapshot}: {why}; "
                     f"top reasons: {top_reasons(result)}. Fix the extract, or accept it with "
                     f"--accept-low {table}; the store is unchanged", file=file)


def check_names(accept_low: Collection[str]) -> None:
    """Refuse an ``--accept-low`` naming no source table."""
    unknown = sorted(set(accept_low) - set(TABLE_ORDER))
    if unknown:
        raise InputError(f"--accept-low names no source table: {', '.join(unknown)} (tables: "
                         f"{', '.join(TABLE_ORDER)})")
