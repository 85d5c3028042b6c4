"""Re-scoring a month: another model writes revision r2 of its snapshot, `casebook load` replaces
the loaded month, decisions recorded stay attached to their households (one still listed, one
no longer listed), the API and /models/current move to r2; the same model and config again is a
no-op (scoring does not run, loading says "already loaded"). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from assist.cli.app import app as assist_app
from assist.cli.score import score_month
from assist.cli.serving import load_month
from assist.pipelines.score_config import config_digest, load_scoring_config
from assist.serving.app import create_app
from assist.serving.db import make_engine, session_factory, upgrade
from assist.serving.models import Decision, HouseholdScore, Referral, Snapshot
from assist.serving.services.snapshots import DELISTED
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from assist.storage import snapshot
from tests.serving.conftest import AS_OF, PASSWORD, PG_ENV, tiny_snapshot

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "experiments" / "scoring.yaml"
OLD, NEW = "assist-need-model/7", "assist-need-model/8"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> Iterator[str]:
    """An empty, migrated case store of its own on each back end."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'assist.db'}"
        upgrade(url)
        yield url
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    schema = f"assist_rev_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _write(scores_dir: Path, *, model: str, config_hash: str, drop: str | None = None,
           shift: float = 0.0) -> None:
    """The tiny district's snapshot scored by ``model`` (without ``drop`` among the listed)."""
    scores, ref, summary = tiny_snapshot(AS_OF, shift)
    if drop is not None:
        ref = ref.drop(index=drop)
    snapshot.write_snapshot(scores_dir, AS_OF, scores=scores, referrals=ref,
                            summary=summary | {"model_version": model,
                                               "config_hash": config_hash},
                            model_version=model, config_hash=config_hash)


def _token(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _referral(client: TestClient, who: dict[str, str], household: str) -> dict:
    items = client.get("/api/v1/referrals", headers=who, params={"page_size": 100}).json()["items"]
    return next(r for r in items if r["household_id"] == household)


def test_rescoring_with_another_model_replaces_the_loaded_month_keeping_decisions(
        store_url, tmp_path):
    s = Settings(env="dev", workspace=tmp_path, database_url=store_url,
                 pseudonym_key=DEV_PSEUDONYM_KEY)
    digest = config_digest(load_scoring_config(CONFIG))
    _write(s.scores_dir, model=OLD, config_hash=digest)
    first = load_month(s)
    assert (first.status, first.revision) == ("loaded", "r1")
    engine = make_engine(s.db_url)
    with session_factory(engine)() as session:
        for name, streets in (("cw1", ("S01",)), ("cw2", ("S02",)), ("mgr", ())):
            add_user(session, username=name, password=PASSWORD,
                     role="caseworker" if streets else "manager", streets=streets)
    with TestClient(create_app(s, engine=engine), base_url="http://127.0.0.1") as client:
        cw1, cw2, mgr = (_token(client, u) for u in ("cw1", "cw2", "mgr"))
        decided = {}
        for who, household in ((cw1, "hS01a"), (cw2, "hS02a")):
            ref = _referral(client, who, household)
            r = client.post("/api/v1/decisions", headers=who, json={
                "referral_id": ref["id"], "outcome": "confirmed", "note": "visited"})
            assert r.status_code == 201, r.text
            decided[household] = r.json()["id"]
        assert client.get("/api/v1/models/current", headers=mgr).json()["model_version"] == OLD

        # the same model and config: scoring does not run, loading changes nothing
        r1_summary = snapshot.read_summary(s.scores_dir, AS_OF)
        run, version = score_month(s, as_of=AS_OF, config=CONFIG)
        assert run is None and version == OLD
        assert snapshot.read_summary(s.scores_dir, AS_OF) == r1_summary
        assert load_month(s).status == "already loaded"

        # another model: revision r2 (hS02a no longer listed), r1 kept readable
        _write(s.scores_dir, model=NEW, config_hash=digest, drop="hS02a", shift=0.1)
        assert snapshot.revisions(s.scores_dir, AS_OF) == ["r1", "r2"]
        assert snapshot.read_snapshot(s.scores_dir, AS_OF, revision="r1").summary[
            "model_version"] == OLD
        res = load_month(s)
        assert (res.status, res.previous, res.revision) == ("replaced", "r1", "r2")
        assert res.decided == {"decisions": 2, "delisted": 1}
        assert "replaced r1 by r2" in res.message() and "2 decisions kept" in res.message()

        model = client.get("/api/v1/models/current", headers=mgr).json()
        assert (model["as_of"], model["model_version"]) == (AS_OF, NEW)
        listed = _referral(client, cw1, "hS01a")           # still listed: the r2 referral
        assert listed["status"] == "confirmed" and listed["allocated"]
        assert listed["probability"] == pytest.approx(0.81 - 0.1)
        kept = _referral(client, cw2, "hS02a")             # no longer listed: kept, marked
        assert kept["status"] == "confirmed" and not kept["allocated"]
        assert DELISTED in kept["flags"] and kept["probability"] == pytest.approx(0.74 - 0.1)
        for household, decision_id in decided.items():
            d = client.get(f"/api/v1/decisions/{decision_id}",
                           headers=cw1 if household == "hS01a" else cw2).json()
            assert d["household_id"] == household and d["version"] == 1   # not edited
        flagged = client.get("/api/v1/referrals", headers=cw2,
                             params={"flag": DELISTED}).json()["items"]
        assert [r["household_id"] for r in flagged] == ["hS02a"]
    with session_factory(engine)() as session:
        snaps = session.scalars(select(Snapshot)).all()
        assert [(x.as_of, x.model_version, x.summary["revision"]) for x in snaps] == \
            [(AS_OF, NEW, "r2")]
        on = dict(session.execute(select(Referral.household_id, Referral.snapshot_id)
                                  .join(Decision)).tuples().all())
        assert on == {"hS01a": snaps[0].id, "hS02a": snaps[0].id}
        assert session.scalar(select(HouseholdScore.probability).where(
            HouseholdScore.household_id == "hS01b")) == pytest.approx(0.05 - 0.1)
    engine.dispose()
    assert load_month(s).status == "already loaded"


@pytest.fixture(autouse=True)
def _no_registry(monkeypatch):
    """Resolve "production" without MLflow (as the promoted ``assist-need-model/7``); running
    the scoring itself fails the test (the no-op must answer before it)."""
    import assist.pipelines.score as score

    def resolve(*, model, model_path, tracking_uri, registered_model):
        return object(), OLD

    def run(**kwargs):
        raise AssertionError("scored although the month is scored with this model and config")

    monkeypatch.setattr(score, "resolve_model", resolve)
    monkeypatch.setattr(score, "run_scoring", run)


def test_cli_score_says_already_scored_and_load_says_already_loaded(tmp_path):
    digest = config_digest(load_scoring_config(CONFIG))
    _write(tmp_path / "scores", model=OLD, config_hash=digest)
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path), "ASSIST_DATABASE_URL": "",
           "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY}
    r = CliRunner().invoke(assist_app, ["score", "--as-of", AS_OF, "--config", str(CONFIG)],
                           env=env)
    assert r.exit_code == 0 and "already scored with assist-need-model/7" in r.output, r.output
    assert "nothing to do" in r.output
    run = CliRunner().invoke
    assert "r1 loaded" in run(assist_app, ["casebook", "load"], env=env).output
    assert "r1 already loaded" in run(assist_app, ["casebook", "load"], env=env).output
