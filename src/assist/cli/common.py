"""What every ``assist`` command shares: settings, the two consoles, one-line user errors and
the progress bar. Imported by each command group of :mod:`assist.cli`."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from contextvars import ContextVar
from functools import wraps
from typing import Any

import click
import typer
from rich.console import Console
from rich.markup import escape

from assist.errors import AssistError
from assist.settings import Settings, SettingsError, get_settings

#: progress, status and errors (stderr); results go to ``out`` (stdout)
console = Console(stderr=True)
out = Console()


#: commands that never pseudonymise: they run without ASSIST_PSEUDONYM_KEY outside dev
KEYLESS_COMMANDS = frozenset({"simulate", "index", "validate-config", "readme-table"})


#: the command function running now (set by :func:`user_errors`, which wraps every command)
_COMMAND: ContextVar[str | None] = ContextVar("assist_command", default=None)


def _running_command() -> str | None:
    name = _COMMAND.get()
    return name.replace("_", "-") if name else None


def load_settings(*, needs_pseudonym_key: bool | None = None) -> Settings:
    """The settings from ``ASSIST_*`` variables, or one line naming the variable at fault and
    exit code 2. The pseudonym key is required unless the running command is one of
    :data:`KEYLESS_COMMANDS` (or ``needs_pseudonym_key`` says otherwise)."""
    if needs_pseudonym_key is None:
        needs_pseudonym_key = _running_command() not in KEYLESS_COMMANDS
    try:
        return get_settings(needs_pseudonym_key=needs_pseudonym_key)
    except SettingsError as exc:
        console.print(f"[red]settings error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn :class:`AssistError` into a one-line message and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        running = _COMMAND.set(fn.__name__)
        try:
            return fn(*args, **kwargs)
        except AssistError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # disk full, permission denied ...: say which file, no traceback
            where = f" ({exc.filename})" if exc.filename else ""
            console.print(f"[red]error:[/red] {escape(exc.strerror or str(exc))}{escape(where)}",
                          soft_wrap=True)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException,
                click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: one line for the user, the traceback on request
            if os.environ.get("ASSIST_DEBUG"):
                raise
            console.print(f"[red]internal error:[/red] {type(exc).__name__}: "
                          f"{escape(str(exc).splitlines()[0] if str(exc) else '')} — this is a "
                          "bug, please report it (ASSIST_DEBUG=1 shows the traceback)",
                          soft_wrap=True)
            raise typer.Exit(3) from None
        finally:
            _COMMAND.reset(running)

    return wrapper


def progress_bar():  # noqa: ANN201 - rich Progress
    """A Rich progress bar for long stages (quiet when stderr is not a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                    disable=not console.is_terminal)


_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def month_option(value: str | None) -> str | None:
    """Typer callback of every month option: a month written YYYY-MM (or not given)."""
    if value is not None and not _MONTH.fullmatch(value):
        raise typer.BadParameter(f"{value!r} is not a month written YYYY-MM")
    return value
