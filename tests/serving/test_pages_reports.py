"""Manager and data-scientist report pages over the tiny district (see conftest): fairness,
early warnings, drift, overrides, coverage from the coverage report (and its live fallback),
report downloads and who may open what.

Stored reports are made by the pipelines' own functions (fairness audit, coverage counts,
drift report) on small hand-made data and written with ``write_report`` into a workspace of
the test's own (``app.state.settings`` is swapped for the test).
"""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

from assist.features import CATALOG
from assist.reports import fairness_view
from assist.reports.coverage_facts import counted, decision_facts
from assist.reports.i18n import translators
from assist.reports.model import fairness_report
from assist.reports.render import fairness_html
from assist.reports.report import (
    _records,
    coverage_counts,
    coverage_html,
    deprivation_by_street,
    drift_html,
    drift_report,
    write_report,
)
from tests.serving import test_pages
from tests.serving.conftest import app_workspace
from tests.serving.test_pages import _decide

browser = test_pages.browser  # the pages' fixture: a signed-in client per test

AS_OF = "2026-10"
MANAGER_PAGES = ("/coverage", "/early-warning", "/overrides", "/contests")
ANALYST_PAGES = ("/fairness", "/drift")


@pytest.fixture
def workspace(app, settings, tmp_path):
    """The app reads reports (and MLflow) from a workspace of this test's own."""
    with app_workspace(app, settings, tmp_path) as ws:
        yield ws


def fairness_payload(min_positives: int = 20) -> dict:
    """The model's fairness report (``reports.model.fairness_report``) on 16 held-out
    households: women's recall 4/5, men's 2/4 (ratio 0.625: flagged), and a disability group
    with no household in need (recall undefined). With the default ``min_positives`` every
    group is too small for the report's findings (the flags are listed as small-group ones)."""
    y = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0] + [1, 1, 1, 1, 0, 0]
    sel = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0] + [1, 1, 0, 0, 1, 0]
    predictions = pd.DataFrame({"household_id": [f"h{i}" for i in range(16)], "month": AS_OF,
                                "score": [0.1 + 0.8 * s for s in sel], "selected": sel,
                                "verified": y, "head_sex": ["F"] * 10 + ["M"] * 6,
                                "has_disability": ["False"] * 14 + ["True"] * 2})
    payload, _html = fairness_report(predictions, groups=["head_sex", "has_disability"],
                                     share=0.5, run_id="run7", model_version="7",
                                     min_positives=min_positives)
    return payload


def biased_payload(min_positives: int = 20) -> dict:
    """A fairness report where chance is not the explanation: 120 held-out households, 40 in
    need per sex. Women's recall 36/40, men's 12/40 (ratio 1/3, its 95 % interval wholly below
    0.8: harmful); the 20 disabled households in need are all reached against 28/60 of the
    others (ratio 2.14, interval wholly above 1.25: favourable); streets S01 and S02 alternate
    (recall 24/40 each: within the band)."""
    payload, _html = fairness_report(biased_predictions(),
                                     groups=["head_sex", "has_disability", "street_code"],
                                     share=0.4, run_id="run8", model_version="8",
                                     min_positives=min_positives)
    return payload


def biased_predictions() -> pd.DataFrame:
    """The held-out predictions of :func:`biased_payload`."""
    rows = []
    for i in range(120):
        sex, k = ("F", i) if i < 60 else ("M", i - 60)
        need = k < 40
        chosen = need and k < (36 if sex == "F" else 12)
        rows.append({"household_id": f"h{i}", "month": AS_OF, "score": 0.9 if chosen else 0.1,
                     "selected": int(chosen), "verified": int(need), "head_sex": sex,
                     "has_disability": str(sex == "F" and k < 20),
                     "street_code": "S01" if i % 2 else "S02"})
    return pd.DataFrame(rows)


#: dimensions hS02a is deprived on (every indicator of each); hS01a is deprived on everything
HS02A_DIMENSIONS = ("income", "health", "employment")


def _indicator_values(ids: pd.Index) -> pd.DataFrame:
    """Indicator values one unit past the cut-off (deprived) or short of it (not deprived)."""
    rows = {"hS01a": set(CATALOG.dimensions), "hS02a": set(HS02A_DIMENSIONS)}
    return pd.DataFrame({i: [CATALOG[i].cutoff + CATALOG[i].direction
                             * (1.0 if CATALOG[i].dimension in rows.get(h, ()) else -1.0)
                             for h in ids] for i in CATALOG.ids}, index=ids)


def coverage_payload() -> dict:
    """The coverage report of the tiny district, by street and community: hS02a holds a grant;
    hS01a was visited and confirmed in need but holds no grant yet (not assisted). By the
    deprivation index (k = 1/3, seven equally weighted dimensions) hS01a is deprived on all
    seven dimensions and hS02a on three: S01 H 50 %, A 100 %, M0 0.5; S02 H 100 %, A 3/7; S03
    none poor."""
    ids = pd.Index(["hS01a", "hS01b", "hS02a", "hS03a"], name="household_id")
    scores = pd.DataFrame({"street_code": ["S01", "S01", "S02", "S03"],
                           "community_code": ["S01C001", "S01C002", "S02C001", "S03C001"],
                           "band": ["high", "low", "high", "medium"],
                           "deprivation_poor": [True, False, True, False],
                           "probability": [0.81, 0.05, 0.74, 0.33],
                           "candidate": [True, False, True, True],
                           "allocated": [True, False, True, False]}, index=ids)
    records = pd.DataFrame({"verified_records": ids.isin(["hS01a"]),
                            "confirmed_records": ids.isin(["hS01a"]),
                            "assisted_records": ids.isin(["hS02a"])}, index=ids)
    facts = counted(records, decision_facts(None, AS_OF, ids))
    streets = coverage_counts(scores, facts=facts, level="street_code")
    communities = coverage_counts(scores, facts=facts, level="community_code")
    deprivation = deprivation_by_street(scores.join(_indicator_values(ids)), k=0.3333)
    return {"as_of": AS_OF, "probability_basis": "population",
            "streets": _records(streets), "communities": _records(communities),
            "deprivation": deprivation, "trend": [],
            "definitions": {"assisted": "an active grant", "scope": "the one definition"}}


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
    fair, cov = fairness_payload(), coverage_payload()
    write_report(folder, "fairness", fair, fairness_html(fair))
    write_report(folder, "coverage", cov, coverage_html(cov))
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
    assert nav("cw1") == ["/referrals", "/alerts", "/my-visits", "/search", "/model"]
    assert nav("mgr") == ["/referrals", "/alerts", "/assignments", "/coverage", "/fairness",
                          "/early-warning", "/drift", "/overrides", "/contests", "/models",
                          "/model"]
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


@pytest.fixture
def fairness_written(workspace):
    """The small fairness report (every group below the minimum) of 2026-10, alone."""
    payload = fairness_payload()
    write_report(workspace / "reports" / AS_OF, "fairness", payload, fairness_html(payload))
    return payload


def test_small_groups_are_not_judged_and_carry_no_flag(browser, fairness_written):
    page = browser("mgr").get("/fairness").text
    assert "对社会救助而言，最大的伤害是被遗漏" in page
    assert "⚠" not in page  # every group is below the declared minimum of 20 in need
    assert "没有群体被名单覆盖的比例显著低于其参照组" in page
    assert "至少有 20 户确有困难的家庭" in page and "Katz 对数区间" in page  # the method
    men = _row(page, "男")
    assert "50.0%" in men and "15.0%–85.0%" in men  # recall 2/4, Wilson 95 %
    # men's recall ratio 0.5 / 0.8 = 0.625 (shown 0.62, half to even): its Katz interval
    # 0.21-1.83 reaches into the band
    assert "0.62（0.21–1.83）" in men
    assert "未作判断（6 户，确有困难 4 户）" in men
    assert "未作判断：确有困难的家庭少于 20 户" in page
    women = _row(page, "女")
    assert "80.0%" in women and "参照组" in women
    disabled = _row(page, "是")
    assert disabled.count("无法计算") >= 3  # recall, miss rate, their ratios: no one in need
    assert page.count('<svg class="chart"') == 2  # recall chart per single attribute
    assert "户主性别 &amp; 有残疾成员" in page  # pairs, folded
    assert 'href="/reports/2026-10/fairness.html"' in page


def test_only_intervals_outside_the_band_are_findings(browser, workspace):
    payload = biased_payload()
    write_report(workspace / "reports" / AS_OF, "fairness", payload, fairness_html(payload))
    page = browser("mgr").get("/fairness").text
    head = page.split('id="findings"')[1].split('<section class="card wide">')[0]  # findings
    assert "名单覆盖显著少于参照组的群体（1）" in head
    men = _finding_rows(head)[0]
    assert men[0] == "户主性别：男" and men[1] == "女"
    assert "召回率 0.33（0.21–0.54）" in men[2] and "遗漏率 7.00（2.70–18.13）" in men[2]
    assert men[3:] == ["60", "40", "12"]
    # favourable apart from harmful, folded; never with the warning sign
    fav = head.split("名单覆盖显著多于参照组的群体", 1)[1].split("</details>")[0]
    assert "有残疾成员：是" in fav and "⚠" not in fav
    assert head.count("⚠") == 1  # the heading of the harmful findings
    # in the tables: only the harmful group's row is flagged; streets by name, never codes
    assert _row(page, "男").startswith('<tr class="flagged">') and "覆盖较少" in _row(page, "男")
    harmful = payload["audits"]["verified"]["findings"]["harmful"]
    assert page.count('<tr class="flagged">') == len(harmful)  # one row per finding
    assert "覆盖较多" in _row(page, "是") and "⚠" not in _row(page, "是")
    assert "东湖街道" in page and ">S01<" not in page and "S01 " not in page
    assert "在范围内" in _row(page, "西林街道")  # 24/40 reached in each street
    en = browser("mgr", lang="en").get("/fairness").text
    assert "head&#39;s sex: male" in en and "Reached less often than their reference group (1)" in en


def test_fairness_in_english(browser, fairness_written):
    page = browser("mgr", lang="en").get("/fairness").text
    assert "harm is being missed" in page and "Miss rate" in page
    assert "undefined" in page and "head&#39;s sex" in page and "male" in page
    assert "not judged (n = 6, in need 4)" in page and "Katz log interval" in page


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


# --- one renderer: the page and the stored file of a report say the same thing -------------
def _findings(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", f).strip() for f in
            re.findall(r'<ul class="findings[^"]*">(.*?)</ul>', html, flags=re.S)]


def _row_headers(html: str) -> list[str]:
    """The row headers of every table body, in order (group, street, indicator ...)."""
    return [" ".join(re.sub(r"<[^>]+>", " ", h).split()) for h in
            re.findall(r'<th scope="row">(.*?)</th>', html, flags=re.S)]


def _chinese_part(document: str) -> str:
    """The Chinese half of a stored report (English follows from ``id="en"``)."""
    assert 'lang="zh-CN"' in document and 'id="en"' in document
    return document.split('id="zh"', 1)[1].split('id="en"', 1)[0]


def _finding_rows(page: str) -> list[list[str]]:
    """The cells of every findings table (harmful, pairs, favourable), in order."""
    out = []
    for table in re.findall(r'<table class="list compact findings">(.*?)</table>', page,
                            flags=re.S):
        for row in re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", table, flags=re.S):
            out.append([" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split())
                        for c in re.split(r"</t[hd]>", row) if re.sub(r"<[^>]+>", "", c).strip()])
    return out


@pytest.mark.parametrize("min_positives", [20, 4])
def test_fairness_page_stored_file_and_json_list_the_same_findings(browser, workspace,
                                                                    min_positives):
    payload = biased_payload(min_positives)
    folder = workspace / "reports" / AS_OF
    write_report(folder, "fairness", payload, fairness_html(payload))
    c = browser("mgr")
    page = c.get("/fairness?audit=verified").text
    stored = _chinese_part(c.get(f"/reports/{AS_OF}/fairness.html").text)
    assert _finding_rows(page) == _finding_rows(stored) and _finding_rows(page)
    assert _row_headers(page) == _row_headers(stored)
    assert page.count('<tr class="flagged">') == stored.count('<tr class="flagged">') > 0
    # ... and the JSON's findings, in its order (harmful, then favourable; single attributes
    # before pairs)
    found = payload["audits"]["verified"]["findings"]
    t = translators()["zh"]
    ordered = [f for kind in ("harmful", "favourable") for pair in (False, True)
               for f in found[kind] if f["pair"] == pair]
    assert [r[0] for r in _finding_rows(page)] == [
        f"{t.attribute(f['attribute'])}：{fairness_view.group_name(f['attribute'], f['group'], t)}"
        for f in ordered]
    # each list by severity: the interval's nearer end farthest from the band first
    for kind in ("harmful", "favourable"):
        for part in (True, False):
            sev = [f["severity"] for f in found[kind] if f["pair"] == part]
            assert sev == sorted(sev, reverse=True) and all(v > 0 for v in sev)
    assert len(found["not_judged"]) == (0 if min_positives == 4 else len(found["not_judged"]))


def test_coverage_page_and_stored_file_show_the_same_rows(browser, reports_written):
    c = browser("mgr")
    page = c.get("/coverage").text
    stored = _chinese_part(c.get(f"/reports/{AS_OF}/coverage.html").text)
    streets = ["东湖街道", "西林街道", "南苑街道"]
    assert _row_headers(page) == _row_headers(stored) == [
        *streets, "全区",  # coverage
        *streets, "全区",  # where visits, findings and grants come from
        *streets, "全区", *streets,  # deprivation index, share of M0 by dimension
        "S01C001", "S01C002", "S02C001", "S03C001"]  # communities
    assert _cells(_row(page, "东湖街道")) == _cells(_row(stored, "东湖街道"))
    assert "<a " not in stored.split("<tbody>")[1].split("</tbody>")[0]  # no links to pages


def _table(html: str, caption: str) -> str:
    """The table captioned ``caption``."""
    m = re.search(rf"<caption[^>]*>{re.escape(caption)}</caption>(.*?)</table>", html, re.S)
    assert m, caption
    return m.group(1)


#: per language: captions of the deprivation, dimension-share and community tables, a
#: definition of "assisted", the heading of the first dimension (income)
COVERAGE_WORDS = {
    "zh": ("各街道多维贫困指数（Alkire–Foster）", "各维度占 M0 的比重", "各社区救助覆盖",
           "月末享有任一救助项目的有效救助", "收入", "东湖街道", "西林街道", "全区"),
    "en": ("Deprivation index by street (Alkire–Foster)", "Share of M0 by dimension",
           "Coverage by community", "an active grant of any programme at the end of the month",
           "Income", "东湖街道 (S01)", "西林街道 (S02)", "District"),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_coverage_shows_deprivation_communities_and_definitions(browser, reports_written, lang):
    dep, dims, comm, assisted, income, s01, s02, district = COVERAGE_WORDS[lang]
    c = browser("mgr", lang=lang)
    document = c.get(f"/reports/{AS_OF}/coverage.html").text
    stored = document.split(f'id="{lang}"', 1)[1].split('id="en"' if lang == "zh" else "</body>")[0]
    for html in (c.get("/coverage").text, stored):
        table = _table(html, dep)  # hand-worked in coverage_payload
        assert [x[0] for x in _cells(_row(table, s01))] == ["2", "50.0%", "100.0%", "0.500", "70.0%"]
        assert [x[0] for x in _cells(_row(table, s02))] == ["1", "100.0%", "42.9%", "0.429", "30.0%"]
        assert [x[0] for x in _cells(_row(table, district))] == ["4", "50.0%", "71.4%", "0.357",
                                                                 "100.0%"]
        shares = _table(html, dims)
        assert f'<th scope="col">{income}</th>' in shares
        assert [x[0] for x in _cells(_row(shares, s02))] == [
            "33.3%" if d in HS02A_DIMENSIONS else "0.0%" for d in CATALOG.dimensions]
        communities = _table(html, comm)
        assert re.search(rf"<td>{re.escape(s01)}</td><th scope=\"row\">S01C002</th>", communities)
        assert assisted in html and "0.33" in html  # definitions, k of the index


@pytest.mark.parametrize("lang, words", [("zh", "按参照月份的 10 个分位数分箱计算 PSI"),
                                         ("en", "PSI over the 10 quantile bins")])
def test_drift_states_bins_and_epsilon(browser, reports_written, lang, words):
    c = browser("ds", lang=lang)
    document = c.get(f"/reports/{AS_OF}/drift.html").text
    for html in (c.get("/drift").text, document.split(f'id="{lang}"', 1)[1]):
        method = re.search(r'<p class="muted method">([^<]*)</p>', html)
        assert method and words in method.group(1) and "0.0001" in method.group(1)


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
    assert "个案库中尚无社工处理结果" in page and "部门核查记录不属于处理结果" in page
    _decide(browser("cw1"), "hS01a", outcome="not_in_need", override_reason="子女已就业")
    _decide(browser("cw2"), "hS02a", outcome="confirmed")
    page = browser("mgr").get("/overrides").text
    district = page.split('<dl class="facts">')[1].split("</dl>")[0]
    assert "50.0%" in district  # 1 override of 2 decisions
    assert "0.0%" in district and "100.0%" in district  # confirmed: overridden 0/1, followed 1/1
    assert "东湖街道" in page and "按街道" in page
    assert "尚无社工处理结果" not in page  # decisions exist: never "none recorded"
    month = browser("mgr").get("/overrides?as_of=2026-09")
    assert month.status_code == 200 and "2026-09 的转介尚无社工处理结果" in month.text
    assert browser("mgr").get("/overrides?as_of=2026-10").status_code == 200
    assert browser("mgr").get("/overrides?as_of=bogus").status_code == 200  # ignored


def test_views_format_undefined_in_both_languages():
    tr = translators()
    audit = fairness_payload()["audits"]["verified"]
    for lang, word in (("zh", "无法计算"), ("en", "undefined")):
        v = fairness_view.fairness_view(audit, tr[lang])
        row = next(r for s in v["sections"] if s["attribute"] == "has_disability"
                   for r in s["rows"] if r["group"] in ("是", "yes"))
        assert row["rates"]["tpr"] == word and row["ci"] == word
        assert row["ratios"]["tpr"] == word and row["status"]["kind"] != "harmful"


@pytest.mark.parametrize("lang, share, signed, big, none", [
    ("zh", "12.3%", "−0.031", "12,345.7", "无法计算"),
    ("en", "12.3%", "−0.031", "12,345.7", "undefined"),
])
def test_number_and_percent_formatting(lang, share, signed, big, none):
    t = translators()[lang]
    assert t.rate(0.1234) == share and t.rate(None) == none
    assert t.decimal(-0.0312, 3, sign=True) == signed and t.decimal(0.0001, 2, sign=True) == "±0.00"
    assert t.number(12345.678, 1) == big and t.decimal(None) == none


def test_every_fairness_count_opens_its_households(browser, workspace, sessions):
    from sqlalchemy import select

    from assist.reports import fairness_households as fh
    from assist.serving.models import AuditEntry

    payload = biased_payload()
    folder = workspace / "reports" / AS_OF
    write_report(folder, "fairness", payload, fairness_html(payload))
    fh.store(folder, fh.heldout_rows(biased_predictions(),
                                     ["head_sex", "has_disability", "street_code"]))
    c = browser("mgr")
    page = unescape(c.get("/fairness").text)
    men = _row(page, "男")
    links = dict(zip(("n", "positives", "reached", "missed"),
                     re.findall(r'href="(/fairness/households\?[^"]+)"', men), strict=True))
    assert "attribute=head_sex" in links["n"] and "group=M" in links["n"]
    # each list holds exactly the households its count counts (60, 40, 12; missed 28)
    for count, want in (("n", 60), ("positives", 40), ("reached", 12), ("missed", 28)):
        listed = c.get(links[count])
        assert listed.status_code == 200
        assert f"该数字背后的 {want} 户家庭" in listed.text, count
        ids = set(re.findall(r'href="/households/(h\d+)"', listed.text))
        assert len(ids) == want
        assert all(int(h[1:]) >= 60 for h in ids)  # men are households 60-119
    # the finding's counts open the same lists; a pair of attributes too
    head = page.split('id="findings"')[1].split('<section class="card wide">')[0]
    assert links["n"] in head
    pair = c.get("/fairness/households", params={
        "as_of": AS_OF, "audit": "verified", "attribute": "head_sex & street_code",
        "group": "M & S01", "count": "positives"})
    assert "该数字背后的 20 户家庭" in pair.text and "东湖街道" in pair.text
    # data scientists see pseudonyms only; every list read is audited with what it showed
    ds = browser("ds").get(links["missed"]).text
    assert "仅显示化名" in ds and 'href="/households/' not in ds
    with sessions() as s:
        reads = [a.detail for a in s.scalars(select(AuditEntry).where(
            AuditEntry.action == "fairness.households"))]
    assert len(reads) == 6 and len(reads[0]["household_ids"]) == 60
    # caseworkers cannot open it; bad input is a clear page, never a 500
    assert browser("cw1").get(links["n"]).status_code == 403
    assert c.get("/fairness/households", params={"count": "x"}).status_code == 404
    assert c.get(links["n"].replace("audit=verified", "audit=live")).status_code == 404
    assert c.get(links["n"].replace(AS_OF, "../etc")).status_code == 404
    # the stored download carries no links
    assert "/fairness/households" not in c.get(f"/reports/{AS_OF}/fairness.html").text
    # an earlier month's report is chosen by month (the newest is the default)
    earlier = fairness_payload()
    write_report(workspace / "reports" / "2026-09", "fairness", earlier, fairness_html(earlier))
    assert 'value="2026-09"' in page or 'value="2026-09"' in c.get("/fairness").text
    older = c.get("/fairness", params={"as_of": "2026-09"}).text
    assert "未作判断（6 户，确有困难 4 户）" in older and "/fairness/households" not in older
    assert "/fairness/households" in c.get("/fairness", params={"as_of": "../x"}).text
