"""Caseworker overrides: how often caseworkers disagree with the score, and who was right.

Input: one row per referral decision with ``household_id``, ``band``, ``street``, group
columns, ``score``, ``override`` (bool: the caseworker departed from the model's ranking or
band) and ``outcome`` (1 confirmed need, 0 not in need, missing: not yet verified).

For each slice (all decisions; by street, band and each group column) it reports the number of
decisions, the override rate, and the confirmed-need rate among overridden and among followed
decisions with verified outcomes (``None`` when a side has no verified outcome), and their
difference. The case store feeds it; this module is a pure function of the frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

REQUIRED = ("household_id", "band", "street", "score", "override", "outcome")


def override_rates(decisions: pd.DataFrame, *, by: Sequence[str] = ("street", "band"),
                   groups: Sequence[str] = ()) -> pd.DataFrame:
    """Override rate and confirmed-need rate of overridden vs followed decisions per slice."""
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
    out["override_rate"] = _div(out["overrides"], out["decisions"])
    out["confirmed_rate_overridden"] = _div(out["overridden_confirmed"], out["overridden_verified"])
    out["confirmed_rate_followed"] = _div(out["followed_confirmed"], out["followed_verified"])
    out["confirmed_rate_difference"] = (out["confirmed_rate_overridden"]
                                        - out["confirmed_rate_followed"])
    return out


def _div(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype(float)
    return num.astype(float) / den.where(den > 0)
