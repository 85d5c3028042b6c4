"""Read-only aggregates the pages need beyond the API's services: coverage per street of the
current snapshot. (Which listed households are new this month is stored at load:
:mod:`assist.serving.services.new_listings`.)"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from assist.serving.models import HouseholdScore, Referral, Snapshot


@dataclass(frozen=True)
class StreetCoverage:
    """One street in the current snapshot: need, referrals, allocation, visits, assistance."""

    street_code: str
    households: int
    in_need: int
    referred: int
    allocated: int
    visited: int
    assisted: int

    @property
    def gap(self) -> int:
        """High-need households not (yet) confirmed for assistance through a visit."""
        return max(self.in_need - self.assisted, 0)


def coverage_by_street(session: Session, snapshot: Snapshot) -> list[StreetCoverage]:
    """Need (high band), referred, allocated, visited and assisted (visit confirmed need)
    households per street of ``snapshot``."""
    hh = dict((s, (n, h)) for s, n, h in session.execute(
        select(HouseholdScore.street_code, func.count(),
               func.sum(case((HouseholdScore.band == "high", 1), else_=0)))
        .where(HouseholdScore.snapshot_id == snapshot.id)
        .group_by(HouseholdScore.street_code)).all())
    rf = {s: (n, a, v, c) for s, n, a, v, c in session.execute(
        select(Referral.street_code, func.count(),
               func.sum(case((Referral.allocated.is_(True), 1), else_=0)),
               func.sum(case((Referral.status != "open", 1), else_=0)),
               func.sum(case((Referral.status == "confirmed", 1), else_=0)))
        .where(Referral.snapshot_id == snapshot.id)
        .group_by(Referral.street_code)).all()}
    out = []
    for street in sorted(set(hh) | set(rf)):
        n, h = hh.get(street, (0, 0))
        r, a, v, c = rf.get(street, (0, 0, 0, 0))
        out.append(StreetCoverage(street, int(n), int(h or 0), int(r), int(a or 0),
                                  int(v or 0), int(c or 0)))
    return out
