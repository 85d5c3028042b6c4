"""Assigned visits: a street lead (their streets) or a manager (the district) assigns this
month's allocated referrals to caseworkers of the referral's street, in bulk; each assignment
has a due date (``visits.due_days`` of ``experiments/scoring.yaml`` after the day it was made);
an open referral past its due date is overdue. A reassignment ends the current assignment and
records a new one naming the previous caseworker, so a referral's rows are its history.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from assist.models.visits import VisitsSection
from assist.serving.auth import Principal
from assist.serving.errors import ApiError
from assist.serving.models import Assignment, Referral, Snapshot, User, utcnow
from assist.serving.schemas_visits import (
    AssignCreate,
    AssignmentEvent,
    AssignmentHistory,
    AssignResult,
    VisitPage,
    VisitPublic,
)
from assist.yamlfile import read_yaml

#: the scoring config the monthly run reads (relative to the working folder, as ``assist score``)
SCORING_CONFIG = Path("experiments") / "scoring.yaml"
_cached: dict[Path, tuple[float, VisitsSection]] = {}


def scoring_config_path(workspace: Path | None = None) -> Path | None:
    """``experiments/scoring.yaml`` of the working folder, else of the workspace or the folder
    holding it (as the monthly run finds it); None when there is none."""
    roots = [Path.cwd()]
    if workspace is not None:
        roots += [Path(workspace), Path(workspace).resolve().parent]
    return next((r / SCORING_CONFIG for r in roots if (r / SCORING_CONFIG).is_file()), None)


def visits_config(path: Path | None = SCORING_CONFIG) -> VisitsSection:
    """The ``visits`` section of the scoring config (defaults when there is no file); re-read
    when the file changes. A bad section is a 503 naming the field."""
    if path is None or not path.is_file():
        return VisitsSection()
    stamp = path.stat().st_mtime
    hit = _cached.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        data = read_yaml(path, what="scoring config") or {}
        section = VisitsSection.model_validate(data.get("visits") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in ("visits", *first["loc"]))
        raise ApiError(503, "config_error",
                       f"scoring config {path}: field {where!r}: {first['msg']}") from None
    _cached[path] = (stamp, section)
    return section


def _snapshot(session: Session) -> Snapshot:
    snap = session.scalars(select(Snapshot).order_by(Snapshot.as_of.desc()).limit(1)).first()
    if snap is None:
        raise ApiError(503, "not_ready", "no scoring snapshot is loaded")
    return snap


def _caseworker(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active or user.role != "caseworker":
        raise ApiError(422, "not_a_caseworker", f"assignee {username!r} is not an active "
                       "caseworker", field="body.assignee")
    return user


def _referrals(session: Session, who: Principal, ids: list[int], snap: Snapshot,
               assignee: User) -> list[Referral]:
    """The referrals to assign, locked; one-line errors naming the first bad id."""
    found = {r.id: r for r in session.scalars(
        select(Referral).where(Referral.id.in_(ids)).with_for_update())}
    for i in ids:
        r = found.get(i)
        if r is None or r.snapshot_id != snap.id or not who.sees_street(r.street_code):
            raise ApiError(404, "not_found", f"referral {i} not found in this month's list of "
                           "your streets", field="body.referral_ids")
        if not r.allocated:
            raise ApiError(422, "not_allocated", f"referral {i} is not among this month's "
                           "allocated visits", field="body.referral_ids")
        if r.status != "open":
            raise ApiError(422, "already_decided", f"referral {i} is already decided",
                           field="body.referral_ids")
        if r.street_code not in assignee.street_codes:
            raise ApiError(422, "outside_assignee_streets", f"referral {i} is in street "
                           f"{r.street_code}, not one of {assignee.username}'s streets",
                           field="body.assignee")
    return [found[i] for i in dict.fromkeys(ids)]


def assign(session: Session, *, who: Principal, body: AssignCreate, today: dt.date,
           visits: VisitsSection) -> AssignResult:
    """Assign ``body.referral_ids`` to ``body.assignee`` (not committed: the caller commits
    with its audit entry). Already theirs: unchanged; another caseworker's: reassigned."""
    snap = _snapshot(session)
    assignee = _caseworker(session, body.assignee)
    referrals = _referrals(session, who, body.referral_ids, snap, assignee)
    current = {a.referral_id: a for a in session.scalars(select(Assignment).where(
        Assignment.referral_id.in_([r.id for r in referrals]), Assignment.ended_at.is_(None)))}
    now, due = utcnow(), visits.due(today)
    counts = {"assigned": 0, "reassigned": 0, "unchanged": 0}
    for r in referrals:
        old = current.get(r.id)
        if old is not None and old.assignee_id == assignee.id:
            counts["unchanged"] += 1
            continue
        if old is not None:
            old.ended_at = now
        counts["reassigned" if old is not None else "assigned"] += 1
        session.add(Assignment(referral_id=r.id, household_id=r.household_id,
                               street_code=r.street_code, assignee_id=assignee.id,
                               previous_assignee_id=old.assignee_id if old else None,
                               assigned_by=who.user_id, assigned_at=now, due_date=due))
    session.flush()
    return AssignResult(assignee=assignee.username, due_date=due,
                        household_ids=[r.household_id for r in referrals], **counts)


def _visit(r: Referral, a: Assignment | None, name: str | None, today: dt.date) -> VisitPublic:
    late = a is not None and r.status == "open" and a.due_date < today
    return VisitPublic(
        referral_id=r.id, household_id=r.household_id, street_code=r.street_code,
        community_code=r.community_code, rank_street=r.rank_street, band=r.band,
        probability=r.probability, primary_cause=r.primary_cause, status=r.status,
        assignee=name, assigned_at=a.assigned_at if a else None,
        due_date=a.due_date if a else None, overdue=late,
        days_left=(a.due_date - today).days if a and r.status == "open" else None)


def visits(session: Session, *, who: Principal, today: dt.date, visits: VisitsSection,
           street: str | None = None, mine: bool = False) -> VisitPage:
    """This month's allocated referrals in the caller's streets (or one ``street``; 403 outside
    them) with their current assignment; ``mine``: only those assigned to the caller."""
    if street is not None and not who.sees_street(street):
        raise ApiError(403, "outside_streets", f"street {street} is not one of your streets "
                       f"({', '.join(who.streets or ())})", field="street")
    snap = _snapshot(session)
    assignee = aliased(User)
    q = (select(Referral, Assignment, assignee.username)
         .outerjoin(Assignment, (Assignment.referral_id == Referral.id)
                    & Assignment.ended_at.is_(None))
         .outerjoin(assignee, assignee.id == Assignment.assignee_id)
         .where(Referral.snapshot_id == snap.id, Referral.allocated.is_(True)))
    if who.streets is not None:
        q = q.where(Referral.street_code.in_(who.streets))
    if street is not None:
        q = q.where(Referral.street_code == street)
    if mine:
        q = q.where(Assignment.assignee_id == who.user_id)
        q = q.order_by(Assignment.due_date, Referral.street_code, Referral.rank_street)
    else:
        q = q.order_by(Referral.street_code, Referral.rank_street)
    items = [_visit(r, a, name, today) for r, a, name in session.execute(q).all()]
    return VisitPage(as_of=snap.as_of, today=today, due_days=visits.due_days, items=items)


def history(session: Session, *, who: Principal, referral_id: int) -> AssignmentHistory:
    """Every assignment of a referral in the caller's streets, oldest first (404 otherwise)."""
    r = session.get(Referral, referral_id)
    if r is None or not who.sees_street(r.street_code):
        raise ApiError(404, "not_found", "referral not found")
    to, by, prev = aliased(User), aliased(User), aliased(User)
    rows = session.execute(
        select(Assignment, to.username, by.username, prev.username)
        .join(to, to.id == Assignment.assignee_id).join(by, by.id == Assignment.assigned_by)
        .outerjoin(prev, prev.id == Assignment.previous_assignee_id)
        .where(Assignment.referral_id == referral_id)
        .order_by(Assignment.assigned_at, Assignment.id)).all()
    return AssignmentHistory(referral_id=r.id, household_id=r.household_id, events=[
        AssignmentEvent(assignee=t, previous_assignee=p, assigned_by=b, assigned_at=a.assigned_at,
                        due_date=a.due_date, ended_at=a.ended_at) for a, t, b, p in rows])


def caseworkers(session: Session, streets: tuple[str, ...] | None) -> list[tuple[str, list[str]]]:
    """Active caseworkers (name, streets) who cover any of ``streets`` (None: all)."""
    users = session.scalars(select(User).where(User.role == "caseworker", User.active.is_(True))
                            .order_by(User.username))
    return [(u.username, u.street_codes) for u in users
            if streets is None or set(u.street_codes) & set(streets)]


def move_assignments(session: Session, *, old: int, new: int) -> None:
    """Re-point the assignments of snapshot ``old``'s referrals to snapshot ``new``'s referral
    of the same household (a month replaced by another revision keeps its assignments)."""
    moved = session.execute(
        select(Assignment.id, Referral.id.label("target"))
        .join(Referral, Referral.household_id == Assignment.household_id)
        .where(Referral.snapshot_id == new, Assignment.referral_id.in_(
            select(Referral.id).where(Referral.snapshot_id == old)))).all()
    for row in moved:
        session.execute(update(Assignment).where(Assignment.id == row.id)
                        .values(referral_id=row.target))
