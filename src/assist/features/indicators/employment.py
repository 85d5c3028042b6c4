"""Employment dimension (就业): unemployment, the main earner's time out of work, insurance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assist.features.catalog import Dimension, MissingRule
from assist.features.indicators._spec import indicator
from assist.features.view import (
    WORKING_AGE,
    SourceView,
    arrow_ids,
    as_bool,
    as_float,
    ratio,
)

DIMENSION = Dimension(id="employment", name_zh="就业", name_en="Employment", order=5)
DAYS_PER_MONTH = 30.4375


def _best_wage(hist: pd.DataFrame, ids: pa.Array) -> np.ndarray:
    """Highest monthly wage on record in ``hist`` of each person in ``ids`` (-1 when none).

    Only the history rows of those persons are looked up (one Arrow hash table of ``ids``);
    no string factorisation of the whole history.
    """
    people = pc.unique(ids)
    row_of = pc.index_in(arrow_ids(hist["person_id"]), value_set=people)
    row_of = row_of.fill_null(-1).to_numpy(zero_copy_only=False)
    found = row_of >= 0
    best = np.full(len(people), -1.0)
    np.maximum.at(best, row_of[found],
                  np.nan_to_num(as_float(hist["monthly_wage"]), nan=-1.0)[found])
    return best[pc.index_in(ids, value_set=people).to_numpy(zero_copy_only=False)]


def _rank(ids: pa.Array) -> np.ndarray:
    """Rank of each id in code-point order (rows with equal ids ranked in row order)."""
    n = len(ids)
    if n < 2 or pc.all(pc.less_equal(ids.slice(0, n - 1), ids.slice(1))).as_py():
        return np.arange(n)                        # tables are stored sorted by person
    rank = np.empty(n, dtype=np.int64)
    rank[pc.sort_indices(ids).to_numpy()] = np.arange(n)
    return rank


def _working_age(v: SourceView, rows) -> np.ndarray:  # noqa: ANN001 - DataFrame of person rows
    age = v.person_age(rows)
    return (age >= WORKING_AGE[0]) & (age <= WORKING_AGE[1])


@indicator(
    name_zh="登记失业人员占劳动年龄成员比", name_en="Registered-unemployed share of working-age members",
    unit="share", direction=1, cutoff=0.4, cause="unemployment",
    sources=("employment", "persons"),
    sentence_en="{value:.0%} of working-age members are registered unemployed",
    sentence_zh="{value:.0%}的劳动年龄成员登记失业",
    missing=MissingRule("not_deprived", "no working-age members"),
)
def unemployed_share(v: SourceView) -> np.ndarray:
    """Registered-unemployed members ÷ members aged 16-64."""
    e = v.state("employment")
    unemployed = v.count(v.codes(e), as_bool(e["registered_unemployed"]) & _working_age(v, e))
    working = v.members_aged(*WORKING_AGE)
    out = ratio(unemployed, working, cap=1.0)
    out[working == 0] = np.nan
    return out


@indicator(
    name_zh="主要劳动力失业月数", name_en="Months out of work of the main earner",
    unit="months", direction=1, cutoff=6.0, cause="unemployment",
    sources=("employment", "persons"),
    sentence_en="the main earner has been out of work for {value:.0f} months",
    sentence_zh="主要劳动力已失业{value:.0f}个月",
    missing=MissingRule("not_deprived", "no working-age member on the employment register"),
)
def earner_months_out_of_work(v: SourceView) -> np.ndarray:
    """Months the main earner (highest wage in the past year) has been registered unemployed."""
    now = v.state("employment")
    now = now.loc[_working_age(v, now)]
    hh = v.codes(now)
    ids = arrow_ids(now["person_id"])
    wage = _best_wage(v.history("employment"), ids)
    order = np.lexsort((_rank(ids), -wage, hh))    # by household, highest wage, then id
    first = order[np.r_[True, hh[order][1:] != hh[order][:-1]]] if len(order) else order
    earner = now.iloc[first]
    months = ((v.as_of_end - earner["unemployed_since"]).dt.days / DAYS_PER_MONTH)
    months = months.to_numpy(dtype=float, na_value=np.nan)
    months = np.where(as_bool(earner["registered_unemployed"]), np.nan_to_num(months, nan=0.0), 0.0)
    return v.first(v.codes(earner), np.maximum(months, 0.0))


@indicator(
    name_zh="无社保劳动年龄成员数", name_en="Working-age members without social insurance",
    unit="persons", direction=1, cutoff=0.0, cause="unemployment",
    sources=("employment", "persons"),
    sentence_en="{value:.0f} working-age member(s) without social insurance",
    sentence_zh="{value:.0f}名劳动年龄成员未参加社会保险",
)
def uninsured_working_age(v: SourceView) -> np.ndarray:
    """Working-age members recorded as not paying social insurance."""
    e = v.state("employment")
    return v.count(v.codes(e), ~as_bool(e["social_insurance"]) & _working_age(v, e))
