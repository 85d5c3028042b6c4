"""API models of the water-meter alerts (``/api/v1/alerts``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from assist.serving.schemas import ShortText, UtcDatetime

AlertOutcome = Literal["visited_fine", "visited_help_needed", "unreachable"]
AlertStatus = Literal["open", "escalated", "acknowledged", "resolved"]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]


class AlertAcknowledge(BaseModel):
    """Acknowledge an alert: someone is on the way; ``version`` must be the one last read."""

    model_config = ConfigDict(extra="forbid")
    version: Version


class AlertResolve(BaseModel):
    """Resolve an alert with what the visit found; ``unreachable`` escalates to the street
    lead instead of closing it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    outcome: AlertOutcome = Field(description=(
        "visited_fine, visited_help_needed, or unreachable (escalated to the street lead)."))
    note: ShortText | None = Field(default=None, description="What was found (optional).")
    version: Version


class AlertPublic(BaseModel):
    """An urgent water-meter alert of a household."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    household_id: str
    street_code: str
    community_code: str
    profile: str = Field(description="Household profile whose span applied.")
    rule: Literal["silence", "continuous_flow"]
    span_hours: float = Field(description="The rule's span for this household, hours.")
    episode: str = Field(description="Start of the episode: last use (silence) or flow start.")
    detected_at: UtcDatetime = Field(description="Time of the reading that raised it.")
    last_reading_at: UtcDatetime
    last_litres: float
    usual_zh: str = Field(description="The household's usual pattern, in Chinese.")
    usual_en: str = Field(description="The household's usual pattern, in English.")
    status: AlertStatus
    created_at: UtcDatetime
    escalated_at: UtcDatetime | None = None
    acknowledged_at: UtcDatetime | None = None
    resolved_at: UtcDatetime | None = None
    outcome: AlertOutcome | None = None
    note: str | None = None
    version: int


class AlertList(BaseModel):
    """Alerts of the caller's streets: unresolved first (escalated, open, acknowledged)."""

    total: int
    unresolved: int
    items: list[AlertPublic]
