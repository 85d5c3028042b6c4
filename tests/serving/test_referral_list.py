"""The caseworker's referral list on a simulated district (see ``generated_district``), on
SQLite and PostgreSQL: every street's allocated visits first (caseworker2, streets S02 and S03,
finds both streets' allocated households on page 1), "new" only for households not on last
month's list, declared filter enums (422 naming the field and the allowed values), 403 for a
street outside the caller's, the page's filters (flag, programme, community, allocated this
month), a legend for every badge and highlight, the rank explained, programme names in English.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from assist.features.codes import PROGRAMMES
from assist.serving.app import create_app
from assist.serving.db import make_engine, session_factory
from assist.serving.models import AuditEntry, Referral, Snapshot
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from tests.serving.generated_district import (
    CURRENT,
    PREVIOUS,
    fresh_store,
    generated_months,
    load_month,
    signed_in,
    token,
)

PASSWORD = "correct-horse-battery"
USERS = {"caseworker2": ("caseworker", ("S02", "S03")), "mgr": ("manager", ())}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def district(request, tmp_path_factory):
    """The app over a store holding both generated months, loaded out of order (the current
    month first, then the previous one); ``before`` holds the current month's new-this-month
    marks as they were while the previous month was not loaded."""
    from fastapi.testclient import TestClient

    previous, current = generated_months()
    folder = tmp_path_factory.mktemp("list")
    with fresh_store(request.param, folder) as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions() as s:
            load_month(s, current)
            before = dict(s.execute(select(Referral.household_id, Referral.new_this_month))
                          .tuples().all())
            load_month(s, previous)
            for name, (role, streets) in USERS.items():
                add_user(s, username=name, password=PASSWORD, role=role, streets=streets)
        settings = Settings(env="dev", workspace=folder, database_url=url,
                            pseudonym_key=DEV_PSEUDONYM_KEY)
        app = create_app(settings, engine=engine)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            yield {"app": app, "client": client, "sessions": sessions, "before": before,
                   "previous": previous, "current": current,
                   "h": {u: token(client, u, PASSWORD) for u in USERS}}
        engine.dispose()


def _page(d, user: str, **params) -> dict:
    r = d["client"].get("/api/v1/referrals", params=params, headers=d["h"][user])
    assert r.status_code == 200, r.text
    return r.json()


def _allocated(month, streets) -> set[str]:
    r = month.referrals
    return set(r.index[r["allocated"].astype(bool) & r["street_code"].isin(streets)])


def test_caseworker_of_two_streets_sees_both_streets_allocated_on_page_one(district):
    d = district
    want = _allocated(d["current"], ["S02", "S03"])
    streets = set(d["current"].referrals.loc[sorted(want), "street_code"])
    assert streets == {"S02", "S03"}  # both streets have allocated visits
    listed = d["current"].referrals["street_code"].isin(["S02", "S03"]).sum()
    assert listed > 50 > len(want)  # more than a page: the order decides what page 1 shows
    items = _page(d, "caseworker2", page=1, page_size=50)["items"]
    assert want <= {i["household_id"] for i in items}
    flags = [i["allocated"] for i in items]
    assert flags == sorted(flags, reverse=True)  # allocated first, then the waiting ones
    html = signed_in(d["app"], "caseworker2", PASSWORD).get("/referrals").text
    assert all(h in html for h in want)
    links = html[html.index('id="allocated-by-street"'):html.index("</nav>", html.index(
        'id="allocated-by-street"'))]
    for street, name in (("S02", "西林街道"), ("S03", "南苑街道")):  # one click to each street's
        n = len(_allocated(d["current"], [street]))
        assert f'href="/referrals?street={street}&amp;allocated=1"' in links
        assert f"{name} {n} 户" in links


def test_new_only_for_households_not_on_last_months_list(district):
    d = district
    assert set(d["before"].values()) == {None}  # previous month not loaded yet: unknown
    with d["sessions"]() as s:
        snap = s.scalar(select(Snapshot.id).where(Snapshot.as_of == CURRENT))
        marks = dict(s.execute(select(Referral.household_id, Referral.new_this_month)
                               .where(Referral.snapshot_id == snap)).tuples().all())
        old = s.scalar(select(Snapshot.id).where(Snapshot.as_of == PREVIOUS))
        first = set(s.scalars(select(Referral.new_this_month).where(Referral.snapshot_id == old)))
    before = set(d["previous"].referrals.index)
    assert marks == {h: h not in before for h in d["current"].referrals.index}
    assert 0 < sum(marks.values()) < len(marks)  # some new, not all
    assert first == {None}  # nothing loaded before the previous month
    items = _page(d, "mgr", page_size=200)["items"]
    assert all(i["new_this_month"] == marks[i["household_id"]] for i in items)
    html = signed_in(d["app"], "mgr", PASSWORD).get("/referrals").text
    page_ids = re.findall(r'<a href="/households/([^"]+)">', html)
    fresh = [h for h in page_ids if marks[h]]
    assert html.count('<span class="badge new">') == len(fresh) + 1  # + the legend's badge


@pytest.mark.parametrize(("name", "value", "allowed"), [
    ("cause", "bogus", "'illness'"), ("flag", "water", "'water_silence'"),
    ("programme", "Dibao", "'dibao'"), ("band", "urgent", "'high'")])
def test_filter_codes_are_enums(district, name, value, allowed):
    r = district["client"].get("/api/v1/referrals", params={name: value},
                               headers=district["h"]["mgr"])
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] == f"query.{name}" and allowed in err["message"]
    assert "\n" not in err["message"]


def test_filter_enums_are_documented_with_chinese_and_english_names(district):
    spec = district["client"].get("/api/v1/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/api/v1/referrals"]["get"]["parameters"]}
    flag = params["flag"]
    assert "water_silence" in str(flag["schema"])
    assert "独居老人用水异常" in flag["description"]
    assert "dibao = 最低生活保障 / Minimum-living allowance" in params["programme"]["description"]


def test_flag_programme_community_and_allocated_filters(district):
    d = district
    r = d["current"].referrals
    flagged = set(r.index[r["flags"].astype(str).str.contains("water_silence")])
    assert flagged  # the simulated district has lone elderly people whose water stopped
    got = {i["household_id"] for i in _page(d, "mgr", flag="water_silence", page_size=200)["items"]}
    assert got == flagged
    dibao = {h for h, p in r["programmes"].items() if "dibao" in list(p)}
    got = {i["household_id"] for i in _page(d, "mgr", programme="dibao", page_size=200)["items"]}
    assert got == dibao
    c = signed_in(d["app"], "mgr", PASSWORD)
    html = c.get("/referrals?flag=water_silence").text
    assert set(re.findall(r'<a href="/households/([^"]+)">', html)) == flagged
    assert '<option value="water_silence" selected>独居老人用水异常</option>' in html
    community = r.loc[sorted(flagged)[0], "community_code"]
    html = c.get(f"/referrals?community={community}&allocated=1").text
    want = set(r.index[(r["community_code"] == community) & r["allocated"].astype(bool)])
    assert set(re.findall(r'<a href="/households/([^"]+)">', html)) == want
    html = c.get(f"/referrals?community={community}&allocated=0").text
    rest = set(r.index[(r["community_code"] == community) & ~r["allocated"].astype(bool)])
    assert set(re.findall(r'<a href="/households/([^"]+)">', html)) == rest


def test_a_street_outside_the_callers_is_403_saying_so(district):
    d = district
    r = d["client"].get("/api/v1/referrals", params={"street": "S01"},
                        headers=d["h"]["caseworker2"])
    assert r.status_code == 403
    assert r.json()["error"] == {"code": "outside_streets", "field": "street",
                                 "message": "street S01 is not one of your streets (S02, S03)"}
    r = d["client"].get("/api/v1/referrals", params={"community": "S01C001"},
                        headers=d["h"]["caseworker2"])
    assert r.status_code == 403 and r.json()["error"]["field"] == "community"
    assert _page(d, "caseworker2", street="S03")["total"] > 0
    c = signed_in(d["app"], "caseworker2", PASSWORD)
    page = c.get("/referrals?street=S01")
    assert page.status_code == 403 and "不在您负责的街道" in page.text
    assert c.get("/referrals?community=S01C001").status_code == 403


def test_every_badge_and_highlight_has_a_legend_and_the_rank_is_explained(district):
    html = signed_in(district["app"], "mgr", PASSWORD).get("/referrals?sort=rank_district").text
    legend = html[html.index('id="list-legend"'):html.index("</section>")]
    body = html[html.index("<tbody>"):]
    for mark in set(re.findall(r'class="(badge [a-z]+|chip strong|band band-[a-z]+)"', body)):
        assert f'class="{mark}"' in legend, mark
    assert "tr class=\"allocated\"" in body and "本月分配" in legend
    assert "街道内排名" in html and "中间的家庭" in legend


def test_english_list_shows_programme_names_not_codes(district):
    html = signed_in(district["app"], "mgr", PASSWORD, lang="en").get("/referrals").text
    body = html[html.index("<tbody>"):]
    assert "Minimum-living allowance" in html or "Low-income family" in body
    for code in PROGRAMMES:
        assert f"({code})" not in body, code


def test_list_reads_are_audited_with_the_households_shown(district):
    d = district
    items = _page(d, "caseworker2", street="S03", page_size=10)["items"]
    signed_in(d["app"], "caseworker2", PASSWORD).get("/referrals?street=S02")
    with d["sessions"]() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.username == "caseworker2",
                                                  AuditEntry.action == "referrals.list")
                         .order_by(AuditEntry.id)).all()
    api = [e for e in rows if e.endpoint.startswith("GET /api/v1") and
           e.detail.get("street") == "S03"]
    assert api and api[-1].detail["household_ids"] == [i["household_id"] for i in items]
    page = [e for e in rows if e.endpoint == "GET /referrals" and e.detail["street"] == "S02"]
    assert page and all(h.startswith("h") for h in page[-1].detail["household_ids"])
