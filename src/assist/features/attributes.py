"""Household attributes used for jurisdiction, groups and fairness (not model inputs).

Street and community place a household in a caseworker's jurisdiction; the head's sex and
age band, hukou, disability in the household and household size define the groups that
per-group metrics and fairness reports compare.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assist.features.bilingual import Label
from assist.features.catalog import Tables
from assist.features.view import SourceView, as_float

AGE_BANDS = (0, 30, 45, 60, 75, 200)
AGE_BAND_LABELS = ("<30", "30-44", "45-59", "60-74", "75+")

#: names of the attributes that groups are compared on: those of :func:`household_attributes`,
#: and the score band and indicator-defined groups the overrides report slices by
ATTRIBUTE_NAMES: dict[str, Label] = {
    "head_sex": Label("户主性别", "head's sex"),
    "head_age_band": Label("户主年龄段", "head's age band"),
    "head_hukou": Label("户主户籍", "head's hukou"),
    "has_disability": Label("有残疾成员", "disabled member"),
    "has_elderly": Label("有老年成员", "elderly member"),
    "registration_type": Label("户籍类型", "registration"),
    "address_class": Label("住房类别", "address class"),
    "size": Label("家庭人口", "household size"),
    "street_code": Label("街道", "street"), "street": Label("街道", "street"),
    "band": Label("需求等级", "need band"),
    "elderly_alone": Label("独居老人", "elderly living alone"),
    "disability": Label("有重度残疾成员", "severe disability"),
    "no_able_caregiver": Label("无有效照护人", "no able caregiver"),
    "unemployed": Label("有登记失业成员", "registered unemployed"),
}
#: names of the values of those attributes (codes, booleans as text, the missing group);
#: other values (age bands, sizes, street codes) are shown as they are
GROUP_VALUE_NAMES: dict[str, Label] = {
    "F": Label("女", "female"), "M": Label("男", "male"),
    "local": Label("本地", "local"), "non_local": Label("外地", "non-local"),
    "mixed": Label("混合", "mixed"),
    "True": Label("是", "yes"), "False": Label("否", "no"),
    "true": Label("是", "yes"), "false": Label("否", "no"),
    "yes": Label("是", "yes"), "no": Label("否", "no"),
    "(missing)": Label("缺失", "missing"),
}


def age_band(age: pd.Series | np.ndarray) -> pd.Series:
    """Age band label of each age (``<30`` ... ``75+``)."""
    return pd.Series(pd.cut(np.asarray(age, dtype=float), AGE_BANDS, right=False,
                            labels=AGE_BAND_LABELS)).astype("string")


def household_attributes(tables: Tables, as_of: str) -> pd.DataFrame:
    """Jurisdiction and group attributes per household, as of the end of ``as_of``."""
    v = SourceView(tables, as_of, required=("disability",))
    h = v.state("households").drop_duplicates("household_id")
    codes = v.codes(h)
    out = pd.DataFrame(index=v.households)
    for col in ("street_code", "community_code", "registration_type", "address_class"):
        values = pd.Series(pd.NA, index=v.households, dtype="string")
        values.iloc[codes] = h[col].astype("string").to_numpy()
        out[col] = values
    p = v.state("persons")
    heads = p.loc[(p["relation"] == "head").fillna(False).to_numpy(dtype=bool)].drop_duplicates("household_id")
    head_codes = v.codes(heads)
    for col in ("sex", "hukou"):
        values = pd.Series(pd.NA, index=v.households, dtype="string")
        values.iloc[head_codes] = heads[col].astype("string").to_numpy()
        out[f"head_{col}"] = values
    head_age = v.first(head_codes, as_float(heads["age"]))
    out["head_age"] = head_age
    out["head_age_band"] = age_band(head_age).to_numpy()
    out["size"] = v.size
    out["has_disability"] = v.count(v.codes(v.state("disability").drop_duplicates("person_id"))) > 0
    out["has_elderly"] = v.members_aged(60, 200) > 0
    return out
