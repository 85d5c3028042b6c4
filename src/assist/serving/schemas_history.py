"""Response schemas of a decision's history: its revisions, each with the changed fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from assist.serving.schemas import UtcDatetime, _Out

#: the decision fields a revision records, in the order pages list them
HISTORY_FIELDS = ("outcome", "visit_date", "programmes_granted", "override_reason", "note",
                  "rating", "rating_reason")
#: free-text fields, hidden from roles that do not see notes (as in a decision itself)
NOTE_FIELDS = frozenset({"override_reason", "note", "rating_reason"})


class FieldChange(_Out):
    """One field of a decision before and after a change (``None``: empty)."""

    field: str
    before: Any = None
    after: Any = None


class DecisionRevisionPublic(_Out):
    """One change of a decision."""

    decision_id: int
    revision: int = Field(description="The decision's version after this change (1: recorded).")
    action: Literal["create", "update", "baseline"] = Field(description=(
        "create: recorded; update: changed; baseline: the state found when history began."))
    changed_by: str | None = Field(description="Username of who made the change.")
    changed_at: UtcDatetime
    changes: list[FieldChange]


class DecisionHistory(_Out):
    """Every revision of a household's decisions, newest first."""

    household_id: str
    revisions: list[DecisionRevisionPublic]
