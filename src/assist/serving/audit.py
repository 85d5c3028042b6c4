"""The audit log: every read of household-level data and every decision, who/when/what/where."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assist.serving.auth import Principal
from assist.serving.models import AuditEntry


def record(session: Session, *, who: Principal, action: str, endpoint: str,
           household_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Add an audit entry to ``session`` (committed with the caller's transaction)."""
    session.add(AuditEntry(user_id=who.user_id, username=who.username, role=who.role,
                           action=action, endpoint=endpoint, household_id=household_id,
                           detail=detail or {}))


def entries(session: Session, *, since: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
    """Audit entries in time order, from ``since`` on."""
    q = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    for e in session.scalars(q).yield_per(1000):
        at = e.at if e.at.tzinfo else e.at.replace(tzinfo=dt.UTC)
        yield {"id": e.id, "at": at.isoformat(), "user_id": e.user_id, "username": e.username,
               "role": e.role, "action": e.action, "endpoint": e.endpoint,
               "household_id": e.household_id, "detail": e.detail}
