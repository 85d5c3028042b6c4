"""Labels for the need model: caseworker-verified outcomes.

A household's label as of a month is the outcome of its latest home visit in the look-back
window: ``confirmed`` -> 1, ``not_in_need`` -> 0. Visits that could not reach the household
or were declined say nothing about need; households never verified are unlabelled (NaN).
Visits happen only after an application, a referral or a routine review, so labelled
households are a selected, not a random, sample (see the model card).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assist.features.catalog import Tables
from assist.features.view import SourceView

LABEL_OF_OUTCOME = {"confirmed": 1.0, "not_in_need": 0.0}


def verified_labels(tables: Tables, as_of: str, *, window_months: int = 12) -> pd.Series:
    """Latest informative verification outcome per household (1, 0, or NaN when unverified)."""
    v = SourceView(tables, as_of, window_months=window_months, required=("verifications",))
    ver = v.events("verifications")
    ver = ver.loc[ver["outcome"].isin(list(LABEL_OF_OUTCOME)).to_numpy(dtype=bool)]
    order = np.lexsort((ver["verification_id"].astype(str).to_numpy(),
                        ver["visit_date"].to_numpy(), v.codes(ver)))
    ver = ver.iloc[order]
    latest = ver.drop_duplicates("household_id", keep="last")
    label = latest["outcome"].astype(str).map(LABEL_OF_OUTCOME).to_numpy(dtype=float)
    return pd.Series(v.first(v.codes(latest), label), index=v.households, name="label")
