"""Housing dimension (居住): space, condition and rent."""

from __future__ import annotations

import numpy as np

from assist.features.catalog import Dimension, MissingRule
from assist.features.indicators._spec import indicator
from assist.features.view import RATIO_CAP, SourceView, as_bool, as_float, ratio
from assist.features.wording import Phrases

DIMENSION = Dimension(id="housing", name_zh="居住", name_en="Housing", order=3)
#: condition -> hardship score (0 good ... 3 dilapidated)
CONDITION_SCORE = {"good": 0.0, "old": 1.0, "shared_facilities": 2.0, "dilapidated": 3.0}
SHARED_FACILITIES_SCORE = 2.0


@indicator(
    name_zh="人均建筑面积", name_en="Floor area per member",
    unit="m²", direction=-1, cutoff=12.0, cause="housing", sources=("housing", "persons"),
    sentence_en="only {value:.1f} m² of floor space per member",
    sentence_zh="人均建筑面积仅{value:.1f}平方米",
    missing=MissingRule("not_deprived", "floor area not recorded"),
)
def floor_area_per_capita(v: SourceView) -> np.ndarray:
    """Floor area of the dwelling divided by the number of members."""
    h = v.state("housing")
    area = v.first(v.codes(h), as_float(h["floor_area_m2"]))
    out = area / np.where(v.size > 0, v.size, np.nan)
    return out


@indicator(
    name_zh="住房条件", name_en="Housing condition",
    unit="score 0-3", direction=1, cutoff=1.0, cause="housing", sources=("housing",),
    sentence_en="poor housing (condition score {value:.0f} of 3: old, shared kitchen or toilet, or dilapidated)",
    sentence_zh="住房条件差（评分{value:.0f}/3：老旧、合用厨卫或危房）",
    missing=MissingRule("not_deprived", "no housing record"),
)
def housing_condition(v: SourceView) -> np.ndarray:
    """0 good, 1 old, 2 shared kitchen or toilet, 3 dilapidated (the worst that applies)."""
    h = v.state("housing")
    score = h["condition"].astype(str).map(CONDITION_SCORE).to_numpy(dtype=float)
    shared = as_bool(h["shared_kitchen"]) | as_bool(h["shared_toilet"])
    score = np.where(shared, np.maximum(score, SHARED_FACILITIES_SCORE), score)
    return v.first(v.codes(h), score)


@indicator(
    name_zh="房租负担", name_en="Rent burden",
    unit="× income", direction=1, cutoff=0.3, cause="housing", sources=("housing", "income"),
    sentence_en="rent takes {value:.0%} of income", sentence_zh="房租占收入的{value:.0%}",
    phrases=Phrases(missing_en="rent or income not on record", missing_zh="无房租或收入记录",
                    zero_en="no rent paid", zero_zh="无房租支出", cap=RATIO_CAP,
                    over_en="rent exceeds {cap}× income", over_zh="房租超过收入的{cap}倍"),
    missing=MissingRule("not_deprived", "rent or income not recorded"),
)
def rent_burden(v: SourceView) -> np.ndarray:
    """Monthly rent divided by monthly household income (0 for owners)."""
    h = v.state("housing")
    rent = v.first(v.codes(h), as_float(h["monthly_rent"]))
    return ratio(rent, v.monthly_income)
