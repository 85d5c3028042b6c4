"""Decisions carried forward, end to end through the API: a month is scored and loaded, decisions
are recorded through the API (not in need, granted, unreachable; the rest of the allocated
visits stay pending), the decisions snapshot is exported with the CLI, the next month is scored
with it and loaded, and the API list and household detail say who is listed and why.

A small simulated district (1,500 households x 3 months); the need model is trained directly on
the first month's hidden need (test shortcut, no MLflow).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assist.cli.app import app as assist_app
from assist.features import CATALOG
from assist.ingest.run import ingest
from assist.models.need import NeedModel
from assist.pipelines.score import StreetEntry, config_digest, load_scoring_config, run_scoring
from assist.serving.app import create_app
from assist.serving.db import make_engine, session_factory, upgrade
from assist.serving.services.snapshots import load_snapshot
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from assist.simulate import simulate
from assist.storage.casebook import DECISIONS_FILE, read_decisions
from assist.storage.snapshot import read_snapshot
from tests.serving.generated_district import fitted_on

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
FIRST, SECOND = "2026-09", "2026-10"


def _score(ws: Path, model: NeedModel, as_of: str, decisions: Path | None):
    cfg = load_scoring_config(ROOT / "experiments" / "scoring.yaml")
    cfg = cfg.model_copy(update={"allocation": cfg.allocation.model_copy(
        update={"streets": {"default": StreetEntry(visits=6, floor=1)}}),
        # exploration off: this test is about decisions carried forward (exploration draws are
        # tested in tests/models/test_exploration.py and tests/pipelines/test_score.py)
        "exploration": cfg.exploration.model_copy(update={"share": 0.0})})
    return run_scoring(store=ws / "store", as_of=as_of, out=ws / "scores", model=model,
                       model_version="test-1", config=cfg, config_hash=config_digest(cfg),
                       truth_dir=ws / "truth", key=DEV_PSEUDONYM_KEY, decisions=decisions)


def _load(engine, ws: Path, as_of: str) -> None:
    snap = read_snapshot(ws / "scores", as_of)
    with session_factory(engine)() as session:
        load_snapshot(session, as_of=as_of, summary=snap.summary, scores=snap.scores,
                      referrals=snap.referrals, indicator_ids=CATALOG.ids)


def _decide(client: TestClient, h: dict, item: dict, outcome: str, granted: list[str]) -> None:
    body = {"referral_id": item["id"], "outcome": outcome, "visit_date": f"{FIRST}-20",
            "programmes_granted": granted, "override_reason": "seen on the visit"}
    r = client.post("/api/v1/decisions", json=body, headers=h)
    assert r.status_code == 201, r.text


def _listed(client: TestClient, h: dict) -> dict[str, dict]:
    items, page = [], 1
    while True:
        got = client.get("/api/v1/referrals", params={"page_size": 200, "page": page},
                         headers=h).json()
        items += got["items"]
        if len(items) >= got["total"]:
            return {i["household_id"]: i for i in items}
        page += 1


def test_decisions_recorded_through_the_api_decide_next_months_list(tmp_path):
    ws = tmp_path
    simulate(households=1500, months=3, seed=5, end_month=SECOND, out=ws / "source",
             truth_out=ws / "truth")
    ingest(source=ws / "source", out=ws / "store", key=DEV_PSEUDONYM_KEY)
    model = fitted_on(ws / "store", ws / "truth", "2026-08")
    first = _score(ws, model, FIRST, decisions=None)
    assert first.summary["carry_forward"]["decisions"].startswith("none")

    s = Settings(env="dev", workspace=ws, pseudonym_key=DEV_PSEUDONYM_KEY)
    upgrade(s.db_url)
    engine = make_engine(s.db_url)
    _load(engine, ws, FIRST)
    with session_factory(engine)() as session:
        add_user(session, username="mgr", password="password-123", role="manager")
    app = create_app(s, engine=engine)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        tok = client.post("/api/v1/auth/token", json={"username": "mgr",
                                                      "password": "password-123"}).json()
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        before = _listed(client, h)
        allocated = [i for i in before.values() if i["allocated"]]
        assert len(allocated) >= 12 and all(i["listing"] == "new" for i in before.values())
        not_in_need, granted, unreachable = allocated[0:3], allocated[3:5], allocated[5:7]
        pending = allocated[7:]
        for item in not_in_need:
            _decide(client, h, item, "not_in_need", [])
        for item in granted:
            _decide(client, h, item, "confirmed", item["allocated_programmes"][:1])
        for item in unreachable:
            _decide(client, h, item, "unreachable", [])

        env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws),
               "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY}
        res = CliRunner().invoke(assist_app, ["casebook", "export-decisions"], env=env)
        assert res.exit_code == 0, res.output
        path = ws / "casebook" / DECISIONS_FILE
        exported = read_decisions(path)
        assert exported["outcome"].value_counts().to_dict() == {
            "pending": len(pending), "not_in_need": 3, "confirmed": 2, "unreachable": 2}
        assert set(exported["referral_month"]) == {FIRST}

        second = _score(ws, model, SECOND, decisions=path)
        carried = second.summary["carry_forward"]
        assert carried["households_decided"] == len(allocated)
        assert carried["pinned_allocated"] == len(pending)
        _load(engine, ws, SECOND)
        after = _listed(client, h)

        def detail(item: dict) -> dict:
            r = client.get(f"/api/v1/households/{item['household_id']}", headers=h)
            assert r.status_code == 200, r.text
            return r.json()

        for item in pending:  # kept allocated on the same street, said why
            now = after[item["household_id"]]
            assert now["allocated"] and now["street_code"] == item["street_code"]
            assert now["listing"] == "pending" and now["last_outcome"] == "pending"
            assert now["listing_en"].startswith(f"Visit allocated in {FIRST} still pending")
            assert now["listing_zh"].startswith(f"{FIRST}分派的走访尚未办结")
        suppressed = 0
        for item in not_in_need:  # not listed again, unless its situation changed
            d = detail(item)
            assert d["last_outcome"] == "not_in_need" and d["last_decision_date"] == f"{FIRST}-20"
            if d["listing"] == "suppressed_not_in_need":
                suppressed += 1
                assert item["household_id"] not in after and not d["listed_this_month"]
                assert d["listing_en"].startswith(f"Found not in need on {FIRST}-20")
            else:
                assert d["listing"] == "reopened_changed"
        assert suppressed >= 1
        for item in granted:  # assisted follow-up: not visited as new
            d = detail(item)
            assert d["listing"] == "follow_up" and item["household_id"] not in after
            assert d["listing_zh"].startswith(f"{FIRST}-20核实困难，已纳入救助（dibao")
        for item in unreachable:  # retried, ranked by score
            d = detail(item)
            assert d["listing"] == "retry"
            assert d["listing_en"] == f"Unreachable on {FIRST}-20 (retried 0 of 2 times): listed again"
            if item["household_id"] in after:
                assert after[item["household_id"]]["listing"] == "retry"
        assert all(i["listing"] in ("new", "pending", "retry", "reopened_changed")
                   for i in after.values())
        scores = pd.read_parquet(second.folder / "scores.parquet")
        granted_ids = [i["household_id"] for i in granted]
        assert not scores.loc[granted_ids, "candidate"].any()
        _pages_say_why(client, pending[0]["household_id"], granted[0]["household_id"])
    engine.dispose()


def _pages_say_why(client: TestClient, pending_id: str, granted_id: str) -> None:
    """The list and household pages show the last decision, its date and the reason (zh)."""
    from assist.serving.pages import session as cookies
    from tests.serving.test_pages import csrf_of

    client.cookies.set(cookies.LANG_COOKIE, "zh")
    r = client.post("/login", data={"username": "mgr", "password": "password-123",
                                    "csrf": csrf_of(client.get("/login").text)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    listing = client.get("/referrals").text
    assert "上次走访决定" in listing and "待走访" in listing and "分派的走访尚未办结" in listing
    page = client.get(f"/households/{granted_id}").text
    assert "未列入本月转介名单" in page and f"{FIRST}-20" in page and "核实困难，已纳入救助" in page
    page = client.get(f"/households/{pending_id}").text
    assert "已列入本月转介名单" in page and "保留在原社工名单上" in page
