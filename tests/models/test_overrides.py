"""Override rates and confirmed-need rates of overridden vs followed decisions (hand-made frame)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assist.models.overrides import override_rates

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
