"""Assigned visits on a simulated district (see ``generated_district``), SQLite and PostgreSQL:
a street lead assigns this month's allocated visits in bulk to caseworkers of the street (API
and page with checkboxes), each caseworker's "my visits" has due dates from the scoring config
(``visits.due_days``) and marks overdue ones, a reassignment is recorded (who, when, from whom),
bad requests are one-line errors naming the field, every read is audited with its households,
and ``assist users add --role lead`` creates a street lead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update
from typer.testing import CliRunner

from assist.cli.app import app as cli
from assist.errors import ConfigError
from assist.pipelines.score_config import config_digest, load_scoring_config
from assist.serving.app import create_app
from assist.serving.db import make_engine, session_factory
from assist.serving.errors import ApiError
from assist.serving.models import Assignment, AuditEntry, Referral
from assist.serving.services.assignments import scoring_config_path, visits_config
from assist.serving.services.decisions import district_today
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from tests.serving.generated_district import (
    csrf_of,
    fresh_store,
    generated_months,
    load_month,
    signed_in,
    token,
)

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
USERS = {"lead": ("lead", ("S02", "S03")), "ann": ("caseworker", ("S02",)),
         "bo": ("caseworker", ("S02", "S03")), "cw1": ("caseworker", ("S01",)),
         "mgr": ("manager", ()), "ds": ("data_scientist", ()),
         "cy": ("caseworker", ("S01", "S02", "S03", "S04"))}
DUE_DAYS = yaml.safe_load((ROOT / "experiments" / "scoring.yaml").read_text())["visits"]["due_days"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def district(request, tmp_path_factory):
    from fastapi.testclient import TestClient

    _previous, current = generated_months()
    folder = tmp_path_factory.mktemp("assign")
    with fresh_store(request.param, folder) as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions() as s:
            load_month(s, current)
            for name, (role, streets) in USERS.items():
                add_user(s, username=name, password=PASSWORD, role=role, streets=streets)
            refs = {street: [(r.id, r.household_id, r.allocated) for r in s.scalars(
                select(Referral).where(Referral.street_code == street)
                .order_by(Referral.rank_street))] for street in ("S01", "S02", "S03", "S04")}
        app = create_app(Settings(env="dev", workspace=folder, database_url=url,
                                  pseudonym_key=DEV_PSEUDONYM_KEY), engine=engine)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            yield {"app": app, "client": client, "sessions": sessions, "refs": refs,
                   "h": {u: token(client, u, PASSWORD) for u in USERS}}
        engine.dispose()


@pytest.fixture(autouse=True)
def _no_assignments(request):
    yield
    if "district" in request.fixturenames:
        with request.getfixturevalue("district")["sessions"]() as s:
            s.execute(update(Referral).values(status="open"))
            s.query(Assignment).delete()
            s.commit()


def allocated(d, street: str, n: int) -> list[tuple[int, str]]:
    return [(i, h) for i, h, a in d["refs"][street] if a][:n]


def post(d, user: str, ids: list[int], assignee: str):
    return d["client"].post("/api/v1/assignments", json={"referral_ids": ids, "assignee": assignee},
                            headers=d["h"][user])


def mine(d, user: str) -> dict:
    r = d["client"].get("/api/v1/assignments/mine", headers=d["h"][user])
    assert r.status_code == 200, r.text
    return r.json()


def test_lead_assigns_in_bulk_and_caseworkers_see_due_dates(district):
    d = district
    three = allocated(d, "S02", 3)
    r = post(d, "lead", [i for i, _ in three], "ann")
    assert r.status_code == 200, r.text
    due = district_today() + dt.timedelta(days=DUE_DAYS)
    body = r.json()
    assert (body["assigned"], body["reassigned"], body["unchanged"]) == (3, 0, 0)
    assert body["due_date"] == due.isoformat()
    got = mine(d, "ann")
    assert [v["household_id"] for v in got["items"]] == [h for _, h in three]
    assert {v["due_date"] for v in got["items"]} == {due.isoformat()}
    assert {v["days_left"] for v in got["items"]} == {DUE_DAYS} and got["due_days"] == DUE_DAYS
    assert not any(v["overdue"] for v in got["items"])
    assert mine(d, "bo")["items"] == []
    again = post(d, "lead", [i for i, _ in three], "ann").json()  # idempotent
    assert (again["assigned"], again["unchanged"]) == (0, 3)
    street = d["client"].get("/api/v1/assignments", params={"street": "S02"},
                             headers=d["h"]["lead"]).json()["items"]
    alloc = [h for _, h, a in d["refs"]["S02"] if a]
    assert sorted(v["household_id"] for v in street) == sorted(alloc)
    assert sum(v["assignee"] == "ann" for v in street) == 3


def test_reassignment_is_recorded_who_when_from_whom(district):
    d = district
    (rid, household), = allocated(d, "S02", 1)
    assert post(d, "mgr", [rid], "ann").status_code == 200
    r = post(d, "lead", [rid], "bo")
    assert r.json()["reassigned"] == 1
    hist = d["client"].get(f"/api/v1/assignments/{rid}/history", headers=d["h"]["lead"]).json()
    assert hist["household_id"] == household
    first, second = hist["events"]
    assert (first["assignee"], first["assigned_by"], first["previous_assignee"]) == \
        ("ann", "mgr", None)
    assert first["ended_at"] is not None and second["ended_at"] is None
    assert (second["assignee"], second["assigned_by"], second["previous_assignee"]) == \
        ("bo", "lead", "ann")
    assert second["assigned_at"] >= first["assigned_at"]
    assert mine(d, "ann")["items"] == [] and len(mine(d, "bo")["items"]) == 1


def test_overdue_marked_and_a_decided_visit_is_not_overdue(district):
    d = district
    two = allocated(d, "S03", 2)
    assert post(d, "lead", [i for i, _ in two], "bo").status_code == 200
    with d["sessions"]() as s:
        s.execute(update(Assignment).values(due_date=district_today() - dt.timedelta(days=3)))
        s.execute(update(Referral).where(Referral.id == two[1][0]).values(status="confirmed"))
        s.commit()
    items = {v["household_id"]: v for v in mine(d, "bo")["items"]}
    late, done = items[two[0][1]], items[two[1][1]]
    assert late["overdue"] is True and late["days_left"] == -3
    assert done["overdue"] is False and done["days_left"] is None
    html = signed_in(d["app"], "bo", PASSWORD).get("/my-visits").text
    assert "已逾期 3 天" in html and two[0][1] in html and 'class="overdue"' in html


@pytest.mark.parametrize(("user", "case", "status", "code", "field"), [
    ("lead", "other_street", 404, "not_found", "body.referral_ids"),
    ("lead", "waiting", 422, "not_allocated", "body.referral_ids"),
    ("lead", "assignee_elsewhere", 422, "outside_assignee_streets", "body.assignee"),
    ("lead", "not_a_caseworker", 422, "not_a_caseworker", "body.assignee"),
    ("lead", "empty", 422, "validation_error", "body.referral_ids"),
    ("ann", "ok", 403, "forbidden", None),
    ("ds", "ok", 403, "forbidden", None),
])
def test_bad_assignments_are_one_line_errors(district, user, case, status, code, field):
    d = district
    ok = allocated(d, "S02", 1)[0][0]
    waiting = next(i for i, _, a in d["refs"]["S02"] if not a)
    ids, assignee = {"other_street": ([allocated(d, "S01", 1)[0][0]], "ann"),
                     "waiting": ([waiting], "ann"), "assignee_elsewhere": ([ok], "cw1"),
                     "not_a_caseworker": ([ok], "ds"), "empty": ([], "ann"),
                     "ok": ([ok], "ann")}[case]
    r = post(d, user, ids, assignee)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err.get("field") == field and "\n" not in err["message"]
    with d["sessions"]() as s:
        assert s.scalar(select(Assignment.id).limit(1)) is None  # nothing half-done


def test_scope_of_reads(district):
    d = district
    c, h = d["client"], d["h"]
    r = c.get("/api/v1/assignments", params={"street": "S01"}, headers=h["lead"])
    assert r.status_code == 403 and r.json()["error"]["field"] == "street"
    assert c.get("/api/v1/assignments", headers=h["ds"]).status_code == 403
    streets = {v["street_code"] for v in c.get("/api/v1/assignments", headers=h["lead"]).json()[
        "items"]}
    assert streets == {"S02", "S03"}
    rid = allocated(d, "S01", 1)[0][0]
    assert c.get(f"/api/v1/assignments/{rid}/history", headers=h["lead"]).status_code == 404


def test_every_read_and_assignment_is_audited_with_its_households(district):
    d = district
    two = allocated(d, "S02", 2)
    post(d, "lead", [i for i, _ in two], "ann")
    mine(d, "ann")
    d["client"].get(f"/api/v1/assignments/{two[0][0]}/history", headers=d["h"]["ann"])
    with d["sessions"]() as s:
        rows = {e.action: e for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action.like("assignments.%")).order_by(AuditEntry.id))}
    assert rows["assignments.assign"].detail["household_ids"] == [h for _, h in two]
    assert rows["assignments.assign"].username == "lead"
    assert rows["assignments.mine"].detail["household_ids"] == [h for _, h in two]
    assert rows["assignments.history"].household_id == two[0][1]


def test_assignment_page_with_checkboxes(district):
    d = district
    c = signed_in(d["app"], "lead", PASSWORD)
    page = c.get("/assignments?street=S02")
    assert page.status_code == 200 and page.text.count('type="checkbox" name="referral_id"') == \
        sum(a for _, _, a in d["refs"]["S02"])
    two = allocated(d, "S02", 2)
    form = {"csrf": csrf_of(page.text), "street": "S02", "assignee": "ann",
            "referral_id": [str(i) for i, _ in two]}
    r = c.post("/assignments", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/assignments?street=S02&done=2"
    html = c.get(r.headers["location"]).text
    assert "已分派 2 户走访。" in html
    r = c.post("/assignments", data={**form, "assignee": ""})
    assert r.status_code == 422 and "请至少选择一户家庭和一名社工。" in r.text
    r = c.post("/assignments", data={**form, "assignee": "cw1"})
    assert r.status_code == 422 and "该社工不负责" in r.text
    assert f'value="{two[0][0]}" id="r{two[0][0]}" checked' in r.text  # choices kept
    assert signed_in(d["app"], "ann", PASSWORD).get("/assignments").status_code == 403
    assert c.get("/assignments?street=S01").status_code == 403
    html = signed_in(d["app"], "ann", PASSWORD).get("/my-visits").text
    assert all(h in html for _, h in two) and "我的走访" in html


def test_the_page_assigns_more_visits_than_fit_a_small_form(district):
    d = district
    c = signed_in(d["app"], "mgr", PASSWORD)
    ids = [i for street in ("S01", "S02", "S03", "S04") for i, _h, a in d["refs"][street] if a]
    assert len(ids) > 64  # more than the pages' former field limit
    r = c.post("/assignments", data={"csrf": csrf_of(c.get("/assignments").text),
                                     "assignee": "cy", "referral_id": [str(i) for i in ids]})
    assert r.status_code == 303, r.text
    assert len(mine(d, "cy")["items"]) == len(ids)


def test_a_lead_lands_on_the_assignment_page(district):
    from fastapi.testclient import TestClient

    c = TestClient(district["app"], base_url="http://127.0.0.1", follow_redirects=False)
    r = c.post("/login", data={"username": "lead", "password": PASSWORD,
                               "csrf": csrf_of(c.get("/login").text)})
    assert r.status_code == 303 and r.headers["location"] == "/assignments"
    html = c.get("/assignments").text
    assert "<h1>分派走访</h1>" in html and 'href="/my-visits"' not in html


def test_due_days_are_validated_and_do_not_change_the_scoring_hash(tmp_path):
    good = load_scoring_config(ROOT / "experiments" / "scoring.yaml")
    assert good.visits.due_days == DUE_DAYS
    text = (ROOT / "experiments" / "scoring.yaml").read_text()
    bad = tmp_path / "scoring.yaml"
    bad.write_text(text.replace(f"due_days: {DUE_DAYS}", "due_days: 0"))
    with pytest.raises(ConfigError, match="field 'visits.due_days'"):
        load_scoring_config(bad)
    with pytest.raises(ApiError, match="field 'visits.due_days'"):
        visits_config(bad)
    other = tmp_path / "other.yaml"
    other.write_text(text.replace(f"due_days: {DUE_DAYS}", "due_days: 30"))
    assert visits_config(other).due_days == 30
    assert config_digest(load_scoring_config(other)) == config_digest(good)


def test_cli_creates_a_street_lead(tmp_path):
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path),
           "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY, "ASSIST_NEW_PASSWORD": PASSWORD}
    run = CliRunner().invoke
    r = run(cli, ["users", "add", "li", "--role", "lead"], env=env)
    assert r.exit_code == 2 and "a lead needs at least one street" in r.output
    r = run(cli, ["users", "add", "li", "--role", "lead", "--street", "S02"], env=env)
    assert r.exit_code == 0, r.output
    listed = run(cli, ["users", "list"], env=env).output
    assert "li" in listed and "lead" in listed and "S02" in listed


def test_a_replaced_month_keeps_its_assignments(district):
    """Re-scoring the month with another model replaces its referrals: assignments follow their
    households to the new revision's referrals (this test runs last: it refreshes the ids)."""
    d = district
    two = allocated(d, "S02", 2)
    assert post(d, "lead", [i for i, _ in two], "ann").status_code == 200
    _previous, current = generated_months()
    replaced = dataclasses.replace(current, summary={**current.summary, "model_version": "m-2",
                                                     "revision": "r2"})
    with d["sessions"]() as s:
        load_month(s, replaced)
        d["refs"].update({street: [(r.id, r.household_id, r.allocated) for r in s.scalars(
            select(Referral).where(Referral.street_code == street)
            .order_by(Referral.rank_street))] for street in ("S01", "S02", "S03", "S04")})
    got = mine(d, "ann")["items"]
    assert [v["household_id"] for v in got] == [h for _, h in two]
    assert {v["referral_id"] for v in got} == {i for i, _ in allocated(d, "S02", 2)}
    assert not {v["referral_id"] for v in got} & {i for i, _ in two}  # new referral rows


def test_the_scoring_config_is_found_as_the_monthly_run_finds_it(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    (ws / "experiments").mkdir(parents=True)
    (ws / "experiments" / "scoring.yaml").write_text("visits:\n  due_days: 21\n")
    monkeypatch.chdir(tmp_path)  # no experiments/ here
    assert scoring_config_path(None) is None
    assert visits_config(scoring_config_path(None)).due_days == 14  # the declared default
    assert visits_config(scoring_config_path(ws)).due_days == 21
