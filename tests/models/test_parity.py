"""Recall parity by swaps inside a street: hand-made cases with worked figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assist.models.parity import ParityRule, equalise_recall, expected_ratios


def _case():
    idx = pd.Index([f"h{i:02d}" for i in range(40)])
    # group A: 20 households likely in need; group B: 20 a little less likely (B is larger
    # in expected need than its top scores suggest: the ranking alone visits only A)
    p = pd.Series(np.r_[np.linspace(0.9, 0.5, 20), np.linspace(0.45, 0.3, 20)], index=idx)
    group = pd.DataFrame({"g": ["A"] * 20 + ["B"] * 20}, index=idx)
    street = pd.Series(["S01"] * 20 + ["S01"] * 20, index=idx)
    chosen = pd.Series(np.r_[np.ones(10, bool), np.zeros(30, bool)], index=idx)
    return idx, p, group, street, chosen


def test_two_groups_are_brought_within_the_bounds_at_a_small_cost():
    idx, p, group, street, chosen = _case()
    rule = ParityRule(attributes=("g",), min_ratio=0.8, max_ratio=1.25, min_expected=1.0)
    before = expected_ratios(p.to_numpy(), chosen.to_numpy(), group, rule)
    assert before[("g", "B")] == 0.0
    visit, report = equalise_recall(probability=p, street=street, groups=group, chosen=chosen,
                                    movable=chosen, eligible=pd.Series(True, index=idx),
                                    rule=rule)
    assert visit.sum() == chosen.sum()                  # the street keeps its visits
    after = expected_ratios(p.to_numpy(), visit.to_numpy(), group, rule)
    assert all(0.8 <= r <= 1.25 for r in after.values())
    assert report["swaps"] >= 1
    # B's best households came in, A's weakest visits went out
    came = visit.index[visit & ~chosen]
    assert set(came) <= set(idx[20:25])
    cost = report["expected_precision_before"] - report["expected_precision_after"]
    assert 0 < cost < 0.25


def test_visits_that_may_not_move_stay_and_other_streets_are_untouched():
    idx, p, group, street, chosen = _case()
    street.iloc[20:] = "S02"                           # B lives in another street
    rule = ParityRule(attributes=("g",), min_expected=1.0)
    visit, report = equalise_recall(probability=p, street=street, groups=group, chosen=chosen,
                                    movable=chosen, eligible=pd.Series(True, index=idx),
                                    rule=rule)
    assert visit.equals(chosen.rename("visit"))        # no swap can cross streets
    assert report["swaps"] == 0


def test_groups_expected_to_hold_too_few_in_need_are_not_judged():
    idx, p, group, street, chosen = _case()
    rule = ParityRule(attributes=("g",), min_expected=100.0)
    assert expected_ratios(p.to_numpy(), chosen.to_numpy(), group, rule) == {}
    visit, report = equalise_recall(probability=p, street=street, groups=group, chosen=chosen,
                                    movable=chosen, eligible=pd.Series(True, index=idx),
                                    rule=rule)
    assert report["swaps"] == 0 and visit.equals(chosen.rename("visit"))
