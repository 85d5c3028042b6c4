"""Fairness audit: hand-computed rates, undefined metrics, references, a biased scorer, pairs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assist.experiments.registry import recall_disparity
from assist.models.fairness import DISPARITY_METRICS, audit, predicted_positive, wilson

# four groups, threshold 0.5 (hand-worked below)
#   A: (y, s) = (1,.9) (1,.2) (0,.6) (0,.1) -> tp 1 fn 1 fp 1 tn 1
#   B: (1,.3) (0,.8)                        -> tp 0 fn 1 fp 1 tn 0
#   C: (0,.1) (0,.2)           no positives -> tp 0 fn 0 fp 0 tn 2
#   D: (1,.4) (0,.3)  no predicted positive -> tp 0 fn 1 fp 0 tn 1
Y = [1, 1, 0, 0, 1, 0, 0, 0, 1, 0]
S = [.9, .2, .6, .1, .3, .8, .1, .2, .4, .3]
G = list("AAAABBCCDD")
U = None  # undefined

EXPECTED = {  # metric: {group: value}
    "n": {"A": 4, "B": 2, "C": 2, "D": 2},
    "base_rate": {"A": .5, "B": .5, "C": 0.0, "D": .5},
    "selection_rate": {"A": .5, "B": .5, "C": 0.0, "D": 0.0},
    "tpr": {"A": .5, "B": 0.0, "C": U, "D": 0.0},
    "fnr": {"A": .5, "B": 1.0, "C": U, "D": 1.0},
    "fpr": {"A": .5, "B": 1.0, "C": 0.0, "D": 0.0},
    "tnr": {"A": .5, "B": 0.0, "C": 1.0, "D": 1.0},
    "precision": {"A": .5, "B": 0.0, "C": U, "D": U},
    "fdr": {"A": .5, "B": 1.0, "C": U, "D": U},
    "for": {"A": .5, "B": 1.0, "C": 0.0, "D": .5},
    "npv": {"A": .5, "B": 0.0, "C": 1.0, "D": .5},
    "calibration_gap": {"A": -.05, "B": .05, "C": .15, "D": -.15},
}
CASES = [(g, m, v) for m, by in EXPECTED.items() for g, v in by.items()]


@pytest.fixture(scope="module")
def hand():
    return audit(Y, S, pd.DataFrame({"g": G}), threshold=0.5)


def _row(result, group, attribute="g"):
    [row] = [r for r in result.to_dict()["groups"]
             if r["attribute"] == attribute and r["group"] == group]
    return row


@pytest.mark.parametrize(("group", "metric", "expected"), CASES)
def test_hand_computed_rates(hand, group, metric, expected):
    got = _row(hand, group)[metric]
    if expected is None:
        assert got is None  # undefined, not 0.0 and not a crash
    else:
        assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("group", "metric", "ratio"), [
    ("A", "tpr", 1.0), ("B", "tpr", 0.0), ("B", "fnr", 2.0), ("C", "tpr", None),
    ("C", "selection_rate", 0.0), ("D", "precision", None), ("D", "npv", 1.0),
    ("B", "fpr", 2.0), ("C", "tnr", 2.0),
])
def test_disparity_against_the_majority(hand, group, metric, ratio):
    row = _row(hand, group)
    assert hand.reference == {"g": "A"}
    assert set(row["disparity"]) == set(DISPARITY_METRICS)
    assert row["disparity"][metric] == (None if ratio is None else pytest.approx(ratio))
    assert (metric in row["flags"]) == (ratio is not None and not 0.8 <= ratio <= 1.25)


def test_undefined_metrics_are_written_out_in_words(hand):
    from assist.reports.audit import audit_html

    html = audit_html(hand, source="hand")
    assert "undefined" in html and "<svg" in html and "being missed" in html


def _three_groups():
    # recall: P 2/4 = .5, Q 1/4 = .25, R 2/2 = 1.0; sizes P 6, Q 8, R 3
    y = [1, 1, 1, 1, 0, 0] + [1, 1, 1, 1, 0, 0, 0, 0] + [1, 1, 0]
    s = [.9, .9, .1, .1, .1, .1] + [.9, .1, .1, .1, .1, .1, .1, .1] + [.9, .9, .1]
    return y, s, pd.DataFrame({"g": list("PPPPPP") + list("QQQQQQQQ") + list("RRR")})


@pytest.mark.parametrize(("reference", "expected", "tpr_ratio_p"), [
    ("majority", "Q", 2.0),   # most rows
    ("min", "Q", 2.0),        # lowest (non-zero) recall
    ("R", "R", 0.5),          # named
    ("g=P", "P", 1.0),        # named with its attribute
])
def test_reference_three_ways(reference, expected, tpr_ratio_p):
    y, s, g = _three_groups()
    result = audit(y, s, g, threshold=0.5, reference=reference)
    assert result.reference == {"g": expected}
    assert _row(result, "P")["disparity"]["tpr"] == pytest.approx(tpr_ratio_p)
    assert _row(result, expected)["disparity"]["tpr"] == pytest.approx(1.0)


def test_min_reference_differs_from_majority():
    y, s, g = _three_groups()
    g = g.copy()
    g.loc[:5, "g"] = "R"  # R now largest (9 rows, recall 4/6); Q keeps the lowest (1/4)
    maj = audit(y, s, g, threshold=0.5, reference="majority").reference["g"]
    low = audit(y, s, g, threshold=0.5, reference="min").reference["g"]
    assert (maj, low) == ("R", "Q")


def test_unknown_named_reference_is_an_error():
    y, s, g = _three_groups()
    with pytest.raises(ValueError, match="'Z'"):
        audit(y, s, g, reference="Z")


def _district(bias: float, seed: int = 0, n: int = 4000):
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.3, "migrant", "local")
    y = (rng.random(n) < 0.2).astype(int)
    score = 0.5 * y + rng.normal(0, 0.2, n)
    score = score - bias * ((group == "migrant") & (y == 1))
    return y, score, pd.DataFrame({"hukou": group})


def test_biased_scorer_is_flagged_on_recall():
    y, s, g = _district(bias=0.5)
    result = audit(y, s, g, top_pct=20)
    migrant, local = _row(result, "migrant", "hukou"), _row(result, "local", "hukou")
    assert result.reference == {"hukou": "local"}
    assert "tpr" in migrant["flags"] and "fnr" in migrant["flags"]
    assert migrant["disparity"]["tpr"] < 0.5 and local["flags"] == []
    # the same scorer without the bias passes on recall
    y, s, g = _district(bias=0.0)
    fair = audit(y, s, g, top_pct=20)
    assert "tpr" not in _row(fair, "migrant", "hukou")["flags"]


def test_recall_agrees_with_the_registry_gate():
    y, s, g = _district(bias=0.5, seed=1)
    selected, _, _ = predicted_positive(s, top_pct=20)
    result = audit(y, s, g, selected=selected)
    gate = recall_disparity(g, np.asarray(y, dtype=float), selected, attributes=["hukou"],
                            min_positives=1, min_ratio=0.8, max_ratio=1.25)
    for r in gate["rows"]:
        row = _row(result, r["value"], "hukou")
        assert row["tpr"] == pytest.approx(r["recall"])
        assert row["disparity"]["tpr"] == pytest.approx(r["ratio"])


def test_intersections_of_two_columns():
    y, s, g = _three_groups()
    g["sex"] = (["F", "M"] * 9)[: len(g)]
    result = audit(y, s, g, threshold=0.5)
    table = result.table
    pair = table.loc[table["attribute"] == "g & sex"]
    assert set(result.reference) == {"g", "sex", "g & sex"}
    assert pair["n"].sum() == len(y)
    assert set(pair["group"]) == {"P & F", "P & M", "Q & F", "Q & M", "R & F", "R & M"}
    # the pair's counts are those of the rows it names
    mask = (g["g"] == "Q") & (g["sex"] == "M")
    assert int(pair.loc[pair["group"] == "Q & M", "n"].iloc[0]) == int(mask.sum())
    alone = audit(y, s, g, threshold=0.5, intersections=False)
    assert "g & sex" not in set(alone.table["attribute"])


def test_missing_group_values_form_their_own_group():
    g = pd.DataFrame({"g": pd.array(["A", None, "A", None], dtype="string")})
    result = audit([1, 0, 1, 0], [.9, .1, .2, .8], g)
    assert {r["group"] for r in result.to_dict()["groups"]} == {"A", "(missing)"}


@pytest.mark.parametrize(("kwargs", "selected", "cut"), [
    ({"threshold": 0.5}, [True, True, True, False], 0.5),
    ({"top_k_rows": 2}, [True, True, False, False], 0.5),      # ties: first rows first
    ({"top_pct": 75}, [True, True, True, False], 0.5),
    ({"top_k_rows": 9}, [True, True, True, True], 0.1),
])
def test_selection_rules(kwargs, selected, cut):
    got, threshold, _ = predicted_positive([0.5, 0.5, 0.5, 0.1], **kwargs)
    assert got.tolist() == selected and threshold == cut


def test_wilson_interval_hand_values():
    lo, hi = wilson([5, 0], [10, 4])
    assert lo[0] == pytest.approx(0.236593, abs=1e-6) and hi[0] == pytest.approx(0.763407, abs=1e-6)
    assert lo[1] == 0.0 and hi[1] == pytest.approx(1.959963984540054 ** 2 / (4 + 1.959963984540054 ** 2),
                                             abs=1e-9)  # z^2 / (n + z^2) when k = 0
    lo, hi = wilson([0], [0])
    assert math.isnan(lo[0]) and math.isnan(hi[0])


def test_non_binary_outcomes_are_refused():
    with pytest.raises(ValueError, match="0/1"):
        audit([0, 2], [0.1, 0.2], pd.DataFrame({"g": ["a", "b"]}))
