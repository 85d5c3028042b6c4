"""Administration commands of the ``assist`` CLI: ``users`` (add, list, disable, enable,
set-streets, set-role, reset-password, demo) and ``audit-log`` (export, prune), and the case
store session they share. Joined into the ``assist`` app by :mod:`assist.cli.app` (through
:mod:`assist.cli.serving`)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assist.cli.common import load_settings, out, user_errors

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from assist.settings import Settings

DEMO_USERS = (("caseworker1", "caseworker", ("S01",)), ("caseworker2", "caseworker", ("S02", "S03")),
              ("lead", "lead", ("S01", "S02", "S03")),  # the street lead: assigns their visits
              ("manager", "manager", ()), ("scientist", "data_scientist", ()),
              ("admin", "admin", ()))

users = typer.Typer(help="API users and roles.", no_args_is_help=True)
audit_log = typer.Typer(help="The audit log of household-level reads and decisions.",
                        no_args_is_help=True)

Streets = Annotated[list[str] | None, typer.Option(
    "--street", help="Street code (caseworkers and street leads; repeat); must be a street "
                     "the case store knows.")]


@contextmanager
def case_store_session(s: Settings) -> Iterator[Session]:
    """A session on the migrated case store at ``s.db_url``; the engine is disposed after."""
    from assist.serving.db import make_engine, session_factory, upgrade

    upgrade(s.db_url)
    engine = make_engine(s.db_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@users.command("add")
@user_errors
def users_add(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="caseworker, lead (a street lead: assigns the visits "
                                           "of its streets), manager, data_scientist or admin.")],
    street: Streets = None,
    password: Annotated[str | None, typer.Option(
        help="Password (default: prompt; use ASSIST_NEW_PASSWORD in scripts).",
        envvar="ASSIST_NEW_PASSWORD")] = None,
) -> None:
    """Add a user with a role (and streets for a caseworker)."""
    from assist.serving.services.users import add_user, check_streets

    with case_store_session(load_settings()) as session:
        streets = check_streets(session, street or ())  # before asking for a password
        pw = password or typer.prompt("password", hide_input=True, confirmation_prompt=True)
        u = add_user(session, username=username, password=pw, role=role, streets=streets)
        out.print(f"user {u.username} ({u.role}) added")


@users.command("list")
@user_errors
def users_list() -> None:
    """List users, roles, streets and whether they are active."""
    from rich.table import Table

    from assist.serving.services.users import list_users

    t = Table("user", "role", "streets", "active")
    with case_store_session(load_settings()) as session:
        for u in list_users(session):
            t.add_row(u.username, u.role, ",".join(u.street_codes) or "district",
                      "yes" if u.active else "no")
    out.print(t)


@users.command("disable")
@user_errors
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user (their sessions end at once)."""
    from assist.serving.services.users import disable_user

    with case_store_session(load_settings()) as session:
        disable_user(session, username=username)
    out.print(f"user {username} disabled")


@users.command("enable")
@user_errors
def users_enable(username: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled user again (same role, streets and password)."""
    from assist.serving.services.users import enable_user

    with case_store_session(load_settings()) as session:
        enable_user(session, username=username)
    out.print(f"user {username} enabled")


@users.command("set-streets")
@user_errors
def users_set_streets(username: Annotated[str, typer.Argument()], street: Streets = None) -> None:
    """Give a caseworker exactly these streets (a street taken away ends their sessions)."""
    from assist.serving.services.users import set_streets

    with case_store_session(load_settings()) as session:
        u = set_streets(session, username=username, streets=street or ())
        out.print(f"user {u.username}: streets {', '.join(u.street_codes)}")


@users.command("set-role")
@user_errors
def users_set_role(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="caseworker, lead (a street lead: assigns the visits "
                                           "of its streets), manager, data_scientist or admin.")],
    street: Streets = None,
) -> None:
    """Give a user a new role (their sessions end); a caseworker keeps or gets streets,
    other roles see the district."""
    from assist.serving.services.users import change_role

    with case_store_session(load_settings()) as session:
        u = change_role(session, username=username, role=role, streets=street or ())
        out.print(f"user {u.username}: role {u.role}, streets "
                  f"{', '.join(u.street_codes) or 'district'}")


@users.command("reset-password")
@user_errors
def users_reset_password(
    username: Annotated[str, typer.Argument()],
    enable: Annotated[bool, typer.Option("--enable", help="Also enable the user.")] = False,
) -> None:
    """Give a user a fresh random password (printed once; their sessions end)."""
    from assist.serving.services.users import reset_password

    with case_store_session(load_settings()) as session:
        pw = reset_password(session, username=username, enable=enable)
    out.print(f"user {username}: new password {pw}")


@users.command("demo")
@user_errors
def users_demo() -> None:
    """Create (or reset and re-enable) the demo users with fresh random passwords and print
    them (ASSIST_ENV=dev only)."""
    from assist.errors import InputError
    from assist.serving.services.users import add_user, enable_user, set_password

    s = load_settings()
    if s.env != "dev":
        raise InputError("demo users only with ASSIST_ENV=dev")
    with case_store_session(s) as session:
        for name, role, streets in DEMO_USERS:
            pw = secrets.token_urlsafe(12)
            try:
                add_user(session, username=name, password=pw, role=role, streets=streets)
            except InputError:
                session.rollback()
                set_password(session, username=name, password=pw)
                enable_user(session, username=name)
            out.print(f"{name:12} {role:15} {','.join(streets) or 'district':8} password {pw}")


def _moment(value: str, option: str) -> dt.datetime:
    """An ISO date or time as an aware datetime (UTC when no zone is given)."""
    from assist.errors import InputError

    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not an ISO date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@audit_log.command("export")
@user_errors
def audit_export(
    since: Annotated[str | None, typer.Option(
        help="ISO date or time, e.g. 2026-10-01 (default: every entry kept).")] = None,
    household: Annotated[str | None, typer.Option(
        help="Only entries about this household (pseudonym): its reads, decisions, denied "
             "probes, and the list reads that returned it — who saw household X.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="JSON Lines file (default stdout).")] = None,
) -> None:
    """Export audit entries as JSON Lines (from ``--since``; about ``--household``)."""
    from assist.serving import audit

    start = None if since is None else _moment(since, "--since")
    n = 0
    with case_store_session(load_settings()) as session:
        fh = out_file.open("w", encoding="utf-8") if out_file else sys.stdout
        try:
            for e in audit.entries(session, since=start, household=household):
                fh.write(json.dumps(e, ensure_ascii=False) + "\n")
                n += 1
        finally:
            if out_file:
                fh.close()
    if out_file:
        out.print(f"{n:,} audit entries: {out_file}")


@audit_log.command("prune")
@user_errors
def audit_prune(before: Annotated[str | None, typer.Option(
        help="Delete entries before this ISO date or time (default: older than the declared "
             "retention, about three years).")] = None) -> None:
    """Delete audit entries older than ``--before`` (or than the retention period)."""
    from assist.errors import InputError
    from assist.serving import audit

    cutoff = (dt.datetime.now(dt.UTC) - audit.RETENTION if before is None
              else _moment(before, "--before"))
    if cutoff > dt.datetime.now(dt.UTC) - audit.RETENTION:
        raise InputError(f"--before {before} would delete entries younger than the retention "
                         f"period ({audit.RETENTION.days} days)")
    with case_store_session(load_settings()) as session:
        n = audit.prune(session, before=cutoff)
    out.print(f"{n:,} audit entries before {cutoff.date().isoformat()} deleted")
