"""Family-care dimension (家庭照护): dependants, caregivers and signs of hardship."""

from __future__ import annotations

import numpy as np

from assist.features.catalog import Dimension, MissingRule
from assist.features.indicators._spec import indicator
from assist.features.view import ELDERLY_AGE, SourceView, ratio

DIMENSION = Dimension(id="care", name_zh="家庭照护", name_en="Family care", order=7)
CHILD_AGE, OLD_AGE = 15, 65          # dependency ratio: <16 and 65+ over 16-64
ABLE_ADULT = (18, 69)                # who can give care
YOUNG_CHILD, FRAIL_AGE = 6, 75
HARDSHIP_APPEALS = ("hardship",)


@indicator(
    name_zh="家庭抚养比", name_en="Dependency ratio",
    unit="ratio", direction=1, cutoff=1.0, cause="lack_of_care", sources=("persons",),
    sentence_en="{value:.1f} dependants per working-age member",
    sentence_zh="每名劳动年龄成员需抚养{value:.1f}人",
    missing=MissingRule("not_deprived", "no members listed"),
)
def dependency_ratio(v: SourceView) -> np.ndarray:
    """Members under 16 or 65 and over ÷ members aged 16-64 (10 when nobody is of working age)."""
    dependants = v.members_aged(0, CHILD_AGE) + v.members_aged(OLD_AGE, 200)
    out = ratio(dependants, v.members_aged(CHILD_AGE + 1, OLD_AGE - 1))
    out[v.size == 0] = np.nan
    return out


@indicator(
    name_zh="缺乏有效照料", name_en="No able caregiver",
    unit="yes/no", direction=1, cutoff=0.5, cause="lack_of_care",
    sources=("persons", "disability"),
    sentence_en="dependants with no able adult to care for them",
    sentence_zh="家中有需照料成员但无有能力的照料者",
    missing=MissingRule("not_deprived", "no members listed"),
)
def no_able_caregiver(v: SourceView) -> np.ndarray:
    """1 for a lone elderly person, dependants with no able adult, or a lone parent of a child under 6."""
    p = v.persons
    hh, age = p["hh"].to_numpy(), p["age"].to_numpy()
    severe = v.severely_disabled
    able = (age >= ABLE_ADULT[0]) & (age <= ABLE_ADULT[1]) & ~severe
    dependant = (age < 14) | (age >= FRAIL_AGE) | severe
    n_able = v.count(hh, able)
    n_dependants = v.count(hh, dependant)
    n_adults = v.count(hh, age >= ABLE_ADULT[0])
    lone_elderly = (v.size == 1) & (v.members_aged(ELDERLY_AGE, 200) == 1)
    uncared = (n_dependants > 0) & (n_able == 0)
    lone_parent = (n_adults == 1) & (n_able == 1) & (v.count(hh, age < YOUNG_CHILD) > 0)
    out = (lone_elderly | uncared | lone_parent).astype(float)
    out[v.size == 0] = np.nan
    return out


@indicator(
    name_zh="近12个月困难求助与申请被拒次数", name_en="Hardship appeals or rejected applications in 12 months",
    unit="count", direction=1, cutoff=0.0, cause="income_loss",
    sources=("hotline_appeals", "verifications"),
    sentence_en="{value:.0f} hardship appeal(s) or rejected application(s) in the past year",
    sentence_zh="近一年困难求助或申请被拒{value:.0f}次",
)
def hardship_signals_12m(v: SourceView) -> np.ndarray:
    """12345 hardship appeals plus applications found not in need, over 12 months."""
    a = v.events("hotline_appeals")
    appeals = v.count(v.codes(a), a["category"].isin(HARDSHIP_APPEALS).to_numpy(dtype=bool))
    ver = v.events("verifications")
    rejected = ((ver["trigger"] == "application") & (ver["outcome"] == "not_in_need"))
    return appeals + v.count(v.codes(ver), rejected.fillna(False).to_numpy(dtype=bool))
