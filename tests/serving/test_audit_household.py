"""Who saw household X: list reads keep the pseudonyms they returned, denied probes are kept,
and ``assist audit-log export --household`` answers it on both databases; old entries are
pruned only beyond the declared retention."""

from __future__ import annotations

import datetime as dt
import json

from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from typer.testing import CliRunner

from assist.cli.app import app as cli_app
from assist.serving import audit
from assist.serving.models import AuditEntry
from tests.serving.conftest import PASSWORD
from tests.serving.test_pages import csrf_of

API = "/api/v1"


def _log(sessions) -> list[tuple]:  # noqa: ANN001
    with sessions() as s:
        return [(e.username, e.action, e.household_id, (e.detail or {}).get("household_ids"))
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_list_reads_record_the_households_returned(client, auth, sessions):
    r = client.get(f"{API}/referrals", headers=auth("cw1"))
    assert r.status_code == 200
    listed = [i["household_id"] for i in r.json()["items"]]
    assert listed == ["hS01a"]
    r = client.get(f"{API}/referrals?sort=rank_district", headers=auth("mgr"))
    assert _log(sessions) == [("cw1", "referrals.list", None, ["hS01a"]),
                              ("mgr", "referrals.list", None,
                               [i["household_id"] for i in r.json()["items"]])]


def test_denied_probes_are_recorded_on_the_api_and_the_pages(app, client, auth, sessions):
    assert client.get(f"{API}/households/hS02a", headers=auth("cw1")).status_code == 404
    assert client.get(f"{API}/households/hNOPE0", headers=auth("cw1")).status_code == 404
    page = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    page.post("/login", data={"username": "cw1", "password": PASSWORD,
                              "csrf": csrf_of(page.get("/login").text)})
    assert page.get("/households/hS02a").status_code == 404
    assert page.get("/referrals").status_code == 200
    assert _log(sessions) == [("cw1", audit.DENIED, "hS02a", None),
                              ("cw1", audit.DENIED, "hNOPE0", None),
                              ("cw1", audit.DENIED, "hS02a", None),
                              ("cw1", "referrals.list", None, ["hS01a"])]


def _cli(settings, *args: str):  # noqa: ANN001, ANN202
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(settings.workspace),
           "ASSIST_DATABASE_URL": settings.db_url, "COLUMNS": "200"}
    return CliRunner().invoke(cli_app, list(args), env=env)


def test_export_household_answers_who_saw_it(client, auth, settings, sessions):
    client.get(f"{API}/referrals", headers=auth("cw1"))        # lists hS01a
    client.get(f"{API}/referrals", headers=auth("cw2"))        # lists hS02a only
    client.get(f"{API}/households/hS01a", headers=auth("mgr"))  # reads it
    client.get(f"{API}/households/hS01a", headers=auth("cw2"))  # probes it: 404
    result = _cli(settings, "audit-log", "export", "--household", "hS01a")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert [(r["username"], r["action"]) for r in rows] == [
        ("cw1", "referrals.list"), ("mgr", "household.read"), ("cw2", audit.DENIED)]
    result = _cli(settings, "audit-log", "export", "--household", "hS02a", "--since", "2000-01-01")
    assert [json.loads(line)["username"] for line in result.output.splitlines()] == ["cw2"]
    result = _cli(settings, "audit-log", "export", "--household", "hS01")  # a prefix: no match
    assert result.exit_code == 0 and result.output.strip() == ""


def test_prune_keeps_the_retention_period(settings, sessions):
    old = dt.datetime.now(dt.UTC) - audit.RETENTION - dt.timedelta(days=2)
    with sessions() as s:
        s.execute(insert(AuditEntry), [
            {"at": old, "user_id": 1, "username": "cw1", "role": "caseworker",
             "action": "household.read", "endpoint": "GET x", "household_id": "hS01a",
             "detail": {}},
            {"at": dt.datetime.now(dt.UTC), "user_id": 1, "username": "cw1",
             "role": "caseworker", "action": "household.read", "endpoint": "GET x",
             "household_id": "hS01a", "detail": {}}])
        s.commit()
    result = _cli(settings, "audit-log", "prune", "--before", dt.date.today().isoformat())
    assert result.exit_code == 2 and "younger than the retention period" in result.output
    result = _cli(settings, "audit-log", "prune")
    assert result.exit_code == 0 and "1 audit entries before" in result.output
    assert len(_log(sessions)) == 1
