"""User administration from the command line: enable, set-streets, set-role, reset-password,
streets checked against the case store, demo users re-enabled; programme codes of decisions
checked against the rule table."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from assist.cli.app import app as cli_app
from assist.serving.models import User
from assist.serving.services.users import authenticate, known_streets
from tests.serving.conftest import referral_id


def _cli(settings, *args: str):  # noqa: ANN001, ANN202
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(settings.workspace),
           "ASSIST_DATABASE_URL": settings.db_url, "COLUMNS": "200",
           "ASSIST_NEW_PASSWORD": "a-long-password-1"}
    result = CliRunner().invoke(cli_app, list(args), env=env)
    return result, " ".join(result.output.split())


def _user(sessions, name: str) -> tuple[str, bool, list[str]]:  # noqa: ANN001
    with sessions() as s:
        u = s.scalars(select(User).where(User.username == name)).one()
        return u.role, u.active, u.street_codes


def test_streets_are_checked_against_the_case_store(settings, sessions):
    with sessions() as s:
        assert known_streets(s) == ["S01", "S02", "S03"]
    result, text = _cli(settings, "users", "add", "cw9", "--role", "caseworker", "--street", "S99")
    assert result.exit_code == 2
    assert text == "error: no such street: S99 (known: S01, S02, S03)"
    result, _ = _cli(settings, "users", "add", "cw9", "--role", "caseworker", "--street", "S03")
    assert result.exit_code == 0 and _user(sessions, "cw9") == ("caseworker", True, ["S03"])
    result, text = _cli(settings, "users", "set-streets", "cw9", "--street", "S01",
                        "--street", "S02")
    assert result.exit_code == 0 and "streets S01, S02" in text
    result, text = _cli(settings, "users", "set-streets", "cw9", "--street", "S04")
    assert result.exit_code == 2 and "no such street: S04" in text
    result, text = _cli(settings, "users", "set-streets", "cw9")
    assert result.exit_code == 2 and "at least one street" in text
    assert _user(sessions, "cw9") == ("caseworker", True, ["S01", "S02"])


def test_disable_enable_role_and_password(settings, sessions):
    _cli(settings, "users", "add", "cw8", "--role", "caseworker", "--street", "S01")
    assert _cli(settings, "users", "disable", "cw8")[0].exit_code == 0
    assert _user(sessions, "cw8")[1] is False
    result, text = _cli(settings, "users", "enable", "cw8")
    assert result.exit_code == 0 and text == "user cw8 enabled"
    assert _user(sessions, "cw8") == ("caseworker", True, ["S01"])
    result, text = _cli(settings, "users", "set-role", "cw8", "--role", "manager")
    assert result.exit_code == 0 and "role manager, streets district" in text
    assert _user(sessions, "cw8") == ("manager", True, [])
    result, text = _cli(settings, "users", "set-role", "cw8", "--role", "caseworker")
    assert result.exit_code == 2 and "needs at least one street" in text
    result, text = _cli(settings, "users", "set-role", "cw8", "--role", "caseworker",
                        "--street", "S02")
    assert result.exit_code == 0 and _user(sessions, "cw8") == ("caseworker", True, ["S02"])
    assert _cli(settings, "users", "set-role", "cw8", "--role", "king")[0].exit_code == 2
    _cli(settings, "users", "disable", "cw8")
    result, text = _cli(settings, "users", "reset-password", "cw8", "--enable")
    assert result.exit_code == 0
    password = re.search(r"new password (\S+)", text).group(1)
    with sessions() as s:
        assert authenticate(s, username="cw8", password=password) is not None
    assert _cli(settings, "users", "enable", "nobody")[1] == "error: no user 'nobody'"


def test_demo_users_are_reset_and_enabled_again(settings, sessions):
    assert _cli(settings, "users", "demo")[0].exit_code == 0
    _cli(settings, "users", "disable", "caseworker1")
    result, text = _cli(settings, "users", "demo")
    assert result.exit_code == 0
    password = re.search(r"caseworker1 caseworker S01 password (\S+)", text).group(1)
    with sessions() as s:
        assert authenticate(s, username="caseworker1", password=password) is not None


@pytest.mark.parametrize(("codes", "status"), [(["medical", "dibao"], 201),
                                                (["medical", "nosuchprogramme"], 422)])
def test_programme_codes_must_be_those_of_the_rule_table(client, auth, sessions, codes, status):
    body = {"referral_id": referral_id(sessions, "hS01a"), "outcome": "confirmed",
            "programmes_granted": codes, "visit_date": None}
    r = client.post("/api/v1/decisions", json=body, headers=auth("cw1"))
    assert r.status_code == status, r.text
    if status == 422:
        error = r.json()["error"]
        assert error["field"] == "body.programmes_granted"
        assert "nosuchprogramme" in error["message"]
