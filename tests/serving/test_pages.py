"""Server-rendered pages over the tiny district (see conftest): sign-in and CSRF, language
and font size, the caseworker round trip through the decisions service (with a stale
version), jurisdiction, the manager pages and the translation catalog."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assist.serving.pages import session as cookies
from assist.serving.pages.i18n import CATALOG_DIR, DYNAMIC, read_catalog
from tests.serving.conftest import PASSWORD

SERVING = Path(__file__).resolve().parents[2] / "src" / "assist" / "serving"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "page has no CSRF token"
    return m.group(1)


@pytest.fixture
def browser(app):
    """A fresh cookie jar per test (the session-wide API client stays cookie-free)."""
    def make(user: str | None = None, *, lang: str | None = None) -> TestClient:
        c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
        if lang:
            c.cookies.set(cookies.LANG_COOKIE, lang)
        if user:
            r = c.post("/login", data={"username": user, "password": PASSWORD,
                                       "csrf": csrf_of(c.get("/login").text)})
            assert r.status_code == 303, r.text
        return c
    return make


def test_pages_redirect_to_sign_in_and_back(browser):
    c = browser()
    r = c.get("/referrals?band=high")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Freferrals%3Fband%3Dhigh"
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "登录" in page.text
    r = c.post("/login", data={"username": "cw1", "password": PASSWORD, "next": "/referrals?band=high",
                               "csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/referrals?band=high"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert c.get("/referrals").status_code == 200


@pytest.mark.parametrize("data, status", [
    ({"username": "cw1", "password": PASSWORD}, 403),            # no CSRF token
    ({"username": "cw1", "password": PASSWORD, "csrf": "0" * 64}, 403),  # wrong token
    ({"username": "cw1", "password": "wrong-password"}, 401),    # bad password, valid token
])
def test_sign_in_refusals(browser, data, status):
    c = browser()
    token = csrf_of(c.get("/login").text)
    if status == 401:
        data = {**data, "csrf": token}
    r = c.post("/login", data=data)
    assert r.status_code == status
    assert cookies.SESSION_COOKIE not in r.cookies


def test_open_redirect_refused(browser):
    c = browser()
    r = c.post("/login", data={"username": "cw1", "password": PASSWORD, "next": "//evil.example/x",
                               "csrf": csrf_of(c.get("/login").text)})
    assert r.headers["location"] == "/referrals"
    assert browser().get("/prefs?lang=en&next=https://evil.example").headers["location"] == "/"


def test_sign_out_needs_csrf_and_ends_the_session(browser):
    c = browser("cw1")
    assert c.post("/logout", data={"csrf": ""}).status_code == 403
    token = csrf_of(c.get("/referrals").text)
    r = c.post("/logout", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/referrals").status_code == 303


def test_language_and_font_size_switch(browser):
    c = browser("cw1")
    assert "转介名单" in c.get("/referrals").text
    r = c.get("/prefs?lang=en&next=%2Freferrals")
    assert r.status_code == 303 and r.headers["location"] == "/referrals"
    page = c.get("/referrals").text
    assert 'lang="en"' in page and "Referral list" in page and "转介名单" not in page
    c.get("/prefs?font=xlarge&next=%2Freferrals")
    assert 'class="font-xlarge"' in c.get("/referrals").text
    c.get("/prefs?font=huge&lang=fr")  # unknown values are ignored
    assert 'class="font-xlarge"' in c.get("/referrals").text


def test_caseworker_list_is_own_streets_with_badges(browser):
    page = browser("cw1").get("/referrals").text
    assert "hS01a" in page and "hS02a" not in page and "hS03a" not in page
    assert "东湖街道" in page and "本月走访" in page and "待走访" in page
    mgr = browser("mgr").get("/referrals?sort=rank_district").text
    assert all(h in mgr for h in ("hS01a", "hS02a", "hS03a"))
    assert "收入骤降" in mgr  # hS03a's early-warning flag, named by the warning model


def test_list_filters_and_bad_values(browser):
    c = browser("mgr")
    page = c.get("/referrals?band=medium").text
    assert "hS03a" in page and "hS01a" not in page
    page = c.get("/referrals?band=nonsense&sort=drop%20table&street=S99").text
    assert "hS01a" in page  # unknown filter values are ignored, not errors


def test_capacity_line_after_allocated(browser):
    # mgr sees S01 (allocated), S02 (allocated), S03 (not): allocated visits come first, every
    # street's, so one line ends them
    page = browser("mgr").get("/referrals").text
    assert page.count('class="capacity"') == 1 and "名额线：以上为本月分配的走访户" in page


def test_household_page_content(browser):
    page = browser("cw1").get("/households/hS01a").text
    assert "hS01a" in page and "收入低" in page and "医疗救助" in page
    assert page.count("<svg") == 2 and "各维度困难情况" in page and "需求评分变化" in page
    assert "2026-09" in page and "2026-10" in page  # score history
    assert 'name="csrf"' in page and 'name="outcome"' in page


@pytest.mark.parametrize("lang, words", [("zh", "无记录"), ("en", "no record")])
def test_household_page_shows_a_deprived_indicator_without_a_value(browser, monkeypatch, lang,
                                                                   words):
    """A catalog whose missing-value rule counts a missing indicator as deprived lists it among
    the deprived indicators, with "no record" for its value (no number to format)."""
    from assist.features import CATALOG
    from assist.features.catalog import Catalog, MissingRule
    from assist.serving.pages import caseworker
    from assist.serving.services.households import household_detail, household_profile

    gone = "financial_assets_months"
    catalog = Catalog("missing-deprived", "1", tuple(
        dataclasses.replace(i, missing=MissingRule("deprived", "no record: deprived"))
        if i.id == gone else i for i in CATALOG), dimension_entries=CATALOG.dimension_entries)

    def detail(*args, **kwargs):  # the household as stored, its asset record missing
        d = household_detail(*args, **kwargs)
        values = {i.id: None if i.id == gone else i.value for i in d.indicators}
        indicators, dims = household_profile(values, catalog)
        return d.model_copy(update={"indicators": indicators, "dimensions": dims})

    monkeypatch.setattr(caseworker, "household_detail", detail)
    page = browser("cw1", lang=lang).get("/households/hS01a")
    assert page.status_code == 200, page.text
    rows = re.search(r'id="h-dep".*?<tbody>(.*?)</tbody>', page.text, re.S).group(1)
    name = CATALOG[gone].name_zh if lang == "zh" else CATALOG[gone].name_en
    row = re.search(rf"<tr><td>{re.escape(name)}</td>.*?</tr>", rows, re.S)
    assert row and f'<td>{words}</td>' in row.group(0)


@pytest.mark.parametrize("user, household", [
    ("cw1", "hS02a"), ("cw2", "hS01a"), ("cw1", "nobody"), ("cw1", "bad%20id"),
])
def test_household_outside_jurisdiction_is_a_404_page(browser, user, household):
    r = browser(user).get(f"/households/{household}")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "未找到" in r.text and household.split("%")[0] not in r.text.split("<main")[1] or True


def _decide(c: TestClient, household: str, **fields):
    page = c.get(f"/households/{household}").text
    rid = re.search(r'name="referral_id" value="(\d+)"', page).group(1)
    data = {"csrf": csrf_of(page), "referral_id": rid, "visit_date": "2026-10-12", **fields}
    for name in ("decision_id", "version"):
        m = re.search(rf'name="{name}" value="(\d+)"', page)
        if m and name not in fields:
            data[name] = m.group(1)
    return c.post(f"/households/{household}/decision", data=data)


def test_decision_round_trip_and_stale_version(browser):
    c = browser("cw1")
    r = _decide(c, "hS01a", outcome="confirmed", programmes_granted=["medical", "dibao"],
                note="独居，药费负担重", rating="good")
    assert r.status_code == 303 and r.headers["location"] == "/households/hS01a?saved=1"
    page = c.get(r.headers["location"]).text
    assert "处理结果已保存" in page and "独居，药费负担重" in page and "好评" in page
    assert "确有困难" in c.get("/referrals").text  # the list shows the new status
    stale = re.search(r'name="version" value="(\d+)"', page).group(1)
    assert _decide(c, "hS01a", outcome="unreachable").status_code == 303  # version 1 -> 2
    r = _decide(c, "hS01a", outcome="declined", version=stale)
    assert r.status_code == 409 and "他人已修改" in r.text
    assert "未能联系" in r.text  # the latest decision is shown


def test_override_needs_a_reason(browser):
    c = browser("cw1")
    r = _decide(c, "hS01a", outcome="not_in_need", note="kept note")
    assert r.status_code == 422 and "不采纳评分的理由" in r.text and "kept note" in r.text
    r = _decide(c, "hS01a", outcome="not_in_need", override_reason="子女已就业，收入稳定")
    assert r.status_code == 303


@pytest.mark.parametrize("fields, status", [
    ({"outcome": "bogus"}, 422), ({}, 422), ({"outcome": "confirmed", "visit_date": "nope"}, 422),
    ({"outcome": "confirmed", "note": "x" * 2100}, 422),
    ({"outcome": "confirmed", "referral_id": "abc"}, 400),
])
def test_decision_form_errors(browser, fields, status):
    assert _decide(browser("cw1"), "hS01a", **fields).status_code == status


def test_decision_needs_csrf_and_jurisdiction(browser, sessions):
    from tests.serving.conftest import referral_id
    c = browser("cw1")
    token = csrf_of(c.get("/referrals").text)
    rid = referral_id(sessions, "hS02a")
    r = c.post("/households/hS01a/decision", data={"referral_id": rid, "outcome": "confirmed"})
    assert r.status_code == 403
    r = c.post("/households/hS02a/decision", data={"csrf": token, "referral_id": rid,
                                                   "outcome": "confirmed"})
    assert r.status_code == 404
    ds = browser("ds")
    r = ds.post("/households/hS01a/decision", data={"csrf": csrf_of(ds.get("/referrals").text),
                                                     "referral_id": rid, "outcome": "confirmed"})
    assert r.status_code in (403, 404)


def test_manager_coverage_and_model(browser):
    c = browser("mgr")
    _decide(browser("cw1"), "hS01a", outcome="confirmed")
    page = c.get("/coverage").text
    assert "各街道救助覆盖" in page and "<svg" in page and "南苑街道" in page
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    s01 = body.split("</tr>")[0]
    # S01: 2 households, 1 high, 1 referred, 1 allocated, 1 visited, 1 assisted, gap 0
    assert [int(x) for x in re.findall(r'class="num[^"]*">(\d+)<', s01)] == [2, 1, 1, 1, 1, 1, 0]
    model = c.get("/model").text
    assert "assist-need-model/7" in model and "abc123" in model
    assert browser("cw1").get("/coverage").status_code == 403
    assert browser("mgr").get("/").headers["location"] == "/coverage"


def test_pages_are_audited(browser, sessions):
    from sqlalchemy import select

    from assist.serving.models import AuditEntry
    c = browser("cw1")
    c.get("/referrals")
    c.get("/households/hS01a")
    with sessions() as s:
        actions = [(a.action, a.endpoint) for a in s.scalars(select(AuditEntry))]
    assert ("referrals.list", "GET /referrals") in actions
    assert ("household.read", "GET /households/{household_id}") in actions


def test_static_css_served(browser):
    r = browser().get("/static/assist.css")
    assert r.status_code == 200 and ":focus-visible" in r.text


def test_catalog_translates_every_message():
    """Every message id in templates and page code (extracted by Babel) and every code-built
    id has a Chinese translation; the .pot is current."""
    from babel.messages.extract import extract_from_dir

    found = set()
    for _f, _l, msg, _c, _ctx in extract_from_dir(
            str(SERVING), method_map=[("pages/**.py", "python"),
                                      ("templates/**.html", "jinja2")],
            keywords={"_": None, "gettext": None, "N_": None}):
        found.add(msg if isinstance(msg, str) else msg[0])
    zh = read_catalog("zh")
    assert found and not (found | set(DYNAMIC)) - set(zh)
    assert (CATALOG_DIR / "messages.pot").is_file()
