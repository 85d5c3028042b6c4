"""Manager and data-scientist report pages over the tiny district (see conftest): fairness,
early warnings, drift, overrides, coverage from the coverage report (and its live fallback),
report downloads and who may open what.

Stored reports are made by the pipelines' own functions (fairness audit, coverage counts,
drift report) on small hand-made data and written with ``write_report`` into a workspace of
the test's own (``app.state.settings`` is swapped for the test).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from assist.features import CATALOG
from assist.pipelines.report import (coverage_counts, drift_html, drift_report, write_report,
                                     _records)
from assist.pipelines.report_model import fairness_report
from assist.serving.pages import views
from assist.serving.pages.i18n import translators
from tests.serving.conftest import app_workspace
from tests.serving.test_pages import _decide, browser, csrf_of  # noqa: F401 - fixture

AS_OF = "2026-10"
MANAGER_PAGES = ("/coverage", "/early-warning", "/overrides")
ANALYST_PAGES = ("/fairness", "/drift")


@pytest.fixture
def workspace(app, settings, tmp_path):
    """The app reads reports (and MLflow) from a workspace of this test's own."""
    with app_workspace(app, settings, tmp_path) as ws:
        yield ws


def fairness_payload() -> dict:
    """The model's fairness report (``report_model.fairness_report``) on 16 held-out
    households: women's recall 4/5, men's 2/4 (ratio 0.625: flagged), and a disability group
    with no household in need (recall undefined)."""
    y = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0] + [1, 1, 1, 1, 0, 0]
    sel = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0] + [1, 1, 0, 0, 1, 0]
    predictions = pd.DataFrame({"household_id": [f"h{i}" for i in range(16)], "month": AS_OF,
                                "score": [0.1 + 0.8 * s for s in sel], "selected": sel,
                                "verified": y, "head_sex": ["F"] * 10 + ["M"] * 6,
                                "has_disability": ["False"] * 14 + ["True"] * 2})
    payload, _html = fairness_report(predictions, groups=["head_sex", "has_disability"],
                                     share=0.5, run_id="run7", model_version="7")
    return payload


def coverage_payload() -> dict:
    """The coverage report's street table of the tiny district: hS02a holds a grant; hS01a
    was visited and confirmed in need but holds no grant yet (not assisted)."""
    ids = pd.Index(["hS01a", "hS01b", "hS02a", "hS03a"], name="household_id")
    scores = pd.DataFrame({"street_code": ["S01", "S01", "S02", "S03"],
                           "band": ["high", "low", "high", "medium"],
                           "deprivation_poor": [True, False, True, False],
                           "probability": [0.81, 0.05, 0.74, 0.33],
                           "candidate": [True, False, True, True],
                           "allocated": [True, False, True, False]}, index=ids)
    flag = lambda *hs: pd.Series(ids.isin(hs), index=ids)  # noqa: E731
    streets = coverage_counts(scores, assisted=flag("hS02a"), verified=flag("hS01a"),
                              confirmed=flag("hS01a"), level="street_code")
    return {"as_of": AS_OF, "streets": _records(streets), "communities": [],
            "deprivation": {"k": 0.3333}, "trend": [], "definitions": {}}


def drift_payload(tmp_path) -> dict:
    """Drift of 200 households between two months; only the first indicator moves."""
    rng = np.random.default_rng(0)
    for month, shift in (("2026-09", 0.0), (AS_OF, 3.0)):
        frame = pd.DataFrame(rng.random((200, len(CATALOG.ids))), columns=CATALOG.ids)
        frame[CATALOG.ids[0]] += shift
        (tmp_path / "features" / month).mkdir(parents=True)
        frame.to_parquet(tmp_path / "features" / month / "features.parquet")
    (tmp_path / "scores").mkdir()
    return drift_report(features_dir=tmp_path / "features", scores_dir=tmp_path / "scores",
                        as_of=AS_OF)


@pytest.fixture
def reports_written(workspace):
    """Fairness, coverage and drift reports of 2026-10 in the test's workspace."""
    folder = workspace / "reports" / AS_OF
    write_report(folder, "fairness", fairness_payload(), "<html><body>fairness</body></html>")
    write_report(folder, "coverage", coverage_payload(), "<html><body>coverage</body></html>")
    d = drift_payload(workspace)
    write_report(folder, "drift", d, drift_html(d))
    return folder


def _cells(row_html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", " ", c).split() for c in
            re.findall(r'<td class="num">(.*?)</td>', row_html, flags=re.S)]


def _row(page: str, label: str) -> str:
    """The table row whose header cell starts with ``label``."""
    m = re.search(rf'<tr[^>]*>\s*<th scope="row">(?:<a [^>]*>)?{re.escape(label)}.*?</tr>', page,
                  flags=re.S)
    assert m, label
    return m.group(0)


@pytest.mark.parametrize("user, path, status", [
    *[("cw1", p, 403) for p in (*MANAGER_PAGES, *ANALYST_PAGES, "/models", "/models/compare",
                                "/reports/2026-10/coverage.html")],
    *[("ds", p, 403) for p in MANAGER_PAGES],
    *[("ds", p, 200) for p in ANALYST_PAGES],
    *[("mgr", p, 200) for p in (*MANAGER_PAGES, *ANALYST_PAGES)],
])
def test_who_opens_what(browser, workspace, user, path, status):
    r = browser(user).get(path)
    assert r.status_code == status, (user, path, r.status_code)
    assert "text/html" in r.headers["content-type"]
    if status == 403:
        assert "您没有访问此页面的权限" in r.text


def test_nav_entries_per_role(browser, workspace):
    def nav(user):
        page = browser(user).get("/model").text
        block = page.split('class="main-nav"')[1].split("</nav>")[0]
        return re.findall(r'href="([^"]+)"', block)
    assert nav("cw1") == ["/referrals", "/model"]
    assert nav("mgr") == ["/referrals", "/coverage", "/fairness", "/early-warning", "/drift",
                          "/overrides", "/models", "/model"]
    assert nav("ds") == ["/referrals", "/fairness", "/drift", "/models", "/model"]
    assert browser("ds").get("/").headers["location"] == "/models"


def test_missing_reports_name_the_command(browser, workspace):
    c = browser("mgr")
    page = c.get("/fairness").text
    assert "尚无报告" in page and "assist train, then assist score --as-of YYYY-MM" in page
    assert "assist report drift --as-of YYYY-MM" in c.get("/drift").text
    cov = c.get("/coverage").text  # live fallback, with the note and the command
    assert "实时统计" in cov and "assist report coverage --as-of 2026-10" in cov
    assert "尚未生成任何报告" in cov
    assert c.get("/reports/2026-10/coverage.html").status_code == 404


def test_fairness_table_flags_and_intervals(browser, reports_written):
    page = browser("mgr").get("/fairness").text
    assert "对社会救助而言，最大的伤害是被遗漏" in page
    # findings: men's recall 0.5 / 0.8 = 0.625 (shown 0.62, half to even) and miss rate 0.5 / 0.2 = 2.50 are out of band
    assert "户主性别为“男”的召回率是“女”的 0.62 倍" in page
    assert "户主性别为“男”的遗漏率是“女”的 2.50 倍" in page
    men = _row(page, "男")
    assert men.startswith('<tr class="flagged">')
    assert "50.0%" in men and "15.0%–85.0%" in men  # recall 2/4, Wilson 95 %
    assert men.count("⚠") == 2 and men.count("超出范围") == 2  # recall and FNR ratios
    assert "样本少，请谨慎解读" in men
    women = _row(page, "女")
    assert "80.0%" in women and "参照组" in women and "⚠" not in women
    disabled = _row(page, "是")
    assert disabled.count("无法计算") >= 3  # recall, miss rate, their ratios: no one in need
    assert page.count('<svg class="chart"') == 2  # recall chart per single attribute
    assert "户主性别 &amp; 有残疾成员" in page  # pairs, folded
    assert 'href="/reports/2026-10/fairness.html"' in page


def test_fairness_in_english(browser, reports_written):
    page = browser("mgr", lang="en").get("/fairness").text
    assert "harm is being missed" in page and "Miss rate" in page
    assert "undefined" in page and "head&#39;s sex" in page and "male" in page


def test_coverage_uses_the_report(browser, reports_written):
    _decide(browser("cw1"), "hS01a", outcome="confirmed")  # a visit, not a grant
    page = browser("mgr").get("/coverage").text
    assert "数据来自覆盖情况报告" in page and "实时统计" not in page
    s01 = _row(page, "东湖街道")
    # households, high band, index poor, referred, allocated, verified, confirmed, assisted, gap
    assert [c[0] for c in _cells(s01)][:9] == ["2", "1", "1", "1", "1", "1", "1", "0", "1"]
    assert "100.0%" in s01 and "超过一半" in s01
    s02 = _row(page, "西林街道")
    assert [c[0] for c in _cells(s02)][7:9] == ["1", "0"]  # assisted by its grant, no gap
    for name in ("coverage", "drift", "fairness"):
        assert f'href="/reports/2026-10/{name}.html"' in page


def test_report_download(browser, reports_written):
    r = browser("mgr").get("/reports/2026-10/drift.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "attachment" in r.headers["content-disposition"] and "PSI" in r.text
    for path in ("/reports/2026-10/nope.html", "/reports/2026-99/drift.html",
                 "/reports/..%2F..%2Fetc/drift.html"):
        assert browser("mgr").get(path).status_code == 404


def test_drift_page(browser, reports_written):
    page = browser("ds").get("/drift").text
    first = CATALOG[CATALOG.ids[0]].name_zh
    row = _row(page, first)
    assert "需处置" in row and "⚠" in row
    assert "1 项需处置" in page
    second = _row(page, CATALOG[CATALOG.ids[1]].name_zh)
    assert "稳定" in second and "⚠" not in second
    assert page.count('<svg class="chart"') == 1
    for month in ("2026-10", "2026-01", "..%2F..%2Fetc"):  # unknown months show the newest
        assert "1 项需处置" in browser("ds").get(f"/drift?as_of={month}").text


def test_early_warning_counts(browser, workspace):
    page = browser("mgr").get("/early-warning").text
    # tiny district: hS03a (S03) carries income_drop and an unknown name (water_silent)
    assert "2026-10" in page
    assert [c[0] for c in _cells(_row(page, "收入骤降"))] == ["1", "100.0%"]
    assert [c[0] for c in _cells(_row(page, "新增住院"))] == ["0", "0.0%"]
    s03 = _row(page, "南苑街道")
    assert [c[0] for c in _cells(s03)] == ["0", "0", "0", "0", "1", "0", "1"]
    assert "有 1 户带有本版本无法识别的信号" in page


def test_overrides_page(browser, workspace):
    page = browser("mgr").get("/overrides").text
    assert "尚未记录任何走访结果" in page
    _decide(browser("cw1"), "hS01a", outcome="not_in_need", override_reason="子女已就业")
    _decide(browser("cw2"), "hS02a", outcome="confirmed")
    page = browser("mgr").get("/overrides").text
    district = page.split('<dl class="facts">')[1].split("</dl>")[0]
    assert "50.0%" in district  # 1 override of 2 decisions
    assert "0.0%" in district and "100.0%" in district  # confirmed: overridden 0/1, followed 1/1
    assert "东湖街道" in page and "按街道" in page
    assert browser("mgr").get("/overrides?as_of=2026-10").status_code == 200
    assert browser("mgr").get("/overrides?as_of=bogus").status_code == 200  # ignored


def test_views_format_undefined_in_both_languages():
    tr = translators()
    audit = fairness_payload()["audits"]["verified"]
    for lang, word in (("zh", "无法计算"), ("en", "undefined")):
        v = views.fairness_view(audit, tr[lang])
        row = next(r for s in v["sections"] if s["attribute"] == "has_disability"
                   for r in s["rows"] if r["group"] in ("是", "yes"))
        assert row["rates"]["tpr"].text == word and row["ci"] == word
        assert row["ratios"]["tpr"].text == word and not row["ratios"]["tpr"].out


@pytest.mark.parametrize("lang, share, signed, big, none", [
    ("zh", "12.3%", "−0.031", "12,345.7", "无法计算"),
    ("en", "12.3%", "−0.031", "12,345.7", "undefined"),
])
def test_number_and_percent_formatting(lang, share, signed, big, none):
    t = translators()[lang]
    assert t.rate(0.1234) == share and t.rate(None) == none
    assert t.decimal(-0.0312, 3, sign=True) == signed and t.decimal(0.0001, 2, sign=True) == "±0.00"
    assert t.number(12345.678, 1) == big and t.decimal(None) == none
