"""The district at the start of the simulation: streets, households, members and their lives.

Households are drawn from the templates in :mod:`.calibration` (which fix size, relations and
the head's age); members' ages follow from the head's; hukou, education, work, pensions,
health, disability, housing and savings are drawn conditionally, all vectorised.
"""

from __future__ import annotations

import numpy as np

from assist.features import codes
from assist.simulate import calibration as cal
from assist.simulate import textgen
from assist.simulate.events import hospital_rate
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
    Households,
    IdKeys,
    Persons,
)

_DX = {d: i for i, d in enumerate(codes.DIAGNOSIS_GROUPS)}
_TYPES = cal.HOUSEHOLD_TYPES


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float,
               n: int) -> np.ndarray:
    return np.asarray(median, dtype=float) * np.exp(rng.normal(0.0, sigma, n))


def _choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` (rows sum to 1), vectorised."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return np.minimum((u >= cum).sum(axis=1), probs.shape[1] - 1)


def _jurisdictions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    per_street = np.array(list(codes.COMMUNITIES_PER_STREET.values()))
    street_of_comm = np.repeat(np.arange(len(per_street)), per_street)
    street_w = per_street * rng.lognormal(0.0, 0.35, len(per_street))
    comm_w = rng.lognormal(0.0, 0.4, len(street_of_comm))
    comm_w = comm_w / np.bincount(street_of_comm, weights=comm_w)[street_of_comm]
    p = comm_w * street_w[street_of_comm]
    community = rng.choice(len(p), n, p=p / p.sum())
    return street_of_comm[community].astype(np.int16), community.astype(np.int16)


def _ages(rng: np.random.Generator, template: np.ndarray, hh: np.ndarray,
          relation: np.ndarray, head_male: np.ndarray) -> np.ndarray:
    n_p = len(hh)
    spec = np.array([t.head_age for t in _TYPES])
    elderly = np.array([t.elderly for t in _TYPES])[template]
    lo, hi, a, b = (spec[template, i] for i in range(4))
    head = np.where(elderly, lo + rng.gamma(a, b), lo + (hi - lo) * rng.beta(a, b))
    head = np.clip(head, 18, 99.5)[hh]
    spouse = head + np.where(head_male[hh], -2.0, 2.0) + rng.normal(0, 3, n_p)
    rel_age = np.select(
        [relation == REL["head"], relation == REL["spouse"], relation == REL["child"],
         relation == REL["parent"], relation == REL["grandchild"]],
        [head, np.maximum(spouse, 18.0), head - rng.uniform(23, 37, n_p),
         head + rng.uniform(24, 34, n_p), rng.uniform(0, 17.99, n_p)],
        default=head + rng.normal(0, 5, n_p),
    )
    return np.clip(rel_age, 0.05, 100.0)


def _education(rng: np.random.Generator, age: np.ndarray, non_local: np.ndarray) -> np.ndarray:
    z = rng.normal(0, 1, len(age)) - 0.035 * (age - 35) - 0.45 * non_local
    cuts = np.array([-2.3, -1.5, -0.6, -0.1, 0.3, 1.6])
    return np.searchsorted(cuts, z).astype(np.int8)


def _work(rng: np.random.Generator, p: dict[str, np.ndarray], age: np.ndarray,
          start: np.datetime64) -> None:
    """Employment status, wages, pensions and registration flags (writes into ``p``)."""
    n = len(age)
    nl = p["hukou"] == HUKOU_NON_LOCAL
    male = p["sex"] == SEX_M
    ret_age = np.where(male, cal.RETIREMENT_AGE["M"], cal.RETIREMENT_AGE["F"])
    severe = (p["dis_grade"] > 0) & (p["dis_grade"] <= 2)
    student = (age >= 16) & (age < 23) & (rng.random(n) < np.where(age < 18, 0.92, 0.55)
                                           * np.where(nl, 0.7, 1.0))
    inactive = (rng.random(n) < np.where(male, 0.06, 0.10)) | (severe & (rng.random(n) < 0.8)) \
        | (p["major"] & (rng.random(n) < 0.4))
    u_rate = np.array([0.09, 0.09, 0.07, 0.05, 0.05, 0.03, 0.02])[p["education"]]
    unemployed = rng.random(n) < u_rate * np.where(nl, 1.2, 1.0)
    retired = (age >= ret_age) | ((~male) & (age >= 50) & (rng.random(n) < 0.4))
    status = np.select(
        [age < 16, retired, student, inactive, unemployed],
        [NONE, RETIRED, STUDENT, INACTIVE, UNEMPLOYED], default=EMPLOYED,
    ).astype(np.int8)
    p["status"] = status
    median = np.array(cal.WAGE_MEDIAN)[p["education"]] * np.where(nl, cal.NON_LOCAL_WAGE_FACTOR, 1)
    p["base_wage"] = np.round(_lognormal(rng, median, cal.WAGE_SIGMA, n), 2)
    dropped = (status == EMPLOYED) & (rng.random(n) < 0.03)
    p["wage"] = np.where(status == EMPLOYED, p["base_wage"], 0.0)
    cut = np.round(p["base_wage"] * rng.uniform(0.3, 0.65, n), 2)
    p["wage"] = np.where(dropped, cut, p["wage"])
    months_out = rng.exponential(1 / cal.REEMPLOYMENT, n)
    since = start - np.maximum(1, (months_out * 30.4).astype(np.int64)).astype("timedelta64[D]")
    p["unemployed_since"] = np.where(status == UNEMPLOYED, since, NAT)
    p["registers"] = rng.random(n) < np.where(nl, cal.REGISTERS_IF_UNEMPLOYED["non_local"],
                                              cal.REGISTERS_IF_UNEMPLOYED["local"])
    p["registered"] = (status == UNEMPLOYED) & p["registers"]
    p["insurable"] = rng.random(n) < np.where(nl, cal.INSURED_IF_EMPLOYED["non_local"],
                                              cal.INSURED_IF_EMPLOYED["local"])
    p["insured"] = (status == EMPLOYED) & p["insurable"]
    employee = rng.random(n) < np.where(nl, 0.35, 1 - cal.RESIDENT_PENSION_SHARE)
    pension = np.where(
        employee,
        _lognormal(rng, np.where(nl, cal.NON_LOCAL_PENSION_MEDIAN, cal.EMPLOYEE_PENSION_MEDIAN),
                   0.3, n),
        np.where(nl, cal.RURAL_PENSION, cal.RESIDENT_PENSION) * rng.uniform(0.95, 1.05, n),
    )
    p["pension"] = np.round(pension, 2)


def _health(rng: np.random.Generator, p: dict[str, np.ndarray], age: np.ndarray,
            start: np.datetime64) -> None:
    n = len(age)
    old = np.clip((age - 40) / 40, 0, 1)
    p["chronic"] = rng.random(n) < 0.02 + 0.35 * old
    chronic_dx = np.array([_DX[d] for d in cal.CHRONIC_DIAGNOSES])
    p["chronic_dx"] = chronic_dx[rng.integers(0, len(chronic_dx), n)].astype(np.int8)
    p["major"] = rng.random(n) < 0.004 + 0.03 * np.clip((age - 40) / 50, 0, 1)
    major_dx = np.array([_DX[d] for d in cal.MAJOR_DIAGNOSES])
    p["major_dx"] = major_dx[rng.integers(0, len(major_dx), n)].astype(np.int8)
    disabled = rng.random(n) < 0.008 + 0.06 * np.clip((age - 40) / 50, 0, 1)
    grade = rng.choice(4, n, p=cal.DISABILITY_GRADE_SHARES) + 1
    p["dis_grade"] = np.where(disabled, grade, 0).astype(np.int8)
    p["dis_type"] = np.where(disabled, rng.choice(7, n, p=cal.DISABILITY_TYPE_SHARES), -1
                             ).astype(np.int8)
    held = rng.uniform(0, np.minimum(age, 30.0)) * 365.25
    p["dis_issue"] = np.where(disabled, start - held.astype(np.int64).astype("timedelta64[D]"), NAT)


def build_persons(rng: np.random.Generator, template: np.ndarray, start: np.datetime64,
                  keys: IdKeys) -> tuple[Persons, np.ndarray]:
    """Members of every household; also returns each household's surname code."""
    sizes = np.array([len(t.members) for t in _TYPES])[template]
    n_hh, n = len(template), int(sizes.sum())
    hh = np.repeat(np.arange(n_hh), sizes)
    pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    roles = np.full((len(_TYPES), cal.MAX_MEMBERS), -1)
    for i, t in enumerate(_TYPES):
        roles[i, :len(t.members)] = [REL[r] for r in t.members]
    relation = roles[template[hh], pos].astype(np.int8)

    head_male = rng.random(n_hh) < np.array([t.male_head for t in _TYPES])[template]
    sex = np.where(relation == REL["head"], head_male[hh],
                   np.where(relation == REL["spouse"], ~head_male[hh], rng.random(n) < 0.5))
    age = _ages(rng, template, hh, relation, head_male)
    birth = start - (age * 365.25).astype(np.int64).astype("timedelta64[D]")

    u = rng.random(n_hh)
    all_non_local = u < np.array([t.non_local for t in _TYPES])[template]
    mixed = ~all_non_local & (rng.random(n_hh) < np.array([t.mixed for t in _TYPES])[template])
    non_local = all_non_local[hh] | (mixed[hh] & (pos == 1))

    p: dict[str, np.ndarray] = {
        "hh": hh.astype(np.int64), "relation": relation, "sex": sex.astype(np.int8),
        "birth": birth, "hukou": non_local.astype(np.int8),
        "education": _education(rng, age, non_local),
    }
    _health(rng, p, age, start)
    _work(rng, p, age, start)
    p["vocational"] = rng.random(n) < 0.35
    p["school_u"] = rng.random(n)
    p["edu_cost"] = np.exp(rng.normal(0, 0.5, n)) * np.where(non_local, 1.2, 1.0)
    lone = np.array([t.name == "lone_elderly" for t in _TYPES])[template][hh]
    p["monitored"] = lone & (age >= 65) & (rng.random(n) < np.where(non_local, 0.35, 0.6))
    p["litres_base"] = rng.uniform(100, 250, n)
    # admissions of the last six months, decayed as the monthly step decays them
    rate = hospital_rate(age, p["chronic"], p["major"])
    p["hosp_recent"] = sum(0.6**j * (rng.random(n) < rate) for j in range(1, 7))
    p["hosp_start"] = np.full(n, NAT)
    p["hosp_end"] = np.full(n, NAT)
    p["alive"] = np.ones(n, bool)
    p["death"] = np.full(n, NAT)

    surname_hh = rng.integers(0, len(textgen.SURNAMES), n_hh)
    own = np.isin(relation, [REL["head"], REL["child"], REL["grandchild"], REL["sibling"]])
    surname = np.where(own, surname_hh[hh], rng.integers(0, len(textgen.SURNAMES), n))
    strings = {
        "pid": textgen.prefixed_ids("P", np.arange(n), 12, keys.keys["person"]),
        "name": textgen.names(rng, p["sex"], surname),
        "id_number": textgen.id_numbers(rng, birth, p["sex"], ~non_local),
    }
    return Persons(**p, **strings), surname_hh


def build_households(rng: np.random.Generator, n: int, keys: IdKeys
                     ) -> tuple[Households, np.ndarray]:
    """Households with jurisdiction, address, dwelling and latent traits; also their template."""
    shares = np.array([t.share for t in _TYPES])
    template = rng.choice(len(_TYPES), n, p=shares / shares.sum()).astype(np.int8)
    street, community = _jurisdictions(rng, n)
    street_mix = rng.dirichlet(np.array(cal.ADDRESS_CLASS_SHARES) * 40, len(codes.STREETS))
    address_class = _choice(rng, street_mix[street]).astype(np.int8)
    condition = _choice(rng, np.array(cal.CONDITION_SHARES)[address_class]).astype(np.int8)
    shared = condition == codes.HOUSING_CONDITIONS.index("shared_facilities")
    h = Households(
        hid=textgen.prefixed_ids("HH", np.arange(n), 10, keys.keys["household"]),
        street=street, community=community, template=template, address_class=address_class,
        address=textgen.addresses(rng, list(codes.STREETS.values()), street),
        tenure=np.zeros(n, np.int8), area=np.zeros(n), condition=condition,
        shared_kitchen=rng.random(n) < np.where(shared, 0.85, 0.01),
        shared_toilet=rng.random(n) < np.where(shared, 0.6, 0.005),
        rent=np.zeros(n),
        other_income=np.where(rng.random(n) < 0.3, np.round(rng.uniform(500, 3000, n), 2), 0.0),
        assets=np.zeros(n), arrears=np.zeros(n, np.int64), known=np.zeros(n, bool),
        family_support=np.zeros(n, bool), hidden=rng.normal(0, 0.3, n),
        income_hist=np.zeros((12, n), np.float32), oop_avg=np.zeros(n),
        exists=np.ones(n, bool), hardship_appeal=np.zeros(n, bool),
    )
    return h, template


def settle_households(rng: np.random.Generator, h: Households, p: Persons,
                      usual_income: np.ndarray, line: float) -> None:
    """Tenure, dwelling size, rent, savings, arrears and community ties from the members."""
    n = len(h)
    size = np.bincount(p.hh, minlength=n)
    non_local = np.bincount(p.hh, weights=p.hukou, minlength=n) == size
    local = ~non_local
    elderly = np.bincount(p.hh, weights=(p.pension > 0) & (p.status == RETIRED), minlength=n) > 0
    disabled = np.bincount(p.hh, weights=p.dis_grade > 0, minlength=n) > 0
    tenure_p = np.where(non_local[:, None], np.array(cal.TENURE_SHARES["non_local"]),
                        np.array(cal.TENURE_SHARES["local"]))
    tenure = _choice(rng, tenure_p)
    public = h.address_class == codes.ADDRESS_CLASSES.index("public_rental")
    tenure = np.where(public & (rng.random(n) < 0.9), codes.TENURES.index("public_rental"), tenure)
    h.tenure = tenure.astype(np.int8)
    renting = h.tenure == codes.TENURES.index("private_rental")
    area = np.array(cal.FLOOR_AREA_MEDIAN)[h.address_class] * (0.8 + 0.1 * np.minimum(size, 5))
    area = area * np.exp(rng.normal(0, 0.3, n)) * np.where(renting & non_local, 0.6, 1.0)
    h.area = np.round(np.clip(area, 6, 400), 1)
    rent = np.select(
        [renting, h.tenure == codes.TENURES.index("public_rental"),
         h.tenure == codes.TENURES.index("other")],
        [h.area * cal.RENT_PER_M2 * np.exp(rng.normal(0, 0.25, n)),
         h.area * cal.PUBLIC_RENT_PER_M2, h.area * 40 * (rng.random(n) < 0.5)],
        default=0.0,
    )
    h.rent = np.round(rent, 0)
    pc = usual_income / np.maximum(size, 1)
    assets = np.exp(np.log(150_000) + 0.9 * np.log(np.maximum(pc, 300) / 5500)
                    + rng.normal(0, 1.0, n)) * np.where(non_local, 0.5, 1.0) \
        * np.where(elderly, 1.5, 1.0)
    h.assets = np.round(np.where(pc < line, assets * 0.15, assets), 2)
    h.arrears = rng.poisson(np.where(pc - h.rent / np.maximum(size, 1) < 0.8 * line, 2.5, 0.02))
    h.known = rng.random(n) < 0.1 + 0.25 * local + 0.2 * elderly + 0.3 * disabled
    h.family_support = rng.random(n) < np.where(local, 0.55, 0.3)
    h.income_hist[:] = usual_income.astype(np.float32)[None, :]
