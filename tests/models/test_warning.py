"""Early warning: planted events and band crossings flag; noise and lone triggers do not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assist.features import CATALOG
from assist.models.warning import FLAGS, WarningConfig, counts, early_warning, need_band

CUTS = {"medium": 0.2, "high": 0.5}
CFG = WarningConfig(jump=0.15, min_rise=0.02, income_drop=0.3, water_silent_days=5)


def _calm(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Households deprived on nothing, low probability."""
    rng = np.random.default_rng(seed)
    idx = pd.Index([f"h{i:03d}" for i in range(n)], name="household_id")
    calm = {i.id: (i.cutoff + 1.0 if i.direction == -1 else i.cutoff - 1.0) for i in CATALOG}
    calm |= {"income_per_capita_ratio": 3.0, "financial_assets_months": 60.0,
             "earner_months_out_of_work": 0.0, "unemployed_share": 0.0,
             "hospital_stays_12m": 0.0, "income_drop_12m": 0.0, "water_silent_days": 0.0,
             "elderly_living_alone": 0.0, "no_able_caregiver": 0.0}
    df = pd.DataFrame({k: np.full(n, v, dtype=float) for k, v in calm.items()}, index=idx)
    df = df[CATALOG.ids]
    df["probability"] = rng.uniform(0.01, 0.1, n)
    df["band"] = need_band(df["probability"], CUTS)
    return df


def _noisy(prev: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cur = prev.copy()
    cur["probability"] = (prev["probability"] + rng.normal(0, 0.005, len(prev))).clip(0, 1)
    cur["band"] = need_band(cur["probability"], CUTS)
    return cur


def test_noise_raises_no_flags():
    prev = _calm()
    prev.loc["h000", "probability"] = 0.199          # hovers around the medium cut point
    prev["band"] = need_band(prev["probability"], CUTS)
    cur = _noisy(prev)
    cur.loc["h000", "probability"] = 0.201
    cur["band"] = need_band(cur["probability"], CUTS)
    out = early_warning(current=cur, previous=prev, config=CFG)
    assert not out["warning"].any(), out[out["warning"]]
    assert counts(out)["households"] == 0


@pytest.mark.parametrize("event, changes", [
    ("new_hospital_stay", {"hospital_stays_12m": 1.0}),
    ("job_loss", {"earner_months_out_of_work": 1.0, "unemployed_share": 0.5}),
    ("income_drop", {"income_drop_12m": 0.6}),
    ("water_silence", {"water_silent_days": 9.0}),
])
def test_planted_event_with_a_second_dimension_flags(event, changes):
    prev = _calm()
    if event == "water_silence":   # a lone elderly person: care is the other dimension
        prev.loc["h007", ["elderly_living_alone", "no_able_caregiver"]] = 1.0
    cur = _noisy(prev)
    for k, v in changes.items():
        cur.loc["h007", k] = v
    if event != "water_silence":   # a second dimension: a dilapidated home
        cur.loc["h007", "housing_condition"] = 3.0
    out = early_warning(current=cur, previous=prev, config=CFG)
    assert out.index[out["warning"]].tolist() == ["h007"]
    assert out.loc["h007", event]
    assert event in out.loc["h007", "flags"]
    assert out.loc["h007", "changes_en"]


def test_event_alone_does_not_flag_but_with_a_score_rise_it_does():
    prev = _calm()
    cur = _noisy(prev)
    cur.loc["h003", "hospital_stays_12m"] = 1.0      # health only; no other deprivation
    out = early_warning(current=cur, previous=prev, config=CFG)
    assert not out["warning"].any()
    cur.loc["h003", "probability"] = prev.loc["h003", "probability"] + 0.05
    out = early_warning(current=cur, previous=prev, config=CFG)
    assert out.index[out["warning"]].tolist() == ["h003"]
    assert out.loc["h003", "flags"] == "new_hospital_stay"


def test_band_crossing_and_jump_are_named():
    prev = _calm()
    prev.loc["h010", "probability"] = 0.15
    prev.loc["h011", "probability"] = 0.21
    prev["band"] = need_band(prev["probability"], CUTS)
    cur = prev.copy()
    cur.loc["h010", "probability"] = 0.55            # low -> high, +40 points
    cur.loc["h011", "probability"] = 0.30            # +9 points, stays medium
    cur["band"] = need_band(cur["probability"], CUTS)
    out = early_warning(current=cur, previous=prev, config=CFG)
    assert out.index[out["warning"]].tolist() == ["h010"]
    assert out.loc["h010", "flags"] == "band_up;score_jump"
    assert "from low to high" in out.loc["h010", "changes_en"]
    assert out.loc["h010", "probability_change"] == pytest.approx(0.40)


def test_households_new_this_month_are_not_flagged():
    prev = _calm().drop(index="h005")
    cur = _calm()
    cur.loc["h005", "probability"] = 0.9
    cur["band"] = need_band(cur["probability"], CUTS)
    out = early_warning(current=cur, previous=prev, config=CFG)
    assert not out.loc["h005", list(FLAGS)].any()
    assert pd.isna(out.loc["h005", "previous_band"])


def test_need_band_cut_points():
    assert need_band([0.1, 0.2, 0.49, 0.5], CUTS).tolist() == ["low", "medium", "medium", "high"]
    with pytest.raises(ValueError):
        need_band([0.1], {"medium": 0.6, "high": 0.5})
