"""The fairness report's findings (``reports.fairness_findings``) on hand-made groups with
hand-worked Katz intervals: a finding only when the whole 95 % interval of the ratio lies
outside 0.8–1.25, harmful apart from favourable, by severity; small groups not judged."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assist.models.fairness import Z95, audit
from assist.reports.fairness_findings import audit_json, counts, judge, stored


def _groups(spec: dict[str, tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Rows per group from (households, in need, of them reached); the reached are selected."""
    y, sel, g = [], [], []
    for name, (n, pos, hit) in spec.items():
        y += [1] * pos + [0] * (n - pos)
        sel += [1] * hit + [0] * (n - hit)
        g += [name] * n
    return np.array(y, float), np.array(sel, bool), pd.DataFrame({"g": g})


def _audit(spec: dict[str, tuple[int, int, int]]) -> dict:
    y, sel, g = _groups(spec)
    return audit_json(audit(y, sel.astype(float), g, selected=sel, intersections=False))


def _katz(a: float, n: float, b: float, m: float) -> tuple[float, float]:
    ratio = (a / n) / (b / m)
    half = Z95 * math.sqrt(1 / a - 1 / n + 1 / b - 1 / m)
    return ratio * math.exp(-half), ratio * math.exp(half)


def test_a_ratio_whose_interval_lies_below_the_band_is_harmful():
    # reference A (most households): 36 of 40 in need reached; B: 12 of 40
    found = judge(_audit({"A": (60, 40, 36), "B": (50, 40, 12)}), min_positives=20)
    (f,) = found["harmful"]
    assert (f["group"], f["reference"], f["positives"], f["reached"]) == ("B", "A", 40, 12)
    tpr, fnr = f["metrics"]
    lo, hi = _katz(12, 40, 36, 40)  # 0.205-0.541 by hand
    assert tpr["ratio"] == pytest.approx(1 / 3) and (tpr["low"], tpr["high"]) == pytest.approx(
        (lo, hi)) and hi == pytest.approx(0.541, abs=1e-3)
    assert fnr["ratio"] == pytest.approx(7.0) and fnr["low"] > 1.25  # missed 28/40 vs 4/40
    assert f["severity"] == pytest.approx(max(math.log(0.8 / hi), math.log(fnr["low"] / 1.25)))
    assert found["favourable"] == [] and found["not_judged"] == []


def test_a_point_ratio_outside_the_band_within_chance_is_no_finding():
    # B's recall 2/4 against A's 4/5: ratio 0.625, but its interval 0.21-1.83 reaches the band
    found = judge(_audit({"A": (10, 5, 4), "B": (6, 4, 2)}), min_positives=4)
    assert found["harmful"] == found["favourable"] == []
    (r,) = found["ratio_intervals"]
    assert r["judged"] and r["tpr"]["ratio"] == pytest.approx(0.625)
    assert (r["tpr"]["low"], r["tpr"]["high"]) == pytest.approx(_katz(2, 4, 4, 5))
    assert r["tpr"]["low"] < 0.8 < r["tpr"]["high"]


def test_groups_below_the_minimum_are_listed_not_judged():
    found = judge(_audit({"A": (60, 40, 36), "B": (50, 40, 12), "C": (34, 2, 0)}),
                  min_positives=20)
    assert found["not_judged"] == [{"attribute": "g", "group": "C", "n": 34, "positives": 2}]
    assert [f["group"] for f in found["harmful"]] == ["B"]  # C's recall of 0 is not a finding
    # a reference below the minimum leaves every group of its attribute unjudged
    small = judge(_audit({"A": (60, 10, 9), "B": (50, 40, 12)}), min_positives=20)
    assert small["harmful"] == [] and [x["group"] for x in small["not_judged"]] == ["B"]


def test_favourable_apart_from_harmful_and_each_by_severity():
    # reference A: 60 of 120 in need reached (recall 0.5); by hand (Katz, 95 %):
    # D 4/40 -> 0.2 (0.08-0.52), E 25/100 -> 0.5 (0.34-0.73): harmful, D farther below;
    # B 20/20 -> 2.0 (1.67-2.39), C 36/40 -> 1.8 (1.46-2.21): favourable; C first, as its miss
    # rate 4/40 against 60/120 is 0.2 (0.08-0.52), farther from the band than B's recall
    found = judge(_audit({"A": (200, 120, 60), "B": (20, 20, 20), "C": (50, 40, 36),
                          "D": (60, 40, 4), "E": (120, 100, 25)}), min_positives=20)
    assert [f["group"] for f in found["harmful"]] == ["D", "E"]
    assert [f["group"] for f in found["favourable"]] == ["C", "B"]
    for kind in ("harmful", "favourable"):
        sev = [f["severity"] for f in found[kind]]
        assert sev == sorted(sev, reverse=True) and all(s > 0 for s in sev)
    c, b = found["favourable"]
    assert {m["metric"] for m in b["metrics"]} == {"tpr", "fnr"}  # all reached: none missed
    assert b["severity"] == pytest.approx(math.log(_katz(20, 20, 60, 120)[0] / 1.25))
    assert c["severity"] == pytest.approx(math.log(0.8 / _katz(4, 40, 60, 120)[1]))


@pytest.mark.parametrize(("n", "pos", "hit"), [(7, 3, 1), (1000, 999, 333), (13, 0, 0)])
def test_counts_are_recovered_exactly_from_the_rates(n, pos, hit):
    a = _audit({"A": (n + 5, 5, 5), "B": (n, pos, hit)})
    g = next(r for r in a["groups"] if r["group"] == "B")
    assert counts(g) == {"n": n, "positives": pos, "reached": hit, "missed": pos - hit}


def test_stored_findings_are_read_back_as_written():
    a = _audit({"A": (60, 40, 36), "B": (50, 40, 12)})
    kept = {**a, "findings": judge(a, min_positives=20)}
    assert stored(kept, min_positives=3) == kept["findings"]  # the stored minimum holds
    legacy = {**a, "findings": ["tpr of g=B is 0.33 x that of A"]}  # reports before findings
    assert stored(legacy, min_positives=20) == judge(a, min_positives=20)
