"""What every ``assist`` command shares: settings, the two consoles, one-line user errors and
the progress bar. Imported by each command group of :mod:`assist.cli`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from assist.errors import AssistError
from assist.settings import Settings, get_settings

#: progress, status and errors (stderr); results go to ``out`` (stdout)
console = Console(stderr=True)
out = Console()


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic ValidationError and SettingsError
        console.print(f"[red]settings error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn :class:`AssistError` into a one-line message and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
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
