"""Exploration: how many visits explore, who is drawn, with what propensity; and the
Horvitz-Thompson weighted calibration that uses them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from assist.models.calibration import fit_sigmoid
from assist.models.exploration import explore, explore_counts
from assist.models.metrics import expected_calibration_error


@pytest.mark.parametrize(("visits", "share", "total"), [
    ({"S01": 40, "S02": 40}, 0.05, 4),
    ({"S01": 5, "S02": 5, "S03": 5}, 0.05, 1),     # a small district still explores
    ({"S01": 8}, 0.0, 0),
    ({"S01": 1, "S02": 30}, 0.5, 16),
])
def test_explore_counts_round_the_district_share_and_respect_each_street(visits, share, total):
    counts = explore_counts(visits, share, seed="2026-01")
    assert sum(counts.values()) == total
    assert all(0 <= counts[s] <= visits[s] for s in visits)
    assert counts == explore_counts(visits, share, seed="2026-01")


def test_explore_draws_each_stratum_evenly_with_its_sampling_rate():
    idx = pd.Index([f"h{i:03d}" for i in range(300)])
    band = pd.Series(["low"] * 200 + ["medium"] * 80 + ["high"] * 20, index=idx)
    street = pd.Series(["S01"] * 300, index=idx)
    eligible = pd.Series(True, index=idx)
    eligible.iloc[280:] = False                     # 20 high ones were chosen by rank
    got = explore(band=band, street=street, eligible=eligible, counts={"S01": 6}, seed="m")
    assert len(got) == 6
    assert (band[got.index] == "low").sum() == 3 and (band[got.index] == "medium").sum() == 3
    assert np.allclose(got[band[got.index] == "low"], 3 / 200)
    assert np.allclose(got[band[got.index] == "medium"], 3 / 80)
    assert eligible[got.index].all()
    again = explore(band=band, street=street, eligible=eligible, counts={"S01": 6}, seed="m")
    pd.testing.assert_series_equal(got, again)
    other = explore(band=band, street=street, eligible=eligible, counts={"S01": 6}, seed="n")
    assert not got.index.equals(other.index)


def _district(seed: int = 0, n: int = 200_000):
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 1, n)
    # need rises with the score but has a floor no score sees (a logistic map is misspecified)
    y = (rng.random(n) < 0.03 + 0.6 * expit(4 * (raw - 2.2))).astype(float)
    top = raw >= np.quantile(raw, 0.98)              # visits chosen by rank: propensity 1
    explored = ~top & (rng.random(n) < 0.005)         # explored: propensity 0.005
    return rng, raw, y, top, explored


def test_labels_of_known_propensity_calibrate_for_the_district_where_applicants_do_not():
    """Calibrating on the department's own visits (households that apply: more often the
    needy ones) describes the visited households, far above the district's need; the loop's
    labels of known propensity, weighted 1/propensity, describe the district."""
    rng, raw, y, top, explored = _district()
    applied = rng.random(len(y)) < 0.002 + 0.05 * y
    applicants = fit_sigmoid(raw[applied], y[applied])
    sample = top | explored
    weighted = fit_sigmoid(raw[sample], y[sample],
                           sample_weight=np.where(top, 1.0, 1 / 0.005)[sample])
    assert expected_calibration_error(y, applicants(raw)) > 0.1
    assert expected_calibration_error(y, weighted(raw)) < 0.02
    assert abs(weighted(raw).mean() - y.mean()) < 0.005


def test_weights_move_a_misspecified_map_towards_the_district():
    """On the same labels, the unweighted fit follows the top of the ranking (most labels);
    weighted, it follows the district's households (the expected number in need)."""
    _, raw, y, top, explored = _district()
    sample = top | explored
    plain = fit_sigmoid(raw[sample], y[sample])
    weighted = fit_sigmoid(raw[sample], y[sample],
                           sample_weight=np.where(top, 1.0, 1 / 0.005)[sample])
    assert abs(weighted(raw).mean() - y.mean()) < 0.5 * abs(plain(raw).mean() - y.mean())


def test_a_few_noisy_rows_never_reverse_the_ranking():
    raw = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 0.5, -0.5, 1.5])
    y = np.array([1, 1, 1, 0, 0, 1, 1, 1, 1], dtype=float)   # prefers a negative slope
    cal = fit_sigmoid(raw, y)
    assert np.all(np.diff(cal(np.sort(raw))) >= 0)


def test_findings_that_are_sometimes_wrong_are_turned_into_need():
    """Caseworkers confirm 6.7 % of households that are not in need: calibrated on their
    findings, the district's probabilities are about twice its need; Rogan-Gladen with the
    findings' sensitivity and specificity brings them back."""
    from dataclasses import replace

    from assist.models.calibration import Calibrator, rogan_gladen

    rng, raw, need, top, explored = _district(seed=1)
    se, sp = 0.956, 0.933
    found = np.where(need == 1, rng.random(len(need)) < se, rng.random(len(need)) > sp)
    sample = top | explored
    w = np.where(top, 1.0, 1 / 0.005)[sample]
    on_findings = fit_sigmoid(raw[sample], found[sample].astype(float), sample_weight=w)
    corrected = replace(on_findings, sensitivity=se, specificity=sp)
    assert expected_calibration_error(need, on_findings(raw)) > 0.04
    assert expected_calibration_error(need, corrected(raw)) < 0.02
    assert np.all(np.diff(rogan_gladen(np.linspace(0, 1, 11), se, sp)) >= 0)
    back = Calibrator.from_dict(corrected.to_dict())
    assert np.allclose(back(raw[:100]), corrected(raw[:100]))
