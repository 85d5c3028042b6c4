"""Population stability index: hand-computed values, reference quantile bins, empty bins."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assist.models.drift import (
    EPSILON,
    DriftThresholds,
    bin_shares,
    psi,
    psi_table,
    quantile_cuts,
    shift,
    worst,
)

REF = list(range(1, 11))  # 2 bins: cut at the median 5 -> (-inf, 5], (5, inf), missing


@pytest.mark.parametrize(("current", "expected"), [
    (REF, 0.0),
    ([1] * 7 + [10] * 3, 0.2 * math.log(0.7 / 0.5) + (-0.2) * math.log(0.3 / 0.5)),
    ([1] * 10,  # the upper bin empties: its share is floored at EPSILON
     0.5 * math.log(1 / 0.5) + (EPSILON - 0.5) * math.log(EPSILON / 0.5)),
    ([1] * 4 + [10] * 4 + [np.nan] * 2,  # missing values are a bin of their own
     2 * (-0.1) * math.log(0.4 / 0.5) + (0.2 - EPSILON) * math.log(0.2 / EPSILON)),
])
def test_psi_hand_computed(current, expected):
    assert psi(REF, current, bins=2) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_bins_are_reference_quantiles():
    assert quantile_cuts(REF, bins=2).tolist() == [5.0]
    assert quantile_cuts(range(100), bins=4).tolist() == [24.0, 49.0, 74.0]
    # a 0/1 indicator: duplicate quantiles collapse
    assert quantile_cuts([0] * 8 + [1] * 2, bins=10).tolist() == [0.0, 1.0]
    assert bin_shares([0, 0, 1, 1], np.array([0.0, 1.0])).tolist() == [0.5, 0.5, 0.0, 0.0]


def test_psi_is_symmetric_in_shape_and_zero_on_identical_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    assert psi(x, x) == 0.0
    assert psi(x, x + 1.0) > 0.25  # a shift of one sd is an 'act'


def test_empty_side_is_undefined():
    assert psi([], [1.0]) is None and psi([1.0], []) is None


@pytest.mark.parametrize(("value", "level"), [
    (0.0, "stable"), (0.099, "stable"), (0.1, "watch"), (0.2499, "watch"), (0.25, "act"),
    (None, "undefined"),
])
def test_levels(value, level):
    assert DriftThresholds().level(value) == level


def test_psi_table_per_column():
    ref = pd.DataFrame({"a": REF, "b": REF})
    cur = pd.DataFrame({"a": REF, "b": [1] * 7 + [10] * 3})
    t = psi_table(ref, cur, ["a", "b"], bins=2)
    assert t["feature"].tolist() == ["a", "b"]
    assert t["level"].tolist() == ["stable", "watch"]
    assert t.loc[1, "current_mean"] == pytest.approx(3.7)


@pytest.mark.parametrize(("change", "level"), [
    (0.0, "stable"), (0.0199, "stable"), (0.02, "watch"), (-0.03, "watch"), (0.05, "act"),
    (-0.072, "act"), (None, "undefined"),
])
def test_missing_share_levels_in_percentage_points(change, level):
    assert DriftThresholds().missing_level(change) == level


@pytest.mark.parametrize(("ref", "cur", "expected", "stat"), [
    # IQR of 0..9 (linear quantiles): 6.75 - 2.25 = 4.5; everything moves 0.9 = 0.2 IQR
    (list(range(10)), [v + 0.9 for v in range(10)], 0.2, "mean"),
    # a rare 0/1 indicator: IQR 0, so the sd 0.3; p90 moves 0.1 -> 1.0, i.e. 3 sd
    ([0] * 9 + [1], [0] * 8 + [1] * 2, 3.0, "p90"),
    (list(range(10)), list(range(10)), 0.0, None),
])
def test_shift_in_reference_iqr(ref, cur, expected, stat):
    moved, which = shift(ref, cur)
    assert moved == pytest.approx(expected) and which == stat


def test_shift_of_a_constant_reference_is_acted_on():
    t = psi_table(pd.DataFrame({"a": [0.0] * 10}), pd.DataFrame({"a": [0.0] * 9 + [1.0]}), ["a"])
    assert t.loc[0, "shift_level"] == "act" and pd.isna(t.loc[0, "shift"])


def test_verdict_is_the_worst_signal():
    ref = pd.DataFrame({"a": [float(v) for v in range(80)] + [np.nan] * 20})
    cur = pd.DataFrame({"a": [float(v) for v in range(74)] + [np.nan] * 26})
    row = psi_table(ref, cur, ["a"], bins=2).iloc[0]
    assert row["missing_change"] == pytest.approx(0.06) and row["missing_level"] == "act"
    assert row["verdict"] == "act" and worst(["stable", "watch", "undefined"]) == "watch"
