"""Living dimension (生活): unavoidable expenditure, utility-use anomalies, living alone."""

from __future__ import annotations

import numpy as np

from assist.features.catalog import Dimension, MissingRule
from assist.features.indicators._spec import indicator
from assist.features.view import (
    ELDERLY_AGE,
    RATIO_CAP,
    SourceView,
    as_float,
    factorize_runs,
    ratio,
)
from assist.features.wording import Phrases

DIMENSION = Dimension(id="living", name_zh="生活", name_en="Living conditions", order=2)
SILENCE_WINDOW_DAYS = 30


@indicator(
    name_zh="刚性支出负担", name_en="Essential-expenditure burden",
    unit="× income", direction=1, cutoff=0.5, cause="expenditure",
    sources=("income", "medical_claims", "school_enrolment", "housing"),
    sentence_en="medical, schooling and rent costs take {value:.0%} of income",
    sentence_zh="医疗、教育和房租支出占收入的{value:.0%}",
    phrases=Phrases(missing_en="no income on record: burden unknown",
                    missing_zh="无收入记录，支出负担未知",
                    zero_en="no medical, schooling or rent costs", zero_zh="无医疗、教育和房租支出",
                    cap=RATIO_CAP, over_en="medical, schooling and rent costs exceed {cap}× income",
                    over_zh="医疗、教育和房租支出超过收入的{cap}倍"),
    missing=MissingRule("not_deprived", "income not reported: burden unknown"),
)
def essential_expenditure_burden(v: SourceView) -> np.ndarray:
    """Monthly out-of-pocket medical (12-month average), education and rent cost ÷ income (支出型贫困)."""
    claims = v.events("medical_claims")
    medical = v.sum(v.codes(claims), as_float(claims["out_of_pocket"])) / 12.0
    school = v.state("school_enrolment")
    education = v.sum(v.codes(school), as_float(school["monthly_education_cost"]))
    housing = v.state("housing")
    rent = np.nan_to_num(v.first(v.codes(housing), as_float(housing["monthly_rent"])), nan=0.0)
    return ratio(medical + education + rent, v.monthly_income)


@indicator(
    name_zh="用水异常天数", name_en="Days without water use (smart meter)",
    unit="days", direction=1, cutoff=2.0, cause="lack_of_care", sources=("water_readings",),
    sentence_en="no water used on {value:.0f} of the last 30 days",
    sentence_zh="近30天有{value:.0f}天未用水",
    missing=MissingRule("not_deprived", "no smart water meter: not monitored"),
)
def water_silent_days(v: SourceView) -> np.ndarray:
    """Days in the last 30 with a zero reading on a monitored member's smart water meter (most of any member)."""
    r = v.events("water_readings", days=SILENCE_WINDOW_DAYS)
    person, people = factorize_runs(r["person_id"])
    silent = (as_float(r["litres"]) == 0).astype(float)
    silent_days = np.bincount(person, weights=silent, minlength=people)
    household_of = np.empty(people, dtype=np.int64)
    household_of[person] = v.codes(r)
    return v.max(household_of, silent_days)  # NaN: no monitored member


@indicator(
    name_zh="独居老人", name_en="Elderly person living alone",
    unit="yes/no", direction=1, cutoff=0.5, cause="lack_of_care", sources=("persons",),
    sentence_en="an elderly person living alone", sentence_zh="独居老人",
    missing=MissingRule("not_deprived", "no members listed"),
)
def elderly_living_alone(v: SourceView) -> np.ndarray:
    """1 when the household is one person aged 60 or over."""
    out = ((v.size == 1) & (v.members_aged(ELDERLY_AGE, 200) == 1)).astype(float)
    out[v.size == 0] = np.nan
    return out
