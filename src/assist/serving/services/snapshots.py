"""Load a scoring snapshot into the store: jurisdictions, household scores, referrals.

Factors, programmes and reasons arrive as lists (the snapshot's list columns) and are stored
as JSON lists; ``flags`` (text, ``;``-separated) is split here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from assist.features.codes import STREETS
from assist.serving.models import Decision, HouseholdScore, Jurisdiction, Referral, Snapshot
from assist.serving.services.assignments import move_assignments
from assist.serving.services.households import stored_profiles
from assist.serving.services.new_listings import mark_new
from assist.storage.snapshot import as_list, revision_key, revision_of

DISTRICT = "district"
_BATCH = 5000
#: flag of a decided referral kept when its month's new revision no longer lists the household
DELISTED = "delisted"


def _list(value: Any) -> list[str]:  # noqa: ANN401
    """A list column's cell as stored (a missing one: empty); see :func:`snapshot.as_list`."""
    return as_list(value) or []


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _text(v: Any) -> str | None:  # noqa: ANN401
    return None if v is None or pd.isna(v) else str(v)


def _carried(r: Any, *, decided_only: bool) -> dict[str, Any]:  # noqa: ANN401
    """The carried-forward fields of a snapshot row (:mod:`assist.models.carry`; all None in
    snapshots scored before it); ``decided_only``: None too for households never decided (the
    scores rows, so a million households add no text)."""
    outcome = _text(getattr(r, "last_outcome", None))
    date = _text(getattr(r, "last_decision_date", None))
    keep = outcome is not None or not decided_only
    return {"last_outcome": outcome,
            "last_decision_date": dt.date.fromisoformat(date[:10]) if date else None,
            **{c: _text(getattr(r, c, None)) if keep else None
               for c in ("listing", "listing_zh", "listing_en")}}


def current_snapshot(session: Session) -> Snapshot | None:
    """The latest loaded snapshot (the revision of its month last loaded)."""
    return session.scalars(select(Snapshot).order_by(Snapshot.as_of.desc()).limit(1)).first()


def ensure_jurisdictions(session: Session, *, communities: Sequence[tuple[str, str]]) -> None:
    """District, streets and communities of ``(street, community)`` pairs (idempotent)."""
    have = set(session.scalars(select(Jurisdiction.code)))
    if DISTRICT not in have:
        session.add(Jurisdiction(code=DISTRICT, level="district", name="district"))
        session.flush()
    for street in sorted({s for s, _ in communities} - have):
        session.add(Jurisdiction(code=street, level="street", name=STREETS.get(street, street),
                                 parent_code=DISTRICT))
    session.flush()
    for street, community in sorted(set(communities)):
        if community not in have:
            session.add(Jurisdiction(code=community, level="community", name=community,
                                     parent_code=street))
    session.flush()


def load_snapshot(session: Session, *, as_of: str, summary: dict[str, Any],
                  scores: pd.DataFrame, referrals: pd.DataFrame,
                  indicator_ids: Sequence[str], commit: bool = True) -> tuple[Snapshot, bool]:
    """Store a snapshot; returns it and whether the store changed. A month loaded with the same
    revision (:func:`assist.storage.snapshot.revision_key`) is kept as is; another revision
    replaces it (:func:`replace_snapshot`), decisions kept attached to their households."""
    existing = session.scalars(select(Snapshot).where(Snapshot.as_of == as_of)).first()
    if existing is not None:
        if revision_key(existing.summary or {}) == revision_key(summary):
            return existing, False
        return replace_snapshot(session, existing, summary=summary, scores=scores,
                                referrals=referrals, indicator_ids=indicator_ids), True
    streets = scores["street_code"].astype(str)
    ensure_jurisdictions(session, communities=list(zip(
        streets, scores["community_code"].astype(str), strict=True)))
    snap = Snapshot(as_of=as_of, model_version=str(summary.get("model_version", "")),
                    config_hash=str(summary.get("config_hash", "")), summary=summary)
    session.add(snap)
    session.flush()
    ids = [c for c in indicator_ids if c in scores.columns]
    values = scores[ids].astype(float)
    rows = [{"snapshot_id": snap.id, "household_id": str(h), "street_code": str(r.street_code),
             "community_code": str(r.community_code), "probability": float(r.probability),
             "band": str(r.band), "rank_district": int(r.rank_district),
             "deprivation_score": float(r.deprivation_score), **_carried(r, decided_only=True),
             "values": {k: _num(v) for k, v in zip(ids, vals, strict=True)}, "profile": profile}
            for h, r, vals, profile in zip(scores.index, scores.itertuples(), values.to_numpy(),
                                           stored_profiles(values), strict=True)]
    for i in range(0, len(rows), _BATCH):
        session.execute(insert(HouseholdScore), rows[i:i + _BATCH])
    refs = []
    for h, r in zip(referrals.index, referrals.itertuples(), strict=True):
        programmes, flags = _list(r.programmes), _list(r.flags)
        refs.append({
            "snapshot_id": snap.id, "household_id": str(h), "street_code": str(r.street_code),
            "community_code": str(r.community_code), "probability": float(r.probability),
            "band": str(r.band), "rank_street": int(r.rank_street),
            "rank_community": int(r.rank_community), "rank_district": int(r.rank_district),
            "deprivation_score": float(r.deprivation_score), "allocated": bool(r.allocated),
            "primary_cause": None if pd.isna(r.primary_cause) else str(r.primary_cause),
            "secondary_cause": None if pd.isna(r.secondary_cause) else str(r.secondary_cause),
            "top_factors_en": _list(r.top_factors_en), "top_factors_zh": _list(r.top_factors_zh),
            "programmes": programmes, "allocated_programmes": _list(r.allocated_programmes),
            "reasons_en": _list(r.reasons_en), "reasons_zh": _list(r.reasons_zh),
            "flags": flags, "programme_key": ";" + "".join(p + ";" for p in programmes),
            "flag_key": ";" + "".join(f + ";" for f in flags), "status": "open",
            "receiving": as_list(getattr(r, "receiving", None)),
            **_carried(r, decided_only=False)})
    for i in range(0, len(refs), _BATCH):
        session.execute(insert(Referral), refs[i:i + _BATCH])
    mark_new(session, snap)
    if commit:
        session.commit()
    return snap, True


def replace_snapshot(session: Session, old: Snapshot, *, summary: dict[str, Any],
                     scores: pd.DataFrame, referrals: pd.DataFrame,
                     indicator_ids: Sequence[str]) -> Snapshot:
    """Replace a loaded month by another revision of it, in one transaction.

    The old snapshot row moves aside (its month is unique), the new revision is stored as a
    new snapshot, then each decision recorded on an old referral is re-pointed to the new
    referral of the same household (which takes the decision's status). A decided household
    the new revision no longer lists keeps its old referral row, moved to the new snapshot and
    marked :data:`DELISTED` (not allocated; scores and ranks of the new revision), so no
    decision is lost. Then the old snapshot and its other rows are deleted."""
    as_of = old.as_of
    old.as_of = f"~{old.id:06d}"[:7]  # aside (never committed): the month is unique
    session.flush()
    snap, _ = load_snapshot(session, as_of=as_of, summary=summary, scores=scores,
                            referrals=referrals, indicator_ids=indicator_ids, commit=False)
    _move_decisions(session, old=old, new=snap)
    move_assignments(session, old=old.id, new=snap.id)
    left = session.scalar(select(func.count()).select_from(Decision).join(Referral).where(
        Referral.snapshot_id == old.id))
    if left:  # never: every decision was moved (deleting would cascade to it)
        raise RuntimeError(f"{left} decision(s) of {as_of} were not moved; nothing replaced")
    for table in (Referral, HouseholdScore):
        session.execute(delete(table).where(table.snapshot_id == old.id))
    session.execute(delete(Snapshot).where(Snapshot.id == old.id))
    session.commit()
    session.expire_all()
    return snap


def _move_decisions(session: Session, *, old: Snapshot, new: Snapshot) -> None:
    """Re-point the decisions on ``old``'s referrals to ``new`` (see :func:`replace_snapshot`)."""
    decided = session.execute(
        select(Decision.id, Referral.id.label("referral_id"), Referral.household_id,
               Referral.status, Referral.flags)
        .join(Referral, Decision.referral_id == Referral.id)
        .where(Referral.snapshot_id == old.id)).all()
    if not decided:
        return
    households = [d.household_id for d in decided]
    listed = dict(session.execute(select(Referral.household_id, Referral.id).where(
        Referral.snapshot_id == new.id, Referral.household_id.in_(households))).tuples().all())
    scored = {r.household_id: r for r in session.execute(
        select(HouseholdScore).where(HouseholdScore.snapshot_id == new.id,
                                     HouseholdScore.household_id.in_(households))).scalars()}
    for d in decided:
        target = listed.get(d.household_id)
        if target is not None:  # Core updates: re-pointing is not an edit of the decision
            session.execute(update(Decision).where(Decision.id == d.id)
                            .values(referral_id=target))
            session.execute(update(Referral).where(Referral.id == target)
                            .values(status=d.status))
            continue
        flags = [*(f for f in (d.flags or []) if f != DELISTED), DELISTED]
        now = scored.get(d.household_id)
        fresh = {} if now is None else {
            c: getattr(now, c) for c in ("probability", "band", "rank_district",
                                         "deprivation_score", "street_code", "community_code")}
        session.execute(update(Referral).where(Referral.id == d.referral_id).values(
            snapshot_id=new.id, allocated=False, allocated_programmes=[], flags=flags,
            flag_key=";" + "".join(f + ";" for f in flags), **fresh))


def loaded_revision(snapshot: Snapshot) -> str:
    """The revision of a loaded snapshot (``r1`` for one loaded before revisions existed)."""
    return revision_of(snapshot.summary or {})


def decided(session: Session, snapshot: Snapshot) -> dict[str, int]:
    """Decisions on ``snapshot``'s referrals, and how many on households it no longer lists."""
    base = select(func.count()).select_from(Decision).join(Referral).where(
        Referral.snapshot_id == snapshot.id)
    return {"decisions": int(session.scalar(base) or 0), "delisted": int(session.scalar(
        base.where(Referral.flag_key.contains(f";{DELISTED};", autoescape=True))) or 0)}


def counts(session: Session, snapshot: Snapshot) -> dict[str, int]:
    """Households and referrals stored for ``snapshot``."""
    hh = session.scalar(select(func.count()).select_from(HouseholdScore)
                        .where(HouseholdScore.snapshot_id == snapshot.id)) or 0
    rf = session.scalar(select(func.count()).select_from(Referral)
                        .where(Referral.snapshot_id == snapshot.id)) or 0
    return {"households": int(hh), "referrals": int(rf)}
