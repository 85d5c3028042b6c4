"""The store on every back end: migrations match the models, go down and up again; loading a
snapshot is idempotent; users; audit export; the CLI verbs."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select
from typer.testing import CliRunner

from assist.features import CATALOG
from assist.serving.models import Base, Referral
from assist.serving.services.snapshots import load_snapshot
from tests.serving.conftest import AS_OF, tiny_snapshot


def test_migrations_match_models(db_url):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_snapshot_load_is_idempotent(app, sessions):
    scores, ref, summary = tiny_snapshot()
    with sessions() as s:
        snap, new = load_snapshot(s, as_of=AS_OF, summary=summary, scores=scores, referrals=ref,
                                  indicator_ids=CATALOG.ids)
        assert not new
        n = s.scalar(select(func.count()).select_from(Referral).where(Referral.snapshot_id == snap.id))
    assert n == 3


def test_list_columns_load_as_the_old_text_did(tmp_path):
    """A snapshot written with list columns loads the same referral lists as its text form."""
    import pandas as pd

    from assist.serving.db import make_engine, session_factory, upgrade
    from assist.storage import snapshot

    scores, ref, summary = tiny_snapshot()
    listed = ref.copy()
    for col in snapshot.LIST_COLUMNS:
        listed[col] = pd.Series([snapshot.as_list(v) for v in ref[col]], index=ref.index,
                                dtype=object)
    snapshot.write_snapshot(tmp_path / "scores", "2026-11", scores=scores, referrals=listed,
                            summary=summary, model_version="m/1", config_hash="abc")
    files = snapshot.read_snapshot(tmp_path / "scores")
    assert files.referrals.loc["hS01a", "top_factors_zh"] == ["收入低", "医疗支出高"]
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    cols = ("top_factors_en", "top_factors_zh", "programmes", "allocated_programmes",
            "reasons_en", "reasons_zh", "flags", "programme_key", "flag_key")
    with session_factory(engine)() as s:
        for month, refs, scored in ((AS_OF, ref, scores), ("2026-11", files.referrals, files.scores)):
            load_snapshot(s, as_of=month, summary=summary, scores=scored, referrals=refs,
                          indicator_ids=CATALOG.ids)
        rows = {}
        for r in s.scalars(select(Referral)):
            rows.setdefault(r.household_id, []).append([getattr(r, c) for c in cols])
    engine.dispose()
    assert len(rows) == 3
    for old, new in rows.values():
        assert old == new
    assert rows["hS03a"][0][cols.index("flags")] == ["income_drop", "water_silent"]


def test_migrations_down_and_up(tmp_path):
    from assist.serving.db import downgrade, upgrade
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    downgrade(url)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)


def test_cli_users_casebook_audit(tmp_path, monkeypatch):
    from assist.cli.app import app
    scores, ref, summary = tiny_snapshot()
    folder = tmp_path / "scores" / AS_OF
    folder.mkdir(parents=True)
    scores.to_parquet(folder / "scores.parquet")
    ref.to_parquet(folder / "referrals.parquet")
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (tmp_path / "scores" / "current.json").write_text(json.dumps({"as_of": AS_OF}), encoding="utf-8")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path), "ASSIST_DATABASE_URL": ""}
    run = CliRunner().invoke
    r = run(app, ["casebook", "load"], env=env)
    assert r.exit_code == 0 and "loaded (4 households, 3 referrals)" in r.output, r.output
    assert "already loaded" in run(app, ["casebook", "load"], env=env).output
    r = run(app, ["users", "add", "ann", "--role", "caseworker", "--street", "S01",
                  "--password", "password-123"], env=env)
    assert r.exit_code == 0, r.output
    r = run(app, ["users", "add", "bob", "--role", "caseworker", "--password", "password-123"], env=env)
    assert r.exit_code == 2 and "street" in r.output
    run(app, ["users", "disable", "ann"], env=env)
    listed = run(app, ["users", "list"], env=env).output
    assert "ann" in listed and "no" in listed
    r = run(app, ["users", "demo"], env=env)
    assert r.exit_code == 0 and r.output.count("password") == 6
    r = run(app, ["audit-log", "export", "--since", "2020-01-01"], env=env)
    assert r.exit_code == 0 and r.output == ""
    assert run(app, ["audit-log", "export", "--since", "yesterday"], env=env).exit_code == 2
    r = run(app, ["casebook", "export-labels", "--out", str(tmp_path / "l.csv")], env=env)
    assert r.exit_code == 0 and (tmp_path / "l.csv").read_text().startswith(
        "household_id,month,outcome,date")


def test_token_secret_refused_outside_dev(tmp_path):
    import pytest

    from assist.serving.app import create_app
    from assist.settings import Settings
    s = Settings(env="production", pseudonym_key="k" * 40, workspace=tmp_path)
    with pytest.raises(ValueError, match="ASSIST_TOKEN_SECRET"):
        create_app(s)
    ok = Settings(env="production", pseudonym_key="k" * 40, token_secret="t" * 40,
                  workspace=tmp_path)
    assert ok.api_token_secret() == "t" * 40


def test_label_columns_agree_with_training():
    from assist.pipelines.dataset import EXTRA_LABEL_COLUMNS
    from assist.storage.casebook import LABEL_COLUMNS
    assert LABEL_COLUMNS[:3] == EXTRA_LABEL_COLUMNS
