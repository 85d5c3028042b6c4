"""Coverage counts visits, findings and grants from both sources (department records and the
case store's decisions), each household once, and says what it counts: hand-made households
with hand-worked counts; expected need only from population-calibrated probabilities; every
count of the page carries the query of its households; the trend chart per street."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from assist.reports import charts
from assist.reports.coverage_facts import counted, decision_facts, probability_basis
from assist.reports.coverage_view import coverage_view, trend_view
from assist.reports.i18n import translators
from assist.reports.report import coverage_counts, records

IDS = pd.Index(["a", "b", "c", "d", "e"], name="household_id")
AS_OF = "2026-10"


def _records() -> pd.DataFrame:
    """Department records: a and b visited (a confirmed in need), e visited and confirmed;
    b holds an active grant."""
    return pd.DataFrame({"verified_records": [True, True, False, False, True],
                         "confirmed_records": [True, False, False, False, True],
                         "assisted_records": [False, True, False, False, False]}, index=IDS)


def _decisions() -> pd.DataFrame:
    """Case-store decisions: a not in need (the caseworker's finding counts, not the record's),
    c confirmed and granted the minimum living allowance, d unreachable; an earlier month's
    decision on e does not count in October."""
    return pd.DataFrame({"household_id": ["a", "c", "d", "e"],
                         "as_of": [AS_OF, AS_OF, AS_OF, "2026-09"],
                         "outcome": ["not_in_need", "confirmed", "unreachable", "confirmed"],
                         "programmes_granted": [[], ["dibao"], [], ["medical"]]})


def test_each_source_apart_and_each_household_once():
    f = counted(_records(), decision_facts(_decisions(), AS_OF, IDS))
    assert f["verified_records"].sum() == 3 and f["verified_decisions"].sum() == 3  # a, c, d
    assert f.index[f["verified"]].tolist() == ["a", "b", "c", "d", "e"]  # a in both, once
    assert f.index[f["verified_records"] & f["verified_decisions"]].tolist() == ["a"]
    # a: the record says confirmed, the caseworker's decision says not in need: not confirmed
    assert f.index[f["confirmed"]].tolist() == ["c", "e"]
    assert f.index[f["assisted"]].tolist() == ["b", "c"]  # record's grant, decision's grant


def test_the_latest_decision_of_a_household_counts():
    d = pd.DataFrame({"household_id": ["a", "a"], "as_of": [AS_OF, AS_OF],
                      "outcome": ["confirmed", "not_in_need"], "programmes_granted": [[], []]})
    f = decision_facts(d, AS_OF, IDS)
    assert f.loc["a", "verified_decisions"] and not f.loc["a", "confirmed_decisions"]


def _scores() -> pd.DataFrame:
    return pd.DataFrame({"street_code": ["S01", "S01", "S02", "S02", "S02"],
                         "community_code": ["S01C001"] * 2 + ["S02C001"] * 3,
                         "band": ["high", "high", "high", "low", "medium"],
                         "deprivation_poor": [True, False, False, False, True],
                         "probability": [0.9, 0.4, 0.64, 0.05, 0.3],
                         "candidate": [True, True, True, False, False],
                         "allocated": [True, False, True, False, False],
                         "warning": [False, False, False, False, True]}, index=IDS)


@pytest.mark.parametrize("basis, expected, expected_gap", [
    ("population", [1, 1, 2], [1, 0, 1]),  # 1.3 -> 1, 0.99 -> 1 (c assisted), 2.29 -> 2
    ("visited", [None, None, None], [None, None, None]),
])
def test_counts_by_street_with_expected_need_in_whole_households(basis, expected, expected_gap):
    facts = counted(_records(), decision_facts(_decisions(), AS_OF, IDS))
    rows = pd.DataFrame(records(coverage_counts(_scores(), facts=facts, level="street_code",
                                                basis=basis))).set_index("street_code")
    assert rows["verified"].tolist() == [2, 3, 5]  # S01: a, b; S02: c, d, e; district
    assert rows["verified_both"].tolist() == [1, 0, 1]
    assert rows["confirmed"].tolist() == [0, 2, 2]
    assert rows["assisted"].tolist() == [1, 1, 2]
    assert rows["gap_model"].tolist() == [1, 0, 1]  # high band, not assisted: a
    assert rows["referred"].tolist() == [2, 2, 4]  # candidates and the warning of e
    assert rows["expected_in_need"].tolist() == expected
    assert rows["expected_gap"].tolist() == expected_gap


@pytest.mark.parametrize("summary, basis", [
    ({"calibration": {"basis": "population"}}, "population"),
    ({"calibration": {"basis": "visited"}}, "visited"), ({}, "visited"), (None, "visited")])
def test_probability_basis_from_the_snapshot_summary(summary, basis):
    assert probability_basis(summary) == basis


def _report(basis: str) -> dict:
    facts = counted(_records(), decision_facts(_decisions(), AS_OF, IDS))
    streets = records(coverage_counts(_scores(), facts=facts, level="street_code", basis=basis))
    return {"as_of": AS_OF, "probability_basis": basis, "streets": streets, "decisions": 3,
            "trend": [{"as_of": "2026-09", "streets": [
                {"street_code": "S01", "verified": 1, "confirmed": 1, "assisted": 0,
                 "high_band": None, "referred": None, "gap_model": None}]},
                {"as_of": AS_OF, "streets": streets}]}


@pytest.mark.parametrize("basis, flagged", [("population", True), ("visited", False)])
def test_gap_rates_are_judged_only_on_population_probabilities(basis, flagged):
    view = coverage_view(_report(basis), translators()["zh"])
    s01 = view["rows"][0]
    assert s01["raw"]["gap_model_rate"] == 0.5 and not s01["high_gap"]  # half: not over
    s02 = dict(view["rows"][1]["raw"], gap_model_rate=0.75)
    assert coverage_view({**_report(basis), "streets": [s02]},
                         translators()["zh"])["rows"][0]["high_gap"] is flagged
    assert (s01["expected"] == "—") is (basis == "visited")


def test_every_count_carries_the_query_of_its_households():
    view = coverage_view(_report("population"), translators()["en"])
    s01 = view["rows"][0]
    assert len(s01["links"]) == len(s01["counts"])
    assert s01["links"][5] == "/coverage/households?as_of=2026-10&measure=verified&street=S01"
    assert "street=" not in view["total"]["links"][0]  # the district: every street
    district = next(r for r in view["sources"]["rows"] if r["district"])
    assert [c for c, _ in district["cells"]][:4] == ["3", "3", "1", "5"]
    assert district["cells"][2][1].endswith("measure=verified_both")


def test_trend_chart_per_street_with_a_month_of_visits_only():
    trend = trend_view(_report("visited"), translators()["en"])
    assert [t["name"] for t in trend] == ["District", "东湖街道 (S01)", "西林街道 (S02)"]
    s01 = trend[1]["charts"]
    assert len(s01) == 2 and all("<svg" in c for c in s01)
    # need, referred and gap have no value in September (no snapshot): only October's point
    assert s01[0].count("<polyline") == 0 and s01[0].count("<circle") == 3
    # visits, findings and grants run over both months
    assert s01[1].count("<polyline") == 3


def test_lines_break_at_a_missing_value_and_keep_their_colour_beside():
    svg = charts.lines(["m1", "m2", "m3", "m4"], [("x", [1, 2, None, 4]), ("y", [0, 0, 0, 0])],
                       title="t", offset=2)
    assert svg.count("<polyline") == 2  # x: m1-m2 (m4 alone), y: all four
    assert charts.LINE_SERIES[2][0] in svg and charts.LINE_SERIES[0][0] not in svg
    last = re.findall(r'font-size="11">([^<]+)<', svg)
    assert sorted(last) == ["0", "4"]
