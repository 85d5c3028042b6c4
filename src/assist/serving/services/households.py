"""Household detail: indicators with catalog names, dimension profile, explanation,
programmes, score history and decisions — for households in the caller's jurisdiction only.

Deprivation (with each indicator's missing-value rule) and the dimension profile come from
the catalog's own functions, the ones the feature pipeline writes, so the page agrees with
the features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from assist.features import CATALOG, dimension_profile
from assist.features.catalog import Catalog
from assist.serving import audit
from assist.serving.auth import SEES_NOTES, Principal
from assist.serving.errors import not_found
from assist.serving.models import Decision, HouseholdScore, Referral, Snapshot
from assist.serving.schemas import (
    DecisionPublic,
    DimensionProfile,
    HouseholdDetail,
    IndicatorValue,
    ReferralPublic,
    ScorePoint,
)


def public_decision(d: Decision, who: Principal) -> DecisionPublic:
    """A decision as the caller may see it (notes hidden from data scientists)."""
    out = DecisionPublic.model_validate(d)
    if who.role not in SEES_NOTES:
        out = out.model_copy(update={"note": None, "override_reason": None,
                                     "rating_reason": None})
    return out


CARRIED = ("last_outcome", "last_decision_date", "listing", "listing_zh", "listing_en")


def _listing(latest: HouseholdScore, referral: Referral | None) -> dict[str, Any]:
    """Whether the household is on the current list, its last decision and why it is (or is
    not) listed this month (the referral's row when listed, else the scores row)."""
    listed = referral is not None and referral.snapshot_id == latest.snapshot_id
    source = referral if listed and referral.listing is not None else latest
    return {"listed_this_month": listed, **{c: getattr(source, c) for c in CARRIED}}


def household_profile(values: Mapping[str, Any], catalog: Catalog = CATALOG
                      ) -> tuple[list[IndicatorValue], list[DimensionProfile]]:
    """One household's indicators and dimension profile from its stored indicator values
    (``None`` or absent: missing), as :meth:`Catalog.deprivation` and
    :func:`~assist.features.dimension_profile` compute them for the features."""
    raw = {i: values.get(i) for i in catalog.ids}
    frame = pd.DataFrame([{i: np.nan if v is None else v for i, v in raw.items()}],
                         columns=catalog.ids, dtype=float)
    deprived = catalog.deprivation(frame).iloc[0]
    shares = dimension_profile(frame, catalog).iloc[0]
    indicators = [IndicatorValue(id=ind.id, name_zh=ind.name_zh, name_en=ind.name_en,
                                 dimension=ind.dimension, unit=ind.unit, value=raw[ind.id],
                                 deprived=bool(deprived[ind.id]), cutoff=ind.cutoff,
                                 direction=ind.direction) for ind in catalog]
    dims = [DimensionProfile(dimension=dim, indicators=len(inds),
                             deprived_indicators=int(deprived[[i.id for i in inds]].sum()),
                             weighted_deprivation=float(shares[dim]))
            for dim, inds in catalog.by_dimension().items()]
    return indicators, dims


def household_detail(session: Session, *, who: Principal, household_id: str, endpoint: str,
                     catalog: Catalog = CATALOG,
                     audit_log: audit.AuditWriter | None = None) -> HouseholdDetail:
    """The household's latest score and case; 404 when unknown or outside the caller's
    streets (the same answer, so a caseworker cannot probe for households). The read is
    audited through ``audit_log`` (group commit) or, without one, in ``session``'s own
    transaction, committed here; either way before the caller gets the detail."""
    history = session.execute(
        select(HouseholdScore, Snapshot.as_of).join(Snapshot)
        .where(HouseholdScore.household_id == household_id)
        .order_by(Snapshot.as_of.desc())).all()
    if not history or not who.sees_street(history[0][0].street_code):
        raise not_found("household")
    latest, as_of = history[0]
    referral = session.scalars(
        select(Referral).join(Snapshot).where(Referral.household_id == household_id)
        .order_by(Snapshot.as_of.desc()).limit(1)).first()
    decisions = session.scalars(select(Decision).where(Decision.household_id == household_id)
                                .order_by(Decision.created_at)).all()
    indicators, dims = household_profile(latest.values or {}, catalog)
    if audit_log is not None:
        audit_log.write(who=who, action="household.read", endpoint=endpoint,
                        household_id=household_id, detail={"as_of": as_of})
    else:
        audit.record(session, who=who, action="household.read", endpoint=endpoint,
                     household_id=household_id, detail={"as_of": as_of})
        session.commit()
    return HouseholdDetail(
        household_id=household_id, as_of=as_of, street_code=latest.street_code,
        community_code=latest.community_code, probability=latest.probability, band=latest.band,
        rank_district=latest.rank_district, deprivation_score=latest.deprivation_score,
        indicators=indicators, dimensions=dims,
        referral=ReferralPublic.model_validate(referral) if referral else None,
        explanation_en=referral.top_factors_en if referral else [],
        explanation_zh=referral.top_factors_zh if referral else [],
        reasons_en=referral.reasons_en if referral else [],
        reasons_zh=referral.reasons_zh if referral else [],
        **_listing(latest, referral),
        history=[ScorePoint(as_of=a, probability=h.probability, band=h.band,
                            rank_district=h.rank_district, deprivation_score=h.deprivation_score)
                 for h, a in history],
        decisions=[public_decision(d, who) for d in decisions])
