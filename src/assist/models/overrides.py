"""Caseworker overrides: how often caseworkers disagree with the score, and who was right.

Input: one row per referral decision with ``household_id``, ``band``, ``street``, group
columns, ``score``, ``override`` (bool: the caseworker departed from the model's band) and
``outcome`` (1 confirmed need, 0 not in need, missing: not verified -- unreachable, declined or
not yet visited).

For each slice (all decisions; by street, band and each group column) it reports the number of
decisions, the override rate, and the confirmed-need rate among overridden and among followed
decisions with verified outcomes (``None`` when a side has no verified outcome), and their
difference. Every rate carries a 95 % Wilson interval; the difference carries Newcombe's hybrid
score interval (method 10 of Newcombe 1998), built from the two Wilson intervals. The case
store feeds it; this module is a pure function of the frame.

Groups come from the household's indicator values (:data:`GROUPS`, declared once) and, where
the caller has them, from household attributes such as the head's hukou.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assist.models.fairness import Z95, wilson

REQUIRED = ("household_id", "band", "street", "score", "override", "outcome")
#: outcome words of the case store -> 1 (need confirmed), 0 (not in need); others: unverified
OUTCOME_VALUES = {"confirmed": 1.0, "not_in_need": 0.0}


@dataclass(frozen=True)
class Group:
    """A household group defined from one indicator value (``yes`` / ``no``)."""

    name: str
    indicator: str
    description: str
    member: Callable[[np.ndarray], np.ndarray]


#: groups compared in the override report, from the household's indicator values
GROUPS: tuple[Group, ...] = (
    Group("elderly_alone", "elderly_living_alone", "an elderly person living alone",
          lambda v: v >= 1),
    Group("disability", "members_severe_disability", "a member with a severe disability",
          lambda v: v > 0),
    Group("no_able_caregiver", "no_able_caregiver",
          "no able caregiver (lone elderly, orphan, single parent with young children)",
          lambda v: v >= 1),
    Group("unemployed", "unemployed_share", "a registered-unemployed working-age member",
          lambda v: v > 0),
)
GROUP_NAMES = tuple(g.name for g in GROUPS)


def indicator_groups(values: pd.DataFrame) -> pd.DataFrame:
    """``yes`` / ``no`` per group of :data:`GROUPS` (``(missing)`` where the value is missing)."""
    out = pd.DataFrame(index=values.index)
    for g in GROUPS:
        if g.indicator not in values.columns:
            out[g.name] = pd.Series("(missing)", index=values.index, dtype="string")
            continue
        v = pd.to_numeric(values[g.indicator], errors="coerce").to_numpy(dtype=float)
        label = np.where(g.member(np.nan_to_num(v, nan=0.0)), "yes", "no").astype(object)
        label[np.isnan(v)] = "(missing)"
        out[g.name] = pd.Series(label, index=values.index, dtype="string")
    return out


def outcome_value(outcome: pd.Series) -> pd.Series:
    """Case-store outcome words as 1 / 0 / NaN (unverified)."""
    return outcome.astype("string").map(OUTCOME_VALUES).astype(float)


def override_rates(decisions: pd.DataFrame, *, by: Sequence[str] = ("street", "band"),
                   groups: Sequence[str] = (), z: float = Z95) -> pd.DataFrame:
    """Override rate and confirmed-need rate of overridden vs followed decisions per slice,
    each with its 95 % interval (``_low`` / ``_high`` columns; NaN where undefined)."""
    missing = [c for c in (*REQUIRED, *by, *groups) if c not in decisions.columns]
    if missing:
        raise ValueError(f"decisions lack column(s) {missing}")
    d = pd.DataFrame({
        "override": decisions["override"].astype("boolean").fillna(False).to_numpy(dtype=bool),
        "outcome": pd.to_numeric(decisions["outcome"], errors="coerce").to_numpy(dtype=float),
    }, index=decisions.index)
    verified = ~np.isnan(d["outcome"].to_numpy())
    d["n_over_ver"] = d["override"] & verified
    d["n_follow_ver"] = ~d["override"] & verified
    d["conf_over"] = d["n_over_ver"] & (d["outcome"] == 1)
    d["conf_follow"] = d["n_follow_ver"] & (d["outcome"] == 1)
    slices = [("(all)", pd.Series("(all)", index=d.index))]
    slices += [(c, decisions[c].astype("string").fillna("(missing)")) for c in (*by, *groups)]
    parts = []
    for name, key in slices:
        agg = d.groupby(key.to_numpy(), sort=True).agg(
            decisions=("override", "size"), overrides=("override", "sum"),
            overridden_verified=("n_over_ver", "sum"), followed_verified=("n_follow_ver", "sum"),
            overridden_confirmed=("conf_over", "sum"), followed_confirmed=("conf_follow", "sum"))
        agg.insert(0, "slice", name)
        parts.append(agg.rename_axis("value").reset_index())
    out = pd.concat(parts, ignore_index=True)
    out = out[["slice", "value", *[c for c in out.columns if c not in ("slice", "value")]]]
    for col in ("decisions", "overrides", "overridden_verified", "followed_verified",
                "overridden_confirmed", "followed_confirmed"):
        out[col] = out[col].astype("int64")
    for rate, k, n in (("override_rate", "overrides", "decisions"),
                       ("confirmed_rate_overridden", "overridden_confirmed", "overridden_verified"),
                       ("confirmed_rate_followed", "followed_confirmed", "followed_verified")):
        out[rate] = _div(out[k], out[n])
        low, high = wilson(out[k].to_numpy(), out[n].to_numpy(), z)
        out[f"{rate}_low"], out[f"{rate}_high"] = low.to_numpy(), high.to_numpy()
    p1, p2 = out["confirmed_rate_overridden"], out["confirmed_rate_followed"]
    out["confirmed_rate_difference"] = p1 - p2
    lo1, hi1 = out["confirmed_rate_overridden_low"], out["confirmed_rate_overridden_high"]
    lo2, hi2 = out["confirmed_rate_followed_low"], out["confirmed_rate_followed_high"]
    diff = out["confirmed_rate_difference"]
    out["confirmed_rate_difference_low"] = diff - np.sqrt((p1 - lo1) ** 2 + (hi2 - p2) ** 2)
    out["confirmed_rate_difference_high"] = diff + np.sqrt((hi1 - p1) ** 2 + (p2 - lo2) ** 2)
    return out


def _div(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype(float)
    return num.astype(float) / den.where(den > 0)


#: contest statuses counted in the override report (open, then the managers' outcomes)
CONTEST_STATUSES = ("open", "upheld", "rejected", "data_corrected")


def contest_counts(contests: pd.DataFrame) -> pd.DataFrame:
    """Contests per street and status: one row per street (``street`` plus a count per
    :data:`CONTEST_STATUSES` and ``contests``, their total), then a ``(all)`` row.

    ``contests``: one row per contest with ``street`` and ``status``; unknown statuses count
    in ``contests`` only."""
    street = contests["street"].astype("string").fillna("(missing)").to_numpy()
    status = contests["status"].astype("string").fillna("").to_numpy()
    frame = pd.DataFrame({s: (status == s).astype("int64") for s in CONTEST_STATUSES},
                         index=contests.index)
    frame["contests"] = 1
    per = frame.groupby(street, sort=True).sum().rename_axis("street").reset_index()
    total = pd.DataFrame([{"street": "(all)", **{c: int(frame[c].sum()) for c in
                                                   (*CONTEST_STATUSES, "contests")}}])
    out = pd.concat([per, total], ignore_index=True) if len(per) else total
    for c in (*CONTEST_STATUSES, "contests"):
        out[c] = out[c].astype("int64")
    return out
