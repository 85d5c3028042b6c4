"""The records behind the uplift estimate (:mod:`assist.models.uplift`): granted households,
their first routine review, and their probability of need in that month's snapshot.

Everything comes from what the workspace already holds: the case store's decisions snapshot
(``casebook/decisions.parquet``: who was confirmed and granted after a visit), the store's
``verifications`` table (the department's routine reviews of assisted households) and the
monthly scoring snapshots (``probability``). Pseudonyms only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.errors import InputError
from assist.models import uplift
from assist.storage import snapshot
from assist.storage.casebook import read_decisions
from assist.storage.store import list_snapshots, load_tables

#: a review counts as the follow-up when it falls this many months after the visit
WINDOW = (2, 4)
#: review outcomes that say something about need (unreachable and declined say nothing)
FINDING = {"confirmed": True, "not_in_need": False}
REVIEW = "routine_review"


def _month(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.to_period("M")


def granted(decisions: pd.DataFrame) -> pd.DataFrame:
    """Households confirmed in need and granted at least one programme after a visit: the
    first such visit of each household (``household_id, visit_month, programmes``)."""
    d = decisions.loc[(decisions["outcome"] == "confirmed").to_numpy()
                      & decisions["programmes_granted"].map(len).gt(0).to_numpy()]
    d = d.assign(visit_month=_month(d["visit_date"]))
    d = d.sort_values(["visit_month", "household_id"], kind="stable")
    d = d.drop_duplicates("household_id", keep="first")
    return pd.DataFrame({"household_id": d["household_id"].astype(str).to_numpy(),
                         "visit_month": d["visit_month"].to_numpy(),
                         "programmes": d["programmes_granted"].to_numpy()})


def first_reviews(cohort: pd.DataFrame, verifications: pd.DataFrame) -> pd.DataFrame:
    """Each granted household's first routine review after its visit month, kept when it falls
    :data:`WINDOW` months after the visit and found need or no need."""
    v = verifications.loc[(verifications["trigger"] == REVIEW).to_numpy()]
    v = v.assign(review_month=_month(v["visit_date"]))[["household_id", "review_month",
                                                        "outcome"]]
    j = cohort.merge(v, on="household_id", how="inner")
    j = j.loc[(j["review_month"] > j["visit_month"]).to_numpy()]
    j = j.sort_values(["household_id", "review_month"], kind="stable")
    j = j.drop_duplicates("household_id", keep="first")
    gap = np.array([(r - m).n for r, m in zip(j["review_month"], j["visit_month"], strict=True)],
                   dtype=int)
    keep = (gap >= WINDOW[0]) & (gap <= WINDOW[1]) & j["outcome"].isin(list(FINDING)).to_numpy()
    j = j.loc[keep]
    return j.assign(found_in_need=j["outcome"].map(FINDING).astype(bool)).drop(columns="outcome")


def with_counterfactual(pairs: pd.DataFrame, scores_dir: Path) -> pd.DataFrame:
    """Add each pair's probability of need in its review month's snapshot (pairs whose month
    has no snapshot, or whose household it does not hold, are dropped)."""
    parts = []
    for month, part in pairs.groupby("review_month", sort=True):
        m = str(month)
        if not snapshot.exists(scores_dir, m):
            continue
        p = snapshot.read_scores(scores_dir, m, columns=["probability"])["probability"]
        part = part.assign(counterfactual=part["household_id"].map(p))
        parts.append(part.loc[part["counterfactual"].notna().to_numpy()])
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in uplift.PAIR_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out["visit_month"] = out["visit_month"].astype(str)
    out["review_month"] = out["review_month"].astype(str)
    return out.loc[:, list(uplift.PAIR_COLUMNS)]


def follow_up_pairs(*, workspace: Path, store: Path, scores_dir: Path) -> pd.DataFrame:
    """The follow-up pairs of a workspace (:data:`assist.models.uplift.PAIR_COLUMNS`)."""
    decisions = read_decisions(Path(workspace) / "casebook" / "decisions.parquet")
    months = list_snapshots(store)
    if not months:
        raise InputError("the store holds no months (run `assist ingest`)", file=str(store))
    v = load_tables(store, as_of=months[-1], months=len(months), tables=["verifications"])
    pairs = first_reviews(granted(decisions), v["verifications"])
    return with_counterfactual(pairs, scores_dir)


def estimate(*, workspace: Path, store: Path, scores_dir: Path, sensitivity: float,
             specificity: float, seed: int = 0) -> tuple[dict[str, Any], pd.DataFrame]:
    """The uplift estimate of a workspace and the pairs behind it."""
    pairs = follow_up_pairs(workspace=workspace, store=store, scores_dir=scores_dir)
    return uplift.estimate(pairs, sensitivity=sensitivity, specificity=specificity,
                           seed=seed), pairs
