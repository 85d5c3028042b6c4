"""Which referrals are new this month: not on the previous month's list in the case store.

Computed when a snapshot is loaded (:func:`mark_new`, called by
:func:`assist.serving.services.snapshots.load_snapshot`) and stored on each referral
(``new_this_month``): True when the household was not listed the month before, False when it
was, NULL when the previous month's list is not in the case store (the page then says so
instead of calling every household new). Loading a month also marks the month after it, when
that one was loaded first.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assist.serving.models import Referral, Snapshot


def previous_month(as_of: str) -> str:
    """The month before ``as_of`` (``YYYY-MM``)."""
    return str(pd.Period(as_of, freq="M") - 1)


def _snapshot(session: Session, as_of: str) -> Snapshot | None:
    return session.scalars(select(Snapshot).where(Snapshot.as_of == as_of)).first()


def _mark(session: Session, snap: Snapshot) -> None:
    prev = _snapshot(session, previous_month(snap.as_of))
    mine = Referral.snapshot_id == snap.id
    if prev is None:
        session.execute(update(Referral).where(mine).values(new_this_month=None))
        return
    before = select(Referral.household_id).where(Referral.snapshot_id == prev.id)
    session.execute(update(Referral).where(mine, Referral.household_id.in_(before))
                    .values(new_this_month=False))
    session.execute(update(Referral).where(mine, Referral.household_id.not_in(before))
                    .values(new_this_month=True))


def mark_new(session: Session, snap: Snapshot) -> None:
    """Mark ``snap``'s referrals new or not against the previous month's list, and the next
    month's (if loaded) against ``snap``'s (not committed)."""
    session.flush()
    _mark(session, snap)
    following = _snapshot(session, str(pd.Period(snap.as_of, freq="M") + 1))
    if following is not None:
        _mark(session, following)
