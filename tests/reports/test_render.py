"""The one report renderer: stored documents are the pages' views in the pages' body
templates, self-contained, Chinese first and English after; every message they print is in
the catalog."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from assist.reports import render, views
from assist.reports.cases import early_warning_html, early_warning_report
from assist.reports.coverage_view import SHOWN_DEFINITIONS
from assist.reports.i18n import DYNAMIC, read_catalog, translators

REFERRALS = pd.DataFrame({"street_code": ["S01", "S01", "S02", "S03"],
                          "flags": ["band_up;job_loss", "", "job_loss", "mystery"]})


def _messages() -> set[str]:
    from babel.messages.extract import extract_from_dir

    found = set()
    for _f, _l, msg, _c, _ctx in extract_from_dir(
            str(render.TEMPLATES.parent), method_map=[("*.py", "python"),
                                                      ("templates/**.html", "jinja2")],
            keywords={"_": None, "gettext": None, "N_": None}):
        found.add(msg if isinstance(msg, str) else msg[0])
    return found


def test_catalog_translates_every_report_message():
    found = _messages()
    assert "Findings on recall and miss rate" in found and "Coverage by street" in found
    assert not (found | set(DYNAMIC)) - set(read_catalog("zh"))


def test_every_report_has_one_body_template():
    for name, body in render.BODIES.items():
        assert (render.TEMPLATES / body.template).is_file(), name
        # a pure view function of the reports package (views, or a report's own view module)
        assert body.view.__module__.startswith("assist.reports."), name
        assert body.view.__module__.split(".")[-1].endswith("view") or \
            body.view.__module__ == views.__name__, name


def test_stored_document_is_self_contained_chinese_first():
    html = early_warning_html(early_warning_report(REFERRALS, as_of="2026-10"))
    assert html.index('id="zh"') < html.index('id="en"')
    assert html.startswith("<!doctype html>") and '<html lang="zh-CN">' in html
    assert "<script" not in html and "<link" not in html
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")
    zh, en = html.split('id="en"')
    assert "预警" in zh and "Early warnings" in en and "2026-10" in zh
    assert zh.count('<svg class="chart"') == en.count('<svg class="chart"') == 1
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # each language's anchors are its own


def test_stored_document_counts_are_the_views():
    rep = early_warning_report(REFERRALS, as_of="2026-10")
    html = early_warning_html(rep)
    for lang, t in translators().items():
        view = views.early_warning_view(rep, t)
        part = html.split(f'id="{lang}"', 1)[1]
        for s in view["streets"]:
            assert s["street"] in part
        assert f'<p class="big">{view["households"]} ' in part


@pytest.mark.parametrize("lang, both, missing", [
    ("zh", "15.0%–85.0%", "无法计算"), ("en", "15.0%–85.0%", "undefined")])
def test_interval_formatter(lang, both, missing):
    t = translators()[lang]
    assert t.interval(0.15, 0.85) == both
    assert t.interval(None, 0.5) == missing and t.interval(0.1, None, empty="") == ""


# --- coverage: communities, the deprivation index, the definitions; drift: its method ------
COVERAGE = {
    "as_of": "2026-10", "probability_basis": "population",
    "streets": [{"street_code": "S01", "households": 3}, {"street_code": "(district)",
                                                          "households": 3}],
    "communities": [{"community_code": "S01C002", "households": 3, "gap_model_rate": 0.75},
                    {"community_code": "(missing)", "households": 0},
                    {"community_code": "(district)", "households": 3}],
    "deprivation": {"k": 0.3333, "district": {"H": 0.5, "A": 0.5, "M0": 0.25},
                    "streets": [{"street_code": "S01", "n": 3, "H": 0.5, "A": 0.5, "M0": 0.25,
                                 "contribution": 1.0},
                                {"street_code": "S02", "n": 1, "H": 0.0, "A": 0.0, "M0": 0.0,
                                 "contribution": 0.0}],
                    "dimension_share": {"S01": {"care": 0.25, "income": 0.75},
                                        "S02": {"care": None, "income": None}}},
    "definitions": {"assisted": "an active grant", "scope": "the one definition",
                    "new column": "defined by the report"},
}


def test_coverage_view_communities_deprivation_and_definitions():
    t = translators()["zh"]
    view = views.coverage_view(COVERAGE, t)
    assert [(c["street"], c["code"]) for c in view["communities"]] == [
        ("东湖街道", "S01C002"), ("—", "(missing)")]  # the district total left out
    assert view["communities"][0]["high_gap"] and view["communities"][0]["gap_rate"] == "75.0%"
    dep = view["deprivation"]
    assert dep["k"] == "0.33" and dep["dimensions"] == ["收入", "家庭照护"]  # catalog order
    assert [(r["H"], r["A"], r["M0"], r["shares"]) for r in dep["rows"]] == [
        ("50.0%", "50.0%", "0.250", ["75.0%", "25.0%"]), ("0.0%", "—", "0.000", ["—", "—"])]
    assert dep["total"] == {"n": "4", "H": "50.0%", "A": "50.0%", "M0": "0.250",
                            "contribution": "100.0%"}
    terms = [d["term"] for d in view["definitions"]]
    assert terms[:3] == ["困难（高需求）", "指数判定贫困", "已救助（有效救助）"]
    assert terms[-1] == "new column" and "scope" not in terms  # unknown: as the report words it
    assert "k = 0.33" in view["definitions"][1]["text"]


def test_coverage_view_of_a_report_without_communities_or_index():
    view = views.coverage_view({"as_of": "2026-10", "streets": []}, translators()["en"])
    assert view["communities"] == [] and view["deprivation"] is None
    # probabilities calibrated on visited households: the index's need and gap are defined
    terms = {d["term"] for d in view["definitions"]}
    assert len(terms) == len(SHOWN_DEFINITIONS[False]) and "Gap (index)" in terms
    assert "High band (ranking only)" in terms and "In need (high band)" not in terms
    assert view["headings"][1] == "High band (ranking only)" and view["headings"][-3:] == [
        "Gap (index)", "Gap rate (index)", "Expected in need"]


def test_stored_coverage_has_every_section_in_both_languages():
    html = render.report_html("coverage", COVERAGE)
    zh, en = html.split('id="en"')
    for part, words in ((zh, ("各社区救助覆盖", "各维度占 M0 的比重", "各列统计口径")),
                        (en, ("Coverage by community", "Share of M0 by dimension",
                              "What the columns count"))):
        assert all(w in part for w in words)
        # streets, where visits come from, index, shares, communities
        assert part.count('class="table-wrap"') == 5


@pytest.mark.parametrize("lang, words", [
    ("zh", "方法：按参照月份的 10 个分位数分箱计算 PSI；求和前每个分箱的占比下限取 0.0001。"),
    ("en", "Method: PSI over the 10 quantile bins of the reference month; a bin's share is "
           "floored at 0.0001 before the sum.")])
def test_drift_view_states_bins_and_epsilon(lang, words):
    t = translators()[lang]
    report = {"as_of": "2026-10", "reference": "2026-09", "bins": 10, "epsilon": 1e-4,
              "features": []}
    assert views.drift_view(report, t)["method"] == words
    assert views.drift_view({"features": []}, t)["method"] is None  # an older payload
