"""The ``assist`` command line: one subcommand per stage.

Commands are thin: they read settings, call the stage function, and print what it produced.
Errors the user can act on (:class:`assist.errors.AssistError`) are printed as one message
with exit code 2, never as a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from assist.errors import AssistError
from assist.settings import Settings, get_settings

app = typer.Typer(
    name="assist",
    help="Precision social-assistance analytics: find households in hidden hardship.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic ValidationError and SettingsError
        console.print(f"[red]settings error:[/red] {exc}")
        raise typer.Exit(2) from None


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn :class:`AssistError` into a one-line message and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AssistError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None

    return wrapper


def progress_bar():  # noqa: ANN201 - rich Progress
    """A Rich progress bar for long stages (quiet when stderr is not a terminal)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                               TextColumn, TimeElapsedColumn)

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                    disable=not console.is_terminal)


@app.command()
@user_errors
def simulate(
    households: Annotated[int, typer.Option(help="Number of households in the district.")] = 20_000,
    months: Annotated[int, typer.Option(help="Monthly snapshots to write.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same district.")] = 7,
    end_month: Annotated[str, typer.Option(help="Last snapshot month, YYYY-MM.")] = "2026-10",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the extracts.")] = None,
    truth_out: Annotated[Path | None, typer.Option(help="Folder for the hidden truth.")] = None,
) -> None:
    """Write a simulated district's department extracts (Parquet, one file per table per month)."""
    from assist.pipelines.simulate import simulate as run

    s = _settings()
    target = out_dir or s.source_dir
    truth = truth_out or s.truth_dir
    with progress_bar() as bar:
        summary = run(households=households, months=months, seed=seed, end_month=end_month,
                      out=target, truth_out=truth, progress=bar)
    out.print(summary.table())
    out.print(f"extracts: {target}\nhidden truth (evaluation only): {truth}")


@app.command()
@user_errors
def ingest(
    source: Annotated[Path | None, typer.Option(help="Folder of raw extracts.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the validated store.")] = None,
) -> None:
    """Validate every row, quarantine bad rows with reasons, pseudonymise ids, write the store."""
    from assist.pipelines.ingest import ingest as run

    s = _settings()
    with progress_bar() as bar:
        summary = run(source=source or s.source_dir, out=out_dir or s.store_dir,
                      key=s.pseudonym_key.get_secret_value(), progress=bar)
    out.print(summary.table())


def main() -> None:
    """Entry point of the ``assist`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
