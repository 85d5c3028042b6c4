"""Promotion gate, version comparison, model card and tracking helpers, on hand-made versions.

The MLflow round trip (runs, registration, aliases, override tags) is exercised on a simulated
district in tests/pipelines/test_train.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from assist.experiments.card import render_card
from assist.experiments.registry import GATE_KEY, VersionInfo, compare, gate, recall_disparity
from assist.experiments.tracking import flatten, local_artifact_root, metric_key

BAND = {"min_ratio": 0.8, "max_ratio": 1.25, "min_positives": 20}


def _version(v: str, p_at_k: float | None, *, problems=(), champion=None, tolerance=0.0,
             params=None, not_judged=()) -> VersionInfo:
    metrics = {} if p_at_k is None else {GATE_KEY: p_at_k,
                                         "latest.verified.model.roc_auc": 0.8}
    report = {"latest_month": "2026-09", "gate": {"tolerance": tolerance},
              "data": {"fingerprint": "abc"}, "folds": [{"name": "2026-08"}, {"name": "2026-09"}],
              "latest": {"verified": {"model": {"precision_at_k": 0.5, "k": 6}}},
              "disparity": {**BAND, "problems": list(problems), "not_judged": list(not_judged),
                            "rows": []},
              "champion": champion}
    return VersionInfo(name="m", version=v, run_id=f"run{v}", created=datetime.now(tz=UTC),
                       aliases=(), tags={}, params=params or {"model.seed": "0"},
                       metrics=metrics, report=report)


@pytest.mark.parametrize(("candidate", "production", "accepted", "reason"), [
    (0.80, None, True, None),                        # first promotion: nothing to beat
    (0.80, 0.80, True, None),                        # as good as production
    (0.81, 0.80, True, None),
    (0.70, 0.80, False, "precision_at_k 0.700 is worse than production version 1's 0.800 "
                        "(same data"),
    (None, 0.80, False, "is undefined"),
])
def test_gate_on_precision(candidate, production, accepted, reason):
    prod = None if production is None else _version("1", production)
    d = gate(_version("2", candidate), prod)
    assert d.accepted is accepted
    if reason:
        assert any(reason in r for r in d.reasons), d.reasons


def test_gate_tolerance():
    assert gate(_version("2", 0.78, tolerance=0.03), _version("1", 0.80)).accepted
    assert not gate(_version("2", 0.76, tolerance=0.03), _version("1", 0.80)).accepted


def test_gate_says_whether_the_runs_share_their_data():
    d = gate(_version("2", 0.85), _version("1", 0.80))
    assert d.accepted and "same data, test months 2026-08, 2026-09 pooled" in d.notes[0]
    other = _version("1", 0.90)
    other.report["data"]["fingerprint"] = "other"  # type: ignore[index]
    d = gate(_version("2", 0.85), other)
    assert not d.accepted and "the data or test months differ" in d.reasons[0]


def test_gate_shows_the_production_model_on_the_same_month():
    champion = {"version": "1", "verified": {"precision_at_k": 1.0, "k": 4}}
    d = gate(_version("2", 0.85, champion=champion), _version("1", 0.80))
    assert d.accepted
    assert "latest test month 2026-09: precision_at_k 0.500 vs production's 1.000" in d.notes[1]


def test_gate_on_disparity():
    problem = "recall of has_disability=True is 0.54 x that of has_disability=False"
    d = gate(_version("2", 0.9, problems=[problem]), _version("1", 0.8))
    assert not d.accepted and d.reasons == (problem,)
    assert "refused" in d.text() and problem in d.text()
    d = gate(_version("2", 0.9, not_judged=["head_age_band=<30 (16 positives)"]), None)
    assert d.accepted and "not judged" in d.notes[0]


def test_gate_needs_a_disparity_report():
    v = _version("2", 0.9)
    v.report.pop("disparity")  # type: ignore[union-attr]
    assert not gate(v, None).accepted


def test_compare_reports_deltas_and_params():
    a = _version("1", 0.8, params={"model.seed": "0", "model.num_leaves": "15"})
    b = _version("2", 0.9, params={"model.seed": "0", "model.num_leaves": "31"})
    d = compare(a, b)
    row = next(r for r in d["metrics"] if r["metric"].startswith("verified precision@k"))
    assert row["delta"] == pytest.approx(0.1)
    assert d["params"] == [{"param": "model.num_leaves", "a": "15", "b": "31"}]


def _report() -> dict:
    m = {"precision_at_k": 0.9, "recall_at_k": 0.3, "roc_auc": 0.8, "pr_auc": 0.7,
         "brier": 0.1, "ece": 0.05, "k": 30, "n": 99, "base_rate": 0.7}
    return {
        "run_id": "abc", "trained_at": "2026-11-21T00:00:00+00:00",
        "config": {"name": "need-model", "version": 1, "hash": "f" * 64},
        "data": {"source": "store", "fingerprint": "e" * 64, "snapshots": ["2026-08", "2026-09"],
                 "feature_months": ["2026-08"], "validation": "temporal: 1 test month",
                 "labels": {"2026-08": {"households": 100, "labelled": 9, "positives": 6}},
                 "truth": "/truth/need.parquet"},
        "capacity": {"k": 2, "share": 0.02, "households": 100},
        "model": {"catalog": {"name": "builtin", "version": "1"}, "features": ["a", "b"],
                  "final_note": "the latest fold's model"},
        "latest_month": "2026-08",
        "latest": {"verified": {"model": m, "deprivation": {**m, "brier": None, "ece": None}},
                   "truth": {"model": {**m, "base_rate": 0.05, "n": 100}}},
        "pooled": {"verified": {"model": {"precision_at_k": 0.9, "recall_at_k": 0.3, "k": 60,
                                          "folds": 2}}},
        "beats_baselines": {"verified": {"deprivation": True}},
        "disparity": {**BAND, "problems": [], "not_judged": [], "rows": [
            {"attribute": "head_sex", "value": "F", "households": 50, "positives": 30,
             "recall": 0.5, "ratio": 1.0, "judged": True}]},
        "explanations": {"n": 100, "indicators": [
            {"name_en": "Income", "name_zh": "收入", "mean_abs_contribution": 0.4,
             "top_factor_share": 0.5}]},
        "folds": [{"name": "2026-08", "n_train": 50, "n_calibration": 10,
                   "verified": {"model": m}, "truth": None}],
        "notes": ["a note"],
    }


def test_model_card_sections():
    card = render_card(_report(), name="m", version="2", params={"model.seed": "0"},
                       previous=_version("1", 0.8, params={"model.seed": "1"}))
    for heading in ("# Model card — m version 2", "## Intended use", "## Data",
                    "## Metrics on the latest test month", "## Per-group recall disparity",
                    "## Explanations", "## Limitations", "## Changes since the previous version"):
        assert heading in card
    assert "must **not** be used" in card and "Selective labels" in card
    assert "Selective-label gap" in card and "true base rate 0.050" in card
    assert "| verified precision@k, test folds pooled | 0.800 | 0.900 | 0.100 |" in card
    assert "| model.seed | 1 | 0 |" in card
    assert "- a note" in card
    first = render_card(_report(), name="m", version="1", params={}, previous=None)
    assert "First registered version." in first


def test_metric_names_and_flattening():
    assert metric_key("group", "head_age_band", "<30", "recall") == "group.head_age_band._30.recall"
    assert metric_key("a", "75+") == "a.75_"
    flat = flatten("latest", {"verified": {"model": {"roc_auc": 0.8, "brier": None, "n": 9,
                                                     "nan": float("nan"), "ok": True}}})
    assert flat == {"latest.verified.model.roc_auc": 0.8, "latest.verified.model.n": 9.0,
                    "latest.verified.model.ok": 1.0}


def test_local_artifact_root(tmp_path):
    db = tmp_path / "ws" / "mlflow.db"
    assert local_artifact_root(f"sqlite:///{db}") == (tmp_path / "ws" / "mlartifacts").as_uri()
    assert local_artifact_root("http://mlflow.example:5000") is None
    assert local_artifact_root("sqlite:///:memory:") is None


def test_recall_disparity_hand_worked():
    groups = pd.DataFrame({"sex": ["M"] * 6 + ["F"] * 4,
                           "disabled": [False] * 8 + [True, True]})
    y = np.array([1, 1, 1, 1, 0, np.nan, 1, 1, np.nan, 1])
    selected = np.array([1, 1, 0, 0, 1, 0, 1, 0, 0, 0], dtype=bool)
    d = recall_disparity(groups, y, selected, attributes=["sex", "disabled"], min_positives=1,
                         min_ratio=0.8, max_ratio=1.25)
    rows = {(r["attribute"], r["value"]): r for r in d["rows"]}
    # M: 4 positives, 2 selected -> 0.5 (reference: 6 households); F: 3 positives, 1 selected
    assert rows[("sex", "M")]["recall"] == 0.5 and rows[("sex", "M")]["ratio"] == 1.0
    assert rows[("sex", "F")]["recall"] == pytest.approx(1 / 3)
    assert rows[("sex", "F")]["ratio"] == pytest.approx(2 / 3)
    # disabled: 1 positive, none selected -> ratio 0 against False's 3/6
    assert rows[("disabled", "True")]["ratio"] == 0.0
    # Katz interval of F's ratio: se = sqrt(1/1 - 1/3 + 1/2 - 1/4) = 0.957 -> 0.10-4.35: so
    # few households cannot show a disparity, and nothing is flagged
    f = rows[("sex", "F")]
    assert (f["ratio_low"], f["ratio_high"]) == (pytest.approx(0.1021, abs=1e-3),
                                                 pytest.approx(4.353, abs=1e-2))
    assert d["problems"] == []
    strict = recall_disparity(groups, y, selected, attributes=["sex", "disabled"],
                              min_positives=4, min_ratio=0.8, max_ratio=1.25)
    assert strict["problems"] == []
    assert strict["not_judged"] == ["sex=F (3 positives)", "disabled=True (1 positives)"]


def test_recall_disparity_is_flagged_when_its_interval_lies_outside_the_band():
    """100 positives per group: 30 % recall against 60 % is a ratio of 0.5 with the interval
    0.37-0.68 (outside 0.8-1.25: flagged); 55 % against 60 % (0.92, 0.75-1.12) is not."""
    n = 200
    groups = pd.DataFrame({"g": ["ref"] * n + ["low"] * 100 + ["near"] * 100})
    y = np.ones(2 * n)
    selected = np.r_[np.arange(n) < 120, np.arange(100) < 30, np.arange(100) < 55]
    d = recall_disparity(groups, y, selected, attributes=["g"], min_positives=20,
                         min_ratio=0.8, max_ratio=1.25)
    rows = {r["value"]: r for r in d["rows"]}
    assert rows["low"]["ratio"] == pytest.approx(0.5)
    assert rows["low"]["ratio_high"] < 0.8
    assert rows["near"]["ratio_low"] < 0.8 < rows["near"]["ratio"]
    assert len(d["problems"]) == 1 and d["problems"][0].startswith("recall of g=low is 0.50 x")
    assert "95% interval" in d["problems"][0]
