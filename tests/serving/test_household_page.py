"""The household page: current benefits, words instead of codes, errors beside their field,
a conflicting edit kept and shown beside the stored version to merge, the decision history;
and ``/models/current`` without file paths. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from assist.serving.models import Snapshot
from assist.serving.pages import session as cookies
from tests.serving.conftest import PASSWORD
from tests.serving.test_pages import _decide, csrf_of

API = "/api/v1"
#: a path on the server: a folder and a file name with an extension, or the workspace folder
PATH_LIKE = re.compile(r"[\w.-]+/[\w./-]*\.(?:parquet|json|csv|db|yaml)|\bvar/|/tmp/|/home/")


@pytest.fixture
def browser(app):
    """A signed-in page client per call, in the language asked for."""
    from fastapi.testclient import TestClient

    def make(user: str, *, lang: str | None = None) -> TestClient:
        c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
        if lang:
            c.cookies.set(cookies.LANG_COOKIE, lang)
        r = c.post("/login", data={"username": user, "password": PASSWORD,
                                   "csrf": csrf_of(c.get("/login").text)})
        assert r.status_code == 303, r.text
        return c
    return make


def _section(html: str, heading_id: str) -> str:
    m = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', html, re.S)
    assert m, heading_id
    return m.group(0)


@pytest.mark.parametrize(("lang", "benefit", "programme", "causes"), [
    ("zh", "慈善帮扶", "最低生活保障", "失业、住房困难"),
    ("en", "Charity aid", "Minimum-living allowance", "unemployment, housing")])
def test_benefits_programme_names_and_punctuation(browser, lang, benefit, programme, causes):
    page = browser("cw1", lang=lang).get("/households/hS01a")
    assert page.status_code == 200
    benefits = _section(page.text, "h-benefits")
    assert benefit in benefits and 'id="current-benefits"' in benefits
    assert programme in _section(page.text, "h-prog")
    assert not re.search(r"\((dibao|tekun|medical|charity|low_income)\)", page.text)
    other = browser("mgr", lang=lang).get("/households/hS02a").text    # referred, no grants
    assert ("未享受任何救助" if lang == "zh" else "receives no assistance") in _section(
        other, "h-benefits")
    assert causes in _section(other, "h-score")                    # 、 between Chinese words


def test_deprived_indicators_carry_units_and_cutoffs_in_words(browser):
    zh = _section(browser("cw1", lang="zh").get("/households/hS01a").text, "h-dep")
    en = _section(browser("cw1", lang="en").get("/households/hS01a").text, "h-dep")
    assert "困难判定" in zh and re.search(r"<td>(高于|低于|至少)[^<]+</td>", zh)
    assert re.search(r"<td>(above|below|at least) [^<]+</td>", en)
    assert "个月" in zh or "收入的" in zh or "人" in zh


@pytest.mark.parametrize(("fields", "error_id", "field_id"), [
    ({"outcome": "not_in_need"}, "override_reason-error", "override_reason"),
    ({"outcome": "confirmed", "visit_date": "2099-01-01"}, "visit_date-error", "visit_date"),
    ({"outcome": "confirmed", "rating_reason": "why"}, "rating-error", None),
    ({"outcome": "confirmed", "note": "x" * 2100}, "note-error", "note"),
])
def test_form_errors_sit_beside_their_field(browser, fields, error_id, field_id):
    r = _decide(browser("cw1"), "hS01a", **fields)
    assert r.status_code == 422
    form = re.search(r'<form[^>]*id="decision-form".*?</form>', r.text, re.S).group(0)
    assert f'id="{error_id}"' in form and 'id="form-message"' not in r.text
    if field_id:  # the message is within 400 characters of its field, never at the page top
        at_error, at_field = form.index(f'id="{error_id}"'), form.index(f'id="{field_id}"')
        assert abs(at_error - at_field) < 400
        assert f'aria-describedby="{error_id}"' in form


def test_conflict_keeps_the_second_editors_input_beside_the_stored_version(browser):
    first, second = browser("cw1"), browser("cw1", lang="en")
    assert _decide(first, "hS01a", outcome="confirmed",
                   programmes_granted=["medical"]).status_code == 303
    opened = second.get("/households/hS01a").text       # the second editor reads version 1
    version = re.search(r'name="version" value="(\d+)"', opened).group(1)
    assert _decide(first, "hS01a", outcome="confirmed", programmes_granted=["medical"],
                   note="first editor's note").status_code == 303       # now version 2
    r = _decide(second, "hS01a", outcome="declined", version=version,
                programmes_granted=["dibao"], note="second editor's note")
    assert r.status_code == 409
    merge = re.search(r'id="merge-table".*?</table>', r.text, re.S).group(0)
    assert "first editor&#39;s note" in merge and "second editor&#39;s note" in merge
    assert "Minimum-living allowance" in merge and "Medical assistance" in merge
    form = re.search(r'<form[^>]*id="decision-form".*?</form>', r.text, re.S).group(0)
    assert "second editor&#39;s note</textarea>" in form                 # what they typed
    assert re.search(r'value="dibao" checked', form) and not re.search(
        r'value="medical" checked', form)
    assert re.search(r'value="declined" required checked', form)
    assert 'name="version" value="2"' in form                           # merged onto v2
    saved = second.post("/households/hS01a/decision", data={
        "csrf": csrf_of(r.text), "referral_id": re.search(
            r'name="referral_id" value="(\d+)"', form).group(1),
        "decision_id": re.search(r'name="decision_id" value="(\d+)"', form).group(1),
        "version": "2", "outcome": "confirmed", "visit_date": "2026-10-12",
        "programmes_granted": ["medical", "dibao"],
        "note": "first editor's note; second editor's note"})
    assert saved.status_code == 303
    history = _section(second.get("/households/hS01a").text, "h-changes")
    items = re.findall(r"version (\d+)", history)
    assert items == ["3", "2", "1"]                                    # newest first
    assert "Decision changed" in history and "Decision recorded" in history
    zh = _section(first.get("/households/hS01a").text, "h-changes")
    assert "修改决定" in zh and "第3版" in zh and "最低生活保障" in zh


def test_models_current_shows_no_file_path(client, auth, sessions, browser):
    with sessions() as s:
        snap = s.scalars(select(Snapshot).order_by(Snapshot.as_of.desc())).first()
        old = dict(snap.summary or {})
        snap.summary = {**old, "truth": {"source": "var/truth/need.parquet", "k": 40,
                                         "prevalence": 0.12, "precision_at_k": 0.55,
                                         "recall_at_k": 0.2, "allocated": 30,
                                         "allocated_precision": None}}
        s.commit()
    try:
        r = client.get(f"{API}/models/current", headers=auth("cw1"))
        assert r.status_code == 200
        assert not PATH_LIKE.search(r.text), r.text
        assert r.json()["truth"] == {"k": 40, "prevalence": 0.12, "precision_at_k": 0.55,
                                     "recall_at_k": 0.2, "allocated": 30}
        page = browser("cw1").get("/model")
        assert page.status_code == 200 and not PATH_LIKE.search(page.text)
    finally:
        with sessions() as s:
            snap = s.get(Snapshot, snap.id)
            snap.summary = old
            s.commit()


def test_docs_are_served_from_the_package(client):
    for path in (f"{API}/docs", f"{API}/redoc"):
        html = client.get(path).text
        assert "cdn" not in html.lower() and f"{API}/docs-static/" in html, path
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert client.get(f"{API}/docs-static/{asset}").status_code == 200, asset


def test_benefits_of_a_household_never_listed_are_said_to_be_unknown(browser):
    page = browser("cw1", lang="en").get("/households/hS01b").text     # scored, not referred
    assert "referral list only" in _section(page, "h-benefits")
