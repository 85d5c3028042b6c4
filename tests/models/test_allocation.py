"""Capacity allocation: every capacity and floor holds, beats greedy, infeasible floors fail clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assist.models.allocation import (
    AllocationInfeasible,
    Capacities,
    ProgrammeCapacity,
    StreetCapacity,
    allocate,
    greedy,
    prefilter,
)

CODES = ["dibao", "medical", "charity"]


def _case(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    idx = pd.Index([f"h{i:04d}" for i in range(n)], name="household_id")
    prob = pd.Series(rng.uniform(0, 1, n), index=idx)
    street = pd.Series(rng.choice(["S01", "S02", "S03"], n), index=idx)
    ref = pd.DataFrame(rng.uniform(size=(n, 3)) < 0.4, index=idx, columns=CODES)
    ref.iloc[:, 2] |= ~ref.any(axis=1)
    return prob, street, ref


def _check(alloc, prob, street, ref, caps: Capacities):
    v = alloc.visit
    per_street = street.reindex(v.index)[v.to_numpy()].value_counts()
    for s in street.unique():
        cap = caps.street(s)
        assert cap.floor <= per_street.get(s, 0) <= cap.visits
    if caps.district_visits is not None:
        assert v.sum() <= caps.district_visits
    offers = alloc.offers
    assert not (offers & ~ref.reindex(offers.index)).to_numpy().any()  # only referable places
    assert (offers.any(axis=1) == v).all()                            # a visit brings an offer
    for c in CODES:
        assert offers[c].sum() <= caps.places(c)
    assert alloc.objective == pytest.approx(prob.reindex(v.index)[v.to_numpy()].sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_capacity_and_floor_is_respected(seed):
    prob, street, ref = _case(seed=seed)
    caps = Capacities(streets={"default": StreetCapacity(visits=6, floor=2),
                               "S02": StreetCapacity(visits=4, floor=3)},
                      programmes={"dibao": ProgrammeCapacity(places=3),
                                  "charity": ProgrammeCapacity(budget=5000, cost=1000)},
                      district_visits=12)
    alloc = allocate(probability=prob, street=street, referable=ref, capacities=caps)
    _check(alloc, prob, street, ref, caps)
    assert alloc.objective >= alloc.greedy["objective"] - 1e-9


def test_beats_greedy_when_greedy_starves_a_street_and_overfills_a_programme():
    idx = pd.Index([f"h{i}" for i in range(8)], name="household_id")
    prob = pd.Series([0.9, 0.85, 0.8, 0.75, 0.4, 0.35, 0.3, 0.2], index=idx)
    street = pd.Series(["A"] * 4 + ["B"] * 4, index=idx)
    ref = pd.DataFrame(False, index=idx, columns=CODES)
    ref.loc[["h0", "h1", "h2", "h3"], "dibao"] = True      # street A: dibao only
    ref.loc[["h3", "h4", "h5", "h6", "h7"], "medical"] = True
    caps = Capacities(streets={"A": StreetCapacity(visits=4, floor=0),
                               "B": StreetCapacity(visits=4, floor=1)},
                      programmes={"dibao": ProgrammeCapacity(places=2)}, district_visits=4)
    alloc = allocate(probability=prob, street=street, referable=ref, capacities=caps)
    _check(alloc, prob, street, ref, caps)
    g = alloc.greedy
    assert any("street B" in v and "floor" in v for v in g["violations"])
    assert any("programme dibao" in v for v in g["violations"])
    # greedy: h0, h1 get dibao, h2 nothing left, h3 medical -> 0.9 + 0.85 + 0.75
    assert g["objective"] == pytest.approx(2.5)
    # solver: two dibao places in A (h0, h1), h3 by medical, and B's best h4 -> 2.9
    assert alloc.objective == pytest.approx(0.9 + 0.85 + 0.75 + 0.4)
    assert alloc.objective > g["objective"]
    assert set(alloc.visit[alloc.visit].index) == {"h0", "h1", "h3", "h4"}


def test_infeasible_floor_is_a_clear_error():
    prob, street, ref = _case()
    few = int((street == "S01").sum())
    caps = Capacities(streets={"default": StreetCapacity(visits=100, floor=few + 1)})
    with pytest.raises(AllocationInfeasible, match="street 'S0.': floor of"):
        allocate(probability=prob, street=street, referable=ref, capacities=caps)
    caps = Capacities(streets={"default": StreetCapacity(visits=3, floor=4)})
    with pytest.raises(AllocationInfeasible, match="floor 4 exceeds its 3 visits"):
        allocate(probability=prob, street=street, referable=ref, capacities=caps)
    caps = Capacities(streets={"default": StreetCapacity(visits=5, floor=4)}, district_visits=10)
    with pytest.raises(AllocationInfeasible, match="floors sum to 12"):
        allocate(probability=prob, street=street, referable=ref, capacities=caps)


def test_floors_beyond_programme_places_are_infeasible():
    prob, street, ref = _case()
    caps = Capacities(streets={"default": StreetCapacity(visits=5, floor=3)},
                      programmes={c: ProgrammeCapacity(places=2) for c in CODES})
    with pytest.raises(AllocationInfeasible, match="lower the floors or add places"):
        allocate(probability=prob, street=street, referable=ref, capacities=caps)


def test_prefilter_keeps_top_n_per_street_with_ties_by_id():
    idx = pd.Index(["b", "a", "c", "d", "e"], name="household_id")
    prob = pd.Series([0.5, 0.5, 0.9, 0.1, 0.2], index=idx)
    street = pd.Series(["X", "X", "X", "Y", "Y"], index=idx)
    caps = Capacities(streets={"default": StreetCapacity(visits=1)}, candidates_per_street=2)
    assert list(prefilter(prob, street, caps)) == ["c", "a", "e", "d"]


def test_greedy_without_limits_takes_the_top_k():
    prob, street, ref = _case()
    caps = Capacities(streets={"default": StreetCapacity(visits=100)}, district_visits=5)
    g = greedy(probability=prob, street=street, referable=ref, capacities=caps)
    assert g["objective"] == pytest.approx(np.sort(prob.to_numpy())[-5:].sum())
    assert g["violations"] == []


def test_nothing_to_allocate_when_every_visit_is_taken():
    """Pending visits kept on their streets can take every visit of the month: the
    allocation is then empty, not an error (the 13th demo month with no decisions)."""
    from assist.models.allocation import Capacities, StreetCapacity, allocate

    idx = pd.Index(["h1", "h2", "h3"])
    out = allocate(probability=pd.Series([0.9, 0.5, 0.1], index=idx),
                   street=pd.Series(["S01"] * 3, index=idx),
                   referable=pd.DataFrame({"dibao": [True, True, True]}, index=idx),
                   capacities=Capacities(streets={"S01": StreetCapacity(0, 0)}))
    assert out.candidates == 0 and not out.visit.any() and out.status == "nothing to allocate"
    assert out.greedy["visits"] == 0
