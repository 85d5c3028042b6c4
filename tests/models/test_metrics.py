"""Metrics on tiny hand-worked arrays, edge cases, and per-group evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assist.models.metrics import (
    METRICS,
    MISSING_GROUP,
    capacity,
    evaluate,
    evaluate_by_group,
    expected_calibration_error,
    top_k,
)

KEYS = ("roc_auc", "pr_auc", "precision_at_k", "recall_at_k", "brier", "ece")

# y, score, k, then the hand-worked roc_auc, pr_auc, precision@k, recall@k, brier, ece
CASES = [
    pytest.param(
        [1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], 2,
        # AUC: 3 of 4 (positive, negative) pairs ordered; AP: hits at ranks 1 and 3 ->
        # (1 + 2/3) / 2; Brier (.01 + .64 + .49 + .01) / 4; ECE one row per bin:
        # (.1 + .8 + .7 + .1) / 4
        (0.75, 5 / 6, 0.5, 0.5, 0.2875, 0.425), id="mixed"),
    pytest.param(
        [0, 1, 1], [0.5, 0.5, 0.2], 1,
        # the tie at 0.5 is broken by row order: row 0 (a negative) is selected;
        # AUC (0.5 + 0) / 2; AP 0.5 * 0.5 + 0.5 * 2/3; ECE: bin 5 exact, bin 2 off by .8
        (0.25, 0.25 + 1 / 3, 0.0, 0.0, 1.14 / 3, 0.8 / 3), id="tie-row-order"),
    pytest.param(
        [0, 0], [0.2, 0.6], 1,
        # one class (no positives): AUC, AP and recall undefined
        (None, None, 0.0, None, 0.2, 0.4), id="no-positives"),
    pytest.param(
        [1, 1, 1], [0.5, 0.9, 0.1], 5,
        # one class (all positive) and k > n: all 3 rows selected
        (None, 1.0, 1.0, 1.0, 1.07 / 3, 0.5), id="all-positive-k-over-n"),
    pytest.param(
        [1, 0], [0.4, 0.7], 10,
        # k > n: precision over the n rows selected
        (0.0, 0.5, 0.5, 1.0, 0.425, 0.65), id="k-over-n"),
    pytest.param(
        [0, 1], [-2.0, 3.0], 1,
        # raw scores, not probabilities: ranking metrics only
        (1.0, 1.0, 1.0, 1.0, None, None), id="raw-scores"),
    pytest.param(
        [1, 0], [1.0, 0.0], 1,
        # bin edges: 1.0 falls in the last bin, 0.0 in the first
        (1.0, 1.0, 1.0, 1.0, 0.0, 0.0), id="perfect"),
    pytest.param(
        [], [], 3, (None, None, None, None, None, None), id="empty"),
]


@pytest.mark.parametrize(("y", "score", "k", "expected"), CASES)
def test_evaluate_hand_worked(y, score, k, expected):
    out = evaluate(y, score, k=k)
    assert [k for k in out] == [m.name for m in METRICS]
    got = tuple(out[key] for key in KEYS)
    want = tuple(None if v is None else pytest.approx(v, abs=1e-12) for v in expected)
    assert got == want
    assert (out["n"], out["positives"], out["k"]) == (len(y), sum(y), k)
    assert out["base_rate"] == (sum(y) / len(y) if y else None)


def test_metrics_are_plain_python_numbers():
    out = evaluate(np.array([1, 0, 1]), np.array([0.2, 0.4, 0.9]), k=2)
    assert all(v is None or type(v) in (int, float) for v in out.values())


@pytest.mark.parametrize(("y", "p", "expected"), [
    ([1, 0, 0, 0], [0.15, 0.15, 0.12, 0.18], 0.1),  # one bin: |0.25 - 0.15|
    ([1, 0], [0.95, 0.05], 0.05),
    ([1, 1, 0, 0], [0.7, 0.7, 0.3, 0.3], 0.3),
    ([1], [0.1 * 3], 0.7),  # 0.30000000000000004 lands in bin 3
])
def test_expected_calibration_error(y, p, expected):
    assert expected_calibration_error(y, p) == pytest.approx(expected)


@pytest.mark.parametrize(("score", "k", "expected"), [
    ([0.1, 0.9, 0.5], 2, [1, 2]),
    ([0.5, 0.5, 0.5], 2, [0, 1]),
    ([0.5, 0.7], 5, [1, 0]),
])
def test_top_k_breaks_ties_by_row_order(score, k, expected):
    assert top_k(score, k).tolist() == expected


@pytest.mark.parametrize(("y", "score", "k", "message"), [
    ([1, 0], [0.5], 1, "y_true has 2 values, score has 1"),
    ([1, 0], [0.5, np.nan], 1, "missing values"),
    ([1, 2], [0.5, 0.1], 1, "0/1"),
    ([1, np.nan], [0.5, 0.1], 1, "0/1"),
    ([1, 0], [0.5, 0.1], 0, "k must be at least 1"),
])
def test_evaluate_rejects_bad_input(y, score, k, message):
    with pytest.raises(ValueError, match=message):
        evaluate(y, score, k=k)


@pytest.mark.parametrize(("share", "n", "expected"), [
    (0.5, 3, 2), (0.1, 4, 1), (0.25, 10, 3), (0.1, 0, 0), (1.0, 7, 7), (0.05, 1000, 50),
])
def test_capacity_rounds_half_up_and_selects_at_least_one(share, n, expected):
    assert capacity(share, n) == expected


Y = [1, 0, 1, 0, 0, 1]
S = [0.9, 0.1, 0.8, 0.3, 0.2, 0.6]
GROUPS = pd.DataFrame({"street": ["a", "a", "b", None, "b", "a"],
                       "has_disability": [True, False, True, True, False, False]})


def test_evaluate_by_group_hand_worked():
    out = evaluate_by_group(Y, S, GROUPS, k_share=0.5).set_index(["group", "value"])
    assert out.index.tolist() == [("(all)", "(all)"), ("street", "a"), ("street", "b"),
                                  ("street", MISSING_GROUP), ("has_disability", "False"),
                                  ("has_disability", "True")]
    # overall top 3 are rows 0, 2, 5
    a = out.loc[("street", "a")]  # rows 0, 1, 5: k = 2 -> rows 0 and 5
    assert (a["n"], a["positives"], a["k"], a["precision_at_k"], a["recall_at_k"]) == (
        3, 2, 2, 1.0, 1.0)
    assert a["selected_share"] == pytest.approx(2 / 3) and a["recall_at_overall_k"] == 1.0
    missing = out.loc[("street", MISSING_GROUP)]  # row 3 alone, a negative
    assert (missing["n"], missing["k"], missing["precision_at_k"]) == (1, 1, 0.0)
    assert np.isnan(missing["roc_auc"]) and np.isnan(missing["recall_at_overall_k"])
    no = out.loc[("has_disability", "False")]  # rows 1, 4, 5: k = 2 -> rows 5 and 4
    assert (no["precision_at_k"], no["recall_at_k"]) == (0.5, 1.0)
    assert no["selected_share"] == pytest.approx(1 / 3)
    assert no["base_rate"] == pytest.approx(1 / 3)
    assert out.loc[("(all)", "(all)"), "roc_auc"] == 1.0


def test_evaluate_by_group_judges_a_given_probability():
    rank = [10 * s for s in S]  # same order, not a probability: no Brier or ECE of its own
    alone = evaluate_by_group(Y, rank, GROUPS, k_share=0.5).set_index(["group", "value"])
    out = evaluate_by_group(Y, rank, GROUPS, k_share=0.5, prob=S).set_index(["group", "value"])
    assert alone["brier"].isna().all()
    b = out.loc[("street", "b")]  # rows 2 (1, p .8) and 4 (0, p .2)
    assert b["brier"] == pytest.approx((0.2 ** 2 + 0.2 ** 2) / 2)
    assert b["ece"] == pytest.approx((0.2 + 0.2) / 2)  # bins 8 and 2, one row each
    ranking = [c for c in out.columns if c not in ("brier", "ece")]
    pd.testing.assert_frame_equal(out[ranking], alone[ranking])


def test_evaluate_by_group_checks_alignment():
    with pytest.raises(ValueError, match="same index"):
        evaluate_by_group(pd.Series(Y, index=list("uvwxyz")), S, GROUPS, k_share=0.5)
    with pytest.raises(ValueError, match="groups has 5 rows"):
        evaluate_by_group(Y, S, GROUPS.iloc[:5], k_share=0.5)
    with pytest.raises(ValueError, match="k_share"):
        evaluate_by_group(Y, S, GROUPS, k_share=0.0)


def test_metric_directions_are_declared():
    better = {m.name: m.greater_is_better for m in METRICS}
    assert better["roc_auc"] and better["recall_at_k"]
    assert better["brier"] is False and better["ece"] is False
