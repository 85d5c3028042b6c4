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
from sqlalchemy import bindparam, select
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


def _listing(latest: Any, referral: Any) -> dict[str, Any]:  # noqa: ANN401 - rows or objects
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
    frame = pd.DataFrame([{i: np.nan if values.get(i) is None else values[i]
                           for i in catalog.ids}], columns=catalog.ids, dtype=float)
    return _profile(values, stored_profiles(frame, catalog)[0], catalog)


def stored_profiles(values: pd.DataFrame, catalog: Catalog = CATALOG) -> list[dict[str, Any]]:
    """Each row's profile as the case store keeps it (``HouseholdScore.profile``): the catalog,
    the ids of the indicators it is deprived on and its weighted share per dimension, computed
    for all rows at once by :meth:`Catalog.deprivation` and
    :func:`~assist.features.dimension_profile` (``values``: one row per household, indicator
    columns; absent ones are missing)."""
    frame = values.reindex(columns=catalog.ids).astype(float)
    deprived = catalog.deprivation(frame).to_numpy(dtype=bool)
    shares = dimension_profile(frame, catalog)
    ids, dims, key = np.array(catalog.ids), list(shares.columns), _catalog_key(catalog)
    return [{"catalog": key, "deprived": ids[row].tolist(),
             "dimensions": dict(zip(dims, share, strict=True))}
            for row, share in zip(deprived, shares.to_numpy(dtype=float).tolist(), strict=True)]


def _catalog_key(catalog: Catalog) -> str:
    """The catalog a stored profile was computed with (name and version)."""
    return f"{catalog.name}/{catalog.version}"


def _profile(values: Mapping[str, Any], profile: Mapping[str, Any], catalog: Catalog
             ) -> tuple[list[IndicatorValue], list[DimensionProfile]]:
    """Indicators and dimension profile of a household from its values and stored profile."""
    deprived = set(profile["deprived"])
    indicators = [IndicatorValue(id=ind.id, name_zh=ind.name_zh, name_en=ind.name_en,
                                 dimension=ind.dimension, unit=ind.unit,
                                 value=values.get(ind.id), deprived=ind.id in deprived,
                                 cutoff=ind.cutoff, direction=ind.direction) for ind in catalog]
    dims = [DimensionProfile(dimension=dim, indicators=len(inds),
                             deprived_indicators=sum(i.id in deprived for i in inds),
                             weighted_deprivation=profile["dimensions"][dim])
            for dim, inds in catalog.by_dimension().items()]
    return indicators, dims


def _stored_fits(profile: Mapping[str, Any] | None, catalog: Catalog) -> bool:
    """Whether a stored profile was computed with ``catalog`` (else it is computed again)."""
    return profile is not None and profile.get("catalog") == _catalog_key(catalog)


#: a household's score in each snapshot, as the detail shows it (no ORM objects)
_SCORES = (Snapshot.as_of, HouseholdScore.snapshot_id, HouseholdScore.street_code,
           HouseholdScore.community_code, HouseholdScore.probability, HouseholdScore.band,
           HouseholdScore.rank_district, HouseholdScore.deprivation_score,
           *(getattr(HouseholdScore, c) for c in CARRIED))
#: the household's latest referral: the listed columns, its reasons and its snapshot
_REFERRAL = (*(getattr(Referral, c) for c in ReferralPublic.model_fields), Referral.reasons_en,
             Referral.reasons_zh, Referral.snapshot_id)
#: the detail's statements, built once (each request binds ``household_id``, ``snapshot_id``):
#: SQLAlchemy reuses their compiled form instead of building and hashing them per request
_HISTORY = (select(*_SCORES).join_from(HouseholdScore, Snapshot)
            .where(HouseholdScore.household_id == bindparam("household_id"))
            .order_by(Snapshot.as_of.desc()))
_VALUES = select(HouseholdScore.values, HouseholdScore.profile).where(
    HouseholdScore.snapshot_id == bindparam("snapshot_id"),
    HouseholdScore.household_id == bindparam("household_id"))
_LATEST_REFERRAL = (select(*_REFERRAL).join_from(Referral, Snapshot)
                    .where(Referral.household_id == bindparam("household_id"))
                    .order_by(Snapshot.as_of.desc()).limit(1))
_DECISIONS = (select(Decision).where(Decision.household_id == bindparam("household_id"))
              .order_by(Decision.created_at))


def household_detail(session: Session, *, who: Principal, household_id: str, endpoint: str,
                     catalog: Catalog = CATALOG,
                     audit_log: audit.AuditWriter | None = None) -> HouseholdDetail:
    """The household's latest score and case; 404 when unknown or outside the caller's
    streets (the same answer, so a caseworker cannot probe for households). The read is
    audited through ``audit_log`` (group commit) or, without one, in ``session``'s own
    transaction, committed here; either way before the caller gets the detail.

    Plain rows are read (no ORM objects), and the indicators' deprivation and the dimension
    profile come from the profile stored at load (computed here only for a month loaded
    before profiles were stored)."""
    rows, key = session.connection(), {"household_id": household_id}  # Core rows: no ORM
    history = rows.execute(_HISTORY, key).all()
    if not history or not who.sees_street(history[0].street_code):
        raise not_found("household")
    latest = history[0]
    values, profile = rows.execute(_VALUES, {**key, "snapshot_id": latest.snapshot_id}).one()
    referral = rows.execute(_LATEST_REFERRAL, key).first()
    decisions = session.scalars(_DECISIONS, key).all()
    values = values or {}
    indicators, dims = (_profile(values, profile, catalog) if _stored_fits(profile, catalog)
                        else household_profile(values, catalog))
    if audit_log is not None:
        audit_log.write(who=who, action="household.read", endpoint=endpoint,
                        household_id=household_id, detail={"as_of": latest.as_of})
    else:
        audit.record(session, who=who, action="household.read", endpoint=endpoint,
                     household_id=household_id, detail={"as_of": latest.as_of})
        session.commit()
    return HouseholdDetail(
        household_id=household_id, as_of=latest.as_of, street_code=latest.street_code,
        community_code=latest.community_code, probability=latest.probability, band=latest.band,
        rank_district=latest.rank_district, deprivation_score=latest.deprivation_score,
        indicators=indicators, dimensions=dims,
        referral=ReferralPublic.model_validate(referral._mapping) if referral else None,
        explanation_en=referral.top_factors_en if referral else [],
        explanation_zh=referral.top_factors_zh if referral else [],
        reasons_en=referral.reasons_en if referral else [],
        reasons_zh=referral.reasons_zh if referral else [],
        **_listing(latest, referral),
        history=[ScorePoint(as_of=h.as_of, probability=h.probability, band=h.band,
                            rank_district=h.rank_district, deprivation_score=h.deprivation_score)
                 for h in history],
        decisions=[public_decision(d, who) for d in decisions])
