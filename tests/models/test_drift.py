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
