"""Override rates and confirmed-need rates of overridden vs followed decisions (hand-made frame)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assist.models.overrides import GROUP_NAMES, indicator_groups, outcome_value, override_rates

DECISIONS = pd.DataFrame({
    "household_id": [f"h{i}" for i in range(8)],
    "band": ["high", "high", "high", "medium", "medium", "medium", "low", "low"],
    "street": ["S1", "S1", "S1", "S1", "S2", "S2", "S2", "S2"],
    "hukou": ["local", "migrant"] * 4,
    "score": [.9, .8, .7, .4, .3, .3, .1, .1],
    "override": [True, False, False, True, False, True, True, False],
    "outcome": [0, 1, 1, 1, np.nan, 1, np.nan, 0],
})


def _get(t, slice_, value, col):
    return t.loc[(t["slice"] == slice_) & (t["value"] == value), col].iloc[0]


@pytest.mark.parametrize(("slice_", "value", "col", "expected"), [
    ("(all)", "(all)", "decisions", 8),
    ("(all)", "(all)", "override_rate", 0.5),
    # overridden with outcomes: h0 0, h3 1, h5 1 -> 2/3; followed: h1 1, h2 1, h7 0 -> 2/3
    ("(all)", "(all)", "confirmed_rate_overridden", 2 / 3),
    ("(all)", "(all)", "confirmed_rate_followed", 2 / 3),
    ("street", "S1", "override_rate", 0.5),
    ("street", "S1", "confirmed_rate_overridden", 0.5),     # h0 0, h3 1
    ("street", "S1", "confirmed_rate_followed", 1.0),       # h1, h2
    ("street", "S2", "confirmed_rate_followed", 0.0),       # h4 unverified, h7 0
    ("band", "low", "confirmed_rate_overridden", None),     # h6 not yet verified
    ("band", "high", "confirmed_rate_difference", -1.0),
    ("hukou", "migrant", "override_rate", 0.5),             # h1, h3, h5, h7: h3 and h5
])
def test_hand_computed(slice_, value, col, expected):
    t = override_rates(DECISIONS, groups=["hukou"])
    got = _get(t, slice_, value, col)
    if expected is None:
        assert pd.isna(got)
    else:
        assert got == pytest.approx(expected)


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="outcome"):
        override_rates(DECISIONS.drop(columns="outcome"))


@pytest.mark.parametrize(("slice_", "value", "col", "expected"), [
    # Wilson 95 %: 4 of 8 -> centre 0.5, half-width z*sqrt(.25/8 + z^2/256) / (1 + z^2/8)
    ("(all)", "(all)", "override_rate_low", 0.2152161),
    ("(all)", "(all)", "override_rate_high", 0.7847839),
    # S1: overridden 1 of 2 verified confirmed (0.0945-0.9055), followed 2 of 2 (0.3424-1)
    ("street", "S1", "confirmed_rate_overridden_low", 0.0945312),
    ("street", "S1", "confirmed_rate_overridden_high", 0.9054688),
    ("street", "S1", "confirmed_rate_followed_low", 0.3423802),
    ("street", "S1", "confirmed_rate_followed_high", 1.0),
    # Newcombe hybrid score: -0.5 -/+ sqrt((p1-l1)^2 + (u2-p2)^2), sqrt((u1-p1)^2 + (p2-l2)^2)
    ("street", "S1", "confirmed_rate_difference_low", -0.5 - 0.4054688),
    ("street", "S1", "confirmed_rate_difference_high", -0.5 + (0.4054688**2 + 0.6576198**2) ** .5),
    ("band", "low", "confirmed_rate_difference_low", None),     # no verified overridden
])
def test_intervals_hand_computed(slice_, value, col, expected):
    got = _get(override_rates(DECISIONS), slice_, value, col)
    if expected is None:
        assert pd.isna(got)
    else:
        assert got == pytest.approx(expected, abs=1e-6)


def test_difference_interval_matches_newcombe_1998():
    """Newcombe (1998), Table II example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339."""
    n = 150
    d = pd.DataFrame({"household_id": [f"h{i}" for i in range(n)], "band": "high",
                      "street": "S", "score": 0.5, "override": [i < 70 for i in range(n)],
                      "outcome": [int(i < 56 or 70 <= i < 118) for i in range(n)]})
    row = override_rates(d).iloc[0]
    assert row["confirmed_rate_difference"] == pytest.approx(0.2)
    assert row["confirmed_rate_difference_low"] == pytest.approx(0.0524, abs=5e-5)
    assert row["confirmed_rate_difference_high"] == pytest.approx(0.3339, abs=5e-5)


def test_columns_start_with_slice_and_value_and_counts_are_integers():
    t = override_rates(DECISIONS)
    assert list(t.columns[:2]) == ["slice", "value"]
    assert t["decisions"].dtype == "int64" and t["overrides"].dtype == "int64"


def test_groups_from_indicator_values():
    values = pd.DataFrame({"elderly_living_alone": [1.0, 0.0, np.nan],
                           "members_severe_disability": [0.0, 2.0, 1.0],
                           "no_able_caregiver": [0.0, 1.0, 0.0],
                           "unemployed_share": [0.0, 0.5, 0.0]}, index=["a", "b", "c"])
    g = indicator_groups(values)
    assert list(g.columns) == list(GROUP_NAMES)
    assert g.loc["a"].tolist() == ["yes", "no", "no", "no"]
    assert g.loc["b"].tolist() == ["no", "yes", "yes", "yes"]
    assert g.loc["c", "elderly_alone"] == "(missing)"
    assert (indicator_groups(values.drop(columns="unemployed_share"))["unemployed"]
            == "(missing)").all()


def test_outcome_words():
    got = outcome_value(pd.Series(["confirmed", "not_in_need", "declined", "unreachable", None]))
    assert got.iloc[:2].tolist() == [1.0, 0.0] and got.iloc[2:].isna().all()


def test_contest_counts_by_street_and_status():
    from assist.models.overrides import contest_counts

    frame = pd.DataFrame({"street": ["S02", "S01", "S01", "S01", None],
                          "status": ["open", "upheld", "rejected", "data_corrected", "open"]})
    got = contest_counts(frame).set_index("street")
    assert got.loc["S01"].to_dict() == {"open": 0, "upheld": 1, "rejected": 1,
                                        "data_corrected": 1, "contests": 3}
    assert got.loc["S02", "open"] == 1 and got.loc["(missing)", "open"] == 1
    assert got.loc["(all)"].to_dict() == {"open": 2, "upheld": 1, "rejected": 1,
                                          "data_corrected": 1, "contests": 5}
    empty = contest_counts(pd.DataFrame({"street": [], "status": []}))
    assert empty.to_dict("records") == [{"street": "(all)", "open": 0, "upheld": 0,
                                         "rejected": 0, "data_corrected": 0, "contests": 0}]
