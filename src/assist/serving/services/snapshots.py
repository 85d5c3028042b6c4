"""Load a scoring snapshot into the store: jurisdictions, household scores, referrals.

Factors, programmes and reasons arrive as lists (the snapshot's list columns) and are stored
as JSON lists; ``flags`` (text, ``;``-separated) is split here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from assist.features.codes import STREETS
from assist.serving.models import HouseholdScore, Jurisdiction, Referral, Snapshot
from assist.storage.snapshot import as_list

DISTRICT = "district"
_BATCH = 5000


def _list(value: Any) -> list[str]:  # noqa: ANN401
    """A list column's cell as stored (a missing one: empty); see :func:`snapshot.as_list`."""
    return as_list(value) or []


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def current_snapshot(session: Session) -> Snapshot | None:
    """The latest loaded snapshot."""
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
                  indicator_ids: Sequence[str]) -> tuple[Snapshot, bool]:
    """Store a snapshot; returns it and whether it was new (a loaded month is kept as is,
    so decisions on its referrals are never lost)."""
    existing = session.scalars(select(Snapshot).where(Snapshot.as_of == as_of)).first()
    if existing is not None:
        return existing, False
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
             "deprivation_score": float(r.deprivation_score),
             "values": {k: _num(v) for k, v in zip(ids, vals, strict=True)}}
            for h, r, vals in zip(scores.index, scores.itertuples(), values.to_numpy(),
                                  strict=True)]
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
            "flag_key": ";" + "".join(f + ";" for f in flags), "status": "open"})
    for i in range(0, len(refs), _BATCH):
        session.execute(insert(Referral), refs[i:i + _BATCH])
    session.commit()
    return snap, True


def counts(session: Session, snapshot: Snapshot) -> dict[str, int]:
    """Households and referrals stored for ``snapshot``."""
    hh = session.scalar(select(func.count()).select_from(HouseholdScore)
                        .where(HouseholdScore.snapshot_id == snapshot.id)) or 0
    rf = session.scalar(select(func.count()).select_from(Referral)
                        .where(Referral.snapshot_id == snapshot.id)) or 0
    return {"households": int(hh), "referrals": int(rf)}
