"""Figures of a simulated year, on hand-made months with worked values."""

from __future__ import annotations

import pandas as pd
import pytest

from assist.reports.loop import policy_figures, recall_ratios


def _truth(needy: set[str], relief: dict[str, float] | None = None) -> pd.DataFrame:
    ids = list("abcdef")
    relief = relief or {}
    score = [0.5 if h in needy else -0.5 for h in ids]
    return pd.DataFrame({"true_need": [h in needy for h in ids], "need_score": score,
                         "relief": [relief.get(h, 0.0) for h in ids]}, index=ids)


def _visits(found: dict[str, str], outreach: set[str]) -> pd.DataFrame:
    return pd.DataFrame({"household_id": list(found), "outcome": list(found.values()),
                         "outreach": [h in outreach for h in found]})


def _months():
    # months M0..M5 are 2026-01..06. a falls into need in M1 (not in M0); the policy visits
    # a in M2 and grants it; three
    # months on (M5) a is out of need only thanks to its grant (relief 1.0 > score 0.5)
    need = [set(), {"a", "b"}, {"a", "b"}, {"a", "c"}, {"a", "c"}, {"c"}]
    visits = [{"b": "confirmed"}, {"b": "confirmed"}, {"a": "confirmed", "d": "not_in_need"},
              {"d": "not_in_need"}, {"c": "confirmed"}, {}]
    allocated = [["b"], ["b"], ["a", "d"], ["d"], ["c"], []]
    truth = {f"2026-{i + 1:02d}": _truth(n) for i, n in enumerate(need)}
    truth["2026-06"] = _truth({"c"}, relief={"a": 1.0})
    truth["2026-06"].loc["a", "need_score"] = -0.5           # 0.5 - 1.0: out of need
    months = [{"month": f"2026-{i + 1:02d}", "truth": truth[f"2026-{i + 1:02d}"], "visits": _visits(visits[i],
               set(allocated[i])), "allocated": allocated[i], "scores": None,
               "granted": ["a"] if i == 2 else []} for i in range(6)]
    return months, truth


def test_a_policy_year_in_figures():
    months, truth = _months()
    f = policy_figures(months, status_quo=False, ece=False, truth=truth)
    rows = f["months"]
    assert [r["visits"] for r in rows] == [1, 1, 2, 1, 1, 0]
    assert [r["confirmed"] for r in rows] == [1, 1, 1, 0, 1, 0]
    assert rows[1]["repeat_share"] == 1.0 and rows[3]["repeat_share"] == 1.0
    assert rows[2]["repeat_share"] == 0.0
    assert [r["repeat_last_month"] for r in rows[:5]] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert [r["repeat_after_finding"] for r in rows[:5]] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert rows[2]["precision_truth"] == 0.5             # a in need, d not
    assert rows[0]["precision_truth"] == 0.0             # b was not in need in M0
    # fell into need in M1: a and b; visited in M1..M4: both -> 1.0 at M4
    assert rows[4]["reached_within_3_months"] == 1.0
    assert rows[3]["reached_within_3_months"] is None     # month 4 of the run
    # ever in need: a, b, c; reached while in need: b (M1), a (M2), c (M4)
    assert f["reached_cumulative"] == 1.0
    # a was granted after the M2 visit; at M5 it would be in need without the grant
    assert f["uplift_true"] == pytest.approx(1.0) and f["uplift_households"] == 1
    assert f["uplift_estimate"] is None


def test_recall_ratios_judge_only_groups_with_enough_positives():
    idx = [f"h{i}" for i in range(60)]
    scores = pd.DataFrame({"allocated": [i % 2 == 0 for i in range(40)] + [False] * 20,
                           "g": ["A"] * 40 + ["B"] * 20}, index=idx)
    needy = pd.Series(True, index=idx)
    low, high = recall_ratios(scores, needy, attributes=("g",), min_positives=20)
    assert (low, high) == (0.0, 1.0)                     # B: 0 of 20 found, A: 20 of 40
    assert recall_ratios(scores, needy, attributes=("g",), min_positives=21) == (1.0, 1.0)


def test_a_retry_after_a_failed_contact_is_not_a_repeat_after_a_finding():
    months, truth = _months()
    months[2]["visits"] = _visits({"a": "confirmed", "d": "unreachable"}, {"a", "d"})
    rows = policy_figures(months, status_quo=False, ece=False, truth=truth)["months"]
    assert rows[3]["repeat_last_month"] == 1.0          # d again in M3
    assert rows[3]["repeat_after_finding"] == 0.0       # nobody had found anything at d
