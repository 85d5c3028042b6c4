"""Need model: monotonicity, determinism, calibration, input checks, save/load."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from assist.features.indicators import CATALOG
from assist.models.calibration import Calibrator, fit_calibrator, fit_isotonic, fit_sigmoid
from assist.models.metrics import evaluate
from assist.models.need import FeatureMismatchError, IncompatibleModelError, NeedModel, describe_mismatch

IDS = CATALOG.ids
#: one LightGBM thread: OpenMP threads slow down badly when tests run in parallel
ONE = 1
DIRECTIONS = np.array(CATALOG.monotone_constraints, dtype=float)


def synthetic(n: int = 5000, seed: int = 0, *, missing: float = 0.1,
              offset: float = -1.5) -> tuple[pd.DataFrame, np.ndarray]:
    """Households x 22 indicators with a known monotone signal and missing values.

    The true log-odds are ``offset + sum_j direction_j * w_j * x_j`` (missing counts as 0);
    the first indicators of the catalog weigh most.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(IDS)))
    x[rng.random(x.shape) < missing] = np.nan
    w = np.linspace(1.0, 0.1, len(IDS))
    logit = offset + np.nan_to_num(x) @ (DIRECTIONS * w)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    index = pd.Index([f"h{i:06d}" for i in range(n)], name="household_id")
    return pd.DataFrame(x, index=index, columns=IDS), y


@pytest.fixture(scope="module")
def data():
    return synthetic(5000, seed=0)


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    return NeedModel(num_threads=ONE).fit(X.iloc[:3500], y[:3500], X_cal=X.iloc[3500:],
                                          y_cal=y[3500:])


def _violations(booster: lgb.Booster, X: pd.DataFrame, directions: np.ndarray) -> int:  # noqa: N803
    """Times the raw score moves against an indicator's direction as that indicator rises."""
    rows = X.iloc[:100].to_numpy()
    bad = 0
    for j, d in enumerate(directions):
        grid = np.unique(np.nanquantile(X.iloc[:, j], np.linspace(0, 1, 25)))
        grid = np.concatenate([[grid[0] - 1], grid, [grid[-1] + 1]])
        probe = np.repeat(rows, grid.size, axis=0)
        probe[:, j] = np.tile(grid, len(rows))
        raw = booster.predict(probe, raw_score=True, num_threads=ONE).reshape(len(rows), grid.size)
        bad += int((d * np.diff(raw, axis=1) < -1e-12).sum())
    return bad


def test_fit_learns_the_signal_and_records_state(model, data):
    X, y = data
    assert model.feature_names_ == IDS
    assert model.monotone_constraints_ == CATALOG.monotone_constraints
    assert model.catalog_version_ == CATALOG.version
    assert model.n_train_ == 3500
    assert model.calibration_ == "isotonic"  # 1,500 calibration rows
    assert model.booster_.num_trees() == 200
    p = model.predict_proba(X.iloc[3500:])
    assert p.shape == (1500,) and np.all((p >= 0) & (p <= 1))
    assert evaluate(y[3500:], p, k=100)["roc_auc"] > 0.8


def test_raising_an_indicator_never_moves_the_score_against_its_direction(model, data):
    assert _violations(model.booster_, data[0], DIRECTIONS) == 0


def test_monotonicity_check_detects_an_unconstrained_model():
    # a U-shaped effect: without constraints the trees follow it; with them they may not
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5000, len(IDS)))
    y = (rng.random(5000) < 1 / (1 + np.exp(-(2 * x[:, 0] ** 2 - 2)))).astype(int)
    X = pd.DataFrame(x, columns=IDS)
    params = NeedModel(num_threads=ONE).lightgbm_params()
    params["monotone_constraints"] = [0] * len(IDS)
    free = lgb.train(params, lgb.Dataset(x, y, params=params), num_boost_round=50)
    assert _violations(free, X, DIRECTIONS) > 0
    constrained = NeedModel(num_threads=ONE, n_estimators=50).fit(X, y)
    assert _violations(constrained.booster_, X, DIRECTIONS) == 0


def test_calibrated_probability_never_reorders_households(model, data):
    X = data[0]
    raw = model.predict_raw(X)
    p = model.predict_proba(X)
    assert np.all(np.diff(p[np.argsort(raw, kind="stable")]) >= 0)


def test_training_is_deterministic(data):
    X, y = data
    a = NeedModel(num_threads=ONE, n_estimators=30).fit(X, y).predict_raw(X)
    b = NeedModel(num_threads=ONE, n_estimators=30).fit(X, y).predict_raw(X)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(("n_cal", "method", "expected"), [
    (1500, "auto", "isotonic"),
    (999, "auto", "sigmoid"),
    (1500, "sigmoid", "sigmoid"),
    (300, "isotonic", "isotonic"),
    (0, "auto", "none"),
])
def test_calibration_method_is_chosen_and_recorded(data, n_cal, method, expected):
    X, y = data
    cal = {"X_cal": X.iloc[-n_cal:], "y_cal": y[-n_cal:]} if n_cal else {}
    m = NeedModel(num_threads=ONE, n_estimators=20, calibration=method)
    m.fit(X.iloc[:3000], y[:3000], **cal)
    assert m.calibration_ == expected == m.calibrator_.method
    assert m.calibrator_.n == n_cal


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_repairs_a_miscalibrated_model(method):
    # verified outcomes over-represent need (visited households): train on a sample with
    # every positive and a quarter of the negatives, calibrate and test on the population
    X, y = synthetic(16000, seed=5)
    keep = (y[:8000] == 1) | (np.random.default_rng(1).random(8000) < 0.25)
    Xt, yt = X.iloc[:8000][keep], y[:8000][keep]
    n_cal = 4000 if method == "isotonic" else 800
    Xc, yc = X.iloc[8000:8000 + n_cal], y[8000:8000 + n_cal]
    Xe, ye = X.iloc[12000:], y[12000:]
    raw_model = NeedModel(num_threads=ONE).fit(Xt, yt)
    calibrated = NeedModel(num_threads=ONE, calibration=method).fit(Xt, yt, X_cal=Xc, y_cal=yc)
    before = evaluate(ye, raw_model.predict_proba(Xe), k=500)
    after = evaluate(ye, calibrated.predict_proba(Xe), k=500)
    assert before["ece"] > 0.1  # the uncalibrated model overstates need
    assert after["brier"] < before["brier"] - 0.01
    assert after["ece"] < before["ece"] / 3


def test_platt_scaling_recovers_a_known_sigmoid():
    rng = np.random.default_rng(2)
    raw = rng.normal(scale=2.0, size=40000)
    y = (rng.random(raw.size) < 1 / (1 + np.exp(-(0.5 * raw - 1.0)))).astype(int)
    cal = fit_sigmoid(raw, y)
    assert cal.a == pytest.approx(0.5, abs=0.03) and cal.b == pytest.approx(-1.0, abs=0.05)


@pytest.mark.parametrize("fit", [fit_isotonic, fit_sigmoid])
def test_calibrator_round_trips_through_json(fit):
    rng = np.random.default_rng(4)
    raw = rng.normal(size=3000)
    y = (rng.random(raw.size) < 1 / (1 + np.exp(-raw))).astype(int)
    cal = fit(raw, y)
    back = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    probe = np.linspace(-6, 6, 101)
    assert np.array_equal(cal(probe), back(probe))
    assert np.all(np.diff(cal(probe)) >= 0)


@pytest.mark.parametrize(("raw", "y", "method", "message"), [
    ([0.1, 0.2], [1, 1], "isotonic", "both classes"),
    ([0.1, 0.2], [1, 2], "sigmoid", "0/1"),
    ([0.1], [1, 0], "sigmoid", "differ in length"),
    ([0.1, np.nan], [1, 0], "sigmoid", "finite"),
    ([0.1, 0.2], [1, 0], "beta", "calibration must be"),
])
def test_calibration_rejects_bad_input(raw, y, method, message):
    with pytest.raises(ValueError, match=message):
        fit_calibrator(np.array(raw), np.array(y), method)


@pytest.mark.parametrize(("columns", "message"), [
    (IDS[:-1], "missing \\['hardship_signals_12m'\\]"),
    ([*IDS, "street_code"], "unexpected \\['street_code'\\]"),
    ([IDS[1], IDS[0], *IDS[2:]], "another order \\(position 0"),
])
def test_predict_names_missing_extra_or_reordered_columns(model, data, columns, message):
    X = data[0].copy()
    X["street_code"] = 1.0
    with pytest.raises(FeatureMismatchError, match=message):
        model.predict_proba(X[columns])


def test_input_checks(model, data):
    X, y = data
    with pytest.raises(FeatureMismatchError, match="DataFrame"):
        model.predict_raw(X.to_numpy())
    bad = X.iloc[:5].copy()
    bad[IDS[0]] = "x"
    with pytest.raises(FeatureMismatchError, match="not numeric: \\['income_per_capita_ratio'\\]"):
        model.predict_raw(bad)
    with pytest.raises(ValueError, match="y has 3 labels for 5000 rows"):
        NeedModel(num_threads=ONE).fit(X, y[:3])
    with pytest.raises(ValueError, match="both classes"):
        NeedModel(num_threads=ONE).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="both X_cal and y_cal"):
        NeedModel(num_threads=ONE).fit(X, y, X_cal=X)
    with pytest.raises(ValueError, match="may not set \\['objective'\\]"):
        NeedModel(params={"objective": "regression"}).fit(X, y)
    with pytest.raises(ValueError, match="calibration must be"):
        NeedModel(calibration="beta").fit(X, y)
    with pytest.raises(ValueError, match="sample_weight"):
        NeedModel(num_threads=ONE).fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(NotFittedError):
        NeedModel(num_threads=ONE).predict_proba(X)


def test_params_reach_lightgbm(data):
    X, y = data
    m = NeedModel(num_leaves=7, n_estimators=12, num_threads=ONE, params={"max_depth": 3})
    m.fit(X, y)
    assert m.booster_.num_trees() == 12
    assert m.lightgbm_params()["monotone_constraints"] == CATALOG.monotone_constraints
    leaves = [t["num_leaves"] for t in m.booster_.dump_model()["tree_info"]]
    assert max(leaves) <= 7
    assert m.set_params(num_threads=2).num_threads == 2


def test_sample_weights_reach_lightgbm(data):
    X, y = data
    plain = NeedModel(num_threads=ONE, n_estimators=20).fit(X, y)
    weighted = NeedModel(num_threads=ONE, n_estimators=20).fit(
        X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    # positives weigh three times as much: scores rise by about log(3) on average
    assert np.mean(weighted.predict_raw(X) - plain.predict_raw(X)) > 0.5


@pytest.mark.parametrize("method", ["isotonic", "sigmoid", "none"])
def test_save_load_round_trip_gives_identical_probabilities(data, tmp_path, method):
    X, y = data
    cal = {} if method == "none" else {"X_cal": X.iloc[4000:], "y_cal": y[4000:]}
    m = NeedModel(num_threads=ONE, n_estimators=40,
                  calibration="auto" if method == "none" else method)
    m.fit(X.iloc[:4000], y[:4000], **cal)
    path = m.save(tmp_path / "need.json")
    back = NeedModel.load(path, expected_features=IDS, expected_catalog_version=CATALOG.version,
                          num_threads=1)
    assert back.calibration_ == method and back.num_threads == 1
    assert np.array_equal(back.predict_raw(X), m.predict_raw(X))
    assert np.array_equal(back.predict_proba(X), m.predict_proba(X))
    assert back.feature_names_ == IDS and back.catalog_version_ == CATALOG.version


@pytest.mark.parametrize(("features", "version", "message"), [
    (IDS[:-1], CATALOG.version,
     "other features.*the model has, the code lacks \\['hardship_signals_12m'\\]"),
    ([*IDS, "new_indicator"], CATALOG.version,
     "the code has, the model lacks \\['new_indicator'\\]"),
    (IDS, "1999.1.1", "catalog version '2026.11.1', the running code has '1999.1.1'"),
])
def test_load_refuses_a_model_that_does_not_fit_the_code(model, tmp_path, features, version,
                                                         message):
    path = model.save(tmp_path / "need.json")
    with pytest.raises(IncompatibleModelError, match=message):
        NeedModel.load(path, expected_features=features, expected_catalog_version=version)


def test_load_refuses_other_files(model, tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(IncompatibleModelError, match="not a saved need model"):
        NeedModel.load(tmp_path / "x.json", expected_features=IDS,
                       expected_catalog_version=CATALOG.version)
    data = model.to_dict() | {"format_version": 99}
    (tmp_path / "v.json").write_text(json.dumps(data))
    with pytest.raises(IncompatibleModelError, match="format version 99"):
        NeedModel.load(tmp_path / "v.json", expected_features=IDS,
                       expected_catalog_version=CATALOG.version)
    with pytest.raises(IncompatibleModelError, match="cannot read"):
        NeedModel.load(tmp_path / "absent.json", expected_features=IDS,
                       expected_catalog_version=CATALOG.version)


@pytest.mark.parametrize(("got", "expected", "message"), [
    (["a", "b"], ["a", "b"], ""),
    (["a"], ["a", "b"], "missing ['b']"),
    (["a", "b", "c"], ["a", "b"], "unexpected ['c']"),
    (["b", "a"], ["a", "b"], "same names in another order (position 0: 'b', expected 'a')"),
    (["a", "a", "b"], ["a", "b"], "duplicated ['a']"),
])
def test_describe_mismatch(got, expected, message):
    assert describe_mismatch(got, expected) == message
