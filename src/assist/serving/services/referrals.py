"""Referral lists scoped to the caller's jurisdiction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assist.serving.auth import Principal
from assist.serving.errors import ApiError
from assist.serving.models import Referral, Snapshot
from assist.serving.schemas import ReferralPage, ReferralPublic
from assist.serving.services.snapshots import current_snapshot

Sort = Literal["rank_street", "rank_district", "-probability", "probability", "community",
               "-deprivation_score"]
SORTS = {
    "rank_street": (Referral.street_code, Referral.rank_street),
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


def snapshot_or_503(session: Session) -> Snapshot:
    """The current snapshot; 503 before any is loaded."""
    snap = current_snapshot(session)
    if snap is None:
        raise ApiError(503, "not_ready", "no scoring snapshot is loaded")
    return snap


def list_referrals(session: Session, *, who: Principal, filters: Filters, sort: Sort,
                   page: int, page_size: int) -> ReferralPage:
    """One page of the current snapshot's referrals in the caller's jurisdiction."""
    snap = snapshot_or_503(session)
    q = select(Referral).where(Referral.snapshot_id == snap.id)
    if who.streets is not None:
        q = q.where(Referral.street_code.in_(who.streets))
    f = filters
    for col, value in ((Referral.street_code, f.street), (Referral.community_code, f.community),
                       (Referral.band, f.band), (Referral.primary_cause, f.cause),
                       (Referral.status, f.status), (Referral.allocated, f.allocated)):
        if value is not None:
            q = q.where(col == value)
    if f.programme is not None:
        q = q.where(Referral.programme_key.contains(f";{f.programme};", autoescape=True))
    if f.flag is not None:
        q = q.where(Referral.flag_key.contains(f";{f.flag};", autoescape=True))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(*SORTS[sort], Referral.id)
                           .offset((page - 1) * page_size).limit(page_size))
    return ReferralPage(as_of=snap.as_of, total=int(total), page=page, page_size=page_size,
                        items=[ReferralPublic.model_validate(r) for r in rows])
