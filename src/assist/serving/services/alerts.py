"""Water-meter alerts for people: the urgent queue, acknowledge, resolve, escalate.

Caseworkers see and act on the alerts of their own streets only (another street's alert is
404, like a household); managers and admins see the district. Every read is audited with the
households it showed, every action with its alert; the note is never logged. An alert nobody
acknowledged within ``escalation_minutes`` (``experiments/meters.yaml``) is escalated to the
street lead (:func:`escalate_due`, run by the listener), as is one resolved ``unreachable``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from assist.serving import audit
from assist.serving.alerts.schemas import AlertAcknowledge, AlertList, AlertPublic, AlertResolve
from assist.serving.auth import Principal
from assist.serving.db import flush_versioned
from assist.serving.errors import ApiError, not_found
from assist.serving.models import Alert, AuditEntry, utcnow

#: most alerts one read returns (unresolved first)
QUEUE_LIMIT = 500
UNRESOLVED = ("escalated", "open", "acknowledged")
_ORDER = case((Alert.status == "escalated", 0), (Alert.status == "open", 1),
              (Alert.status == "acknowledged", 2), else_=3)


def _where(who: Principal, unresolved_only: bool) -> list:
    where = [Alert.status.in_(UNRESOLVED)] if unresolved_only else []
    if who.streets is not None:
        where.append(Alert.street_code.in_(who.streets))
    return where


def list_alerts(session: Session, *, who: Principal, endpoint: str,
                unresolved_only: bool = False, limit: int = QUEUE_LIMIT,
                audit_empty: bool = True) -> AlertList:
    """Alerts of the caller's streets, escalated and open first, newest first within; the read
    is audited with the households listed (an empty one only with ``audit_empty``: the
    referral list's banner shows no household then)."""
    where = _where(who, unresolved_only)
    q = select(Alert).where(*where).order_by(_ORDER, Alert.detected_at.desc(), Alert.id.desc())
    items = [AlertPublic.model_validate(a) for a in session.scalars(q.limit(limit))]
    total, unresolved = session.execute(
        select(func.count(Alert.id), func.coalesce(func.sum(
            case((Alert.status.in_(UNRESOLVED), 1), else_=0)), 0)).where(*where)).one()
    if items or audit_empty:
        audit.record(session, who=who, action="alerts.list", endpoint=endpoint,
                     detail={"returned": len(items), "unresolved_only": unresolved_only,
                             "household_ids": audit.listed(a.household_id for a in items)})
        session.commit()
    return AlertList(total=int(total), unresolved=int(unresolved), items=items)


def _in_scope(session: Session, who: Principal, alert_id: int, version: int) -> Alert:
    a = session.get(Alert, alert_id)
    if a is None or not who.sees_street(a.street_code):
        raise not_found("alert")
    if a.version != version:
        raise ApiError(409, "version_conflict", "the alert changed since you read it: reload "
                       "and retry", field="body.version", current_version=a.version)
    if a.status == "resolved":
        raise ApiError(409, "alert_resolved", "this alert is resolved already",
                       alert_status=a.status, version=a.version)
    return a


def acknowledge(session: Session, *, who: Principal, alert_id: int, body: AlertAcknowledge,
                endpoint: str) -> AlertPublic:
    """Acknowledge an unresolved alert of the caller's streets (by version)."""
    a = _in_scope(session, who, alert_id, body.version)
    if a.acknowledged_at is not None:
        raise ApiError(409, "alert_acknowledged", "this alert is acknowledged already",
                       version=a.version)
    a.status, a.acknowledged_by, a.acknowledged_at = "acknowledged", who.user_id, utcnow()
    flush_versioned(session, what="alert")
    audit.record(session, who=who, action="alert.acknowledge", endpoint=endpoint,
                 household_id=a.household_id, detail={"alert_id": a.id, "version": a.version})
    session.commit()
    return AlertPublic.model_validate(a)


def resolve(session: Session, *, who: Principal, alert_id: int, body: AlertResolve,
            endpoint: str) -> AlertPublic:
    """Resolve with the visit's outcome; ``unreachable`` escalates it to the street lead and
    leaves it unresolved."""
    a = _in_scope(session, who, alert_id, body.version)
    now = utcnow()
    a.outcome, a.note = body.outcome, body.note
    if body.outcome == "unreachable":
        a.status, a.escalated_at = "escalated", now
    else:
        a.status, a.resolved_by, a.resolved_at = "resolved", who.user_id, now
    if a.acknowledged_at is None:
        a.acknowledged_by, a.acknowledged_at = who.user_id, now
    flush_versioned(session, what="alert")
    audit.record(session, who=who, action="alert.resolve", endpoint=endpoint,
                 household_id=a.household_id,
                 detail={"alert_id": a.id, "outcome": a.outcome, "status": a.status,
                         "version": a.version})
    session.commit()
    return AlertPublic.model_validate(a)


def escalate_due(session: Session, *, minutes: float, now: dt.datetime | None = None,
                 actor: str = "meters-listener") -> list[dict[str, Any]]:
    """Escalate every open alert created more than ``minutes`` ago (committed, audited); the
    webhook events of the escalated alerts."""
    now = now or utcnow()
    due = list(session.scalars(select(Alert).where(
        Alert.status == "open", Alert.created_at <= now - dt.timedelta(minutes=minutes))
        .order_by(Alert.id).with_for_update(skip_locked=True)))
    events = []
    for a in due:
        a.status, a.escalated_at = "escalated", now
        session.execute(insert(AuditEntry).values(
            at=now, user_id=None, username=actor, role="system", action="alert.escalate",
            endpoint="escalation", household_id=a.household_id,
            detail={"alert_id": a.id, "street": a.street_code, "after_minutes": minutes}))
        events.append({"event": "alert.escalated", "alert_id": a.id, "rule": a.rule,
                       "street_code": a.street_code, "community_code": a.community_code,
                       "household_id": a.household_id, "escalated_to": "street_lead"})
    session.flush()
    session.commit()
    return events
