"""The simulated district's caseworkers: they read the month's allocated referrals from the case
store, visit (the stepping simulator finds what they find from the hidden truth) and record each
finding as a decision through the case store's service layer — the code path the API uses —
signed by a caseworker of the household's street.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

#: decisions by simulated caseworkers carry this note (real notes are free text)
NOTE = "simulated caseworker (assist simulate-loop)"
PASSWORD = "simulated-caseworker"  # noqa: S105  (simulated users of a simulated district)


@dataclass(frozen=True)
class Allocated:
    """One allocated referral of the month: its id, household (pseudonym) and street."""

    referral_id: int
    household_id: str
    street_code: str
    band: str


def allocated_referrals(session: Session, as_of: str) -> list[Allocated]:
    """The month's allocated referrals as the case store holds them."""
    from assist.serving.models import Referral, Snapshot

    rows = session.execute(
        select(Referral.id, Referral.household_id, Referral.street_code, Referral.band)
        .join(Snapshot, Referral.snapshot_id == Snapshot.id)
        .where(Snapshot.as_of == as_of, Referral.allocated.is_(True))
        .order_by(Referral.id)).all()
    return [Allocated(int(i), str(h), str(s), str(b)) for i, h, s, b in rows]


def caseworkers(session: Session, streets: list[str]) -> dict[str, object]:
    """One simulated caseworker per street (created on first use), as principals."""
    from assist.serving.models import User
    from assist.serving.services.users import add_user, principal

    out: dict[str, object] = {}
    for street in sorted(set(streets)):
        name = f"sim-{street.lower()}"
        user = session.scalars(select(User).where(User.username == name)).first()
        if user is None:
            user = add_user(session, username=name, password=PASSWORD, role="caseworker",
                            streets=[street])
        out[street] = principal(user)
    return out


def record(session: Session, *, referrals: list[Allocated], findings: pd.Series,
           granted: dict[str, list[str]], visit_date: dt.date) -> dict[str, int]:
    """Record each visited referral's finding (``findings``: outcome by household pseudonym;
    ``granted``: programmes by pseudonym) as the street's caseworker; returns counts by outcome.

    A finding that disagrees with the band carries an override reason, as the API requires."""
    from assist.serving.schemas import DecisionCreate
    from assist.serving.services.decisions import create_decision, disagrees

    who = caseworkers(session, [r.street_code for r in referrals])
    counts: dict[str, int] = {}
    for r in referrals:
        outcome = findings.get(r.household_id)
        if outcome is None:
            continue
        body = DecisionCreate(
            referral_id=r.referral_id, outcome=outcome, visit_date=visit_date,
            programmes_granted=granted.get(r.household_id, []) if outcome == "confirmed" else [],
            override_reason=("the visit found otherwise" if disagrees(band=r.band, outcome=outcome)
                             else None),
            note=NOTE)
        create_decision(session, who=who[r.street_code], body=body,
                        endpoint="simulate-loop")
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
