"""Contests (PIPL art. 24): a household contests its identification or the visit's decision.

Recorded by the household's caseworker (``channel`` ``visit``) or at the service window by a
manager or admin (``service_window``), for households in the caller's streets only; routed to
the managers' queue; decided by a manager with an outcome and a required reason, by version
(optimistic concurrency, like decisions). ``data_corrected`` marks the contest for correction:
the department extract owner lists them with ``assist casebook contests --corrections``.

While a contest is open the decisions snapshot carries a ``contested`` row for its household
(:func:`open_contests`), so scoring does not list it again until a manager decides it.
Every read and write is audited; contest text is never logged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from assist.features import CATALOG
from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.db import flush_versioned
from assist.serving.errors import ApiError, not_found
from assist.serving.models import Contest, Decision, HouseholdScore, Snapshot, utcnow
from assist.serving.schemas import ContestCreate, ContestDecide, ContestList, ContestPublic

#: the outcome the decisions snapshot gives a household with an open contest
CONTESTED = "contested"
#: most contests one queue read returns (open ones first)
QUEUE_LIMIT = 500


def household_street(session: Session, household_id: str) -> str | None:
    """The street of the household's latest score (None: unknown household)."""
    return session.scalars(
        select(HouseholdScore.street_code).join(Snapshot)
        .where(HouseholdScore.household_id == household_id)
        .order_by(Snapshot.as_of.desc()).limit(1)).first()


def in_scope_street(session: Session, who: Principal, household_id: str) -> str:
    """The household's street; 404 when unknown or outside the caller's streets (the caller
    audits the denied probe)."""
    street = household_street(session, household_id)
    if street is None or not who.sees_street(street):
        raise not_found("household")
    return street


def latest_decision(session: Session, household_id: str) -> Decision | None:
    """The household's most recently changed decision (None: never visited)."""
    return session.scalars(select(Decision).where(Decision.household_id == household_id)
                           .order_by(Decision.updated_at.desc(), Decision.id.desc())
                           .limit(1)).first()


def create_contest(session: Session, *, who: Principal, body: ContestCreate,
                   endpoint: str) -> ContestPublic:
    """Record a contest for a household in the caller's streets; 409 if one is open already."""
    street = in_scope_street(session, who, body.household_id)
    unknown = sorted(set(body.disputed_indicators) - set(CATALOG.ids))
    if unknown:
        raise ApiError(422, "unknown_indicator", f"unknown indicator id(s) "
                       f"{', '.join(map(repr, unknown))}", field="body.disputed_indicators")
    existing = session.scalars(select(Contest).where(
        Contest.household_id == body.household_id, Contest.status == "open")).first()
    if existing is not None:
        raise ApiError(409, "contest_open", "this household has an open contest: a manager "
                       "decides it first", contest_id=existing.id, version=existing.version)
    decision = latest_decision(session, body.household_id)
    c = Contest(household_id=body.household_id, street_code=street,
                decision_id=decision.id if decision else None,
                channel="visit" if who.role == "caseworker" else "service_window",
                grounds=body.grounds, text=body.text,
                disputed_indicators=list(dict.fromkeys(body.disputed_indicators)),
                status="open", correction_needed=False, recorded_by=who.user_id)
    session.add(c)
    session.flush()
    audit.record(session, who=who, action="contest.create", endpoint=endpoint,
                 household_id=c.household_id,
                 detail={"contest_id": c.id, "grounds": c.grounds, "channel": c.channel})
    session.commit()
    return ContestPublic.model_validate(c)


def decide_contest(session: Session, *, who: Principal, contest_id: int, body: ContestDecide,
                   endpoint: str) -> ContestPublic:
    """Decide an open contest if ``body.version`` is current (else 409); ``data_corrected``
    marks it for correction by the department extract owner."""
    c = session.get(Contest, contest_id)
    if c is None or not who.sees_street(c.street_code):
        raise not_found("contest")
    if c.version != body.version:
        raise ApiError(409, "version_conflict", "the contest changed since you read it: "
                       "reload and retry", field="body.version", current_version=c.version)
    if c.status != "open":
        raise ApiError(409, "contest_decided", "this contest is already decided",
                       contest_status=c.status, version=c.version)
    c.status, c.decision_reason = body.outcome, body.reason
    c.correction_needed = body.outcome == "data_corrected"
    c.decided_by, c.decided_at = who.user_id, utcnow()
    flush_versioned(session, what="contest")
    audit.record(session, who=who, action="contest.decide", endpoint=endpoint,
                 household_id=c.household_id,
                 detail={"contest_id": c.id, "outcome": c.status, "version": c.version})
    session.commit()
    return ContestPublic.model_validate(c)


def list_contests(session: Session, *, who: Principal, endpoint: str,
                  status: str | None = None) -> ContestList:
    """The managers' queue: contests in the caller's streets, open ones first, then the most
    recent (at most :data:`QUEUE_LIMIT`); the read is audited with the households listed."""
    where = [Contest.status == status] if status is not None else []
    if who.streets is not None:
        where.append(Contest.street_code.in_(who.streets))
    q = select(Contest).where(*where).order_by(case((Contest.status == "open", 0), else_=1),
                                               Contest.created_at.desc(), Contest.id.desc())
    items = [ContestPublic.model_validate(c) for c in session.scalars(q.limit(QUEUE_LIMIT))]
    total, n_open = session.execute(
        select(func.count(Contest.id),
               func.coalesce(func.sum(case((Contest.status == "open", 1), else_=0)), 0))
        .where(*where)).one()
    audit.record(session, who=who, action="contests.list", endpoint=endpoint,
                 detail={"returned": len(items), "status": status,
                         "household_ids": audit.listed(c.household_id for c in items)})
    session.commit()
    return ContestList(total=int(total), open=int(n_open), items=items)


def household_contests(session: Session, household_id: str) -> list[ContestPublic]:
    """The household's contests, newest first (for pages whose read is audited already)."""
    rows = session.scalars(select(Contest).where(Contest.household_id == household_id)
                           .order_by(Contest.created_at.desc(), Contest.id.desc()))
    return [ContestPublic.model_validate(c) for c in rows]


def open_contests(session: Session) -> list[tuple[str, dt.datetime]]:
    """``(household_id, recorded at)`` of every open contest (the decisions snapshot's
    ``contested`` rows)."""
    return [(h, t) for h, t in session.execute(
        select(Contest.household_id, Contest.created_at).where(Contest.status == "open")
        .order_by(Contest.household_id, Contest.id))]


def contests_frame(session: Session) -> pd.DataFrame:
    """One row per contest: ``street``, ``status`` (for the overrides report's counts)."""
    rows = session.execute(select(Contest.street_code, Contest.status).order_by(Contest.id))
    return pd.DataFrame(list(rows), columns=["street", "status"])


def corrections(session: Session) -> list[dict[str, Any]]:
    """Contests decided ``data_corrected``: the household, the disputed indicators and the
    source tables behind them, for the department extract owner (no free text)."""
    by_id = {ind.id: ind for ind in CATALOG}
    out = []
    for c in session.scalars(select(Contest).where(Contest.correction_needed.is_(True))
                             .order_by(Contest.decided_at, Contest.id)):
        tables = sorted({t for i in c.disputed_indicators if i in by_id
                         for t in by_id[i].sources})
        decided = c.decided_at
        if decided is not None and decided.tzinfo is None:
            decided = decided.replace(tzinfo=dt.UTC)
        out.append({"contest_id": c.id, "household_id": c.household_id,
                    "street_code": c.street_code, "grounds": c.grounds,
                    "indicators": list(c.disputed_indicators), "tables": tables,
                    "decided_at": decided.isoformat() if decided else None})
    return out
