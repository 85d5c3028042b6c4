"""Population calibration (:mod:`assist.pipelines.population`) on a generated district whose
true probability of need is known: labels chosen by score (the top by rank, a random sample of
the rest by exploration) give a map that describes every household, the top included; the
department's applicants (chosen by their own need) stay out; too few explored labels leave the
model as it was."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from assist.models.calibration import Calibrator
from assist.models.metrics import expected_calibration_error
from assist.pipelines.population import calibrate_for_population
from assist.storage.casebook import write_labels

MONTH = "2026-01"


class _Scores:
    """A need model's raw score, read from the feature ``raw`` (the map is what is tested)."""

    calibrator_ = Calibrator("none")
    calibration_ = "none"

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return X["raw"].to_numpy()


def _district(n: int = 40_000, seed: int = 3):
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 1.5, n)
    truth = expit(1.3 * raw - 3.6)                 # about 6 % in need, steep at the top
    ids = [f"h{i:06d}" for i in range(n)]
    X = pd.DataFrame({"raw": raw}, index=ids)      # noqa: N806
    need = rng.random(n) < truth
    order = np.argsort(-raw)
    top = order[: n // 50]                          # 2 % by rank
    rest = order[n // 50:]
    explored = rng.choice(rest, 300, replace=False)
    applicants = rng.choice(np.flatnonzero(need), 400, replace=False)  # they apply: needy
    rows = [(i, "rank", 1.0) for i in top] + [(i, "exploration", 300 / len(rest))
                                               for i in explored]
    labels = pd.DataFrame({
        "household_id": [ids[i] for i, _, _ in rows] + [ids[i] for i in applicants],
        "outcome": ["confirmed" if need[i] else "not_in_need" for i, _, _ in rows]
        + ["confirmed"] * len(applicants),
        "selection": [s for _, s, _ in rows] + [None] * len(applicants),
        "propensity": [p for _, _, p in rows] + [np.nan] * len(applicants)})
    labels["month"] = "2026-02"
    labels["referral_month"] = MONTH
    labels["date"] = "2026-02-15"
    ds = SimpleNamespace(months=(SimpleNamespace(month=MONTH, X=X),), casebook_only=())
    return ds, X, truth, labels


def test_labels_chosen_by_score_calibrate_the_whole_district(tmp_path):
    ds, X, truth, labels = _district()  # noqa: N806
    path = write_labels(labels, tmp_path / "labels.parquet")
    model, info = calibrate_for_population(_Scores(), ds, path)
    assert info["applied"] and info["counts"] == {"rank": 800, "exploration": 300}
    assert info["rows"] == 1100                     # the 400 applicants stay out
    p = model.calibrator_(X["raw"].to_numpy())
    assert expected_calibration_error((truth > np.random.default_rng(9).random(len(truth)))
                                      .astype(int), p) < 0.02
    top = np.argsort(-p)[: len(p) // 20]
    assert p[top].mean() == pytest.approx(truth[top].mean(), abs=0.06)
    assert "unweighted" in info["method"] and model.calibrator_.basis == "population"


def test_too_few_explored_labels_leave_the_map_as_it_was(tmp_path):
    ds, _, _, labels = _district()
    few = labels.loc[labels["selection"] != "exploration"]
    model, info = calibrate_for_population(_Scores(), ds,
                                           write_labels(few, tmp_path / "labels.parquet"))
    assert not info["applied"] and "explored" in info["reason"]
    assert model.calibration_ == "none"
