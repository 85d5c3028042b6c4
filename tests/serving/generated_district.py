"""A small simulated district scored for two months (shared by the list and assignment tests).

2,400 households x 3 months are simulated and ingested; a need model is trained directly on
the first month's hidden need (test shortcut, no MLflow, as in ``test_carry_forward``); the last
two months are scored with 20 visits per street. Built once per test process (it takes a while)
and loaded into a store per back end by the tests that use it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from assist.features import CATALOG, build
from assist.ingest.run import ingest
from assist.models.need import NeedModel
from assist.pipelines.dataset import TRUTH_FILE, true_need
from assist.pipelines.featurize import load_for_features
from assist.pipelines.score import StreetEntry, config_digest, load_scoring_config, run_scoring
from assist.serving.db import upgrade
from assist.serving.services.snapshots import load_snapshot
from assist.settings import DEV_PSEUDONYM_KEY
from assist.simulate import simulate
from assist.storage.snapshot import read_snapshot

ROOT = Path(__file__).resolve().parents[2]
PG_ENV = "ASSIST_TEST_POSTGRES_URL"
PREVIOUS, CURRENT = "2026-09", "2026-10"
VISITS_PER_STREET = 20


@dataclass(frozen=True)
class Month:
    """One scored month, as ``assist score`` wrote it."""

    as_of: str
    summary: dict
    scores: pd.DataFrame
    referrals: pd.DataFrame


@cache
def fitted_on(store: Path, truth: Path, month: str, *, n_estimators: int = 40) -> NeedModel:
    """A small need model fitted (and calibrated) on one month's hidden need of a simulated
    district's store (``truth``: the simulator's truth folder)."""
    X = build(load_for_features(store, month), month)  # noqa: N806
    y = true_need(truth / TRUTH_FILE, key=DEV_PSEUDONYM_KEY, month=month)
    y = y.reindex(X.index).fillna(0.0)
    return NeedModel(num_threads=1, n_estimators=n_estimators, min_child_samples=10).fit(
        X, y, X_cal=X, y_cal=y)


def generated_months() -> tuple[Month, Month]:
    """The previous and the current month of the simulated district (built once)."""
    ws = Path(tempfile.mkdtemp(prefix="assist-generated-"))
    try:
        simulate(households=2400, months=3, seed=5, end_month=CURRENT, out=ws / "source",
                 truth_out=ws / "truth")
        ingest(source=ws / "source", out=ws / "store", key=DEV_PSEUDONYM_KEY)
        model = fitted_on(ws / "store", ws / "truth", "2026-08")
        cfg = load_scoring_config(ROOT / "experiments" / "scoring.yaml")
        cfg = cfg.model_copy(update={"allocation": cfg.allocation.model_copy(update={
            "streets": {"default": StreetEntry(visits=VISITS_PER_STREET, floor=1)}})})
        out = []
        for as_of in (PREVIOUS, CURRENT):
            run_scoring(store=ws / "store", as_of=as_of, out=ws / "scores", model=model,
                        model_version="test-1", config=cfg, config_hash=config_digest(cfg),
                        truth_dir=ws / "truth", key=DEV_PSEUDONYM_KEY)
            snap = read_snapshot(ws / "scores", as_of)
            out.append(Month(as_of, snap.summary, snap.scores, snap.referrals))
        return out[0], out[1]
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def load_month(session, month: Month) -> None:  # noqa: ANN001
    """Load one generated month into the case store behind ``session``."""
    load_snapshot(session, as_of=month.as_of, summary=month.summary, scores=month.scores,
                  referrals=month.referrals, indicator_ids=CATALOG.ids)


@contextmanager
def fresh_store(backend: str, folder: Path) -> Iterator[str]:
    """A freshly migrated, empty case store: a SQLite file in ``folder``, or a PostgreSQL schema
    of its own (``ASSIST_TEST_POSTGRES_URL``; skipped without it, a failure when CI=true)."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'assist.db'}"
        upgrade(url)
        yield url
        return
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {PG_ENV} is not set: the PostgreSQL run is required in CI")
        pytest.skip(f"{PG_ENV} not set")
    schema = f"assist_gen_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def token(client, user: str, password: str) -> dict[str, str]:  # noqa: ANN001
    """Bearer headers of ``user``."""
    r = client.post("/api/v1/auth/token", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def signed_in(app, user: str, password: str, *, lang: str | None = None):  # noqa: ANN001, ANN201
    """A page client signed in as ``user`` (redirects not followed)."""
    from fastapi.testclient import TestClient

    from assist.serving.pages import session as cookies

    c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    if lang:
        c.cookies.set(cookies.LANG_COOKIE, lang)
    r = c.post("/login", data={"username": user, "password": password,
                               "csrf": csrf_of(c.get("/login").text)})
    assert r.status_code == 303, r.text
    return c


def csrf_of(html: str) -> str:
    """The CSRF token of a page's form."""
    m = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert m, "page has no CSRF token"
    return m.group(1)
