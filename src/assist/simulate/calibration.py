"""Calibration of the simulated district: the figures the simulator draws from, with sources.

Every rate lives here so that a reader can check it against its source in one place. Figures
marked (approx.) were not checked against a primary source; they are configuration.

Sources
-------
* District layout — 13 streets/towns, 304 residents' committees (:mod:`assist.features.codes`,
  the seeds' X district, DOMAIN.md); street sizes are made uneven by a seeded lognormal factor.
* Household size — Shanghai 7th census (2020): 2.32 persons per family household (national
  2.62). Sizes 1..6 are drawn with shares .27/.33/.22/.11/.05/.02 (mean 2.40) through the
  household types below.
* Age — Shanghai registered residents aged 60+: 36.8 % (2022) and 37.4 % (2023), Shanghai
  elderly population statistics (Shanghai Municipal Health Commission / Office on Ageing);
  the district mixes older registered households and younger non-local ones, giving about a
  third of residents aged 60+. Lone elderly (独居老人) households: 12-16 % (approx., brief).
* Non-local hukou — Shanghai: ~24.9 M residents, ~15.0 M registered (2023 statistical
  bulletin); for a central district ~20-30 % of households are non-local (approx.).
* Income — Shanghai 2023 disposable income per capita 84,834 CNY/year (≈ 7,070/month, mean;
  Shanghai statistical bulletin 2023); the median is lower (national median/mean ≈ 0.87), so
  household income per person is centred on 5,000-6,000 CNY/month with a lognormal low tail.
  Wages by education (approx.); basic pension: employee pensions ≈ 4,800/month (approx.),
  urban-rural residents' pension ≈ 1,500/month (approx.).
* Minimum-living line — :func:`assist.features.policy.minimum_living_line` (dated, Shanghai);
  the low-income line is :data:`assist.features.policy.LOW_INCOME_MULTIPLE` times it.
* True need — national low-income population monitoring (2023): ~66 M people, ~4.7 % of the
  population (DOMAIN.md); the need threshold is set so that 5 % of households are in need in
  the first simulated month, after which life events move it.
* Assistance — Changning district model: coverage rose from 1 % to 3 % of registered residents
  (DOMAIN.md); 1.5-3 % of households are assisted here, with 10-20 % inclusion errors and most
  needy households not assisted (the hidden hardship this service exists to find).
* Disability — Shanghai certified disabled persons ≈ 580 k, ≈ 2.3 % of residents (approx.);
  grade shares 1-4 (approx.).
* Unemployment — Shanghai surveyed urban unemployment ≈ 4.5 % (2023); monthly job-loss and
  re-employment hazards give that stationary rate; non-local workers register less (approx.).
* Health — China inpatient admission rate ≈ 19-20 % of the population per year (national
  health statistics yearbook 2019-2021); out-of-pocket share of inpatient cost 20-45 %
  (Shanghai reimbursement ratios, approx.); mortality follows a Gompertz curve giving a life
  expectancy near Shanghai's 83-84 years (2023).
* Housing — Shanghai per-capita living area ≈ 37 m² (2022 statistics); rents ≈ 85-95 CNY per
  m² per month (approx.); old lane houses (老式里弄) often share kitchens and toilets.
* Water — 水管家 smart meters watch lone elderly people; daily use 100-300 litres (approx.,
  brief); silent (0-litre) days are rare unless the person lacks care or is in hospital.
* Missing values — income ~2 %, financial assets ~5 %, floor area ~2 %, education level ~3 %,
  litres ~1 % (approx., brief).
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------------------------------
# household types: (name, share, member roles after the head, head-age rule)
# roles are codes.RELATIONS values; ages of other members follow from the head's age
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdType:
    """A household template: share of households, members' relations, the head's age range."""

    name: str
    share: float
    members: tuple[str, ...]
    #: head age = lo + (hi - lo) * Beta(a, b); ``elderly`` heads use 60 + Gamma(a, b) instead
    head_age: tuple[float, float, float, float]
    elderly: bool = False
    #: probability that the head is male
    male_head: float = 0.6
    #: probability that the whole household is non-local
    non_local: float = 0.32
    #: probability that one non-head member is non-local in an otherwise local household
    mixed: float = 0.08


HOUSEHOLD_TYPES: tuple[HouseholdType, ...] = (
    HouseholdType("lone_elderly", 0.14, ("head",), (62, 0, 2.2, 7.0), elderly=True,
                  male_head=0.35, non_local=0.05, mixed=0.0),
    HouseholdType("single_adult", 0.13, ("head",), (20, 59, 1.6, 1.8), male_head=0.55, mixed=0.0),
    HouseholdType("elderly_couple", 0.12, ("head", "spouse"), (60, 0, 2.0, 6.0), elderly=True,
                  non_local=0.05, mixed=0.03),
    HouseholdType("couple", 0.10, ("head", "spouse"), (22, 75, 1.3, 1.2)),
    HouseholdType("single_parent", 0.04, ("head", "child"), (26, 56, 2.0, 2.0), male_head=0.2),
    HouseholdType("adult_with_parent", 0.05, ("head", "parent"), (30, 59, 2.0, 1.5),
                  non_local=0.15),
    HouseholdType("skipped_generation", 0.02, ("head", "grandchild"), (55, 80, 2.0, 2.0),
                  male_head=0.4, non_local=0.10, mixed=0.0),
    HouseholdType("nuclear_1", 0.17, ("head", "spouse", "child"), (26, 66, 2.0, 1.8)),
    HouseholdType("elderly_couple_adult_child", 0.02, ("head", "spouse", "child"),
                  (60, 0, 2.0, 5.0), elderly=True, non_local=0.05),
    HouseholdType("single_parent_2", 0.01, ("head", "child", "child"), (28, 52, 2.0, 2.0),
                  male_head=0.2),
    HouseholdType("couple_with_parent", 0.02, ("head", "spouse", "parent"), (30, 59, 2.0, 1.5)),
    HouseholdType("nuclear_2", 0.05, ("head", "spouse", "child", "child"), (28, 50, 2.0, 2.0)),
    HouseholdType("three_gen_1", 0.06, ("head", "spouse", "child", "parent"), (28, 53, 2.0, 2.0)),
    HouseholdType("three_gen_2", 0.04, ("head", "spouse", "child", "parent", "parent"),
                  (28, 53, 2.0, 2.0)),
    HouseholdType("nuclear_3", 0.01, ("head", "spouse", "child", "child", "child"),
                  (30, 50, 2.0, 2.0)),
    HouseholdType("three_gen_3", 0.02, ("head", "spouse", "child", "child", "parent", "parent"),
                  (28, 50, 2.0, 2.0)),
)
MAX_MEMBERS = max(len(t.members) for t in HOUSEHOLD_TYPES)
SINGLE_PARENT_TYPES = ("single_parent", "single_parent_2")

# ---------------------------------------------------------------------------------------
# people
# ---------------------------------------------------------------------------------------
#: wage medians by education level (codes.EDUCATION_LEVELS order), CNY/month (approx.)
WAGE_MEDIAN = (4800.0, 5400.0, 6600.0, 8000.0, 8600.0, 13500.0, 20000.0)
WAGE_SIGMA = 0.45
NON_LOCAL_WAGE_FACTOR = 0.85
EMPLOYEE_PENSION_MEDIAN = 5000.0
RESIDENT_PENSION = 1500.0
NON_LOCAL_PENSION_MEDIAN = 2400.0
RURAL_PENSION = 250.0
#: share of local elderly with only the residents' pension
RESIDENT_PENSION_SHARE = 0.2
RETIREMENT_AGE = {"F": 55, "M": 60}

#: monthly hazards
JOB_LOSS = 0.004
REEMPLOYMENT = 0.09
WAGE_DROP = 0.002
WAGE_RECOVERY = 0.06
REGISTERS_IF_UNEMPLOYED = {"local": 0.75, "non_local": 0.3}
INSURED_IF_EMPLOYED = {"local": 0.92, "non_local": 0.6}

#: Gompertz mortality: annual q = exp(A + B * age)
GOMPERTZ = (-10.6, 0.097)

DISABILITY_GRADE_SHARES = (0.12, 0.22, 0.33, 0.33)
DISABILITY_TYPE_SHARES = (0.45, 0.13, 0.12, 0.01, 0.07, 0.15, 0.07)

# ---------------------------------------------------------------------------------------
# health
# ---------------------------------------------------------------------------------------
#: median total inpatient cost (ordinary, major illness), CNY
INPATIENT_COST_MEDIAN = (12000.0, 40000.0)
OUTPATIENT_COST_MEDIAN = (600.0, 300.0)  # chronic, other
CHRONIC_DIAGNOSES = ("cardiovascular", "diabetes", "respiratory", "renal", "mental")
MAJOR_DIAGNOSES = ("cancer", "cardiovascular", "renal", "mental")

# ---------------------------------------------------------------------------------------
# housing (codes.ADDRESS_CLASSES order)
# ---------------------------------------------------------------------------------------
ADDRESS_CLASS_SHARES = (0.55, 0.14, 0.07, 0.05, 0.13, 0.06)
FLOOR_AREA_MEDIAN = (88.0, 48.0, 28.0, 45.0, 72.0, 40.0)
#: condition shares (good, old, shared_facilities, dilapidated) per address class
CONDITION_SHARES = (
    (0.85, 0.13, 0.01, 0.01),
    (0.35, 0.50, 0.12, 0.03),
    (0.10, 0.35, 0.45, 0.10),
    (0.60, 0.35, 0.04, 0.01),
    (0.70, 0.27, 0.02, 0.01),
    (0.40, 0.35, 0.15, 0.10),
)
#: tenure shares (owned, public_rental, private_rental, employer, relative, other)
TENURE_SHARES = {
    "local": (0.78, 0.06, 0.10, 0.02, 0.03, 0.01),
    "non_local": (0.25, 0.00, 0.62, 0.08, 0.03, 0.02),
}
RENT_PER_M2 = 85.0
PUBLIC_RENT_PER_M2 = 25.0

# ---------------------------------------------------------------------------------------
# need, assistance and caseworkers
# ---------------------------------------------------------------------------------------
TRUE_NEED_RATE = 0.05
ASSISTED_RATE = 0.022
INCLUSION_ERROR_SHARE = 0.10
#: months between routine reviews of assisted households
REVIEW_EVERY_MONTHS = 4
#: monthly application probability of a clearly needy household (before selection factors)
APPLY_RATE = 0.035
#: selection factors on applying: non-local households, lone elderly, known to the community
APPLY_FACTOR = {"non_local": 0.3, "lone_elderly": 0.35, "known": 1.5}
#: outcome shares (confirmed, not_in_need, unreachable, declined) by true need
OUTCOME_IF_NEEDY = (0.86, 0.04, 0.06, 0.04)
OUTCOME_IF_NOT_NEEDY = (0.06, 0.84, 0.06, 0.04)
CASEWORKERS_PER_STREET = 8
#: what a grant does to the household's latent need: (reduction of the need score, months
#: after the grant starts before it is felt), per programme. The need score is in units where
#: the cut point is 0 and a typical household in need stands 0.1-1.0 above it; a cash
#: transfer that covers the gap to the minimum-living line (dibao, tekun) lifts most of the
#: households it reaches out of need, targeted aid (medical, education, housing) less, and
#: employment help only after a few months. Applies to grants that start during the
#: simulated period (grants held before it are part of the calibrated starting district), for
#: as long as the grant runs; one-off temporary aid is felt in its own month only.
GRANT_EFFECT: dict[str, tuple[float, int]] = {
    "dibao": (0.5, 1), "low_income": (0.3, 1), "tekun": (0.6, 1), "expenditure": (0.3, 1),
    "medical": (0.3, 1), "education": (0.2, 1), "employment": (0.3, 3), "housing": (0.3, 1),
    "temporary": (0.4, 0), "charity": (0.15, 1),
}

#: missing-value rates of nullable columns (table, column) -> rate
MISSING_RATES: dict[tuple[str, str], float] = {
    ("households", "address"): 0.01,
    ("persons", "name"): 0.005,
    ("persons", "id_number"): 0.01,
    ("persons", "education_level"): 0.03,
    ("income", "monthly_income"): 0.02,
    ("income", "financial_assets"): 0.05,
    ("income", "arrears_months"): 0.01,
    ("disability", "certificate_no"): 0.01,
    ("employment", "monthly_wage"): 0.02,
    ("school_enrolment", "monthly_education_cost"): 0.02,
    ("housing", "floor_area_m2"): 0.02,
    ("housing", "monthly_rent"): 0.02,
    ("water_readings", "litres"): 0.01,
    ("verifications", "caseworker_id"): 0.02,
}

#: days before the month's end at which each department's extract is current
AS_OF_LAG_DAYS: dict[str, int] = {
    "households": 0, "persons": 0, "income": 5, "medical_claims": 2, "disability": 0,
    "employment": 0, "school_enrolment": 0, "housing": 0, "water_readings": 0,
    "hotline_appeals": 0, "assistance": 0, "verifications": 0,
}
