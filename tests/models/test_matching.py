"""Programme matching on hand-made households: rules, reasons, grants already held, validation."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from assist.errors import ConfigError
from assist.features import CATALOG
from assist.models.matching import (
    DEFAULT_RULES,
    describe,
    facts_frame,
    load_rules,
    match,
    parse_rules,
    receiving,
)

TABLE = load_rules()
BASE = {i.id: (i.cutoff + 1.0 if i.direction == -1 else 0.0) for i in CATALOG} | {
    "income_per_capita_ratio": 4.0, "financial_assets_months": 100.0}

#: household -> (indicator overrides, programmes expected referable)
CASES = {
    "comfortable": ({}, set()),
    "poor": ({"income_per_capita_ratio": 0.7, "financial_assets_months": 3}, {"dibao"}),
    "near_poor": ({"income_per_capita_ratio": 1.5, "financial_assets_months": 10}, {"low_income"}),
    "sick_poor": ({"income_per_capita_ratio": 0.7, "financial_assets_months": 3,
                   "oop_medical_ratio": 0.5}, {"dibao", "medical"}),
    "spending": ({"income_per_capita_ratio": 2.5, "financial_assets_months": 5,
                  "essential_expenditure_burden": 0.7}, {"expenditure"}),
    "lone_elderly": ({"elderly_living_alone": 1, "no_able_caregiver": 1,
                      "income_per_capita_ratio": 0.6, "financial_assets_months": 2}, {"tekun"}),
    "unemployed": ({"unemployed_share": 0.5}, {"employment"}),
    "crowded": ({"floor_area_per_capita": 8, "income_per_capita_ratio": 1.8,
                 "financial_assets_months": 100}, {"housing"}),
    "crowded_rich": ({"floor_area_per_capita": 8}, set()),
    "unknown_income": ({"income_per_capita_ratio": np.nan, "financial_assets_months": np.nan},
                       set()),
    "care_gap": ({"no_able_caregiver": 1, "income_per_capita_ratio": 2.5}, {"charity"}),
}


def _facts(cases=CASES) -> pd.DataFrame:
    rows = {h: BASE | over for h, (over, _) in cases.items()}
    values = pd.DataFrame.from_dict(rows, orient="index")[CATALOG.ids]
    values.index.name = "household_id"
    return facts_frame(values)


@pytest.mark.parametrize("household", list(CASES))
def test_rules_on_hand_made_households(household):
    m = match(_facts(), TABLE)
    got = set(m.referable.columns[m.referable.loc[household].to_numpy()])
    assert got == CASES[household][1]


def test_each_referral_names_the_rule_that_matched():
    m = match(_facts(), TABLE)
    assert m.rule.loc["sick_poor", "medical"] == "high_out_of_pocket"
    assert m.rule.loc["lone_elderly", "tekun"] == "lone_elderly_no_income"
    d = describe(m)
    assert d.loc["sick_poor", "programmes"] == "dibao;medical"
    assert "out-of-pocket medical cost" in d.loc["sick_poor", "reasons_en"]
    assert "医疗救助" in d.loc["sick_poor", "reasons_zh"]
    assert "illness" in d.loc["sick_poor", "causes_addressed"].split(";")
    assert d.loc["comfortable", "programmes"] == ""


def test_tekun_supersedes_dibao_and_dibao_supersedes_low_income():
    m = match(_facts(), TABLE)
    assert m.eligible.loc["lone_elderly", "dibao"] and not m.referable.loc["lone_elderly", "dibao"]
    assert m.eligible.loc["poor", "low_income"] and not m.referable.loc["poor", "low_income"]


def test_grants_held_are_not_referred_again_but_count_as_coverage():
    facts = _facts()
    assistance = pd.DataFrame({
        "household_id": ["poor", "sick_poor", "unemployed", "near_poor"],
        "snapshot": ["2026-10"] * 4,
        "programme": ["dibao", "dibao", "employment", "low_income"],
        "end_date": pd.to_datetime([None, None, None, "2026-08-31"]),  # near_poor's grant ended
    })
    held = receiving(assistance, facts.index, as_of="2026-10", codes=TABLE.codes)
    m = match(facts, TABLE, received=held)
    assert not m.referable.loc["poor"].any()                  # has all it qualifies for
    assert set(m.referable.columns[m.referable.loc["sick_poor"].to_numpy()]) == {"medical"}
    assert not m.referable.loc["unemployed"].any()
    assert m.referable.loc["near_poor", "low_income"]         # an ended grant is no grant
    cov = m.coverage()
    assert cov["dibao"]["covered"] == 2 and cov["any"]["fully_covered"] == 2
    assert cov["any"]["eligible"] == cov["any"]["referable"] + cov["any"]["fully_covered"]


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["programmes"]["dibao"]["rules"][0]["when"].append("income < 1"),
     "programme 'dibao', rule 'income_below_line', field 'when': unknown fact 'income'"),
    (lambda d: d["programmes"]["dibao"]["rules"][0]["when"].append("size ~ 1"),
     "programme 'dibao', rule 'income_below_line', field 'when': 'size ~ 1' is not"),
    (lambda d: d["programmes"]["medical"].update(causes=["bad_luck"]),
     "programme 'medical', field 'causes': unknown cause"),
    (lambda d: d["programmes"]["housing"].update(superseded_by=["castle"]),
     "programme 'housing', field 'superseded_by': 'castle'"),
    (lambda d: d["programmes"].update(lottery=d["programmes"]["dibao"]),
     "programme 'lottery': unknown programme code"),
    (lambda d: d["programmes"]["temporary"]["rules"][0].pop("reason_zh"),
     "programme 'temporary', rule 'sudden_income_drop', field 'reason_zh'"),
    (lambda d: d["programmes"]["education"].update(rules=[]),
     "programme 'education', field 'rules'"),
    (lambda d: d["programmes"]["dibao"].update(colour="red"),
     "programme 'dibao': unknown field"),
])
def test_validation_names_programme_and_field(edit, message):
    data = copy.deepcopy(_raw())
    edit(data)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("~", r"\~")):
        parse_rules(data)


def test_no_eval_of_code():
    data = copy.deepcopy(_raw())
    data["programmes"]["dibao"]["rules"][0]["when"] = ["__import__('os').system('true') < 1"]
    with pytest.raises(ConfigError, match="is not '<fact> <op> <number>'"):
        parse_rules(data)


def test_digest_changes_with_the_table():
    data = copy.deepcopy(_raw())
    data["programmes"]["dibao"]["rules"][0]["when"][0] = "income_per_capita_ratio < 1.1"
    assert parse_rules(data).digest() != TABLE.digest()
