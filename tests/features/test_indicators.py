"""Each built-in indicator on hand-made households with hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assist.features import CATALOG, build, dimension_profile
from assist.features.indicators import MODULES, builders
from assist.features.schemas import TABLES

from .conftest import hid, pid, tables

LINE = 1510.0  # minimum-living line in force in 2026-10
AS_OF = "2026-10"


def _hh(n, street="S01"):
    return {"household_id": hid(n), "street_code": street, "community_code": f"{street}C001",
            "registration_type": "local", "address_class": "old_public"}


def _person(n, h, age, sex="F", relation="head", snapshot="2026-10"):
    return {"person_id": pid(n), "household_id": hid(h), "age": age, "sex": sex,
            "relation": relation, "hukou": "local", "snapshot": snapshot}


def scenario() -> dict[str, pd.DataFrame]:
    """Household 1: a lone elderly woman. Household 2: a family of four with an unemployed earner."""
    hh = [_hh(1), _hh(2)] + [dict(_hh(1), snapshot="2026-09"), dict(_hh(2), snapshot="2026-09")]
    persons = [
        _person(1, 1, 78),
        _person(2, 2, 40, "M"), _person(3, 2, 38, "F", "spouse"),
        _person(4, 2, 10, "M", "child"), _person(5, 2, 4, "F", "child"),
    ]
    persons += [dict(p, snapshot="2026-09") for p in persons]
    income = [
        {"household_id": hid(1), "monthly_income": 1000.0, "financial_assets": 5000.0, "arrears_months": 3},
        {"household_id": hid(1), "monthly_income": 2000.0, "financial_assets": 5000.0, "arrears_months": 0,
         "snapshot": "2026-09"},
        {"household_id": hid(2), "monthly_income": 3000.0, "financial_assets": None, "arrears_months": None},
        {"household_id": hid(2), "monthly_income": 11000.0, "financial_assets": None, "arrears_months": None,
         "snapshot": "2026-09"},
    ]
    claims = [
        {"claim_id": "C0001", "person_id": pid(1), "household_id": hid(1),
         "service_date": pd.Timestamp("2026-03-02"), "total_cost": 3000.0, "out_of_pocket": 800.0,
         "inpatient": True, "inpatient_days": 6, "diagnosis_group": "cardiovascular",
         "major_illness": False, "chronic_condition": True, "snapshot": "2026-03"},
        {"claim_id": "C0002", "person_id": pid(1), "household_id": hid(1),
         "service_date": pd.Timestamp("2026-08-10"), "total_cost": 900.0, "out_of_pocket": 400.0,
         "inpatient": False, "inpatient_days": 0, "diagnosis_group": "cardiovascular",
         "major_illness": False, "chronic_condition": True, "snapshot": "2026-08"},
        # older than 12 months: ignored
        {"claim_id": "C0003", "person_id": pid(1), "household_id": hid(1),
         "service_date": pd.Timestamp("2025-09-15"), "total_cost": 50000.0, "out_of_pocket": 20000.0,
         "inpatient": True, "inpatient_days": 20, "diagnosis_group": "cancer",
         "major_illness": True, "chronic_condition": False, "snapshot": "2025-09"},
    ]
    housing = [
        {"household_id": hid(1), "tenure": "owned", "floor_area_m2": 40.0, "condition": "old",
         "monthly_rent": 0.0},
        {"household_id": hid(2), "tenure": "private_rental", "floor_area_m2": 30.0, "condition": "good",
         "shared_kitchen": True, "monthly_rent": 1500.0},
    ]
    water = [{"person_id": pid(1), "household_id": hid(1),
              "reading_date": pd.Timestamp("2026-10-01") + pd.Timedelta(days=d),
              "litres": 0.0 if d in (3, 9, 17, 25) else 150.0} for d in range(31)]
    employment = [
        {"person_id": pid(2), "household_id": hid(2), "registered_unemployed": True,
         "unemployed_since": pd.Timestamp("2026-01-31"), "social_insurance": False,
         "monthly_wage": None},
        {"person_id": pid(2), "household_id": hid(2), "registered_unemployed": False,
         "social_insurance": True, "monthly_wage": 8000.0, "snapshot": "2026-09"},
        {"person_id": pid(3), "household_id": hid(2), "registered_unemployed": False,
         "social_insurance": True, "monthly_wage": 3000.0},
        {"person_id": pid(3), "household_id": hid(2), "registered_unemployed": False,
         "social_insurance": True, "monthly_wage": 3000.0, "snapshot": "2026-09"},
    ]
    school = [{"person_id": pid(5), "household_id": hid(2), "enrolled": True,
               "school_level": "kindergarten", "monthly_education_cost": 500.0}]
    disability = [{"person_id": pid(4), "household_id": hid(2), "disability_type": "visual",
                   "grade": 3, "issue_date": pd.Timestamp("2022-01-01")}]
    appeals = [
        {"appeal_id": "A0001", "household_id": hid(1), "appeal_date": pd.Timestamp("2026-06-01"),
         "category": "hardship", "snapshot": "2026-06"},
        {"appeal_id": "A0002", "household_id": hid(2), "appeal_date": pd.Timestamp("2026-06-01"),
         "category": "housing", "snapshot": "2026-06"},
    ]
    verifications = [
        {"verification_id": "V0001", "household_id": hid(2), "visit_date": pd.Timestamp("2026-05-20"),
         "trigger": "application", "outcome": "not_in_need", "snapshot": "2026-05"},
    ]
    return tables(households=hh, persons=persons, income=income, medical_claims=claims,
                  housing=housing, water_readings=water, employment=employment,
                  school_enrolment=school, disability=disability, hotline_appeals=appeals,
                  verifications=verifications)


NAN = float("nan")
EXPECTED = {
    #  indicator                    lone elderly (1)      family (2)
    "income_per_capita_ratio":      (1000 / LINE,         3000 / 4 / LINE),
    "financial_assets_months":      (5000 / LINE,         NAN),
    "arrears_months":               (3.0,                 NAN),
    "income_drop_12m":              (0.5,                 1 - 3000 / 11000),
    "essential_expenditure_burden": ((1200 / 12) / 1000,  (500 + 1500) / 3000),
    "water_silent_days":            (4.0,                 NAN),
    "elderly_living_alone":         (1.0,                 0.0),
    "floor_area_per_capita":        (40.0,                7.5),
    "housing_condition":            (1.0,                 2.0),
    "rent_burden":                  (0.0,                 0.5),
    "members_major_or_chronic":     (1.0,                 0.0),
    "members_severe_disability":    (0.0,                 0.0),
    "oop_medical_ratio":            (1200 / 12000,        0.0),
    "hospital_stays_12m":           (1.0,                 0.0),
    "unemployed_share":             (NAN,                 0.5),
    "earner_months_out_of_work":    (NAN,                 273 / 30.4375),
    "uninsured_working_age":        (0.0,                 1.0),
    "children_not_enrolled":        (0.0,                 1.0),
    "education_cost_burden":        (0.0,                 500 / 3000),
    "dependency_ratio":             (10.0,                1.0),
    "no_able_caregiver":            (1.0,                 0.0),
    "hardship_signals_12m":         (1.0,                 1.0),
}


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return build(scenario(), AS_OF)


def test_expected_table_covers_catalog():
    assert set(EXPECTED) == set(CATALOG.ids)


@pytest.mark.parametrize("indicator", list(EXPECTED))
def test_indicator_hand_worked(features, indicator):
    got = features.loc[[hid(1), hid(2)], indicator].to_numpy()
    want = np.array(EXPECTED[indicator], dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True, err_msg=indicator)


def test_catalog_counts_and_weights():
    assert len(CATALOG) == 22
    assert len(CATALOG.dimensions) == 7
    assert math.isclose(CATALOG.weights.sum(), 1.0, abs_tol=1e-9)
    for dim, inds in CATALOG.by_dimension().items():
        assert math.isclose(sum(i.weight for i in inds), 1 / 7, abs_tol=1e-12), dim


def test_every_builder_has_an_entry_and_every_entry_a_builder():
    fns = [fn for m in MODULES for fn in builders(m)]
    assert all(hasattr(fn, "__indicator__") for fn in fns), "a builder lacks its catalog entry"
    assert [fn.__name__ for fn in fns] == CATALOG.ids
    for ind in CATALOG:
        assert ind.compute is not None and ind.compute.__name__ == ind.id
        assert ind.description and ind.name_zh and ind.name_en and ind.cause
        assert set(ind.sources) <= set(TABLES)


def test_future_record_is_ignored():
    t = scenario()
    future = t["medical_claims"].iloc[[0]].copy()
    future["claim_id"] = "C9999"
    future["snapshot"] = "2026-11"
    future["service_date"] = pd.Timestamp("2026-11-03")
    future["as_of_date"] = pd.Timestamp("2026-11-30")
    late_known = t["medical_claims"].iloc[[0]].copy()
    late_known["claim_id"] = "C9998"  # happened in October but only known in November's extract
    late_known["service_date"] = pd.Timestamp("2026-10-20")
    late_known["snapshot"] = "2026-11"
    late_known["as_of_date"] = pd.Timestamp("2026-11-05")
    t["medical_claims"] = pd.concat([t["medical_claims"], future, late_known], ignore_index=True)
    pd.testing.assert_frame_equal(build(t, AS_OF), build(scenario(), AS_OF))
    assert build(t, "2026-11").loc[hid(1), "hospital_stays_12m"] == 3.0


def test_row_order_does_not_matter():
    t = scenario()
    shuffled = {k: v.sample(frac=1.0, random_state=3) for k, v in t.items()}
    pd.testing.assert_frame_equal(build(shuffled, AS_OF), build(t, AS_OF))


def test_halves_concatenate_to_whole():
    t = scenario()
    whole = build(t, AS_OF)
    parts = []
    for h in (hid(1), hid(2)):
        part = {k: v.loc[v["household_id"] == h] for k, v in t.items()}
        parts.append(build(part, AS_OF))
    pd.testing.assert_frame_equal(pd.concat(parts).sort_index(), whole)


def test_dimension_profile_is_weighted_share_deprived(features):
    prof = dimension_profile(features)
    assert list(prof.columns) == CATALOG.dimensions
    # lone elderly: income deprived on ratio (0.66 < 2), assets (3.3 < 24), arrears (3 > 1), drop (0.5 > 0.3)
    assert prof.loc[hid(1), "income"] == pytest.approx(1.0)
    # family: employment — unemployed share 0.5 > 0.4, earner 9 months > 6, 1 uninsured > 0
    assert prof.loc[hid(2), "employment"] == pytest.approx(1.0)
    # family: housing — area 7.5 < 12, condition 2 > 1, rent 0.5 > 0.3
    assert prof.loc[hid(2), "housing"] == pytest.approx(1.0)
    assert prof.loc[hid(1), "education"] == 0.0
    assert ((prof >= 0) & (prof <= 1)).all().all()


def test_missing_source_table_is_a_clear_error():
    from assist.errors import InputError

    t = scenario()
    del t["housing"]
    with pytest.raises(InputError, match="housing"):
        build(t, AS_OF)
