"""Referral lists scoped to the caller's jurisdiction.

The default order (``rank_street``) lists this month's allocated visits first — every street's,
by street and rank — then the rest by street and rank, so a caseworker of several streets finds
each street's allocated households on the first page. Asking for a street or community outside
the caller's streets is a 403 that says so (not an empty list)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assist.serving.auth import Principal
from assist.serving.errors import ApiError
from assist.serving.models import Jurisdiction, Referral, Snapshot
from assist.serving.schemas import ReferralPage, ReferralPublic
from assist.serving.services.snapshots import current_snapshot

Sort = Literal["rank_street", "rank_district", "-probability", "probability", "community",
               "-deprivation_score"]
SORTS = {
    "rank_street": (Referral.allocated.desc(), Referral.street_code, Referral.rank_street),
    "rank_district": (Referral.rank_district,),
    "-probability": (Referral.probability.desc(), Referral.rank_district),
    "probability": (Referral.probability, Referral.rank_district),
    "community": (Referral.community_code, Referral.rank_community),
    "-deprivation_score": (Referral.deprivation_score.desc(), Referral.rank_district),
}


@dataclass(frozen=True)
class Filters:
    """Referral list filters (None: any)."""

    street: str | None = None
    community: str | None = None
    band: str | None = None
    cause: str | None = None
    programme: str | None = None
    flag: str | None = None
    status: str | None = None
    allocated: bool | None = None


def check_scope(session: Session, *, who: Principal, street: str | None,
                community: str | None) -> None:
    """403 naming the field when ``street`` or ``community`` lies outside the caller's
    streets (district roles see every street)."""
    if who.streets is None:
        return
    mine = ", ".join(who.streets)
    if street is not None and street not in who.streets:
        raise ApiError(403, "outside_streets",
                       f"street {street} is not one of your streets ({mine})", field="street")
    if community is not None:
        parent = session.scalar(select(Jurisdiction.parent_code)
                                .where(Jurisdiction.code == community))
        if parent not in who.streets:
            raise ApiError(403, "outside_streets", f"community {community} is not in your "
                           f"streets ({mine})", field="community")


def communities(session: Session, streets: list[str] | None) -> list[tuple[str, str]]:
    """``(community code, street code)`` of the case store's communities in ``streets``
    (None: the district), by code."""
    q = select(Jurisdiction.code, Jurisdiction.parent_code).where(
        Jurisdiction.level == "community").order_by(Jurisdiction.code)
    if streets is not None:
        q = q.where(Jurisdiction.parent_code.in_(streets))
    return [(c, str(p)) for c, p in session.execute(q).all()]


def allocated_by_street(session: Session, *, who: Principal) -> list[tuple[str, int]]:
    """This month's allocated visits per street of the caller's jurisdiction, by street."""
    snapshot_id, _ = _current_snapshot_key(session)
    q = (select(Referral.street_code, func.count())
         .where(Referral.snapshot_id == snapshot_id, Referral.allocated.is_(True))
         .group_by(Referral.street_code).order_by(Referral.street_code))
    if who.streets is not None:
        q = q.where(Referral.street_code.in_(who.streets))
    return [(street, int(n)) for street, n in session.execute(q).all()]


def snapshot_or_503(session: Session) -> Snapshot:
    """The current snapshot; 503 before any is loaded."""
    snap = current_snapshot(session)
    if snap is None:
        raise ApiError(503, "not_ready", "no scoring snapshot is loaded")
    return snap


#: the columns a listed referral shows (:class:`ReferralPublic`), selected as plain rows
_COLUMNS = tuple(getattr(Referral, name) for name in ReferralPublic.model_fields)


def _current_snapshot_key(session: Session) -> tuple[int, str]:
    """Id and month of the current snapshot (without its summary); 503 before any is loaded."""
    row = session.execute(select(Snapshot.id, Snapshot.as_of)
                          .order_by(Snapshot.as_of.desc()).limit(1)).first()
    if row is None:
        raise ApiError(503, "not_ready", "no scoring snapshot is loaded")
    return row.id, row.as_of


def list_referrals(session: Session, *, who: Principal, filters: Filters, sort: Sort,
                   page: int, page_size: int) -> ReferralPage:
    """One page of the current snapshot's referrals in the caller's jurisdiction.

    Only the listed columns are read (no ORM objects); the total is counted only when the page
    does not already tell it (a full page, or one past the end)."""
    check_scope(session, who=who, street=filters.street, community=filters.community)
    snapshot_id, as_of = _current_snapshot_key(session)
    where = [Referral.snapshot_id == snapshot_id]
    if who.streets is not None:
        where.append(Referral.street_code.in_(who.streets))
    f = filters
    for col, value in ((Referral.street_code, f.street), (Referral.community_code, f.community),
                       (Referral.band, f.band), (Referral.primary_cause, f.cause),
                       (Referral.status, f.status), (Referral.allocated, f.allocated)):
        if value is not None:
            where.append(col == value)
    if f.programme is not None:
        where.append(Referral.programme_key.contains(f";{f.programme};", autoescape=True))
    if f.flag is not None:
        where.append(Referral.flag_key.contains(f";{f.flag};", autoescape=True))
    offset = (page - 1) * page_size
    rows = session.execute(select(*_COLUMNS).where(*where).order_by(*SORTS[sort], Referral.id)
                           .offset(offset).limit(page_size)).mappings().all()
    if 0 < len(rows) < page_size or (not rows and page == 1):
        total = offset + len(rows)  # the last page: nothing after it
    else:
        total = session.scalar(select(func.count()).select_from(Referral).where(*where)) or 0
    return ReferralPage.model_validate({"as_of": as_of, "total": int(total), "page": page,
                                        "page_size": page_size,
                                        "items": [dict(r) for r in rows]})
