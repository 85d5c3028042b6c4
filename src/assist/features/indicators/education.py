"""Education dimension (教育): school enrolment and schooling cost."""

from __future__ import annotations

import numpy as np

from assist.features.catalog import Dimension
from assist.features.indicators._spec import indicator
from assist.features.view import RATIO_CAP, SCHOOL_AGE, SourceView, as_bool, as_float, ratio
from assist.features.wording import Phrases

DIMENSION = Dimension(id="education", name_zh="教育", name_en="Education", order=6)


@indicator(
    name_zh="失学适龄儿童数", name_en="School-age children not enrolled",
    unit="children", direction=1, cutoff=0.0, cause="education",
    sources=("school_enrolment", "persons"),
    sentence_en="{value:.0f} school-age child(ren) not enrolled",
    sentence_zh="{value:.0f}名适龄儿童未入学",
)
def children_not_enrolled(v: SourceView) -> np.ndarray:
    """Members aged 6-15 without a current enrolment (no record, or recorded as not enrolled)."""
    p = v.persons
    age = p["age"].to_numpy()
    school_age = (age >= SCHOOL_AGE[0]) & (age <= SCHOOL_AGE[1])
    s = v.state("school_enrolment")
    enrolled_ids = s.loc[as_bool(s["enrolled"]), "person_id"].astype(str)
    enrolled = p["person_id"].isin(enrolled_ids).to_numpy()
    return v.count(p["hh"].to_numpy(), school_age & ~enrolled)


@indicator(
    name_zh="教育支出负担", name_en="Education cost burden",
    unit="× income", direction=1, cutoff=0.2, cause="education",
    sources=("school_enrolment", "income"),
    sentence_en="schooling costs take {value:.0%} of income",
    sentence_zh="教育支出占收入的{value:.0%}",
    phrases=Phrases(missing_en="no income on record: burden unknown",
                    missing_zh="无收入记录，教育负担未知",
                    zero_en="no schooling costs", zero_zh="无教育支出", cap=RATIO_CAP,
                    over_en="schooling costs exceed {cap}× income",
                    over_zh="教育支出超过收入的{cap}倍"),
)
def education_cost_burden(v: SourceView) -> np.ndarray:
    """Monthly education cost of all children ÷ monthly income (0 without children in school)."""
    s = v.state("school_enrolment")
    cost = v.sum(v.codes(s), as_float(s["monthly_education_cost"]))
    out = ratio(cost, v.monthly_income)
    out[np.isnan(out) & (cost == 0)] = 0.0
    return out
