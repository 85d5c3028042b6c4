"""The records behind the uplift estimate (:mod:`assist.pipelines.uplift`): the granted
households of the case store, their first routine review 2-4 months on, and their probability
in that month's snapshot."""

from __future__ import annotations

import pandas as pd

from assist.pipelines.uplift import first_reviews, granted, with_counterfactual
from assist.storage.snapshot import write_snapshot


def _decisions() -> pd.DataFrame:
    rows = [  # household, outcome, visit date, programmes
        ("ha", "confirmed", "2026-02-15", ["dibao"]),
        ("ha", "confirmed", "2026-05-15", ["medical"]),   # a later visit: the first counts
        ("hb", "confirmed", "2026-02-15", ["tekun", "medical"]),
        ("hc", "confirmed", "2026-02-15", []),             # confirmed, nothing granted
        ("hd", "not_in_need", "2026-02-15", []),
        ("he", "confirmed", "2026-03-15", ["low_income"]),
        ("hf", "confirmed", "2026-02-15", ["dibao"]),
    ]
    return pd.DataFrame(rows, columns=["household_id", "outcome", "visit_date",
                                       "programmes_granted"])


def _reviews() -> pd.DataFrame:
    rows = [  # household, visit date, trigger, outcome
        ("ha", "2026-04-10", "routine_review", "not_in_need"),   # 2 months on: kept
        ("ha", "2026-05-10", "routine_review", "confirmed"),     # not the first
        ("hb", "2026-03-10", "routine_review", "confirmed"),     # 1 month on: first, too early
        ("hb", "2026-05-10", "routine_review", "confirmed"),
        ("hc", "2026-04-10", "routine_review", "confirmed"),     # nothing was granted
        ("he", "2026-06-03", "application", "confirmed"),        # not a review
        ("he", "2026-07-03", "routine_review", "confirmed"),     # 4 months on: kept
        ("hf", "2026-05-20", "routine_review", "unreachable"),   # says nothing about need
    ]
    return pd.DataFrame(rows, columns=["household_id", "visit_date", "trigger", "outcome"])


def test_the_first_review_two_to_four_months_after_a_grant():
    cohort = granted(_decisions())
    assert sorted(cohort["household_id"]) == ["ha", "hb", "he", "hf"]
    assert cohort.set_index("household_id").loc["ha", "programmes"] == ["dibao"]
    pairs = first_reviews(cohort, _reviews()).set_index("household_id")
    assert sorted(pairs.index) == ["ha", "he"]
    assert not pairs.loc["ha", "found_in_need"] and pairs.loc["he", "found_in_need"]
    assert str(pairs.loc["he", "review_month"]) == "2026-07"


def test_the_counterfactual_is_the_review_months_probability(tmp_path):
    scores = pd.DataFrame({"probability": [0.9, 0.2], "street_code": ["S01", "S02"]},
                          index=["ha", "zz"])
    write_snapshot(tmp_path, "2026-04", scores=scores, referrals=scores.iloc[:0],
                   summary={}, model_version="1", config_hash="x")
    pairs = first_reviews(granted(_decisions()), _reviews())
    out = with_counterfactual(pairs, tmp_path)
    # he's review month (2026-07) has no snapshot: dropped
    assert out["household_id"].tolist() == ["ha"]
    assert out["counterfactual"].tolist() == [0.9]
    assert out["review_month"].tolist() == ["2026-04"]
