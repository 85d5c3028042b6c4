"""The case store: SQLAlchemy 2 typed models (SQLite by default, PostgreSQL by URL).

Schema changes go through Alembic migrations (``migrations/versions``); tests check that the
migrated schema matches these models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("caseworker", "manager", "data_scientist", "admin", "lead")
#: roles limited to their streets: caseworkers, and street leads (who assign their visits)
STREET_ROLES = frozenset({"caseworker", "lead"})
LEVELS = ("district", "street", "community")
OUTCOMES = ("confirmed", "not_in_need", "unreachable", "declined")
RATINGS = ("good", "bad")
#: referral status: open until a decision is recorded, then the decision's outcome
STATUSES = ("open", *OUTCOMES)
#: why a household contests its identification or the visit's decision (PIPL art. 24)
CONTEST_GROUNDS = ("wrong_data", "disagree_decision", "refuse_automated", "other")
#: a manager's decision on a contest
CONTEST_OUTCOMES = ("upheld", "rejected", "data_corrected")
#: a contest's status: open until a manager decides it, then the outcome
CONTEST_STATUSES = ("open", *CONTEST_OUTCOMES)


def utcnow() -> dt.datetime:
    """Timezone-aware now (UTC)."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the case store."""

    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON,
                           dt.datetime: DateTime(timezone=True)}


class Jurisdiction(Base):
    """District > street > community (the city's three-level platform)."""

    __tablename__ = "jurisdictions"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"))


class User(Base):
    """An API user; caseworkers see only the streets assigned to them."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    streets: Mapped[list[UserJurisdiction]] = relationship(
        cascade="all, delete-orphan", lazy="selectin")

    @property
    def street_codes(self) -> list[str]:
        """Codes of the user's assigned jurisdictions."""
        return sorted(s.jurisdiction_code for s in self.streets)


class UserJurisdiction(Base):
    """A jurisdiction (street) assigned to a user."""

    __tablename__ = "user_jurisdictions"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"),
                                                   primary_key=True)


class Snapshot(Base):
    """A monthly scoring snapshot loaded into the store."""

    __tablename__ = "snapshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[str] = mapped_column(String(7), unique=True)
    model_version: Mapped[str] = mapped_column(String(256))
    config_hash: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    loaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class _ScoredHousehold:
    """Columns of a household's score in a snapshot, shared by scores and referrals."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    household_id: Mapped[str] = mapped_column(String(64))
    street_code: Mapped[str] = mapped_column(String(32))
    community_code: Mapped[str] = mapped_column(String(32))
    probability: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(16))
    rank_district: Mapped[int] = mapped_column(Integer)
    deprivation_score: Mapped[float] = mapped_column(Float)
    #: decisions carried forward (:mod:`assist.models.carry`): the household's last decision
    #: before this month, its date, and its listing code and reason; NULL: no decision recorded
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_decision_date: Mapped[dt.date | None] = mapped_column()
    listing: Mapped[str | None] = mapped_column(String(32))
    listing_zh: Mapped[str | None] = mapped_column(Text)
    listing_en: Mapped[str | None] = mapped_column(Text)


class HouseholdScore(_ScoredHousehold, Base):
    """One household's score in one snapshot (every household, for score history and detail)."""

    __tablename__ = "household_scores"
    __table_args__ = (UniqueConstraint("snapshot_id", "household_id"),
                      Index("ix_household_scores_household", "household_id"))
    #: indicator id -> value (None when missing)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``{"catalog", "deprived": [indicator ids], "dimensions": {id: weighted share}}`` computed
    #: at load by the catalog's own functions over the whole month (the household detail reads
    #: it instead of recomputing); NULL: loaded before it was stored, computed on demand
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Referral(_ScoredHousehold, Base):
    """A household listed for a visit in a snapshot (allocated, waiting or flagged)."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("snapshot_id", "household_id"),
                      Index("ix_referrals_list", "snapshot_id", "street_code", "rank_street"),
                      Index("ix_referrals_household", "household_id"))
    rank_street: Mapped[int] = mapped_column(Integer)
    rank_community: Mapped[int] = mapped_column(Integer)
    allocated: Mapped[bool] = mapped_column(Boolean)
    primary_cause: Mapped[str | None] = mapped_column(String(32))
    secondary_cause: Mapped[str | None] = mapped_column(String(32))
    top_factors_en: Mapped[list[str]] = mapped_column(default=list)
    top_factors_zh: Mapped[list[str]] = mapped_column(default=list)
    programmes: Mapped[list[str]] = mapped_column(default=list)
    allocated_programmes: Mapped[list[str]] = mapped_column(default=list)
    reasons_en: Mapped[list[str]] = mapped_column(default=list)
    reasons_zh: Mapped[list[str]] = mapped_column(default=list)
    flags: Mapped[list[str]] = mapped_column(default=list)
    #: programme/flag codes joined as ";a;b;" so filters are one LIKE on both back ends
    programme_key: Mapped[str] = mapped_column(String(256), default=";")
    flag_key: Mapped[str] = mapped_column(String(256), default=";")
    #: programmes the household already receives (active grants); NULL: not in the snapshot
    receiving: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: not on the previous month's list in the case store; NULL: that list is not loaded
    new_this_month: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


#: the list's default order (allocated visits first, by street and rank): an index scan, no sort
Index("ix_referrals_queue", Referral.snapshot_id, Referral.allocated.desc(), Referral.street_code,
      Referral.rank_street, Referral.id)


class Assignment(Base):
    """A referral assigned to a caseworker of its street, with its due date; a reassignment
    ends the current row (``ended_at``) and adds one naming the previous caseworker, so the
    rows of a referral are its assignment history (who, when, from whom)."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_assignee", "assignee_id", "ended_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"),
                                             index=True)
    household_id: Mapped[str] = mapped_column(String(64))
    street_code: Mapped[str] = mapped_column(String(32), index=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    previous_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_date: Mapped[dt.date] = mapped_column()
    ended_at: Mapped[dt.datetime | None] = mapped_column()


class Decision(Base):
    """A caseworker's recorded outcome of a referral; ``version`` guards concurrent updates."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"),
                                             unique=True)
    household_id: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    visit_date: Mapped[dt.date] = mapped_column()
    programmes_granted: Mapped[list[str]] = mapped_column(default=list)
    #: the outcome disagrees with the score's band (kept for the override analysis)
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[str | None] = mapped_column(String(8))
    rating_reason: Mapped[str | None] = mapped_column(Text)
    band_at_decision: Mapped[str] = mapped_column(String(16))
    probability_at_decision: Mapped[float] = mapped_column(Float)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class DecisionRevision(Base):
    """One change of a decision: who, when, and each changed field's value before and after
    (``changes``: ``{field: [before, after]}``); ``revision`` is the decision's version after
    the change (1: recorded)."""

    __tablename__ = "decision_revisions"
    __table_args__ = (UniqueConstraint("decision_id", "revision"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    household_id: Mapped[str] = mapped_column(String(64), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    #: ``create``, ``update``, or ``baseline`` (the state found when history began)
    action: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Contest(Base):
    """A household's contest of its identification or the visit's decision, recorded by its
    caseworker or at the service window, decided by a manager with a reason; ``version``
    guards concurrent decisions. ``correction_needed``: the data were wrong, for the
    department extract owner to correct (``assist casebook contests --corrections``)."""

    __tablename__ = "contests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[str] = mapped_column(String(64), index=True)
    street_code: Mapped[str] = mapped_column(String(32), index=True)
    #: the household's latest decision when the contest was recorded (None: not visited yet)
    decision_id: Mapped[int | None] = mapped_column(Integer)
    #: ``visit`` (recorded by the caseworker) or ``service_window`` (a manager or admin)
    channel: Mapped[str] = mapped_column(String(16))
    grounds: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    disputed_indicators: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    correction_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class AuditEntry(Base):
    """Who read or wrote what household-level data, when, through which endpoint."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(256))
    household_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class UserSession(Base):
    """A signed-in page session, server side: the cookie carries a random secret and the store
    only its SHA-256, so a read of this table yields no usable cookie. Deleting the row ends
    the session at once (sign-out, user disabled, password or role changed)."""

    __tablename__ = "user_sessions"
    #: hex SHA-256 of the cookie's secret
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


# 水管家 water-meter alerts (issue 19): registrations, durable meter state, rejected messages,
# alerts. Meter and household ids are pseudonyms; no raw meter id is ever stored.
ALERT_RULES = ("silence", "continuous_flow")
#: an alert's status: open -> acknowledged -> resolved; unacknowledged in time: escalated
ALERT_STATUSES = ("open", "escalated", "acknowledged", "resolved")
#: what the visit found (``unreachable`` escalates to the street lead)
ALERT_OUTCOMES = ("visited_fine", "visited_help_needed", "unreachable")


class MeterRegistration(Base):
    """A registered smart water meter: the household it watches, its street and profile."""

    __tablename__ = "meter_registrations"
    meter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    household_id: Mapped[str] = mapped_column(String(64), index=True)
    street_code: Mapped[str] = mapped_column(String(32))
    community_code: Mapped[str] = mapped_column(String(32), default="")
    profile: Mapped[str] = mapped_column(String(32))
    registered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MeterState(Base):
    """What the listener knows of one meter (event times, UTC); written in the transaction that
    raises the meter's alerts, so a restart neither loses nor repeats one."""

    __tablename__ = "meter_states"
    meter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_ts: Mapped[dt.datetime | None] = mapped_column()
    last_litres: Mapped[float | None] = mapped_column(Float)
    last_use_at: Mapped[dt.datetime | None] = mapped_column()
    flow_since: Mapped[dt.datetime | None] = mapped_column()
    readings: Mapped[int] = mapped_column(Integer, default=0)
    #: the learned usual pattern: litres per hour of day, longest daily gap, days learned
    usual: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MeterReject(Base):
    """A meter message refused by validation, kept with its reason (never crashes the listener)."""

    __tablename__ = "meter_rejects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text, default="")


class Alert(Base):
    """An urgent item for a household's street, one per household, rule and episode (the
    silence's last use, or the flow's start); ``version`` guards concurrent actions."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("household_id", "rule", "episode"),
                      Index("ix_alerts_queue", "street_code", "status"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[str] = mapped_column(String(64), index=True)
    meter_id: Mapped[str] = mapped_column(String(32))
    street_code: Mapped[str] = mapped_column(String(32))
    community_code: Mapped[str] = mapped_column(String(32), default="")
    profile: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(32))
    episode: Mapped[str] = mapped_column(String(32))
    span_hours: Mapped[float] = mapped_column(Float)
    #: event time of the reading that raised it, and the meter's last reading then
    detected_at: Mapped[dt.datetime] = mapped_column()
    last_reading_at: Mapped[dt.datetime] = mapped_column()
    last_litres: Mapped[float] = mapped_column(Float)
    usual_zh: Mapped[str] = mapped_column(Text, default="")
    usual_en: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    escalated_at: Mapped[dt.datetime | None] = mapped_column()
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column()
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}
