"""GET /api/v1/reports: roles, stored reports (list, JSON, HTML download), live overrides and
early warning, and JSON errors with stable codes (never a 500)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from sqlalchemy import func, select

from assist.reports.report import write_report
from assist.serving.models import AuditEntry
from tests.serving.conftest import AS_OF, referral_id

API = "/api/v1"
ROLE_STATUS = {"cw1": 403, "mgr": 200, "ds": 200, "adm": 200, None: 401}


@pytest.fixture
def stored(settings):
    """Coverage of two months and drift of one, written as the batch stages write them."""
    root = settings.workspace / "reports"
    for month, gap in (("2026-09", 0.5), (AS_OF, 0.25)):
        write_report(root / month, "coverage", {"as_of": month, "gap": gap},
                     f"<html><body>coverage {month}</body></html>")
    write_report(root / "2026-09", "drift", {"as_of": "2026-09"}, "<html>drift</html>")
    yield root
    shutil.rmtree(root)


@pytest.mark.parametrize("user", list(ROLE_STATUS))
@pytest.mark.parametrize("path", ["/reports", "/reports/coverage", "/reports/coverage/html",
                                  "/reports/overrides", "/reports/early-warning"])
def test_roles(client, auth, stored, user, path):
    r = client.get(f"{API}{path}", headers=auth(user))
    assert r.status_code == ROLE_STATUS[user], r.text
    if r.status_code == 403:
        assert r.json()["error"]["code"] == "forbidden"


def test_list_newest_month_first(client, auth, stored):
    items = client.get(f"{API}/reports", headers=auth("mgr")).json()["items"]
    assert [(i["name"], i["as_of"]) for i in items] == [
        ("coverage", AS_OF), ("coverage", "2026-09"), ("drift", "2026-09")]
    assert items[0]["json_url"] == f"{API}/reports/coverage?as_of={AS_OF}"
    assert items[0]["html_url"] == f"{API}/reports/coverage/html?as_of={AS_OF}"
    assert str(stored) not in json.dumps(items)  # no server paths


def test_report_json_latest_or_month(client, auth, stored):
    assert client.get(f"{API}/reports/coverage", headers=auth("ds")).json() == {
        "as_of": AS_OF, "gap": 0.25}
    r = client.get(f"{API}/reports/coverage", params={"as_of": "2026-09"}, headers=auth("ds"))
    assert r.json()["gap"] == 0.5
    # drift exists only for 2026-09: the latest month that has it
    assert client.get(f"{API}/reports/drift", headers=auth("ds")).json()["as_of"] == "2026-09"


def test_report_html_is_a_download(client, auth, stored):
    r = client.get(f"{API}/reports/coverage/html", params={"as_of": "2026-09"},
                   headers=auth("adm"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-disposition"] == 'attachment; filename="coverage-2026-09.html"'
    assert "coverage 2026-09" in r.text


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("/reports/nope", {}, 404, "unknown_report"),
    ("/reports/nope/html", {}, 404, "unknown_report"),
    ("/reports/fairness", {}, 404, "report_not_found"),
    ("/reports/coverage", {"as_of": "2026-01"}, 404, "report_not_found"),
    ("/reports/drift/html", {"as_of": AS_OF}, 404, "report_not_found"),
    ("/reports/coverage", {"as_of": "../../etc"}, 422, "validation_error"),
    ("/reports/overrides", {"as_of": "2020-01"}, 404, "snapshot_not_found"),
    ("/reports/early-warning", {"as_of": "2020-01"}, 404, "snapshot_not_found"),
])
def test_errors_have_stable_codes(client, auth, stored, path, params, status, code):
    r = client.get(f"{API}{path}", params=params, headers=auth("mgr"))
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_missing_report_names_the_command(client, auth, stored):
    err = client.get(f"{API}/reports/coverage", params={"as_of": "2026-01"},
                     headers=auth("mgr")).json()["error"]
    assert err["command"] == "assist report coverage --as-of 2026-01"
    assert "assist report coverage --as-of 2026-01" in err["message"]


def test_unreadable_report_is_503_not_500(client, auth, stored):
    (stored / AS_OF / "coverage.json").write_text("{not json", encoding="utf-8")
    r = client.get(f"{API}/reports/coverage", headers=auth("mgr"))
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "report_unreadable"


def test_overrides_live_from_decisions(client, auth, sessions):
    empty = client.get(f"{API}/reports/overrides", headers=auth("mgr")).json()
    assert (empty["decisions"], empty["rows"]) == (0, [])
    # hS01a high -> not_in_need: override; hS02a high -> confirmed: followed;
    # hS03a medium -> declined: followed, not verified
    for h, outcome, reason in (("hS01a", "not_in_need", "pension found"),
                               ("hS02a", "confirmed", None), ("hS03a", "declined", None)):
        body = {"referral_id": referral_id(sessions, h), "outcome": outcome,
                "override_reason": reason}
        assert client.post(f"{API}/decisions", json=body, headers=auth("mgr")).status_code == 201
    rep = client.get(f"{API}/reports/overrides", params={"as_of": AS_OF},
                     headers=auth("ds")).json()
    assert (rep["as_of"], rep["decisions"], rep["overrides"], rep["verified"]) == (AS_OF, 3, 1, 2)
    rows = {(r["slice"], r["value"]): r for r in rep["rows"]}
    total = rows[("(all)", "(all)")]
    assert total["override_rate"] == pytest.approx(1 / 3)
    assert total["confirmed_rate_overridden"] == 0.0
    assert total["confirmed_rate_followed"] == 1.0     # hS02a; hS03a declined is unverified
    assert total["confirmed_rate_difference"] == -1.0
    assert rows[("street", "S01")]["confirmed_rate_followed"] is None  # undefined, not 0
    assert rows[("band", "high")]["decisions"] == 2
    assert {s for s, _ in rows} == {"(all)", "street", "band", "elderly_alone", "disability",
                                    "no_able_caregiver", "unemployed"}
    other = client.get(f"{API}/reports/overrides", params={"as_of": "2026-09"},
                       headers=auth("mgr")).json()
    assert other["decisions"] == 0  # decisions were on the 2026-10 referrals


def test_early_warning_counts(client, auth):
    rep = client.get(f"{API}/reports/early-warning", headers=auth("mgr")).json()
    assert rep["as_of"] == AS_OF
    assert rep["flags"] == ["band_up", "score_jump", "new_hospital_stay", "job_loss",
                            "income_drop", "water_silence"]
    # hS03a carries income_drop and a name this version does not know (water_silent)
    assert rep["totals"] == {"band_up": 0, "score_jump": 0, "new_hospital_stay": 0,
                             "job_loss": 0, "income_drop": 1, "water_silence": 0, "other": 1,
                             "households": 1}
    assert [s["street_code"] for s in rep["streets"]] == ["S03"]


def test_report_reads_are_not_audited(client, auth, sessions, stored):
    for path in ("/reports", "/reports/coverage", "/reports/overrides", "/reports/early-warning"):
        assert client.get(f"{API}{path}", headers=auth("mgr")).status_code == 200
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_casebook_overrides_writes_the_report(client, auth, sessions, settings):
    from typer.testing import CliRunner

    from assist.cli.app import app as cli

    features = settings.workspace / "features" / AS_OF
    features.mkdir(parents=True)
    pd.DataFrame({"head_hukou": ["local", "non-local", "non-local"], "size": [1, 2, 3]},
                 index=pd.Index(["hS01a", "hS02a", "hS03a"], name="household_id")
                 ).to_parquet(features / "attributes.parquet")
    for h, outcome, reason in (("hS01a", "not_in_need", "pension found"),
                               ("hS02a", "confirmed", None)):
        body = {"referral_id": referral_id(sessions, h), "outcome": outcome,
                "override_reason": reason}
        assert client.post(f"{API}/decisions", json=body, headers=auth("mgr")).status_code == 201
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(settings.workspace),
           "ASSIST_DATABASE_URL": settings.db_url}
    try:
        res = CliRunner().invoke(cli, ["casebook", "overrides", "--json"], env=env)
        assert res.exit_code == 0, res.output
        rep = json.loads(res.stdout)
        assert (rep["as_of"], rep["decisions"], rep["overrides"]) == (AS_OF, 2, 1)
        rows = {(r["slice"], r["value"]): r for r in rep["rows"]}
        assert rows[("head_hukou", "local")]["override_rate"] == 1.0      # hS01a
        assert rows[("head_hukou", "non-local")]["override_rate"] == 0.0  # hS02a
        assert "size" not in rep["slices"]
        folder = settings.workspace / "reports" / AS_OF
        assert json.loads((folder / "overrides.json").read_text(encoding="utf-8")) == rep
        assert "<svg" in (folder / "overrides.html").read_text(encoding="utf-8")
        # the stored file is served; the live report agrees with it
        r = client.get(f"{API}/reports/overrides/html", headers=auth("mgr"))
        # rendered as the overrides page renders it (attribute names translated)
        assert r.status_code == 200 and "按户主户籍" in r.text and "By head&#39;s hukou" in r.text
        live = client.get(f"{API}/reports/overrides", params={"as_of": AS_OF},
                          headers=auth("mgr")).json()
        assert live == rep
        out = settings.workspace / "overrides.csv"
        res = CliRunner().invoke(cli, ["casebook", "overrides", "--out", str(out)], env=env)
        assert res.exit_code == 0 and "2 decisions on 2026-10 referrals, 1 overrides" in res.output
        assert pd.read_csv(out)["household_id"].tolist() == ["hS01a"]
        res = CliRunner().invoke(cli, ["casebook", "overrides", "--as-of", "2020-01"], env=env)
        assert res.exit_code == 2 and "no snapshot 2020-01" in res.output
        assert "Traceback" not in res.output
    finally:
        shutil.rmtree(settings.workspace / "features")
        shutil.rmtree(settings.workspace / "reports", ignore_errors=True)
