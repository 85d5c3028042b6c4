"""Migration 0007 on a store that already holds decisions: each gets one ``baseline`` revision
with its state as found, and the migration goes down and up again (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, delete, select, text

from assist.features import CATALOG
from assist.serving.auth import Principal
from assist.serving.db import downgrade, make_engine, session_factory, upgrade
from assist.serving.models import DecisionRevision, Referral
from assist.serving.schemas import DecisionCreate
from assist.serving.services.decisions import create_decision
from assist.serving.services.snapshots import load_snapshot
from assist.serving.services.users import add_user
from tests.serving.conftest import PG_ENV, tiny_snapshot


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path) -> Iterator[str]:
    """An empty database of its own (a schema of its own on PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'assist.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    schema = f"assist_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_decisions_recorded_before_the_history_get_a_baseline(fresh_url):
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    try:
        with session_factory(engine)() as s:
            scores, ref, summary = tiny_snapshot()
            load_snapshot(s, as_of="2026-10", summary=summary, scores=scores, referrals=ref,
                          indicator_ids=CATALOG.ids)
            user = add_user(s, username="cw1", password="correct-horse-battery",
                            role="caseworker", streets=("S01",))
            uid = user.id
            rid = s.scalar(select(Referral.id).where(Referral.household_id == "hS01a"))
            who = Principal(user_id=uid, username="cw1", role="caseworker", streets=("S01",))
            made = create_decision(s, who=who, endpoint="t", body=DecisionCreate(
                referral_id=rid, outcome="confirmed", programmes_granted=["medical"],
                note="before the history"))
            s.execute(delete(DecisionRevision))  # as if recorded before migration 0007
            s.commit()
    finally:
        engine.dispose()
    downgrade(fresh_url, "0006")
    upgrade(fresh_url, "0007")
    engine = make_engine(fresh_url)
    try:
        with session_factory(engine)() as s:
            (rev,) = s.scalars(select(DecisionRevision)).all()
            assert (rev.decision_id, rev.household_id, rev.revision, rev.action,
                    rev.changed_by) == (made.id, "hS01a", 1, "baseline", uid)
            assert rev.changes["outcome"] == [None, "confirmed"]
            assert rev.changes["programmes_granted"] == [None, ["medical"]]
            assert rev.changes["note"] == [None, "before the history"]
            assert rev.changes["visit_date"][1] == made.visit_date.isoformat()
            assert "rating" not in rev.changes
    finally:
        engine.dispose()
    upgrade(fresh_url)
