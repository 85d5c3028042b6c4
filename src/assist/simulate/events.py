"""Life events of one month: work, illness and hospital stays, disability, schooling, deaths.

Each function draws one kind of event for everybody at once and updates the person arrays in
place; :func:`advance` runs them in order and returns what happened this month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assist.features import codes
from assist.simulate import calibration as cal
from assist.simulate.state import (
    EMPLOYED,
    HUKOU_NON_LOCAL,
    INACTIVE,
    NAT,
    NONE,
    REL,
    RETIRED,
    SEX_M,
    STUDENT,
    UNEMPLOYED,
    Calendar,
    Claims,
    Households,
    Persons,
    age_at,
)

_DX = {d: i for i, d in enumerate(codes.DIAGNOSIS_GROUPS)}
#: diagnosis mix of claims of people without a registered condition
_OTHER_DX = np.array([_DX[d] for d in ("respiratory", "injury", "other", "cardiovascular",
                                       "diabetes", "maternity")])
_OTHER_DX_P = np.array([0.3, 0.15, 0.35, 0.1, 0.05, 0.05])
#: school levels by age on 31 August of the school year's start (codes.SCHOOL_LEVELS order)
KINDERGARTEN, PRIMARY, JUNIOR, SENIOR, VOCATIONAL = range(5)
_SCHOOL_COST = np.array([1500.0, 500.0, 900.0, 1300.0, 800.0])


@dataclass(frozen=True)
class MonthEvents:
    """What happened this month (masks over persons) and the medical costs incurred."""

    age: np.ndarray
    died: np.ndarray
    admitted: np.ndarray
    job_lost: np.ndarray
    oop: np.ndarray
    claims: Claims


def _days(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.int64).astype("timedelta64[D]")


def work(rng: np.random.Generator, p: Persons, age: np.ndarray, cal_: Calendar) -> np.ndarray:
    """Retirement, leaving school, job loss, re-employment and wage shocks; returns job losses."""
    n = len(p)
    live = p.alive
    male = p.sex == SEX_M
    ret_age = np.where(male, cal.RETIREMENT_AGE["M"], cal.RETIREMENT_AGE["F"])
    nl = p.hukou == HUKOU_NON_LOCAL
    working = np.isin(p.status, [EMPLOYED, UNEMPLOYED, INACTIVE])
    retire = live & working & (age >= ret_age)
    p.status[retire] = RETIRED

    grow_up = live & (p.status == NONE) & (age >= 16)
    p.status[grow_up] = np.where(rng.random(int(grow_up.sum())) < 0.92, STUDENT, UNEMPLOYED)
    graduate = live & (p.status == STUDENT) & (age >= 23)
    p.status[graduate] = np.where(rng.random(int(graduate.sum())) < 0.85, EMPLOYED, UNEMPLOYED)

    u = rng.random(n)
    edu_factor = np.array([1.6, 1.6, 1.3, 1.0, 1.0, 0.6, 0.5])[p.education]
    severe = (p.dis_grade > 0) & (p.dis_grade <= 2)
    hazard = cal.JOB_LOSS * edu_factor * np.where(nl, 1.3, 1.0) * np.where(p.major, 6.0, 1.0) \
        * np.where(severe, 2.0, 1.0)
    employed = live & (p.status == EMPLOYED) & ~graduate
    lost = employed & (u < hazard)
    back = live & (p.status == UNEMPLOYED) & ~grow_up & ~graduate & (
        u < np.where(p.registers, cal.REEMPLOYMENT, cal.REEMPLOYMENT * 1.3)
        * np.where(p.major, 0.3, 1.0))
    newly_unemployed = lost | ((grow_up | graduate) & (p.status == UNEMPLOYED))
    p.status[lost] = UNEMPLOYED
    p.status[back] = EMPLOYED
    p.base_wage[back] = np.round(p.base_wage[back] * rng.uniform(0.75, 1.0, int(back.sum())), 2)

    p.unemployed_since[newly_unemployed] = cal_.random_days(rng, int(newly_unemployed.sum()))
    p.registered = (p.status == UNEMPLOYED) & p.registers
    p.unemployed_since[p.status != UNEMPLOYED] = NAT
    p.insured = (p.status == EMPLOYED) & p.insurable

    v = rng.random(n)
    full = p.wage >= p.base_wage
    drop = live & (p.status == EMPLOYED) & ~back & full & (v < cal.WAGE_DROP)
    recover = live & (p.status == EMPLOYED) & ~full & (v < cal.WAGE_RECOVERY)
    p.wage = np.where(p.status == EMPLOYED, p.wage, 0.0)
    start_job = back | recover | (graduate & (p.status == EMPLOYED))
    p.wage[start_job] = p.base_wage[start_job]
    p.wage[drop] = np.round(p.base_wage[drop] * rng.uniform(0.3, 0.65, int(drop.sum())), 2)
    return lost


def _claims(rng: np.random.Generator, p: Persons, who: np.ndarray, service: np.ndarray,
            days: np.ndarray, total: np.ndarray, settle_lag: np.ndarray) -> Claims:
    m = len(who)
    nl = p.hukou[who] == HUKOU_NON_LOCAL
    share = rng.uniform(0.15, 0.35, m) + 0.15 * nl + 0.05 * ~p.insured[who]
    other = _OTHER_DX[rng.choice(len(_OTHER_DX), m, p=_OTHER_DX_P)]
    dx = np.where(p.major[who], p.major_dx[who], np.where(p.chronic[who], p.chronic_dx[who], other))
    total = np.round(total, 2)
    return Claims(
        person=who.astype(np.int64), service=service, settle=service + _days(days + settle_lag),
        total=total, oop=np.round(total * np.clip(share, 0, 0.95), 2), days=days.astype(np.int64),
        dx=dx.astype(np.int8), major=p.major[who].copy(),
        chronic=p.chronic[who] & (dx == p.chronic_dx[who]),
    )


def hospital_rate(age: np.ndarray, chronic: np.ndarray, major: np.ndarray) -> np.ndarray:
    """Monthly probability of an inpatient admission (about 17 % a year on average)."""
    return 0.006 + 0.02 * np.clip((age - 50) / 40, 0, 1) + 0.015 * chronic + 0.12 * major


def health(rng: np.random.Generator, p: Persons, age: np.ndarray,
           cal_: Calendar) -> tuple[np.ndarray, Claims]:
    """New conditions, hospital stays and outpatient visits; returns admissions and claims."""
    n = len(p)
    live = p.alive
    old = np.clip((age - 40) / 40, 0, 1)
    p.chronic |= live & (rng.random(n) < 0.0006 + 0.003 * old)
    onset = live & ~p.major & (rng.random(n) < 0.0002 + 0.0015 * np.clip((age - 40) / 50, 0, 1))
    remit = live & p.major & (rng.random(n) < 0.02)
    p.major = (p.major | onset) & ~remit

    admitted = live & (rng.random(n) < hospital_rate(age, p.chronic, p.major))
    who = np.flatnonzero(admitted)
    m = len(who)
    stay = 1 + (rng.geometric(0.12, m) * np.where(p.major[who], 1.5, 1.0)).astype(np.int64)
    stay = np.minimum(stay, 120)
    admit = cal_.random_days(rng, m)
    cost = np.array(cal.INPATIENT_COST_MEDIAN)[p.major[who].astype(int)] \
        * np.exp(rng.normal(0, 0.7, m)) * (1 + stay / 20)
    inpatient = _claims(rng, p, who, admit, stay, cost, rng.geometric(0.2, m) - 1)
    p.hosp_start[who] = admit
    p.hosp_end[who] = admit + _days(stay)
    p.hosp_recent *= 0.6
    p.hosp_recent[who] = 1.0

    p_visit = np.where(p.chronic | p.major, 0.8, 0.06 + 0.1 * (age >= 60))
    visit = live & (rng.random(n) < p_visit)
    who = np.flatnonzero(visit)
    m = len(who)
    median = np.where(p.major[who], 3000.0,
                      np.where(p.chronic[who], cal.OUTPATIENT_COST_MEDIAN[0],
                               cal.OUTPATIENT_COST_MEDIAN[1]))
    cost = median * np.exp(rng.normal(0, 0.7, m))
    outpatient = _claims(rng, p, who, cal_.random_days(rng, m), np.zeros(m, np.int64), cost,
                         rng.geometric(0.5, m) - 1)
    inpatient.append(outpatient)
    return admitted, inpatient


def disability(rng: np.random.Generator, p: Persons, cal_: Calendar) -> None:
    """New disability certificates (rare; more after a major illness)."""
    n = len(p)
    new = p.alive & (p.dis_grade == 0) & (rng.random(n) < 0.00005 + 0.0005 * p.major)
    m = int(new.sum())
    p.dis_grade[new] = rng.choice(4, m, p=cal.DISABILITY_GRADE_SHARES) + 1
    p.dis_type[new] = rng.choice(7, m, p=cal.DISABILITY_TYPE_SHARES)
    p.dis_issue[new] = cal_.random_days(rng, m)


def deaths(rng: np.random.Generator, p: Persons, age: np.ndarray, admitted: np.ndarray,
           cal_: Calendar) -> np.ndarray:
    """Who dies this month (Gompertz by age, raised by illness); sets their date of death."""
    a, b = cal.GOMPERTZ
    q = np.exp(a + b * age) / 12 * np.where(p.major, 4.0, 1.0) * np.where(p.chronic, 1.3, 1.0) \
        * np.where(admitted, 2.0, 1.0)
    died = p.alive & (rng.random(len(p)) < np.minimum(q, 0.5))
    p.death[died] = cal_.random_days(rng, int(died.sum()))
    return died


def schooling(p: Persons, age: np.ndarray, cal_: Calendar) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """Enrolment, school level (-1: none) and monthly education cost of every person."""
    year = int(str(cal_.snapshot)[:4]) - (1 if cal_.month < 9 else 0)
    school_age = age_at(p.birth, np.datetime64(f"{year}-08-31", "D"))
    level = np.select(
        [school_age < 3, school_age < 6, school_age < 12, school_age < 15, school_age < 18],
        [-1, KINDERGARTEN, PRIMARY, JUNIOR, np.where(p.vocational, VOCATIONAL, SENIOR)],
        default=-1,
    )
    nl = p.hukou == HUKOU_NON_LOCAL
    severe = (p.dis_grade > 0) & (p.dis_grade <= 2)
    p_out = np.select(
        [level == KINDERGARTEN, (level == PRIMARY) | (level == JUNIOR)],
        [np.where(nl, 0.2, 0.08), np.where(severe, 0.3, np.where(nl, 0.015, 0.004))],
        default=np.where(nl, 0.15, 0.06),
    )
    enrolled = (level >= 0) & (p.school_u >= p_out) & (age >= 3) & (age <= 18)
    level = np.where(enrolled, level, -1)
    fees = 1.3 if cal_.month == 9 else 1.0
    cost = np.where(enrolled, _SCHOOL_COST[np.maximum(level, 0)] * p.edu_cost * fees, 0.0)
    return enrolled, level, np.round(cost, 2)


def advance(rng: np.random.Generator, p: Persons, cal_: Calendar) -> MonthEvents:
    """Draw this month's life events for everybody listed in the registry."""
    age = age_at(p.birth, cal_.end)
    job_lost = work(rng, p, age, cal_)
    admitted, claims = health(rng, p, age, cal_)
    disability(rng, p, cal_)
    died = deaths(rng, p, age, admitted, cal_)
    incurred = claims.service <= cal_.end
    oop = np.bincount(claims.person[incurred], weights=claims.oop[incurred], minlength=len(p))
    return MonthEvents(age=age, died=died, admitted=admitted, job_lost=job_lost, oop=oop,
                       claims=claims)


def close_month(p: Persons, h: Households, died: np.ndarray) -> None:
    """Remove this month's dead from the registry; a household left empty ceases to exist.

    A household whose head died gets a new head: the spouse, otherwise the oldest member.
    """
    head_died = np.zeros(len(h), bool)
    head_died[p.hh[died & (p.relation == REL["head"])]] = True
    p.alive &= ~died
    h.exists = np.bincount(p.hh[p.alive], minlength=len(h)) > 0
    cand = np.flatnonzero(p.alive & head_died[p.hh])
    if len(cand):
        rank = (p.relation[cand] == REL["spouse"]) * 10**6 - p.birth[cand].astype(np.int64)
        order = np.lexsort((-rank, p.hh[cand]))
        first = np.r_[True, p.hh[cand][order][1:] != p.hh[cand][order][:-1]]
        p.relation[cand[order][first]] = REL["head"]
