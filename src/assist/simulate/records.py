"""Department records of one month, built from the district's state: one builder per table.

Each builder returns the table's columns (Arrow arrays, in the declared order) as the
department would hold them: reported values with noise, realistic gaps in nullable columns,
and only what that department can know (unregistered unemployment, for example, is invisible).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assist.features import codes
from assist.simulate import identity, textgen
from assist.simulate.calibration import CASEWORKERS_PER_STREET, MISSING_RATES
from assist.simulate.events import MonthEvents
from assist.simulate.need import C, Household, Need
from assist.simulate.services import Appeals, Visits
from assist.simulate.state import (
    EMPLOYED,
    HUKOU_NON_LOCAL,
    PROGRAMMES,
    Calendar,
    Claims,
    Grants,
    Households,
    Persons,
)

Columns = dict[str, pa.Array]
_STREETS = tuple(codes.STREETS)
_COMMUNITIES = tuple(codes.community_codes())


@dataclass(frozen=True)
class Month:
    """Everything the month's records are built from."""

    cal: Calendar
    p: Persons
    h: Households
    ev: MonthEvents
    agg: Household
    need: Need
    school: tuple[np.ndarray, np.ndarray, np.ndarray]
    claims: Claims
    claim_seq: np.ndarray
    appeals: Appeals
    visits: Visits
    grants: Grants
    #: scrambling keys of generated identifiers
    keys: dict[str, tuple[int, int]]


def _ts(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    days = np.asarray(days, dtype="datetime64[D]")
    null = np.isnat(days) if mask is None else (np.isnat(days) | mask)
    return pa.array(days.astype("datetime64[ms]"), type=pa.timestamp("ms"), mask=null)


def _num(values: np.ndarray, kind: pa.DataType, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values), type=kind, mask=mask)


def _missing(rng: np.random.Generator, table: str, column: str, n: int) -> np.ndarray:
    return rng.random(n) < MISSING_RATES.get((table, column), 0.0)


def _frame(m: Month, table: str, hh: np.ndarray) -> Columns:
    """household_id, snapshot and as_of_date for rows of households ``hh``."""
    n = len(hh)
    zeros = pa.array(np.zeros(n, np.int64))
    return {
        "household_id": m.h.hid.take(pa.array(np.asarray(hh, np.int64))),
        "snapshot": pa.array([m.cal.snapshot], pa.string()).take(zeros),
        "as_of_date": _ts(np.full(n, m.cal.as_of(table))),
    }


def _persons_frame(m: Month, table: str, rows: np.ndarray) -> Columns:
    return {"person_id": m.p.pid.take(pa.array(rows)), **_frame(m, table, m.p.hh[rows])}


def with_nulls(values: pa.Array, mask: np.ndarray) -> pa.Array:
    """``values`` with nulls where ``mask`` is true."""
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.nulls(len(values), values.type), values)


def households(m: Month, rng: np.random.Generator) -> Columns:
    """Registered households with jurisdiction, registration type and address."""
    h = m.h
    rows = np.flatnonzero(h.exists)
    size = np.maximum(m.agg.size[rows], 1)
    nl = np.bincount(m.p.hh[m.p.alive], weights=m.p.hukou[m.p.alive] == HUKOU_NON_LOCAL,
                     minlength=len(h))[rows]
    reg = np.where(nl == size, 1, np.where(nl > 0, 2, 0))
    return {
        **_frame(m, "households", rows),
        "street_code": textgen.take(_STREETS, h.street[rows]),
        "community_code": textgen.take(_COMMUNITIES, h.community[rows]),
        "registration_type": textgen.take(codes.REGISTRATION_TYPES, reg),
        "address_class": textgen.take(codes.ADDRESS_CLASSES, h.address_class[rows]),
        "address": with_nulls(h.address.take(pa.array(rows)),
                           _missing(rng, "households", "address", len(rows))),
    }


def persons(m: Month, rng: np.random.Generator) -> Columns:
    """Registry entries: age, sex, relation, hukou and highest education."""
    p = m.p
    rows = np.flatnonzero(p.alive)
    n = len(rows)
    age = m.ev.age[rows]
    child_level = np.select([age < 12, age < 15], [0, 1], default=2)
    edu = np.where(age < 18, child_level, p.education[rows])
    return {
        **_persons_frame(m, "persons", rows),
        "name": with_nulls(p.name.take(pa.array(rows)), _missing(rng, "persons", "name", n)),
        "id_number": with_nulls(p.id_number.take(pa.array(rows)),
                             _missing(rng, "persons", "id_number", n)),
        "age": _num(age, pa.int64()),
        "sex": textgen.take(codes.SEXES, p.sex[rows]),
        "relation": textgen.take(codes.RELATIONS, p.relation[rows]),
        "hukou": textgen.take(codes.HUKOU, p.hukou[rows]),
        "education_level": with_nulls(textgen.take(codes.EDUCATION_LEVELS, edu),
                                   _missing(rng, "persons", "education_level", n)),
        "phone": identity.phones(rows, age, m.keys["person"]),
    }


def income(m: Month, rng: np.random.Generator) -> Columns:
    """Economic-status check: reported income (noisy, under-reported by some), assets, arrears."""
    rows = np.flatnonzero(m.h.exists)
    n = len(rows)
    under = np.where(m.agg.non_local[rows], rng.uniform(0.75, 1.0, n), 1.0)
    reported = np.round(m.agg.income[rows] * np.exp(rng.normal(0, 0.08, n)) * under, 2)
    assets = np.round(m.h.assets[rows] * np.exp(rng.normal(0, 0.1, n)), 2)
    return {
        **_frame(m, "income", rows),
        "monthly_income": _num(reported, pa.float64(),
                               _missing(rng, "income", "monthly_income", n)),
        "financial_assets": _num(assets, pa.float64(),
                                 _missing(rng, "income", "financial_assets", n)),
        "arrears_months": _num(m.h.arrears[rows], pa.int64(),
                               _missing(rng, "income", "arrears_months", n)),
    }


def medical_claims(m: Month, rng: np.random.Generator) -> Columns:
    """Claims settled since the last extract (service dates can lie in earlier months)."""
    c = m.claims
    return {
        "claim_id": textgen.prefixed_ids("CL", m.claim_seq, 12, m.keys["claim"]),
        **_persons_frame(m, "medical_claims", c.person),
        "service_date": _ts(c.service),
        "total_cost": _num(c.total, pa.float64()),
        "out_of_pocket": _num(c.oop, pa.float64()),
        "inpatient": _num(c.days > 0, pa.bool_()),
        "inpatient_days": _num(c.days, pa.int64()),
        "diagnosis_group": textgen.take(codes.DIAGNOSIS_GROUPS, c.dx),
        "major_illness": _num(c.major, pa.bool_()),
        "chronic_condition": _num(c.chronic, pa.bool_()),
    }


def disability(m: Month, rng: np.random.Generator) -> Columns:
    """Disability certificates held by listed persons."""
    p = m.p
    rows = np.flatnonzero(p.alive & (p.dis_grade > 0))
    cert = textgen.certificate_numbers(p.id_number.take(pa.array(rows)), p.dis_type[rows],
                                       p.dis_grade[rows])
    return {
        **_persons_frame(m, "disability", rows),
        "certificate_no": with_nulls(
            cert, _missing(rng, "disability", "certificate_no", len(rows))),
        "disability_type": textgen.take(codes.DISABILITY_TYPES, p.dis_type[rows]),
        "grade": _num(p.dis_grade[rows].astype(np.int64), pa.int64()),
        "issue_date": _ts(p.dis_issue[rows]),
    }


def employment(m: Month, rng: np.random.Generator) -> Columns:
    """Working-age persons: registered unemployment, social insurance and reported wage."""
    p = m.p
    age = m.ev.age
    rows = np.flatnonzero(p.alive & (age >= 16) & (age <= 64))
    n = len(rows)
    employed = p.status[rows] == EMPLOYED
    registered = p.registered[rows]
    wage = np.round(p.wage[rows] * rng.uniform(0.95, 1.05, n), 2)
    wage = np.where(registered, 0.0, wage)
    gaps = _missing(rng, "employment", "monthly_wage", n)
    null_wage = ~(employed | registered) | (employed & gaps)
    return {
        **_persons_frame(m, "employment", rows),
        "registered_unemployed": _num(registered, pa.bool_()),
        "unemployed_since": _ts(np.where(registered, p.unemployed_since[rows],
                                         np.datetime64("NaT", "D"))),
        "social_insurance": _num(p.insured[rows], pa.bool_()),
        "monthly_wage": _num(wage, pa.float64(), null_wage),
    }


def school_enrolment(m: Month, rng: np.random.Generator) -> Columns:
    """Children aged 3-18: enrolment, level and monthly education cost."""
    p = m.p
    age = m.ev.age
    enrolled, level, cost = m.school
    rows = np.flatnonzero(p.alive & (age >= 3) & (age <= 18))
    n = len(rows)
    on = enrolled[rows]
    reported = np.round(cost[rows] * np.exp(rng.normal(0, 0.1, n)), 2)
    return {
        **_persons_frame(m, "school_enrolment", rows),
        "enrolled": _num(on, pa.bool_()),
        "school_level": with_nulls(
            textgen.take(codes.SCHOOL_LEVELS, np.maximum(level[rows], 0)), ~on),
        "monthly_education_cost": _num(
            reported, pa.float64(), ~on | _missing(rng, "school_enrolment",
                                                   "monthly_education_cost", n)),
    }


def housing(m: Month, rng: np.random.Generator) -> Columns:
    """Dwelling of each household."""
    h = m.h
    rows = np.flatnonzero(h.exists)
    n = len(rows)
    renting = h.rent[rows] > 0
    return {
        **_frame(m, "housing", rows),
        "tenure": textgen.take(codes.TENURES, h.tenure[rows]),
        "floor_area_m2": _num(h.area[rows], pa.float64(),
                              _missing(rng, "housing", "floor_area_m2", n)),
        "condition": textgen.take(codes.HOUSING_CONDITIONS, h.condition[rows]),
        "shared_kitchen": _num(h.shared_kitchen[rows], pa.bool_()),
        "shared_toilet": _num(h.shared_toilet[rows], pa.bool_()),
        "monthly_rent": _num(h.rent[rows], pa.float64(),
                             renting & _missing(rng, "housing", "monthly_rent", n)),
    }


def water_readings(m: Month, rng: np.random.Generator) -> Columns:
    """Daily smart-meter readings of monitored elderly people (silent when alone or in hospital)."""
    p = m.p
    who = np.flatnonzero(p.alive & p.monitored)
    lo, hi = m.cal.window("water_readings")
    days = int((hi - lo).astype(int)) + 1
    person = np.repeat(who, days)
    day = lo + np.tile(np.arange(days), len(who)).astype("timedelta64[D]")
    keep = np.isnat(p.death[person]) | (day < p.death[person])
    person, day = person[keep], day[keep]
    n = len(person)
    care = m.need.contributions[p.hh[person], C["lack_of_care"]]
    silent_p = 0.005 + 0.1 * np.clip(care, 0, 1) + 0.05 * m.agg.any_major[p.hh[person]]
    hospital = (day >= p.hosp_start[person]) & (day < p.hosp_end[person])
    silent = hospital | (rng.random(n) < silent_p)
    litres = np.round(p.litres_base[person] * np.exp(rng.normal(0, 0.3, n)), 1)
    return {
        **_persons_frame(m, "water_readings", person),
        "reading_date": _ts(day),
        "litres": _num(np.where(silent, 0.0, litres), pa.float64(),
                       _missing(rng, "water_readings", "litres", n)),
        # the person's smart meter (水管家 registration), read by the meter simulator
        "meter_id": textgen.join("WM", m.p.pid.take(pa.array(person))),
    }


def hotline_appeals(m: Month, rng: np.random.Generator) -> Columns:
    """12345 appeals of the month."""
    a = m.appeals
    return {
        "appeal_id": textgen.prefixed_ids("AP", a.seq, 10, m.keys["appeal"]),
        **_frame(m, "hotline_appeals", a.hh),
        "appeal_date": _ts(a.date),
        "category": textgen.take(codes.APPEAL_CATEGORIES, a.category),
    }


def assistance(m: Month, rng: np.random.Generator) -> Columns:
    """Grants in force this month (and those that ended this month)."""
    g = m.grants
    return {
        "grant_id": textgen.prefixed_ids("GR", g.gid, 10, m.keys["grant"]),
        **_frame(m, "assistance", g.hh),
        "programme": textgen.take(PROGRAMMES, g.programme),
        "monthly_amount": _num(g.amount, pa.float64()),
        "start_date": _ts(g.start),
        "end_date": _ts(g.end),
    }


def verifications(m: Month, rng: np.random.Generator) -> Columns:
    """Caseworker visits of the month with their recorded outcome."""
    v = m.visits
    n = len(v.hh)
    worker = textgen.join(textgen.take(_STREETS, m.h.street[v.hh]), "-CW",
                          textgen.take([f"{i:02d}" for i in range(CASEWORKERS_PER_STREET + 1)],
                                       v.caseworker))
    return {
        "verification_id": textgen.prefixed_ids("VF", v.seq, 10, m.keys["verification"]),
        **_frame(m, "verifications", v.hh),
        "visit_date": _ts(v.date),
        "trigger": textgen.take(codes.VERIFICATION_TRIGGERS, v.trigger),
        "outcome": textgen.take(codes.VERIFICATION_OUTCOMES, v.outcome),
        "caseworker_id": with_nulls(worker, _missing(rng, "verifications", "caseworker_id", n)),
    }


BUILDERS: dict[str, Callable[[Month, np.random.Generator], Columns]] = {
    "households": households, "persons": persons, "income": income,
    "medical_claims": medical_claims, "disability": disability, "employment": employment,
    "school_enrolment": school_enrolment, "housing": housing, "water_readings": water_readings,
    "hotline_appeals": hotline_appeals, "assistance": assistance, "verifications": verifications,
}
