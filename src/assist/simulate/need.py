"""The hidden truth: each household's latent need, its distress causes, and whether it is in need.

Need is an economic shortfall (income and savings against the minimum-living line, after
unavoidable medical, schooling and rent spending) plus the weight of the distress causes
(illness, disability, unemployment, schooling cost, housing, lack of care, income loss), plus
an unobserved household term (family help, debts) that no record shows. A household is in
need when its score passes a threshold fixed in the first month (5 % in need then).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assist.features import codes
from assist.simulate import calibration as cal
from assist.simulate.state import (
    CAUSES,
    EMPLOYED,
    RETIRED,
    UNEMPLOYED,
    Households,
    Persons,
)

C = {c: i for i, c in enumerate(CAUSES)}
_SINGLE_PARENT = np.array([t.name in cal.SINGLE_PARENT_TYPES for t in cal.HOUSEHOLD_TYPES])
_SKIPPED = np.array([t.name == "skipped_generation" for t in cal.HOUSEHOLD_TYPES])
_BAD_CONDITION = np.isin(np.arange(len(codes.HOUSING_CONDITIONS)),
                         [codes.HOUSING_CONDITIONS.index(c) for c in ("shared_facilities",
                                                                      "dilapidated")])


@dataclass(frozen=True)
class Household:
    """Household aggregates of one month, from the listed members."""

    size: np.ndarray
    elderly: np.ndarray
    working_age: np.ndarray
    unemployed: np.ndarray
    registered_unemployed: np.ndarray
    income: np.ndarray
    oop: np.ndarray
    education: np.ndarray
    children_enrolled: np.ndarray
    any_major: np.ndarray
    chronic: np.ndarray
    hospital: np.ndarray
    severe_disability: np.ndarray
    mild_disability: np.ndarray
    oldest: np.ndarray
    young_child: np.ndarray
    non_local: np.ndarray
    lone_elderly: np.ndarray
    admitted: np.ndarray


def income_of(p: Persons, h: Households) -> np.ndarray:
    """Household income per month before transfers: wages, pensions and other income."""
    pension = np.where(p.status == RETIRED, p.pension, 0.0)
    listed = p.alive
    total = np.bincount(p.hh[listed], weights=(p.wage + pension)[listed], minlength=len(h))
    return total + h.other_income * h.exists


def usual_income(p: Persons, h: Households, day: np.datetime64) -> np.ndarray:
    """Household income with the usual wage of members who lost job or pay in the past year.

    It is the reference against which a drop of income is measured at the start.
    """
    recent = (p.status == UNEMPLOYED) & (p.unemployed_since > day - np.timedelta64(365, "D"))
    wage = np.where((p.status == EMPLOYED) | recent, p.base_wage, 0.0)
    pension = np.where(p.status == RETIRED, p.pension, 0.0)
    listed = p.alive
    total = np.bincount(p.hh[listed], weights=(wage + pension)[listed], minlength=len(h))
    return total + h.other_income * h.exists


def aggregate(p: Persons, h: Households, age: np.ndarray, oop_person: np.ndarray,
              enrolled: np.ndarray, edu_cost: np.ndarray, admitted: np.ndarray) -> Household:
    """Sum the members' records into one row per household."""
    n = len(h)
    listed = p.alive
    idx = p.hh[listed]

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=np.asarray(values, dtype=float)[listed], minlength=n)

    def largest(values: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        np.maximum.at(out, idx, np.asarray(values, dtype=float)[listed])
        return out

    size = np.bincount(idx, minlength=n)
    elderly = total(age >= 60)
    wa = total((age >= 16) & (age < 65))
    return Household(
        size=size, elderly=elderly, working_age=wa,
        unemployed=total(p.status == UNEMPLOYED), registered_unemployed=total(p.registered),
        income=income_of(p, h), oop=total(oop_person), education=total(edu_cost * enrolled),
        children_enrolled=total(enrolled), any_major=total(p.major) > 0, chronic=total(p.chronic),
        hospital=largest(p.hosp_recent),
        severe_disability=total((p.dis_grade > 0) & (p.dis_grade <= 2)) > 0,
        mild_disability=total(p.dis_grade >= 3) > 0, oldest=largest(age),
        young_child=total(age < 6) > 0, non_local=total(p.hukou) == size,
        lone_elderly=(size == 1) & (elderly == 1), admitted=total(admitted) > 0,
    )


@dataclass(frozen=True)
class Need:
    """Latent need of each household this month (score relative to the threshold)."""

    score: np.ndarray
    contributions: np.ndarray
    resources_pc: np.ndarray
    disposable_pc: np.ndarray

    def in_need(self) -> np.ndarray:
        """True need: the score passes the threshold."""
        return self.score > 0

    def primary(self) -> np.ndarray:
        """Index into CAUSES of the largest contribution of each household."""
        return np.argmax(self.contributions, axis=1)

    def causes(self) -> np.ndarray:
        """(households, causes) bool: causes behind the need of a household in need."""
        c = self.contributions
        top = c.max(axis=1, keepdims=True)
        return self.in_need()[:, None] & (c > 0.05) & (c >= 0.3 * top)


def score(rng: np.random.Generator, h: Households, a: Household, line: float,
          threshold: float | None, relief: np.ndarray | None = None) -> tuple[Need, float]:
    """Latent need score and cause contributions; fixes the threshold on first use.

    ``relief``: what the household's grants take off its need score this month
    (:func:`assist.simulate.services.relief`)."""
    n = len(h)
    size = np.maximum(a.size, 1)
    savings = h.assets / (size * 36.0)
    # unavoidable spending (支出型贫困): medical, schooling and rent; the part of the
    # shortfall it causes goes to the expenditure cause, the rent's share to housing
    spend = h.oop_avg + a.education + h.rent
    resources = a.income / size + savings
    disposable = (a.income - spend) / size + savings
    econ_income = np.clip(np.log(1.5 * line / np.maximum(resources, 100.0)), 0, 3)
    econ_total = np.clip(np.log(1.5 * line / np.maximum(disposable, 100.0)), 0, 3)
    v = np.clip(np.log(4 * line / np.maximum(resources, 100.0)), 0, 1)
    income = np.maximum(a.income, 500.0)
    reference = h.income_hist.max(axis=0)
    loss = np.clip(np.log(np.maximum(reference, 1.0) / np.maximum(a.income, 100.0)), 0, 1.5)
    single_parent = _SINGLE_PARENT[h.template] & a.young_child
    care = np.where(a.lone_elderly, 0.25 + 0.35 * (a.oldest >= 80)
                    + 0.3 * (a.any_major | (a.chronic > 0) | a.severe_disability), 0.0) \
        * (1 - 0.6 * h.family_support) + 0.3 * single_parent + 0.3 * _SKIPPED[h.template]

    c = np.zeros((n, len(CAUSES)))
    c[:, C["illness"]] = (0.5 * a.any_major + 0.15 * np.minimum(a.chronic, 2)
                          + 0.6 * a.hospital) * v
    c[:, C["disability"]] = (0.8 * a.severe_disability + 0.3 * a.mild_disability) * v
    c[:, C["unemployment"]] = 0.9 * a.unemployed / np.maximum(a.working_age, 1) * v
    c[:, C["education"]] = 0.6 * np.clip(a.education / income / 0.25, 0, 2) * v
    # the shortfall that spending causes is shared: medical -> expenditure (支出型),
    # schooling -> education, rent (weighted down: a cheaper home is an option) -> housing
    gap = 0.8 * (econ_total - econ_income)
    weights = np.column_stack([h.oop_avg, a.education, 0.35 * h.rent])
    share = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
    c[:, C["expenditure"]] = gap * share[:, 0]
    c[:, C["education"]] += gap * share[:, 1]
    c[:, C["housing"]] = (0.25 * (h.area / size < 8) + 0.25 * _BAD_CONDITION[h.condition]) * v \
        + gap * share[:, 2]
    c[:, C["lack_of_care"]] = care * (0.4 + 0.6 * v)
    c[:, C["income_loss"]] = 1.0 * loss * v
    # the income shortfall is carried by the causes that explain low income
    earning = [C[k] for k in ("unemployment", "income_loss", "illness", "disability",
                              "lack_of_care")]
    weight = c[:, earning]
    total = weight.sum(axis=1)
    share = np.where(total[:, None] > 0, weight / np.where(total > 0, total, 1)[:, None], 0.0)
    fallback = np.where(a.working_age > 0, C["unemployment"], C["lack_of_care"])
    c[:, earning] += share * econ_income[:, None]
    c[np.arange(n), fallback] += np.where(total > 0, 0.0, econ_income)

    raw = c.sum(axis=1) + h.hidden + rng.normal(0, 0.1, n)
    if relief is not None:
        raw = raw - relief
    raw = np.where(h.exists, raw, -np.inf)
    if threshold is None:
        threshold = float(np.quantile(raw[h.exists], 1 - cal.TRUE_NEED_RATE))
    return Need(score=raw - threshold, contributions=c, resources_pc=resources,
                disposable_pc=disposable), threshold


def update_finances(rng: np.random.Generator, h: Households, a: Household, line: float,
                    month_index: int) -> None:
    """Savings run down in a shortfall and grow otherwise; arrears build up when money is short."""
    spend = h.oop_avg + a.education + h.rent
    basic = 1.2 * line * np.maximum(a.size, 1)
    surplus = a.income - spend - basic
    change = np.where(surplus > 0, 0.1 * surplus, 0.3 * surplus)
    h.assets = np.round(np.maximum(h.assets + change, 0), 2)
    short = (a.income - spend) / np.maximum(a.size, 1) < 0.8 * line
    n = len(h)
    up = short & (h.assets < basic * 3) & (rng.random(n) < 0.35)
    down = ~short & (h.arrears > 0) & (rng.random(n) < 0.3)
    h.arrears = np.clip(h.arrears + up - down, 0, 240)
    h.income_hist[month_index % 12] = a.income.astype(np.float32)


def smooth_medical(h: Households, a: Household, first: bool) -> None:
    """Running average of out-of-pocket medical spending (what the household has to budget)."""
    h.oop_avg = a.oop.copy() if first else 0.5 * h.oop_avg + 0.5 * a.oop
