"""The uplift estimate (:mod:`assist.models.uplift`) on generated follow-up pairs whose true
effect is known: it recovers it inside its interval, says when too few households are behind a
figure, and splits by programme."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assist.models.uplift import estimate

SE, SP = 0.95, 0.93


def _pairs(n: int, *, without: float, with_grant: float, seed: int = 1,
           programmes: tuple[str, ...] = ("dibao", "medical")) -> pd.DataFrame:
    """``n`` granted households: a counterfactual probability of need around ``without``; the
    truth with the grant drawn at ``with_grant``; findings drawn with SE/SP."""
    rng = np.random.default_rng(seed)
    cf = np.clip(rng.normal(without, 0.05, n), 0, 1)
    needy = rng.random(n) < with_grant
    found = np.where(needy, rng.random(n) < SE, rng.random(n) > SP)
    return pd.DataFrame({
        "household_id": [f"h{i:05d}" for i in range(n)], "visit_month": "2026-03",
        "review_month": "2026-06", "programmes": [[programmes[i % len(programmes)]]
                                                  for i in range(n)],
        "counterfactual": cf, "found_in_need": found})


def test_it_recovers_a_known_effect_within_its_interval():
    est = estimate(_pairs(4000, without=0.9, with_grant=0.6), sensitivity=SE, specificity=SP)
    assert est["effect"] == pytest.approx(0.3, abs=0.04)
    assert est["low"] < 0.3 < est["high"] and est["high"] - est["low"] < 0.1
    assert est["households"] == 4000
    # the raw share found in need differs from the corrected share in need
    assert est["observed"] != est["found_share"]


def test_no_effect_is_an_interval_around_zero():
    est = estimate(_pairs(3000, without=0.7, with_grant=0.7, seed=3), sensitivity=SE,
                   specificity=SP)
    assert est["low"] < 0 < est["high"]


def test_too_few_households_is_said_not_estimated():
    est = estimate(_pairs(12, without=0.9, with_grant=0.5), sensitivity=SE, specificity=SP)
    assert est["effect"] is None and "12" in est["reason"]


def test_per_programme_figures_only_where_enough_households():
    pairs = _pairs(400, without=0.9, with_grant=0.6, programmes=("dibao",) * 19 + ("tekun",))
    est = estimate(pairs, sensitivity=SE, specificity=SP)
    assert set(est["by_programme"]) == {"dibao"} and est["not_estimated"] == {"tekun": 20}
    assert est["by_programme"]["dibao"]["households"] == 380


def test_findings_no_better_than_chance_are_refused():
    with pytest.raises(ValueError, match="chance"):
        estimate(_pairs(100, without=0.9, with_grant=0.5), sensitivity=0.5, specificity=0.5)
    with pytest.raises(ValueError, match="counterfactual"):
        estimate(_pairs(100, without=0.9, with_grant=0.5).drop(columns="counterfactual"),
                 sensitivity=SE, specificity=SP)
