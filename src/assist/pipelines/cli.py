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
from rich.markup import escape

from assist.errors import AssistError
from assist.pipelines.cli_models import register_model_commands
from assist.pipelines.cli_reports import register_report_commands
from assist.pipelines.cli_score import register_score_commands
from assist.pipelines.cli_serving import register_serving_commands
from assist.pipelines.spark import Engine, SparkBuckets, SparkMaster, pandas3_warning_filtered
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
    invalid_rate: Annotated[float, typer.Option(help="Share of rows planted invalid per table.")] = 0.002,
) -> None:
    """Write a simulated district's department extracts (Parquet, one file per table per month)."""
    from assist.pipelines.simulate import simulate as run

    s = _settings()
    target = out_dir or s.source_dir
    truth = truth_out or s.truth_dir
    with progress_bar() as bar:
        summary = run(households=households, months=months, seed=seed, end_month=end_month,
                      out=target, truth_out=truth, invalid_rate=invalid_rate, progress=bar)
    out.print(summary.table())
    out.print(f"extracts: {target}\nhidden truth (evaluation only): {truth}")


@app.command()
@user_errors
def ingest(
    source: Annotated[Path | None, typer.Option(help="Folder of raw extracts.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the validated store.")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="Processes ingesting whole snapshots side by side (default: 2 for a large "
                    "source on 2+ cores, else 1); the store is the same whatever the number.")] = None,
) -> None:
    """Validate every row, quarantine bad rows with reasons, pseudonymise ids, write the store."""
    from assist.pipelines.ingest import ingest as run

    s = _settings()
    with progress_bar() as bar:
        summary = run(source=source or s.source_dir, out=out_dir or s.store_dir,
                      key=s.pseudonym_key.get_secret_value(), progress=bar, workers=workers)
    out.print(summary.table())


@app.command()
@user_errors
def index(
    table: Annotated[Path, typer.Option(help="Household table, CSV or Parquet, one row each.")],
    catalog: Annotated[Path | None, typer.Option(
        help="YAML indicator catalog of the table (default: the built-in 22 indicators, "
             "read from columns named by indicator id).")] = None,
    k: Annotated[float, typer.Option(
        help="Poverty cutoff: poor when the weighted deprivation score is at least k.")] = 0.33,
    by: Annotated[str | None, typer.Option(help="Column of subgroup labels.")] = None,
    weight: Annotated[str | None, typer.Option(help="Column of sampling weights.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON result.")] = False,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="JSON result file (default: <table stem>.index.json by the table).")] = None,
) -> None:
    """Alkire–Foster deprivation index (H, A, M0) by indicator, dimension and subgroup."""
    from assist.pipelines.index import default_out, render, run_index, write_result

    result = run_index(table=table, catalog=catalog, k=k, by=by, weight=weight)
    path = write_result(result, out_file or default_out(table))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    out.print(render(result))
    out.print(f"result: {path}")


@app.command()
@user_errors
def features(
    as_of: Annotated[str, typer.Option(help="As-of month, YYYY-MM.")],
    store: Annotated[str | None, typer.Option(
        help="Validated store (ingest output); with --engine spark also a Hadoop URI.")] = None,
    out_dir: Annotated[str | None, typer.Option(
        "--out", help="Folder for feature tables; with --engine spark also a Hadoop URI.")] = None,
    engine: Annotated[Engine, typer.Option(
        help="pandas: this machine; spark: the same code per bucket of households on Spark "
             "(needs the spark extra).")] = Engine.pandas,
    master: SparkMaster = None,
    buckets: SparkBuckets = None,
) -> None:
    """Build the household feature table and dimension profile for one month."""
    from rich.table import Table

    from assist.features import CATALOG
    from assist.pipelines.featurize import build_features

    s = _settings()
    if engine is Engine.spark:
        from assist.pipelines.spark.run import features_with_spark

        run = features_with_spark(store=store or s.store_dir, as_of=as_of,
                                  out=out_dir or s.features_dir, master=master, buckets=buckets,
                                  status=console.status)
    else:
        with console.status(f"building {len(CATALOG)} indicators as of {as_of}"):
            run = build_features(store=Path(store or s.store_dir), as_of=as_of,
                                 out=Path(out_dir or s.features_dir))
    table = Table(title=f"{run.households:,} households as of {run.as_of}: share deprived")
    table.add_column("indicator")
    table.add_column("deprived", justify="right")
    for ind in CATALOG:
        table.add_row(f"{ind.id} ({ind.name_zh})", f"{run.deprived_share[ind.id]:.1%}")
    out.print(table)
    out.print(f"features: {run.folder}")


@app.command("readme-table")
@user_errors
def readme_table(
    write: Annotated[Path | None, typer.Option(help="Rewrite the generated block of this file.")] = None,
) -> None:
    """Print the indicator table generated from the catalog (or write it into README.md)."""
    from assist.features.docs import indicator_table, update_readme

    if write is None:
        out.print(indicator_table(), markup=False, highlight=False)
        return
    changed = update_readme(write)
    out.print(f"{write}: {'updated' if changed else 'already up to date'}")


@app.command()
@user_errors
def demo(
    households: Annotated[int, typer.Option(help="Households in the simulated district.")] = 20_000,
    months: Annotated[int, typer.Option(help="Monthly snapshots.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    end_month: Annotated[str, typer.Option(help="Last month, YYYY-MM.")] = "2026-10",
    config: Annotated[Path, typer.Option(help="Experiment config for training.")] = Path(
        "experiments/default.yaml"),
) -> None:
    """Run the main job end to end on a simulated district: simulate, ingest, features, train, score."""
    from assist.experiments import registry, tracking
    from assist.experiments.config import load_config
    from assist.pipelines.featurize import build_features
    from assist.pipelines.ingest import ingest as run_ingest
    from assist.pipelines.simulate import simulate as run_simulate
    from assist.pipelines.train import run_training

    s = _settings()
    cfg, base = load_config(config)  # fail early on a bad config
    out.rule(f"1/5 simulate {households:,} households x {months} months")
    with progress_bar() as bar:
        sim = run_simulate(households=households, months=months, seed=seed, end_month=end_month,
                           out=s.source_dir, truth_out=s.truth_dir, progress=bar)
    out.print(sim.table())
    out.rule("2/5 ingest: validate, quarantine, pseudonymise")
    with progress_bar() as bar:
        summary = run_ingest(source=s.source_dir, out=s.store_dir,
                             key=s.pseudonym_key.get_secret_value(), progress=bar)
    out.print(summary.table())
    out.rule(f"3/5 features as of {end_month}")
    with console.status("building indicators"):
        run = build_features(store=s.store_dir, as_of=end_month, out=s.features_dir)
    out.print(f"{run.households:,} households x {run.indicators} indicators")
    out.rule(f"4/5 train the need model ({config})")
    with progress_bar() as bar:
        trained = run_training(config=cfg, base_dir=base, settings=s, register=True, progress=bar)
    for table in trained.tables():
        out.print(table)
    promoted = "not registered"
    if trained.version:
        c = tracking.client(s.mlflow_uri)
        name = cfg.tracking.registered_model
        try:
            registry.promote(c, name=name, version=trained.version, user="make demo")
            promoted = f"version {trained.version} promoted to production by the gate"
        except registry.PromotionRefused as refused:
            out.print(f"[yellow]gate:[/yellow] {escape(str(refused))}")
            registry.promote(c, name=name, version=trained.version, force=True, user="make demo",
                             reason="make demo: first model of a simulated district; "
                                    "gate findings kept on the version for review")
            promoted = (f"version {trained.version} promoted by override (recorded on the version; "
                        f"see `assist models card {trained.version}`)")
    out.rule(f"5/5 score {end_month}: referrals, programmes, allocation, early warning")
    from assist.pipelines.cli_score import score_month, show_run

    scored, version = score_month(s, as_of=end_month, model_name=cfg.tracking.registered_model,
                                  status=console.status, out=out)
    show_run(out, scored, as_of=end_month, version=version)
    out.rule("produced")
    for label, path in (("raw extracts", s.source_dir), ("hidden truth (evaluation only)", s.truth_dir),
                        ("validated store + quarantine", s.store_dir), ("features", run.folder),
                        ("MLflow tracking + registry", s.mlflow_uri), ("need model", promoted),
                        ("scoring snapshot + referral lists", scored.folder),
                        ("reports (coverage, drift, fairness...)",
                         s.workspace / "reports")):
        out.print(f"{label:32} {path}")


register_model_commands(app)
register_score_commands(app)
register_serving_commands(app)
register_report_commands(app)


def main() -> None:
    """Entry point of the ``assist`` script."""
    # with the spark extra installed, pandera imports pyspark.pandas, which warns that it does
    # not fully support pandas 3: a known upstream limitation; only that named warning is let through
    with pandas3_warning_filtered():
        app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
