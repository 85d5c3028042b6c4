"""Request and response models of assigned visits (``/api/v1/assignments``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from assist.serving.schemas import UtcDatetime


class AssignCreate(BaseModel):
    """Assign allocated referrals of the current month to one caseworker of their street."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    referral_ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]],
                            Field(min_length=1, max_length=200)]
    assignee: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                                   description="The caseworker's user name.")]


class AssignResult(BaseModel):
    """What an assignment changed: newly assigned, reassigned (from another caseworker) and
    unchanged (already theirs) referrals, and the due date of the new ones."""

    assignee: str
    assigned: int
    reassigned: int
    unchanged: int
    due_date: dt.date
    household_ids: list[str] = Field(description="The households of the referrals, in order.")


class VisitPublic(BaseModel):
    """An allocated referral with its current assignment (none yet: assignee null)."""

    model_config = ConfigDict(from_attributes=True)
    referral_id: int
    household_id: str
    street_code: str
    community_code: str
    rank_street: int
    band: str
    probability: float
    primary_cause: str | None
    status: str
    assignee: str | None = None
    assigned_at: UtcDatetime | None = None
    due_date: dt.date | None = None
    overdue: bool = Field(False, description="Still open after its due date.")
    days_left: int | None = Field(None, description="Days until the due date (negative: late).")


class VisitPage(BaseModel):
    """The current month's allocated visits in scope, with assignments and due dates."""

    as_of: str
    today: dt.date
    due_days: int
    items: list[VisitPublic]


class AssignmentEvent(BaseModel):
    """One assignment of a referral: to whom, by whom, when, from whom, until when."""

    assignee: str
    previous_assignee: str | None
    assigned_by: str
    assigned_at: UtcDatetime
    due_date: dt.date
    ended_at: UtcDatetime | None


class AssignmentHistory(BaseModel):
    """Every assignment of a referral, oldest first."""

    referral_id: int
    household_id: str
    events: list[AssignmentEvent]
