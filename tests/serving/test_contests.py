"""Notice and contest (PIPL art. 24) over the tiny district (see conftest): the notice of a
visited household, contests recorded, queued, decided by version and marked for correction,
roles x routes with jurisdiction (a probe outside the streets: 404, audited), the contested
row of the decisions snapshot, the overrides report's counts and the pages."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from assist.models.carry import CarryRules, carry_forward
from assist.serving import audit
from assist.serving.models import AuditEntry
from assist.serving.services import reports
from assist.serving.services.contests import corrections
from assist.serving.services.decisions import decisions_snapshot
from tests.serving.conftest import referral_id
from tests.serving.test_pages import browser, csrf_of  # noqa: F401 - the pages' fixture

API = "/api/v1"
IN, OUT = "hS01a", "hS02a"  # cw1's street S01; cw2's street S02


def _decide(client, auth, sessions, household: str = IN, user: str = "cw1") -> dict:
    r = client.post(f"{API}/decisions", headers=auth(user), json={
        "referral_id": referral_id(sessions, household), "outcome": "confirmed",
        "programmes_granted": ["medical"], "note": "独居老人"})
    assert r.status_code == 201, r.text
    return r.json()


def _contest(client, auth, user: str = "cw1", household: str = IN, **over) -> object:
    body = {"household_id": household, "grounds": "wrong_data",
            "text": "收入数据不是我家的", "disputed_indicators": ["income_per_capita_ratio"]}
    return client.post(f"{API}/contests", headers=auth(user), json={**body, **over})


def _log(sessions) -> list[tuple]:
    with sessions() as s:
        return [(e.username, e.action, e.household_id)
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


# --- notice --------------------------------------------------------------------------------
@pytest.mark.parametrize(("user", "status"), [
    ("cw1", 200), ("cw2", 404), ("mgr", 200), ("adm", 200), ("ds", 403), (None, 401)])
def test_notice_roles(client, auth, sessions, user, status):
    _decide(client, auth, sessions)
    r = client.get(f"{API}/households/{IN}/notice", headers=auth(user))
    assert r.status_code == status, r.text
    if user == "cw2":  # a probe outside the caller's streets is audited
        assert ("cw2", audit.DENIED, IN) in _log(sessions)
    if status == 200:
        assert (user, "notice.read", IN) in _log(sessions)


def test_notice_says_what_and_why_in_chinese_and_english(client, auth, sessions):
    _decide(client, auth, sessions)
    n = client.get(f"{API}/households/{IN}/notice", headers=auth("cw1")).json()
    assert n["top_factors_zh"] == ["收入低", "医疗支出高"]
    assert n["top_factors_en"] == ["income is low", "medical costs are high"]
    assert n["sources"] and all(s["department_zh"] and s["department_en"] for s in n["sources"])
    assert "识别" in n["identified"]["zh"] and "identified" in n["identified"]["en"]
    assert "核实确有困难" in n["decision"]["zh"] and "医疗救助" in n["decision"]["zh"]
    assert "need confirmed" in n["decision"]["en"] and "(medical)" in n["decision"]["en"]
    assert "第二十四条" in n["rights"]["zh"] and "article 24" in n["rights"]["en"]
    assert "东湖街道" in n["contact"]["zh"] and n["street_code"] == "S01"
    assert n["outcome"] == "confirmed" and n["programmes_granted"] == ["medical"]


def test_notice_needs_a_visit(client, auth):
    r = client.get(f"{API}/households/{IN}/notice", headers=auth("cw1"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_visited"


def test_notice_sources_follow_the_factors():
    from assist.features import CATALOG
    from assist.serving.services.notice import factor_sources

    ind = next(i for i in CATALOG if i.id == "oop_medical_ratio")
    values = dict.fromkeys(CATALOG.ids, 0.0) | {ind.id: 0.6}
    assert factor_sources([ind.sentence(0.6, "en")], values) == list(ind.sources)


# --- contests: roles x routes --------------------------------------------------------------
@pytest.mark.parametrize(("user", "household", "status", "channel"), [
    ("cw1", IN, 201, "visit"), ("cw1", OUT, 404, None), ("cw2", OUT, 201, "visit"),
    ("mgr", OUT, 201, "service_window"), ("adm", IN, 201, "service_window"),
    ("ds", IN, 403, None), (None, IN, 401, None), ("cw1", "hNOPE0", 404, None)])
def test_record_contest_roles(client, auth, sessions, user, household, status, channel):
    r = _contest(client, auth, user, household)
    assert r.status_code == status, r.text
    if status == 201:
        c = r.json()
        assert (c["status"], c["channel"], c["version"]) == ("open", channel, 1)
        assert (user, "contest.create", household) in _log(sessions)
    if status == 404:
        assert (user, audit.DENIED, household) in _log(sessions)


@pytest.mark.parametrize(("over", "status", "field"), [
    ({"text": "bad\x00text"}, 422, "body.text"),
    ({"text": ""}, 422, "body.text"),
    ({"grounds": "angry"}, 422, "body.grounds"),
    ({"disputed_indicators": ["nosuchindicator"]}, 422, "body.disputed_indicators"),
    ({"text": "two\nlines"}, 201, None),
])
def test_contest_inputs(client, auth, over, status, field):
    r = _contest(client, auth, **over)
    assert r.status_code == status, r.text
    if field:
        assert r.json()["error"]["field"] == field


def test_one_open_contest_per_household(client, auth):
    first = _contest(client, auth).json()
    r = _contest(client, auth, "mgr")
    assert r.status_code == 409 and r.json()["error"]["contest_id"] == first["id"]


@pytest.mark.parametrize(("user", "status"), [
    ("mgr", 200), ("adm", 200), ("cw1", 403), ("ds", 403), (None, 401)])
def test_queue_roles(client, auth, sessions, user, status):
    _contest(client, auth)
    r = client.get(f"{API}/contests", headers=auth(user))
    assert r.status_code == status, r.text
    if status == 200:
        out = r.json()
        assert (out["total"], out["open"], out["items"][0]["household_id"]) == (1, 1, IN)
        with sessions() as s:
            e = s.scalars(select(AuditEntry).where(AuditEntry.action == "contests.list")).one()
            assert e.detail["household_ids"] == [IN]


@pytest.mark.parametrize(("user", "status"), [
    ("mgr", 200), ("adm", 403), ("cw1", 403), ("ds", 403)])
def test_decide_roles(client, auth, user, status):
    c = _contest(client, auth).json()
    r = client.put(f"{API}/contests/{c['id']}/decision", headers=auth(user),
                   json={"outcome": "rejected", "reason": "收入核对无误", "version": 1})
    assert r.status_code == status, r.text


def test_decide_by_version_with_a_reason(client, auth, sessions):
    c = _contest(client, auth).json()
    url = f"{API}/contests/{c['id']}/decision"
    r = client.put(url, headers=auth("mgr"), json={"outcome": "upheld", "version": 1})
    assert r.status_code == 422 and r.json()["error"]["field"] == "body.reason"
    r = client.put(url, headers=auth("mgr"), json={"outcome": "upheld", "reason": "x",
                                                   "version": 7})
    assert r.status_code == 409 and r.json()["error"]["code"] == "version_conflict"
    r = client.put(url, headers=auth("mgr"), json={"outcome": "data_corrected",
                                                   "reason": "收入记录属另一户", "version": 1})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["status"], out["correction_needed"], out["version"]) == ("data_corrected", True, 2)
    r = client.put(url, headers=auth("mgr"), json={"outcome": "rejected", "reason": "x",
                                                   "version": 2})
    assert r.status_code == 409 and r.json()["error"]["code"] == "contest_decided"
    assert client.put(f"{API}/contests/999999/decision", headers=auth("mgr"), json={
        "outcome": "rejected", "reason": "x", "version": 1}).status_code == 404
    with sessions() as s:
        fixes = corrections(s)
    assert [(f["household_id"], f["indicators"], f["tables"]) for f in fixes] == [
        (IN, ["income_per_capita_ratio"], ["income", "persons"])]
    assert ("mgr", "contest.decide", IN) in _log(sessions)


# --- carried forward, counted --------------------------------------------------------------
def test_open_contest_is_contested_in_the_decisions_snapshot(client, auth, sessions):
    _decide(client, auth, sessions)
    c = _contest(client, auth).json()
    with sessions() as s:
        frame = decisions_snapshot(s)
    rows = frame.loc[frame["household_id"] == IN].sort_values("updated_at")
    assert list(rows["outcome"])[-2:] == ["confirmed", "contested"]
    assert rows["referral_month"].iloc[-1] == "2026-10" and rows["visit_date"].isna().iloc[-1]
    hh = pd.DataFrame({"band": ["high", "high"]}, index=pd.Index([IN, OUT]))
    carried = carry_forward(frame, as_of="2026-11", households=hh, rules=CarryRules(),
                            codes=["medical"]).status
    assert carried.loc[IN, "listing"] == "contested" and not carried.loc[IN, "candidate"]
    assert carried.loc[IN, "listing_zh"].startswith("申诉处理中")
    client.put(f"{API}/contests/{c['id']}/decision", headers=auth("mgr"),
               json={"outcome": "rejected", "reason": "核对无误", "version": 1})
    with sessions() as s:
        frame = decisions_snapshot(s)
    assert "contested" not in set(frame["outcome"])


def test_contests_counted_in_the_overrides_report(client, auth, sessions):
    a = _contest(client, auth).json()
    _contest(client, auth, "cw2", OUT)
    client.put(f"{API}/contests/{a['id']}/decision", headers=auth("mgr"),
               json={"outcome": "upheld", "reason": "理由成立", "version": 1})
    with sessions() as s:
        rep = reports.overrides(s)
    assert rep["contests"]["totals"] == {"open": 1, "upheld": 1, "rejected": 0,
                                         "data_corrected": 0, "contests": 2}
    assert [(r["street"], r["open"], r["upheld"]) for r in rep["contests"]["streets"]] == [
        ("S01", 0, 1), ("S02", 1, 0)]
    r = client.get(f"{API}/reports/overrides", headers=auth("mgr"))
    assert r.status_code == 200 and r.json()["contests"]["totals"]["contests"] == 2


# --- pages ---------------------------------------------------------------------------------
def test_pages_contest_decide_notice(client, auth, sessions, browser):  # noqa: F811
    _decide(client, auth, sessions)
    cw = browser("cw1")
    page = cw.get(f"/households/{IN}")
    assert page.status_code == 200 and 'id="contest-form"' in page.text
    assert f'href="/households/{IN}/notice"' in page.text
    r = cw.post(f"/households/{IN}/contest", data={
        "csrf": csrf_of(page.text), "grounds": "refuse_automated", "text": "不同意\r\n自动评估"})
    assert r.status_code == 303 and r.headers["location"] == f"/households/{IN}?contested=1"
    assert cw.post(f"/households/{OUT}/contest", data={
        "csrf": csrf_of(page.text), "grounds": "other", "text": "x"}).status_code == 404
    assert cw.post(f"/households/{IN}/contest", data={
        "csrf": csrf_of(page.text), "grounds": "other", "text": "x"}).status_code == 409
    assert cw.get("/contests").status_code == 403
    notice = cw.get(f"/households/{IN}/notice")
    assert notice.status_code == 200 and "收入低" in notice.text and "第二十四条" in notice.text
    export = cw.get(f"/households/{IN}/notice.json")
    assert export.status_code == 200 and export.json()["top_factors_zh"] == ["收入低", "医疗支出高"]
    assert "attachment" in export.headers["content-disposition"]
    assert browser("cw2").get(f"/households/{IN}/notice").status_code == 404
    assert browser("cw2").get(f"/households/{IN}/notice.json").status_code == 404
    assert browser("ds").get(f"/households/{IN}/notice").status_code == 403
    mgr = browser("mgr")
    queue = mgr.get("/contests")
    assert queue.status_code == 200 and IN in queue.text and "拒绝仅由自动化方式评估" in queue.text
    with sessions() as s:
        contest_id = reports_contest_id(s)
    r = mgr.post(f"/contests/{contest_id}/decision", data={
        "csrf": csrf_of(queue.text), "outcome": "upheld", "reason": "", "version": "1"})
    assert r.status_code == 422
    r = mgr.post(f"/contests/{contest_id}/decision", data={
        "csrf": csrf_of(queue.text), "outcome": "upheld", "reason": "改为人工复核", "version": "1"})
    assert r.status_code == 303 and r.headers["location"] == "/contests?decided=1"
    assert "申诉成立" in mgr.get("/contests?decided=1").text
    assert 'id="contest-counts"' in mgr.get("/overrides").text


def reports_contest_id(session) -> int:
    from assist.serving.models import Contest

    return session.scalars(select(Contest.id)).one()


def test_cli_lists_contests_and_corrections(tmp_path):
    import json

    from typer.testing import CliRunner

    from assist.cli.app import app as cli
    from assist.features import CATALOG
    from assist.serving.auth import Principal
    from assist.serving.db import make_engine, session_factory, upgrade
    from assist.serving.schemas import ContestCreate, ContestDecide
    from assist.serving.services.contests import create_contest, decide_contest
    from assist.serving.services.snapshots import load_snapshot
    from assist.serving.services.users import add_user
    from assist.settings import DEV_PSEUDONYM_KEY, Settings
    from tests.serving.conftest import AS_OF, tiny_snapshot

    s = Settings(env="dev", workspace=tmp_path, database_url="", pseudonym_key=DEV_PSEUDONYM_KEY)
    upgrade(s.db_url)
    engine = make_engine(s.db_url)
    with session_factory(engine)() as session:
        scores, ref, summary = tiny_snapshot()
        load_snapshot(session, as_of=AS_OF, summary=summary, scores=scores, referrals=ref,
                      indicator_ids=CATALOG.ids)
        mgr = add_user(session, username="m", password="password-123", role="manager",
                       streets=())
        who = Principal(user_id=mgr.id, username="m", role="manager", streets=None)
        c = create_contest(session, who=who, endpoint="cli-test", body=ContestCreate(
            household_id=IN, grounds="wrong_data", text="收入有误",
            disputed_indicators=["rent_burden"]))
        create_contest(session, who=who, endpoint="cli-test", body=ContestCreate(
            household_id=OUT, grounds="other", text="其他"))
        decide_contest(session, who=who, contest_id=c.id, endpoint="cli-test",
                       body=ContestDecide(outcome="data_corrected", reason="已更正", version=1))
    engine.dispose()
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path), "ASSIST_DATABASE_URL": ""}
    run = CliRunner().invoke
    r = run(cli, ["casebook", "contests"], env=env)
    assert r.exit_code == 0, r.output
    assert "2 contests: open 1, upheld 0, rejected 0, data_corrected 1" in r.output
    r = run(cli, ["casebook", "contests", "--corrections"], env=env)
    assert r.exit_code == 0 and "tables: housing, income" in r.output and IN in r.output
    assert "收入有误" not in r.output and "已更正" not in r.output  # no free text
    rows = json.loads(run(cli, ["casebook", "contests", "--corrections", "--json"],
                          env=env).output)
    assert [(x["household_id"], x["indicators"]) for x in rows] == [(IN, ["rent_burden"])]


def test_every_source_table_names_its_department():
    from assist.features.codes import DEPARTMENTS
    from assist.features.schemas import TABLES

    assert set(DEPARTMENTS) == set(TABLES)
