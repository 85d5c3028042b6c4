"""Household attributes used for jurisdiction, groups and fairness (not model inputs).

Street and community place a household in a caseworker's jurisdiction; the head's sex and
age band, hukou, disability in the household and household size define the groups that
per-group metrics and fairness reports compare.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assist.features.catalog import Tables
from assist.features.view import SourceView, as_float

AGE_BANDS = (0, 30, 45, 60, 75, 200)
AGE_BAND_LABELS = ("<30", "30-44", "45-59", "60-74", "75+")


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
