"""Decisions: record and change a visit's outcome, with optimistic concurrency and audit.

A visit date is the district's calendar day: "today" is the date in UTC+8 (China Standard
Time, no daylight saving), whatever the server's own time zone. A visit date may be neither
after today nor before the first day of the referral's snapshot month (422 naming
``body.visit_date``); without one, today is recorded.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.db import flush_versioned
from assist.serving.errors import ApiError, not_found
from assist.serving.models import Decision, Referral, Snapshot, utcnow
from assist.serving.schemas import DecisionBase, DecisionCreate, DecisionPublic, DecisionUpdate
from assist.serving.services.decision_history import record_revision, state
from assist.serving.services.households import public_decision


def disagrees(*, band: str, outcome: str) -> bool:
    """Whether an outcome overrides the score: need found in a low band, or none in a high one."""
    return (band == "low" and outcome == "confirmed") or (band == "high" and outcome == "not_in_need")


#: the district's time zone: visit dates are days of its calendar
DISTRICT_TZ = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")


def district_today() -> dt.date:
    """Today's date in the district (UTC+8)."""
    return dt.datetime.now(DISTRICT_TZ).date()


def check_visit_date(visit_date: dt.date, *, referral_month: str, today: dt.date) -> None:
    """422 (field ``body.visit_date``) when the visit is after ``today`` or before the first
    day of the referral's snapshot month ``referral_month`` (``YYYY-MM``)."""
    first = dt.date.fromisoformat(f"{referral_month}-01")
    if visit_date > today:
        raise ApiError(422, "visit_date_in_future", f"visit_date {visit_date.isoformat()} is "
                       f"after today ({today.isoformat()}, UTC+8)", field="body.visit_date")
    if visit_date < first:
        raise ApiError(422, "visit_date_before_referral", f"visit_date {visit_date.isoformat()} "
                       f"is before the referral's month {referral_month} (from "
                       f"{first.isoformat()})", field="body.visit_date")


def _check(session: Session, body: DecisionBase, referral: Referral) -> bool:
    from assist.models.matching import PROGRAMMES  # the codes every rule table draws on

    month = session.get(Snapshot, referral.snapshot_id).as_of
    check_visit_date(body.visit_date or district_today(), referral_month=month,
                     today=district_today())
    unknown = sorted(set(body.programmes_granted) - set(PROGRAMMES))
    if unknown:
        raise ApiError(422, "unknown_programme", f"unknown programme code(s) "
                       f"{', '.join(map(repr, unknown))}: one of {', '.join(PROGRAMMES)}",
                       field="body.programmes_granted")
    override = disagrees(band=referral.band, outcome=body.outcome)
    if override and not body.override_reason:
        raise ApiError(422, "override_reason_required",
                       f"outcome {body.outcome!r} disagrees with band {referral.band!r}: "
                       "give an override_reason", field="body.override_reason")
    if body.rating_reason and not body.rating:
        raise ApiError(422, "validation_error", "rating_reason needs a rating",
                       field="body.rating")
    return override


def _apply(d: Decision, body: DecisionBase, override: bool) -> None:
    d.outcome = body.outcome
    d.visit_date = body.visit_date or district_today()
    d.programmes_granted = list(body.programmes_granted)
    d.override, d.override_reason = override, body.override_reason
    d.note, d.rating, d.rating_reason = body.note, body.rating, body.rating_reason
    d.updated_at = utcnow()


def _conflict(code: str, message: str, current: Decision | None, who: Principal) -> ApiError:
    """409 carrying the stored decision (``current``, as the caller may see it) so a client
    can show it beside its own input and merge; ``version`` names the one to send back."""
    if current is None:
        return ApiError(409, code, message, field="body.version")
    return ApiError(409, code, message, field="body.version", decision_id=current.id,
                    version=current.version, current_version=current.version,
                    current=public_decision(current, who).model_dump(mode="json"))


def _referral_in_scope(session: Session, who: Principal, referral_id: int) -> Referral:
    r = session.get(Referral, referral_id)
    if r is None or not who.sees_street(r.street_code):
        raise not_found("referral")
    return r


def create_decision(session: Session, *, who: Principal, body: DecisionCreate,
                    endpoint: str) -> DecisionPublic:
    """Record the first decision on a referral; 409 if one exists (update it by version)."""
    r = _referral_in_scope(session, who, body.referral_id)
    override = _check(session, body, r)
    existing = session.scalars(select(Decision).where(Decision.referral_id == r.id)).first()
    if existing is not None:
        raise _conflict("decision_exists", "this referral already has a decision: update it "
                        "with its current version", existing, who)
    d = Decision(referral_id=r.id, household_id=r.household_id, recorded_by=who.user_id,
                 band_at_decision=r.band, probability_at_decision=r.probability)
    _apply(d, body, override)
    session.add(d)
    r.status = body.outcome
    try:
        session.flush()
    except IntegrityError:  # a concurrent first decision won the race
        session.rollback()
        winner = session.scalars(select(Decision).where(Decision.referral_id == r.id)).first()
        raise _conflict("decision_exists", "this referral already has a decision", winner,
                        who) from None
    record_revision(session, d, who=who, action="create", before=None)
    audit.record(session, who=who, action="decision.create", endpoint=endpoint,
                 household_id=r.household_id,
                 detail={"decision_id": d.id, "referral_id": r.id, "outcome": d.outcome,
                         "override": override, "version": d.version})
    session.commit()
    return public_decision(d, who)


def get_decision(session: Session, *, who: Principal, decision_id: int,
                 endpoint: str) -> DecisionPublic:
    """One decision in the caller's jurisdiction (audited read)."""
    d = session.get(Decision, decision_id)
    if d is None:
        raise not_found("decision")
    _referral_in_scope_or_404(session, who, d.referral_id, "decision")
    audit.record(session, who=who, action="decision.read", endpoint=endpoint,
                 household_id=d.household_id, detail={"decision_id": d.id})
    session.commit()
    return public_decision(d, who)


def _referral_in_scope_or_404(session: Session, who: Principal, referral_id: int,
                              what: str) -> Referral:
    r = session.get(Referral, referral_id)
    if r is None or not who.sees_street(r.street_code):
        raise not_found(what)
    return r


def update_decision(session: Session, *, who: Principal, decision_id: int, body: DecisionUpdate,
                    endpoint: str) -> DecisionPublic:
    """Change a decision if ``body.version`` is current; a stale version gets 409."""
    d = session.get(Decision, decision_id)
    if d is None:
        raise not_found("decision")
    r = _referral_in_scope_or_404(session, who, d.referral_id, "decision")
    if d.version != body.version:
        raise _conflict("version_conflict", "the decision changed since you read it: merge "
                        "your changes with the current version and save it", d, who)
    override = _check(session, body, r)
    before = state(d)
    _apply(d, body, override)
    r.status = body.outcome
    try:
        flush_versioned(session, what="decision")
    except ApiError:  # another edit won between our read and write: send its version
        raise _conflict("version_conflict", "the decision changed concurrently: merge your "
                        "changes with the current version and save it",
                        session.get(Decision, decision_id), who) from None
    record_revision(session, d, who=who, action="update", before=before)
    audit.record(session, who=who, action="decision.update", endpoint=endpoint,
                 household_id=d.household_id,
                 detail={"decision_id": d.id, "from": before["outcome"], "outcome": d.outcome,
                         "override": override, "version": d.version})
    session.commit()
    return public_decision(d, who)


def decisions_as_labels(session: Session) -> pd.DataFrame:
    """Decisions as training labels (``LABEL_COLUMNS`` of :mod:`assist.storage.casebook`).

    A decision labels the features its referral was scored on: ``referral_month`` is the
    referral's snapshot month m, and ``month`` the label month m + 1 in which the department's
    verification records would label the same example (so files read by older code keep
    their meaning). ``date`` is the visit date, ``updated_at`` when the decision last changed
    (training keeps the latest of repeated decisions on a household and month).
    """
    rows = session.execute(
        select(Decision.household_id, Snapshot.as_of, Decision.outcome, Decision.visit_date,
               Decision.updated_at)
        .join(Referral, Referral.id == Decision.referral_id)
        .join(Snapshot, Snapshot.id == Referral.snapshot_id)
        .order_by(Snapshot.as_of, Decision.updated_at, Decision.id)).all()
    df = pd.DataFrame(rows, columns=["household_id", "referral_month", "outcome", "date",
                                     "updated_at"])
    df["date"] = pd.to_datetime(df["date"])
    df["updated_at"] = pd.to_datetime(df["updated_at"], utc=True)
    df["month"] = [str(pd.Period(m, freq="M") + 1) for m in df["referral_month"]]
    return df[["household_id", "month", "outcome", "date", "referral_month", "updated_at"]]


def overrides(session: Session) -> pd.DataFrame:
    """Decisions that disagreed with the score, for the override analysis."""
    rows = session.execute(select(Decision.id, Decision.household_id, Decision.outcome,
                                  Decision.band_at_decision, Decision.probability_at_decision,
                                  Decision.override_reason, Decision.visit_date)
                           .where(Decision.override.is_(True))).all()
    return pd.DataFrame(rows, columns=["decision_id", "household_id", "outcome", "band",
                                       "probability", "override_reason", "visit_date"])


#: the outcome the decisions snapshot gives an allocated referral nobody has decided yet
PENDING = "pending"


def decisions_snapshot(session: Session) -> pd.DataFrame:
    """The decisions snapshot scoring carries forward (:data:`assist.storage.casebook.
    DECISION_COLUMNS`): every recorded decision with its referral's snapshot month, plus a
    ``pending`` row (no visit date, the snapshot's load time) for every allocated referral
    without a decision, and a ``contested`` row for every household with an open contest
    (:func:`_with_contested`)."""
    from assist.serving.models import Snapshot
    from assist.storage.casebook import DECISION_COLUMNS

    decided = session.execute(
        select(Decision.household_id, Snapshot.as_of, Decision.outcome, Decision.visit_date,
               Decision.programmes_granted, Decision.updated_at)
        .join(Referral, Decision.referral_id == Referral.id)
        .join(Snapshot, Referral.snapshot_id == Snapshot.id)
        .order_by(Snapshot.as_of, Decision.id)).all()
    waiting = session.execute(
        select(Referral.household_id, Snapshot.as_of, Snapshot.loaded_at)
        .join(Snapshot, Referral.snapshot_id == Snapshot.id)
        .outerjoin(Decision, Decision.referral_id == Referral.id)
        .where(Referral.allocated.is_(True), Decision.id.is_(None))
        .order_by(Snapshot.as_of, Referral.id)).all()
    rows = [(h, m, o, v, list(g or []), u) for h, m, o, v, g, u in decided]
    rows += [(h, m, PENDING, None, [], u) for h, m, u in waiting]
    df = pd.DataFrame(rows, columns=list(DECISION_COLUMNS))
    df["updated_at"] = pd.to_datetime(df["updated_at"], utc=True)
    df = _with_contested(session, df)
    df["visit_date"] = pd.to_datetime(df["visit_date"])  # NaT: pending
    return df


def _with_contested(session: Session, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` plus one ``contested`` row per household with an open contest, the last row of
    its history: the latest loaded month, no visit date, and a time no earlier than any other
    row's (the contest's own time when later), so scoring lists it ``contested`` until a
    manager decides the contest."""
    from assist.serving.services.contests import CONTESTED, open_contests

    contested = open_contests(session)
    month = session.scalar(select(Snapshot.as_of).order_by(Snapshot.as_of.desc()).limit(1))
    if not contested or month is None:
        return df
    floor = df["updated_at"].max() if len(df) else None
    rows = pd.DataFrame([(h, month, CONTESTED, None, [], t) for h, t in contested],
                        columns=df.columns)
    rows["updated_at"] = pd.to_datetime(rows["updated_at"], utc=True)
    if floor is not None and not pd.isna(floor):
        rows["updated_at"] = rows["updated_at"].where(rows["updated_at"] > floor, floor)
    rows = rows.drop_duplicates("household_id", keep="last")
    return pd.concat([df, rows], ignore_index=True) if len(df) else rows
