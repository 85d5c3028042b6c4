"""Settings errors are one line naming the variable; commands that never pseudonymise run
without ASSIST_PSEUDONYM_KEY outside dev, the others refuse in one line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from assist.cli.app import app
from assist.cli.common import KEYLESS_COMMANDS
from assist.settings import MissingKey, SettingsError, get_settings


@pytest.fixture
def production(monkeypatch, tmp_path):
    for name in ("ASSIST_PSEUDONYM_KEY", "ASSIST_TOKEN_SECRET", "ASSIST_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASSIST_ENV", "production")
    monkeypatch.setenv("ASSIST_WORKSPACE", str(tmp_path / "ws"))
    return tmp_path


@pytest.mark.parametrize(("env", "variable"), [
    ({}, "ASSIST_PSEUDONYM_KEY"),
    ({"ASSIST_PSEUDONYM_KEY": "short"}, "ASSIST_PSEUDONYM_KEY"),
    ({"ASSIST_PSEUDONYM_KEY": "k" * 40, "ASSIST_TOKEN_TTL_MINUTES": "soon"},
     "ASSIST_TOKEN_TTL_MINUTES"),
    ({"ASSIST_PSEUDONYM_KEY": "k" * 40, "ASSIST_ENV": "staging"}, "ASSIST_ENV"),
    ({"ASSIST_PSEUDONYM_KEY": "k" * 40, "ASSIST_LOGIN_MAX_FAILURES": "0"},
     "ASSIST_LOGIN_MAX_FAILURES"),
])
def test_settings_errors_are_one_line_naming_the_variable(production, monkeypatch, env, variable):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as err:
        get_settings()
    message = str(err.value)
    assert "\n" not in message and message.startswith(variable), message
    assert "pydantic" not in message and "validation error" not in message


def test_keyless_settings_refuse_only_when_the_key_is_read(production):
    s = get_settings(needs_pseudonym_key=False)
    assert isinstance(s.pseudonym_key, MissingKey)
    with pytest.raises(SettingsError, match="^ASSIST_PSEUDONYM_KEY is not set"):
        s.pseudonym_key.get_secret_value()
    assert get_settings(needs_pseudonym_key=False, pseudonym_key="k" * 40
                        ).pseudonym_key.get_secret_value() == "k" * 40


def test_keyless_commands_are_declared():
    assert {"simulate", "index", "validate-config", "readme-table"} <= KEYLESS_COMMANDS


def test_simulate_runs_without_a_key_outside_dev(production):
    out = production / "src"
    r = CliRunner().invoke(app, ["simulate", "--households", "60", "--months", "1",
                                 "--out", str(out), "--truth-out", str(production / "truth")])
    assert r.exit_code == 0, r.output
    assert any(out.rglob("*.parquet"))


def test_readme_table_runs_without_a_key_outside_dev(production):
    r = CliRunner().invoke(app, ["readme-table"])
    assert r.exit_code == 0, r.output


def test_a_command_that_needs_the_key_refuses_in_one_line(production):
    r = CliRunner().invoke(app, ["ingest", "--source", str(production / "nowhere")])
    assert r.exit_code == 2
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "ASSIST_PSEUDONYM_KEY" in lines[0], r.output
    assert "Traceback" not in r.output
