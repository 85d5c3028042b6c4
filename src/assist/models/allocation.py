"""Capacity allocation: which referrals to visit this month, with which programme places.

A mixed-integer programme (``scipy.optimize.milp``, HiGHS) over the candidates: ``x_i`` = visit
household *i*, ``y_ip`` = offer it a place of programme *p* (only where *i* is referable for
*p*). It maximises expected confirmed need met, ``sum_i prob_i x_i + sum_ip prob_i value_p y_ip``
(programme values optional, 0 by default), subject to

- each street's visits per month, and at least its floor (so no street is starved);
- an optional district-wide visit total;
- each programme's places and budget (``cost`` per place);
- ``y_ip <= x_i`` (a place needs a visit) and ``x_i <= sum_p y_ip`` (a visit brings an offer).

Candidates are pre-filtered to the top N per street by probability, so the problem stays
small at a million households. The greedy baseline — the global top k by probability, k the
visit total — is evaluated against the same capacities (:func:`greedy`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from assist.errors import AssistError

DEFAULT_STREET = "default"


class AllocationInfeasible(AssistError):
    """The capacities and floors cannot all be met (the message says which)."""


@dataclass(frozen=True)
class StreetCapacity:
    """Caseworker visits per month in one street, and the minimum to make."""

    visits: int
    floor: int = 0


@dataclass(frozen=True)
class ProgrammeCapacity:
    """Places and budget of one programme or charity fund this month (None: no limit)."""

    places: int | None = None
    budget: float | None = None
    #: cost of one place against the budget
    cost: float = 0.0
    #: extra value of a place, times the household's probability, in the objective
    value: float = 0.0


@dataclass(frozen=True)
class Capacities:
    """All capacities of one month."""

    streets: Mapping[str, StreetCapacity]
    programmes: Mapping[str, ProgrammeCapacity] = field(default_factory=dict)
    district_visits: int | None = None
    #: candidates kept per street before solving (None: 3 x the street's visits)
    candidates_per_street: int | None = None

    def street(self, code: str) -> StreetCapacity:
        """The street's capacity, or the ``default`` entry."""
        if code in self.streets:
            return self.streets[code]
        if DEFAULT_STREET in self.streets:
            return self.streets[DEFAULT_STREET]
        raise AllocationInfeasible(f"street {code!r} has no capacity and there is no "
                                   f"{DEFAULT_STREET!r} entry")

    def places(self, code: str) -> float:
        """Places of a programme implied by its places and budget (inf: unlimited)."""
        c = self.programmes.get(code, ProgrammeCapacity())
        out = np.inf if c.places is None else float(c.places)
        if c.budget is not None and c.cost > 0:
            out = min(out, float(np.floor(c.budget / c.cost + 1e-9)))
        return out


@dataclass(frozen=True, eq=False)
class Allocation:
    """The solver's choice, its objective and the greedy baseline's."""

    #: per candidate: visited or not (index: household id)
    visit: pd.Series
    #: per candidate and programme: place offered
    offers: pd.DataFrame
    objective: float
    greedy: dict[str, Any]
    status: str
    seconds: float
    candidates: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: objective vs greedy, visits per street, places per programme."""
        return {"objective": self.objective, "greedy": self.greedy, "status": self.status,
                "seconds": round(self.seconds, 3), "candidates": self.candidates,
                "visits": int(self.visit.sum()),
                "gain_over_greedy": self.objective - self.greedy["objective"],
                "places": {k: int(v) for k, v in self.offers.sum().items()}}


def prefilter(probability: pd.Series, street: pd.Series, capacities: Capacities) -> pd.Index:
    """Households kept as candidates: the top N per street by probability (ties: household id)."""
    frame = pd.DataFrame({"p": probability.to_numpy(dtype=float),
                          "s": street.astype(str).to_numpy(), "h": probability.index})
    frame = frame.sort_values(["s", "p", "h"], ascending=[True, False, True], kind="stable")
    pos = frame.groupby("s", sort=False).cumcount().to_numpy()
    streets = frame["s"].unique()
    keep_n = {s: _top_n(capacities, s) for s in streets}
    limit = frame["s"].map(keep_n).to_numpy()
    return pd.Index(frame.loc[pos < limit, "h"].to_numpy(), name=probability.index.name)


def _top_n(capacities: Capacities, street: str) -> int:
    cap = capacities.street(street)
    n = capacities.candidates_per_street or 3 * cap.visits
    return max(n, cap.floor)


def allocate(*, probability: pd.Series, street: pd.Series, referable: pd.DataFrame,
             capacities: Capacities, time_limit: float = 60.0) -> Allocation:
    """Choose visits and places maximising expected need met (see the module docstring)."""
    start = time.perf_counter()
    ok = referable.reindex(probability.index).fillna(False).to_numpy(dtype=bool).any(axis=1)
    cand = prefilter(probability[ok], street[ok], capacities)
    prob = probability.reindex(cand).to_numpy(dtype=float)
    streets = street.reindex(cand).astype(str).to_numpy()
    ref = referable.reindex(cand).to_numpy(dtype=bool)
    codes = list(referable.columns)
    _check_floors(streets, capacities, street.astype(str).unique())
    n = len(cand)
    if n == 0:  # nothing to choose: e.g. pending visits kept on their streets took every visit
        return Allocation(visit=pd.Series(False, index=cand, name="allocated", dtype=bool),
                          offers=pd.DataFrame(False, index=cand, columns=codes),
                          objective=0.0, greedy=greedy(probability=probability[ok],
                                                       street=street[ok], referable=referable[ok],
                                                       capacities=capacities),
                          status="nothing to allocate", seconds=time.perf_counter() - start,
                          candidates=0)
    pi, pj = np.nonzero(ref)
    value = np.array([capacities.programmes.get(c, ProgrammeCapacity()).value for c in codes])
    c = -np.concatenate([prob, prob[pi] * value[pj]])
    res = milp(c, constraints=_constraints(streets, codes, pi, pj, capacities),
               integrality=np.ones(n + len(pi)), bounds=Bounds(0, 1),
               options={"time_limit": time_limit, "disp": False})
    if res.x is None:
        raise AllocationInfeasible(
            f"no allocation meets every street floor with the programme places available "
            f"(solver: {res.message.strip()}); lower the floors or add places")
    sol = np.round(res.x).astype(bool)
    visit = pd.Series(sol[:n], index=cand, name="allocated")
    offers = np.zeros((n, len(codes)), dtype=bool)
    offers[pi[sol[n:]], pj[sol[n:]]] = True
    base = greedy(probability=probability[ok], street=street[ok], referable=referable[ok],
                  capacities=capacities)
    return Allocation(visit=visit, offers=pd.DataFrame(offers, index=cand, columns=codes),
                      objective=float(-res.fun), greedy=base,
                      status="optimal" if res.status == 0 else res.message.strip(),
                      seconds=time.perf_counter() - start, candidates=n)


def _constraints(streets: np.ndarray, codes: list[str], pi: np.ndarray, pj: np.ndarray,
                 capacities: Capacities) -> LinearConstraint:
    """The MILP's rows over ``x`` (visit household i) then ``y`` (offer pair (pi, pj)): street
    floors and visits, the district's visits, programme places, offers only to visited
    households, at most one offer per visited household."""
    n, m = len(streets), len(pi)
    rows, lo, hi = [], [], []

    def add(matrix: sparse.spmatrix, lower: np.ndarray, upper: np.ndarray) -> None:
        rows.append(matrix)
        lo.append(lower)
        hi.append(upper)

    s_codes, s_names = pd.factorize(streets)
    k = len(s_names)
    caps = [capacities.street(s) for s in s_names]
    street_x = sparse.csr_matrix((np.ones(n), (s_codes, np.arange(n))), shape=(k, n))
    add(sparse.hstack([street_x, sparse.csr_matrix((k, m))]),
        np.array([cp.floor for cp in caps], float), np.array([cp.visits for cp in caps], float))
    if capacities.district_visits is not None:
        add(sparse.hstack([sparse.csr_matrix(np.ones((1, n))), sparse.csr_matrix((1, m))]),
            np.array([0.0]), np.array([float(capacities.district_visits)]))
    places = np.array([capacities.places(cd) for cd in codes])
    limited = np.flatnonzero(np.isfinite(places))
    if len(limited) and m:
        row_of = np.full(len(codes), -1)
        row_of[limited] = np.arange(len(limited))
        use = row_of[pj] >= 0
        prog_y = sparse.csr_matrix((np.ones(use.sum()), (row_of[pj][use], np.flatnonzero(use))),
                                   shape=(len(limited), m))
        add(sparse.hstack([sparse.csr_matrix((len(limited), n)), prog_y]),
            np.zeros(len(limited)), places[limited])
    if m:
        link = sparse.hstack([sparse.csr_matrix((-np.ones(m), (np.arange(m), pi)), shape=(m, n)),
                              sparse.identity(m, format="csr")])
        add(link, np.full(m, -np.inf), np.zeros(m))
        offer = sparse.hstack([sparse.identity(n, format="csr"),
                               sparse.csr_matrix((-np.ones(m), (pi, np.arange(m))), shape=(n, m))])
        add(offer, np.full(n, -np.inf), np.zeros(n))
    A = sparse.vstack(rows, format="csr")  # noqa: N806 - linear-programming notation
    return LinearConstraint(A, np.concatenate(lo), np.concatenate(hi))


def _check_floors(streets: np.ndarray, capacities: Capacities, all_streets: np.ndarray) -> None:
    have = pd.Series(streets).value_counts()
    named = [s for s in capacities.streets if s != DEFAULT_STREET]
    for s in sorted(set(map(str, all_streets)) | set(named)):
        cap = capacities.street(s)
        if cap.floor > cap.visits:
            raise AllocationInfeasible(f"street {s!r}: floor {cap.floor} exceeds its "
                                       f"{cap.visits} visits per month")
        if cap.floor > int(have.get(s, 0)):
            raise AllocationInfeasible(
                f"street {s!r}: floor of {cap.floor} visits but only {int(have.get(s, 0))} "
                "household(s) there can be referred for a programme")
    if capacities.district_visits is not None:
        floors = sum(capacities.street(s).floor for s in set(map(str, all_streets)))
        if floors > capacities.district_visits:
            raise AllocationInfeasible(f"street floors sum to {floors} visits, above the "
                                       f"district total of {capacities.district_visits}")


def greedy(*, probability: pd.Series, street: pd.Series, referable: pd.DataFrame,
           capacities: Capacities) -> dict[str, Any]:
    """The global top k by probability (k: the visit total), judged against the capacities.

    ``objective_nominal`` counts every pick as if capacity were unlimited; ``objective``
    counts, in rank order, only picks within their street's visits and with a programme
    place left; ``violations`` lists overfilled streets and programmes and starved streets.
    """
    streets = street.astype(str)
    names = sorted(set(streets))
    total = capacities.district_visits
    if total is None:
        total = sum(capacities.street(s).visits for s in names)
    order = np.lexsort((probability.index.to_numpy().astype(str), -probability.to_numpy()))
    top = order[:total]
    prob = probability.to_numpy(dtype=float)[top]
    st = streets.to_numpy()[top]
    ref = referable.to_numpy(dtype=bool)[top]
    codes = list(referable.columns)
    value = np.array([capacities.programmes.get(c, ProgrammeCapacity()).value for c in codes])
    nominal = float(prob.sum() + (prob[:, None] * ref * value).sum())
    in_street = pd.Series(st).groupby(st).cumcount().to_numpy() < \
        np.array([capacities.street(s).visits for s in st])
    eligible = ref & in_street[:, None]
    rank = np.cumsum(eligible, axis=0)
    places = np.array([capacities.places(c) for c in codes])
    got = eligible & (rank <= places)
    visited = got.any(axis=1)
    objective = float(prob[visited].sum() + (prob[:, None] * got * value).sum())
    counts = pd.Series(st).value_counts()
    violations = []
    for s in names:
        cap, have = capacities.street(s), int(counts.get(s, 0))
        if have > cap.visits:
            violations.append(f"street {s}: {have} picks for {cap.visits} visits")
        if have < cap.floor:
            violations.append(f"street {s}: {have} picks, below its floor of {cap.floor}")
    for j, c in enumerate(codes):
        want = int(ref[:, j].sum())
        if want > places[j]:
            violations.append(f"programme {c}: {want} picks for {int(places[j])} places")
    return {"k": int(total), "objective": objective, "objective_nominal": nominal,
            "visits": int(visited.sum()), "violations": violations}
