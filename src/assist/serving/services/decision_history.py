"""Decision history: every change of a decision kept as a revision, and read back.

The decisions service calls :func:`record_revision` in the same transaction as the change
itself, so a decision never changes without its revision (nor a revision exist for a change
that was rolled back). :func:`household_history` reads a household's revisions, newest
first, for callers of its street (audited like any read of household data); notes and
reasons are left out for roles that do not see them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assist.serving import audit
from assist.serving.auth import SEES_NOTES, Principal
from assist.serving.errors import not_found
from assist.serving.models import Decision, DecisionRevision, HouseholdScore, Referral, User
from assist.serving.schemas_history import (
    HISTORY_FIELDS,
    NOTE_FIELDS,
    DecisionHistory,
    DecisionRevisionPublic,
    FieldChange,
)


def _plain(value: Any) -> Any:  # noqa: ANN401
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return sorted(str(v) for v in value)
    return None if value in ("", None) else value


def state(d: Decision) -> dict[str, Any]:
    """The recorded fields of ``d`` as JSON values (dates as ISO text, lists sorted)."""
    return {f: _plain(getattr(d, f)) for f in HISTORY_FIELDS}


def record_revision(session: Session, d: Decision, *, who: Principal, action: str,
                    before: dict[str, Any] | None) -> DecisionRevision:
    """Add the revision of ``d``'s latest change (``before``: its state before; ``None`` when
    it was just recorded); call after the change is flushed, so ``d.version`` is the new one."""
    after = state(d)
    old = before or dict.fromkeys(HISTORY_FIELDS)
    changes = {f: [old[f], after[f]] for f in HISTORY_FIELDS
               if old[f] != after[f] and not (old[f] in (None, []) and after[f] in (None, []))}
    rev = DecisionRevision(decision_id=d.id, household_id=d.household_id, revision=d.version,
                           action=action, changed_by=who.user_id, changes=changes)
    session.add(rev)
    return rev


def _in_scope(session: Session, who: Principal, household_id: str) -> bool:
    street = session.scalar(select(HouseholdScore.street_code)
                            .where(HouseholdScore.household_id == household_id).limit(1))
    if street is None:
        street = session.scalar(select(Referral.street_code)
                                .where(Referral.household_id == household_id).limit(1))
    return street is not None and who.sees_street(street)


def public_revisions(session: Session, rows: list[DecisionRevision],
                     who: Principal) -> list[DecisionRevisionPublic]:
    """Revisions as the caller may see them (notes hidden from roles that do not see them)."""
    ids = {r.changed_by for r in rows if r.changed_by is not None}
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_(ids)))
                 .tuples().all()) if ids else {}
    hide = who.role not in SEES_NOTES
    return [DecisionRevisionPublic(
        decision_id=r.decision_id, revision=r.revision, action=r.action,
        changed_by=names.get(r.changed_by), changed_at=r.changed_at,
        changes=[FieldChange(field=f, before=r.changes[f][0], after=r.changes[f][1])
                 for f in HISTORY_FIELDS if f in r.changes and not (hide and f in NOTE_FIELDS)])
        for r in rows]


def revisions_of(session: Session, household_id: str) -> list[DecisionRevision]:
    """A household's revisions, newest first (no audit: the caller audits its read)."""
    return list(session.scalars(
        select(DecisionRevision).where(DecisionRevision.household_id == household_id)
        .order_by(DecisionRevision.changed_at.desc(), DecisionRevision.id.desc())))


def household_history(session: Session, *, who: Principal, household_id: str,
                      endpoint: str) -> DecisionHistory:
    """Every revision of the household's decisions, newest first; 404 when the household is
    unknown or outside the caller's streets (audited as a denied probe by the caller)."""
    if not _in_scope(session, who, household_id):
        raise not_found("household")
    rows = revisions_of(session, household_id)
    audit.record(session, who=who, action="decision.history", endpoint=endpoint,
                 household_id=household_id,
                 detail={"revisions": len(rows),
                         "decision_ids": sorted({r.decision_id for r in rows})})
    session.commit()
    return DecisionHistory(household_id=household_id,
                           revisions=public_revisions(session, rows, who))
