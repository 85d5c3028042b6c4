"""Health dimension (健康): illness, disability, medical cost, hospital stays."""

from __future__ import annotations

import numpy as np

from assist.features.catalog import Dimension, MissingRule
from assist.features.indicators._spec import indicator
from assist.features.view import RATIO_CAP, SourceView, as_bool, as_float, ratio
from assist.features.wording import Phrases

DIMENSION = Dimension(id="health", name_zh="健康", name_en="Health", order=4)


@indicator(
    name_zh="大病或慢病成员数", name_en="Members with major or chronic illness",
    unit="persons", direction=1, cutoff=0.0, cause="illness", sources=("medical_claims",),
    sentence_en="{value:.0f} member(s) with a major or chronic illness",
    sentence_zh="{value:.0f}名成员患大病或慢性病",
)
def members_major_or_chronic(v: SourceView) -> np.ndarray:
    """Members with a claim flagged major illness or registered chronic condition in 12 months."""
    c = v.events("medical_claims")
    flagged = c.loc[as_bool(c["major_illness"]) | as_bool(c["chronic_condition"])]
    people = flagged.drop_duplicates("person_id")
    return v.count(v.codes(people))


@indicator(
    name_zh="重度残疾成员数", name_en="Members with severe disability",
    unit="persons", direction=1, cutoff=0.0, cause="disability", sources=("disability",),
    sentence_en="{value:.0f} member(s) with a severe (grade 1-2) disability",
    sentence_zh="{value:.0f}名成员为重度残疾（一、二级）",
)
def members_severe_disability(v: SourceView) -> np.ndarray:
    """Current members holding a disability certificate of grade 1 or 2."""
    return v.count(v.persons["hh"].to_numpy(), v.severely_disabled)


@indicator(
    name_zh="自付医疗费用占收入比", name_en="Out-of-pocket medical cost vs income",
    unit="× income", direction=1, cutoff=0.2, cause="illness",
    sources=("medical_claims", "income"),
    sentence_en="out-of-pocket medical cost is {value:.0%} of income",
    sentence_zh="自付医疗费用占收入的{value:.0%}",
    phrases=Phrases(missing_en="no income on record: burden unknown",
                    missing_zh="无收入记录，医疗负担未知",
                    zero_en="no out-of-pocket medical cost", zero_zh="无自付医疗费用",
                    cap=RATIO_CAP, over_en="out-of-pocket medical cost exceeds {cap}× income",
                    over_zh="自付医疗费用超过收入的{cap}倍"),
    missing=MissingRule("not_deprived", "income not reported: burden unknown"),
)
def oop_medical_ratio(v: SourceView) -> np.ndarray:
    """Out-of-pocket medical cost over 12 months ÷ 12 months of income."""
    c = v.events("medical_claims")
    oop = v.sum(v.codes(c), as_float(c["out_of_pocket"]))
    return ratio(oop, 12.0 * v.monthly_income)


@indicator(
    name_zh="近12个月住院次数", name_en="Hospital stays in 12 months",
    unit="stays", direction=1, cutoff=1.0, cause="illness", sources=("medical_claims",),
    sentence_en="{value:.0f} hospital stays in the past year",
    sentence_zh="近一年住院{value:.0f}次",
)
def hospital_stays_12m(v: SourceView) -> np.ndarray:
    """Inpatient claims of all members in the last 12 months."""
    c = v.events("medical_claims")
    return v.count(v.codes(c), as_bool(c["inpatient"]))

