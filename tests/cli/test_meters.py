"""``assist meters``: a replayed file raises the planted alert once (again: none), bad input
is one line with exit code 2, and ``assist simulate`` keeps its own options."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from assist.cli.app import app
from assist.ingest.pseudonym import pseudonym
from assist.serving.alerts.registry import register
from assist.serving.db import make_engine, session_factory, upgrade
from assist.serving.models import Alert, MeterReject

KEY = "test-meter-key-0123456789abcdef0123"
T0 = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'assist.db'}"
    upgrade(url)
    with session_factory(make_engine(url))() as s:
        register(s, pd.DataFrame([{"meter_id": pseudonym("WM00001", kind="meter", key=KEY),
                                   "household_id": "hS01a", "street_code": "S01",
                                   "community_code": "S01C001", "profile": "lone_elderly_75"}]))
    return {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path), "ASSIST_DATABASE_URL": url,
            "ASSIST_PSEUDONYM_KEY": KEY, "ASSIST_MQTT_URL": ""}


def _lines(n: int) -> str:
    rows = [{"topic": "meters/WM00001/reading", "payload": {
        "meter_id": "WM00001", "ts": (T0 + dt.timedelta(minutes=15 * i)).isoformat(),
        "litres": 4.0 if i == 0 else 0.0}} for i in range(n)]
    rows.append({"topic": "meters/WM00001/reading", "payload": "{broken"})
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def test_replay_raises_the_alert_once(env, tmp_path):
    file = tmp_path / "messages.jsonl"
    file.write_text(_lines(52), encoding="utf-8")
    for round_ in (1, 2):
        res = CliRunner().invoke(app, ["meters", "replay", str(file)], env=env)
        assert res.exit_code == 0, res.output
        assert f"alerts raised                  {2 - round_}" in res.output
    with session_factory(make_engine(env["ASSIST_DATABASE_URL"]))() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 1
        assert s.scalar(select(func.count()).select_from(MeterReject)) == 2


@pytest.mark.parametrize("args, content, message", [
    (["meters", "replay", "missing.jsonl"], None, "cannot read the message file"),
    (["meters", "replay", "bad.jsonl"], '{"topic": "x"}\n', "row 1"),
    (["meters", "listen"], None, "ASSIST_MQTT_URL is not set"),
    (["meters", "replay", "bad.jsonl", "--rules", "rules.yaml"], "", "'escalation'"),
    (["meters", "simulate", "--start", "yesterday"], None, "is not an ISO 8601 time"),
    (["meters", "simulate", "--start", "2026-12-01T00:00:00"], None, "needs a time zone"),
    (["meters", "simulate"], None, "run `assist simulate` first"),
])
def test_bad_input_is_one_line(env, tmp_path, monkeypatch, args, content, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules.yaml").write_text("escalation: 3\n", encoding="utf-8")
    if content is not None:
        (tmp_path / "bad.jsonl").write_text(content, encoding="utf-8")
    res = CliRunner().invoke(app, args, env=env)
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_simulate_keeps_its_own_options():
    res = CliRunner().invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "--households" in res.output
    res = CliRunner().invoke(app, ["meters", "simulate", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "--speed" in res.output and "--hours" in res.output
