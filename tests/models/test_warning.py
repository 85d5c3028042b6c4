"""Early warning: every rule on hand-made households; noise, lone triggers and weak signals do not flag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assist.features import CATALOG
from assist.features.bilingual import Label
from assist.models.warning import (
    EVENTS,
    FLAG_LABELS,
    FLAGS,
    SCORE_FLAGS,
    WarningConfig,
    counts,
    early_warning,
    need_band,
)

CUTS = {"medium": 0.2, "high": 0.5}
CFG = WarningConfig(jump=0.15, jump_relative=1.0, band_margin=0.05, confirm_deprivation_rise=0.1,
                    event_other_dimensions=3, income_drop=0.3, water_silent_days=5)
#: one indicator per dimension, and a value that deprives it (none is an event trigger)
DEPRIVE = {"income": ("income_per_capita_ratio", 1.0), "living": ("essential_expenditure_burden", 0.8),
           "housing": ("housing_condition", 3.0), "health": ("members_major_or_chronic", 1.0),
           "employment": ("uninsured_working_age", 1.0), "education": ("children_not_enrolled", 1.0),
           "care": ("dependency_ratio", 2.0)}


def _calm(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Households deprived on nothing, low probability, not poor."""
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
    df["deprivation_score"] = 0.0
    df["deprivation_poor"] = False
    return df


def _noisy(prev: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cur = prev.copy()
    cur["probability"] = (prev["probability"] + rng.normal(0, 0.005, len(prev))).clip(0, 1)
    cur["band"] = need_band(cur["probability"], CUTS)
    return cur


def _set(df: pd.DataFrame, hid: str, *, p: float | None = None, score: float | None = None,
         poor: bool | None = None, dims: tuple[str, ...] = ()) -> None:
    """Set one household's probability (and band), deprivation score, poverty, deprived dimensions."""
    if p is not None:
        df.loc[hid, "probability"] = p
        df["band"] = need_band(df["probability"], CUTS)
    if score is not None:
        df.loc[hid, "deprivation_score"] = score
    if poor is not None:
        df.loc[hid, "deprivation_poor"] = poor
    for d in dims:
        col, value = DEPRIVE[d]
        df.loc[hid, col] = value


def _flagged(cur: pd.DataFrame, prev: pd.DataFrame) -> pd.DataFrame:
    out = early_warning(current=cur, previous=prev, config=CFG, cuts=CUTS)
    return out[out["warning"]]


def test_noise_and_a_household_hovering_at_a_cut_point_raise_no_flags():
    prev = _calm()
    _set(prev, "h000", p=0.199, poor=True)           # hovers around the medium cut point
    cur = _noisy(prev)
    _set(cur, "h000", p=0.201)
    out = early_warning(current=cur, previous=prev, config=CFG, cuts=CUTS)
    assert not out["warning"].any(), out[out["warning"]]
    assert counts(out) == {**dict.fromkeys(FLAGS, 0), "households": 0}


@pytest.mark.parametrize("p_before, p_now, poor, score_rise, flagged", [
    (0.15, 0.26, True, 0.0, True),     # clears 0.20 by 0.06 >= margin 0.05, poor: flags
    (0.15, 0.24, True, 0.0, False),    # medium band, but only 0.04 above the cut: hysteresis
    (0.15, 0.26, False, 0.0, False),   # not poor and the index did not move: unconfirmed
    (0.15, 0.26, False, 0.12, True),   # not poor, deprivation score rose 0.12 >= 0.10: confirmed
    (0.15, 0.26, False, 0.08, False),  # index rose too little
    (0.45, 0.56, True, 0.0, True),     # medium -> high, 0.06 above 0.50
    (0.21, 0.30, True, 0.0, False),    # stays medium: no band rise
])
def test_band_up_needs_the_margin_and_a_confirming_index(p_before, p_now, poor, score_rise, flagged):
    prev = _calm()
    _set(prev, "h010", p=p_before, score=0.2, poor=poor)
    cur = prev.copy()
    _set(cur, "h010", p=p_now, score=0.2 + score_rise)
    out = early_warning(current=cur, previous=prev, config=CFG, cuts=CUTS)
    assert bool(out.loc["h010", "band_up"]) is flagged
    assert out.loc["h010", "score_jump"] == False  # noqa: E712 - every rise here is <= 0.11
    assert out["warning"].sum() == int(flagged)


@pytest.mark.parametrize("p_before, p_now, flagged", [
    (0.05, 0.21, True),    # +0.16 > 0.15 and > 1.0 x 0.05
    (0.05, 0.19, False),   # +0.14: too small
    (0.12, 0.23, False),   # +0.11: too small
    (0.20, 0.38, False),   # +0.18 > 0.15 but not more than 1.0 x 0.20
    (0.10, 0.30, True),    # +0.20 > 0.15 and > 1.0 x 0.10
])
def test_score_jump_needs_absolute_and_relative_rise(p_before, p_now, flagged):
    prev = _calm()
    _set(prev, "h020", p=p_before, poor=True)
    cur = prev.copy()
    _set(cur, "h020", p=p_now)
    out = early_warning(current=cur, previous=prev, config=CFG, cuts=CUTS)
    assert bool(out.loc["h020", "score_jump"]) is flagged
    assert out.loc["h020", "probability_change"] == pytest.approx(p_now - p_before)


def test_score_jump_relative_rule_by_hand():
    prev = _calm()
    _set(prev, "h030", p=0.30, poor=True)            # +0.16 is not more than 1.0 x 0.30
    _set(prev, "h031", p=0.10, poor=True)            # +0.16 is more than 1.0 x 0.10
    _set(prev, "h032", p=0.10)                       # same rise, not poor, index flat
    cur = prev.copy()
    _set(cur, "h030", p=0.46)
    _set(cur, "h031", p=0.26)
    _set(cur, "h032", p=0.26)
    out = early_warning(current=cur, previous=prev, config=CFG, cuts=CUTS)
    assert out.index[out["score_jump"]].tolist() == ["h031"]
    assert out.loc["h031", "flags"] == "band_up;score_jump"   # 0.26 also clears 0.20 + 0.05
    assert out.index[out["warning"]].tolist() == ["h031"]


EVENT_CHANGES = {
    "new_hospital_stay": {"hospital_stays_12m": 1.0},
    "job_loss": {"earner_months_out_of_work": 1.0, "unemployed_share": 0.5},
    "income_drop": {"income_drop_12m": 0.6},
    "water_silence": {"water_silent_days": 9.0},
}
EVENT_DIMENSION = {"new_hospital_stay": "health", "job_loss": "employment", "income_drop": "income",
                   "water_silence": "living"}


def _event(event: str, *, p: float, poor: bool = False, other_dims: int = 0) -> pd.DataFrame:
    prev = _calm()
    if event == "water_silence":   # a lone elderly person
        prev.loc["h007", ["elderly_living_alone"]] = 1.0
    others = [d for d in DEPRIVE if d != EVENT_DIMENSION[event]][:other_dims]
    _set(prev, "h007", p=p, poor=poor, dims=tuple(others))
    cur = _noisy(prev)
    _set(cur, "h007", p=p)
    for k, v in EVENT_CHANGES[event].items():
        cur.loc["h007", k] = v
    return _flagged(cur, prev), prev, cur


@pytest.mark.parametrize("event", list(EVENT_CHANGES))
@pytest.mark.parametrize("p, poor, other_dims, flagged", [
    (0.05, True, 0, True),      # multidimensionally poor: enough on its own
    (0.30, False, 3, True),     # three other dimensions deprived and at least medium
    (0.05, False, 3, False),    # three other dimensions but a low probability
    (0.30, False, 2, False),    # medium, but only two other dimensions
    (0.90, False, 0, False),    # high probability alone is not a second signal
])
def test_event_needs_a_strong_second_signal(event, p, poor, other_dims, flagged):
    out, _, _ = _event(event, p=p, poor=poor, other_dims=other_dims)
    assert out.index.tolist() == (["h007"] if flagged else [])
    if flagged:
        assert out.loc["h007", "flags"] == event
        assert out.loc["h007", event]


def test_event_words_name_the_second_signal():
    out, _, _ = _event("income_drop", p=0.30, other_dims=3)
    assert out.loc["h007", "changes_en"] == "sharp income drop (deprived in 3 other dimensions)"
    assert out.loc["h007", "changes_zh"] == "收入骤降（另有3个维度被剥夺）"
    out, _, _ = _event("new_hospital_stay", p=0.05, poor=True)
    assert out.loc["h007", "changes_en"] == "new hospital stay (multidimensionally poor)"
    assert out.loc["h007", "changes_zh"] == "新增住院（多维贫困）"


def test_event_without_the_change_does_not_flag():
    prev = _calm()
    _set(prev, "h003", p=0.3, poor=True, dims=("housing", "care", "education"))
    prev.loc["h003", "hospital_stays_12m"] = 2.0     # was already in hospital last month
    cur = _noisy(prev)
    out = early_warning(current=cur, previous=prev, config=CFG, cuts=CUTS)
    assert not out["warning"].any()


def test_band_rise_and_jump_are_named_in_both_languages():
    prev = _calm()
    _set(prev, "h010", p=0.15, score=0.20)
    cur = prev.copy()
    _set(cur, "h010", p=0.55, score=0.40, poor=True)  # low -> high, +40 points, index +0.20
    out = early_warning(current=cur, previous=prev, config=CFG, cuts=CUTS)
    assert out.index[out["warning"]].tolist() == ["h010"]
    assert out.loc["h010", "flags"] == "band_up;score_jump"
    assert out.loc["h010", "changes_en"] == (
        "need band rose from low to high; probability of need +40 points; "
        "confirmed by the deprivation index (0.20 -> 0.40, multidimensionally poor)")
    assert out.loc["h010", "changes_zh"] == (
        "需求等级由低升至高；需求概率上升+40个百分点；多维剥夺指数印证（0.20→0.40，多维贫困）")
    assert out.loc["h010", "probability_change"] == pytest.approx(0.40)
    assert out.loc["h010", "previous_band"] == "low"
    assert counts(out) == {"band_up": 1, "score_jump": 1, "new_hospital_stay": 0, "job_loss": 0,
                           "income_drop": 0, "water_silence": 0, "households": 1}


def test_previous_without_deprivation_score_is_confirmed_by_poverty_only():
    prev = _calm().drop(columns="deprivation_score")
    _set(prev, "h010", p=0.15)
    _set(prev, "h011", p=0.15)
    cur = _calm()
    cur["probability"] = prev["probability"]
    _set(cur, "h010", p=0.30, score=0.5, poor=True)
    _set(cur, "h011", p=0.30, score=0.3)
    out = early_warning(current=cur, previous=prev, config=CFG, cuts=CUTS)
    assert out.index[out["warning"]].tolist() == ["h010"]


def test_households_new_this_month_are_not_flagged():
    prev = _calm().drop(index="h005")
    cur = _calm()
    _set(cur, "h005", p=0.9, score=0.6, poor=True, dims=("housing", "care", "education"))
    cur.loc["h005", "hospital_stays_12m"] = 3.0
    out = early_warning(current=cur, previous=prev, config=CFG, cuts=CUTS)
    assert not out.loc["h005", list(FLAGS)].any()
    assert pd.isna(out.loc["h005", "previous_band"])
    assert pd.isna(out.loc["h005", "probability_change"])


def test_need_band_cut_points():
    assert need_band([0.1, 0.2, 0.49, 0.5], CUTS).tolist() == ["low", "medium", "medium", "high"]
    with pytest.raises(ValueError):
        need_band([0.1], {"medium": 0.6, "high": 0.5})
    with pytest.raises(ValueError):
        early_warning(current=_calm(), previous=_calm(), config=CFG, cuts={"medium": 0.6, "high": 0.5})


def test_every_flag_is_named_by_a_label_in_both_languages():
    assert list(FLAG_LABELS) == list(FLAGS)
    assert FLAG_LABELS["band_up"] == SCORE_FLAGS["band_up"] == Label(zh="需求等级上升",
                                                                     en="need band rose")
    for e in EVENTS:
        assert FLAG_LABELS[e.name] is e.text
    for name, label in FLAG_LABELS.items():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in label.zh), name
        assert label.en.isascii(), name
