"""Case-store and API fixtures: a tiny hand-made scoring snapshot, one store per back end
(SQLite always; PostgreSQL when ``ASSIST_TEST_POSTGRES_URL`` is set — required when CI=true),
demo users of every role, and tokens.

District of the tiny snapshot: streets S01, S02, S03; caseworker ``cw1`` has S01, ``cw2`` has
S02. Households ``hS01a`` (high, referred), ``hS01b`` (low, not referred), ``hS02a`` (high,
referred), ``hS03a`` (medium, referred, flagged).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from assist.features import CATALOG
from assist.serving.app import create_app
from assist.serving.db import make_engine, session_factory
from assist.serving.models import AuditEntry, Contest, Decision, Referral
from assist.serving.services.snapshots import load_snapshot
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from tests.serving.generated_district import fresh_store

PG_ENV = "ASSIST_TEST_POSTGRES_URL"
PASSWORD = "correct-horse-battery"
USERS = {  # name: (role, streets)
    "cw1": ("caseworker", ("S01",)), "cw2": ("caseworker", ("S02",)),
    "mgr": ("manager", ()), "ds": ("data_scientist", ()), "adm": ("admin", ()),
}
HOUSEHOLDS = {  # id: (street, community, probability, band, referred, flags)
    "hS01a": ("S01", "S01C001", 0.81, "high", True, ""),
    "hS01b": ("S01", "S01C002", 0.05, "low", False, ""),
    "hS02a": ("S02", "S02C001", 0.74, "high", True, ""),
    "hS03a": ("S03", "S03C001", 0.33, "medium", True, "income_drop;water_silent"),
}
AS_OF = "2026-10"


def tiny_snapshot(as_of: str = AS_OF, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Scores, referrals and summary of the tiny district, shaped like ``assist score`` output."""
    ids = list(HOUSEHOLDS)
    rows = []
    for i, h in enumerate(ids):
        street, community, p, band, _, _ = HOUSEHOLDS[h]
        rows.append({"street_code": street, "community_code": community,
                     "probability": p - shift, "band": band, "rank_district": i + 1,
                     "rank_street": 1 + (h == "hS01b"), "rank_community": 1,
                     "deprivation_score": round(p / 2, 3),
                     **{ind: float(j % 3) for j, ind in enumerate(CATALOG.ids)}})
    scores = pd.DataFrame(rows, index=pd.Index(ids, name="household_id"))
    scores["street_code"] = scores["street_code"].astype("string")
    scores["community_code"] = scores["community_code"].astype("string")
    ref = scores.loc[[h for h in ids if HOUSEHOLDS[h][4]],
                     ["street_code", "community_code", "rank_street", "rank_community",
                      "rank_district", "probability", "band", "deprivation_score"]].copy()
    ref["raw_score"] = 0.0
    ref["allocated"] = [True, True, False]
    ref["primary_cause"] = pd.array(["illness", "unemployment", "income_loss"], dtype="string")
    ref["secondary_cause"] = pd.array([None, "housing", None], dtype="string")
    ref["top_factors_en"] = ["income is low; medical costs are high", "out of work", "income fell"]
    ref["top_factors_zh"] = ["收入低；医疗支出高", "失业", "收入下降"]
    ref["allocated_programmes"] = ["medical", "employment", ""]
    ref["programmes"] = ["medical;dibao", "employment", "temporary"]
    ref["reasons_en"] = ["Medical assistance: costs", "Employment aid: unemployed", "Temporary"]
    ref["reasons_zh"] = ["医疗救助：费用", "就业援助：失业", "临时救助"]
    ref["causes_addressed"] = ["illness", "unemployment", "income_loss"]
    ref["flags"] = ["", "", HOUSEHOLDS["hS03a"][5]]
    ref["receiving"] = ["charity", "", ""]  # programmes already received (active grants)
    ref["changes_en"] = ""
    ref["changes_zh"] = ""
    summary = {"as_of": as_of, "model_version": "assist-need-model/7", "config_hash": "abc123",
               "catalog_version": CATALOG.version, "households_scored": len(ids),
               "bands": {"high": 2, "medium": 1, "low": 1}, "explained": 3, "truth": None}
    return scores, ref, summary


def _backends() -> list:
    return ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=_backends())
def db_url(request, tmp_path_factory) -> Iterator[str]:
    """A freshly migrated, empty store on each back end; dropped after the session."""
    with fresh_store(request.param, tmp_path_factory.mktemp("store")) as url:
        yield url


@pytest.fixture(scope="session")
def settings(db_url, tmp_path_factory) -> Settings:
    return Settings(env="dev", workspace=tmp_path_factory.mktemp("ws"), database_url=db_url,
                    pseudonym_key=DEV_PSEUDONYM_KEY, api_max_body_bytes=4096)


@pytest.fixture(scope="session")
def app(settings):
    """The API over a store holding users of every role and two monthly snapshots."""
    engine = make_engine(settings.db_url)
    sessions = session_factory(engine)
    with sessions() as s:
        for month, shift in (("2026-09", 0.02), (AS_OF, 0.0)):
            scores, ref, summary = tiny_snapshot(month, shift)
            load_snapshot(s, as_of=month, summary=summary, scores=scores, referrals=ref,
                          indicator_ids=CATALOG.ids)
        for name, (role, streets) in USERS.items():
            add_user(s, username=name, password=PASSWORD, role=role, streets=streets)
    application = create_app(settings, engine=engine)
    yield application
    engine.dispose()


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture(scope="session")
def tokens(client) -> dict[str, str]:
    out = {}
    for name in USERS:
        r = client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[name] = r.json()["access_token"]
    return out


@pytest.fixture
def auth(tokens):
    """Headers of a user (None: anonymous)."""
    def headers(user: str | None) -> dict[str, str]:
        return {} if user is None else {"Authorization": f"Bearer {tokens[user]}"}
    return headers


@pytest.fixture
def sessions(app):
    return app.state.sessions


@pytest.fixture(autouse=True)
def _clean_cases(request):
    """Each test starts without contests, decisions or audit entries (users and snapshots
    persist)."""
    yield
    if "app" not in request.fixturenames:
        return
    sessions = request.getfixturevalue("app").state.sessions
    with sessions() as s:
        s.execute(delete(Contest))
        s.execute(delete(Decision))
        s.execute(delete(AuditEntry))
        s.execute(update(Referral).values(status="open"))
        s.commit()


def referral_id(sessions, household: str, as_of: str = AS_OF) -> int:
    """Id of a household's referral in a snapshot."""
    from sqlalchemy import select

    from assist.serving.models import Snapshot
    with sessions() as s:
        return s.scalar(select(Referral.id).join(Snapshot).where(
            Referral.household_id == household, Snapshot.as_of == as_of))


@contextmanager
def app_workspace(app, settings: Settings, workspace: Path) -> Iterator[Path]:
    """Point the running app at another workspace (reports, MLflow) for one test; restore after."""
    app.state.settings = settings.model_copy(update={"workspace": workspace})
    app.state.page_cache.clear()
    try:
        yield workspace
    finally:
        app.state.settings = settings
        app.state.page_cache.clear()
