"""CLI command ``assist score``: the monthly scoring snapshot (thin wrapper over
:func:`assist.pipelines.score.run_scoring`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from assist.cli.common import console, load_settings, out, user_errors
from assist.experiments.tracking import MODEL_NAME
from assist.pipelines.spark import Engine, SparkBuckets, SparkMaster

if TYPE_CHECKING:
    from assist.pipelines.score import ScoreRun
    from assist.settings import Settings

app = typer.Typer()


@app.command()
@user_errors
def score(
    as_of: Annotated[str, typer.Option(help="As-of month, YYYY-MM.")],
    model: Annotated[str, typer.Option(
        help="Registered model version, or 'production' (the promoted one).")] = "production",
    model_path: Annotated[Path | None, typer.Option(
        help="A saved NeedModel JSON file instead of the registry.")] = None,
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = MODEL_NAME,
    config: Annotated[Path | None, typer.Option(
        help="Scoring config (bands, capacities, floors, warning thresholds).")] = None,
    store: Annotated[str | None, typer.Option(
        help="Validated store (ingest output); with --engine spark also a Hadoop URI.")] = None,
    out_dir: Annotated[str | None, typer.Option(
        "--out", help="Folder of scoring snapshots; with --engine spark also a Hadoop URI.")] = None,
    log_mlflow: Annotated[bool, typer.Option(
        help="Attach the month's drift report to the model's MLflow run.")] = True,
    engine: Annotated[Engine, typer.Option(
        help="pandas: this machine; spark: per-household work per bucket on Spark, ranks "
             "and allocation on the driver (needs the spark extra).")] = Engine.pandas,
    master: SparkMaster = None,
    buckets: SparkBuckets = None,
) -> None:
    """Score every household, match programmes, allocate visits, flag changes; write a snapshot."""
    s = load_settings()
    if engine is Engine.spark:  # the month's reports read single files: run `assist report`
        from assist.pipelines.spark.run import score_with_spark

        run, version = score_with_spark(s, as_of=as_of, model=model, model_path=model_path,
                                        model_name=model_name, config=config, store=store,
                                        out_dir=out_dir, master=master, buckets=buckets,
                                        status=console.status)
        show_run(out, run, as_of=as_of, version=version)
        return
    run, version = score_month(s, as_of=as_of, model=model, model_path=model_path,
                               model_name=model_name, config=config,
                               store=Path(store) if store else None,
                               out_dir=Path(out_dir) if out_dir else None,
                               status=console.status, log_mlflow=log_mlflow, out=out)
    show_run(out, run, as_of=as_of, version=version)


def score_month(s: Settings, *, as_of: str, model: str = "production",
                model_path: Path | None = None, model_name: str = MODEL_NAME,
                config: Path | None = None, store: Path | None = None,
                out_dir: Path | None = None, status: Callable[[str], Any] | None = None,
                log_mlflow: bool = True, out: Console | None = None) -> tuple[ScoreRun, str]:
    """Resolve the model and config from settings and options, run the monthly scoring and
    write the month's reports (coverage, drift, early warning, fairness)."""
    from contextlib import nullcontext

    from assist.pipelines.score import config_digest, load_scoring_config, resolve_model, run_scoring

    cfg = load_scoring_config(config)
    need, version = resolve_model(model=model, model_path=model_path,
                                  tracking_uri=s.mlflow_uri, registered_model=model_name)
    with (status(f"scoring {as_of} with {version}") if status else nullcontext()):
        run = run_scoring(store=store or s.store_dir, as_of=as_of,
                          out=out_dir or s.workspace / "scores", model=need,
                          model_version=version, config=cfg, config_hash=config_digest(cfg),
                          truth_dir=s.truth_dir, key=s.pseudonym_key.get_secret_value())
    from assist.pipelines.month_reports import write_month_reports

    with (status(f"reports for {as_of}") if status else nullcontext()):
        rep = write_month_reports(workspace=s.workspace,
                                  scores_dir=out_dir or s.workspace / "scores",
                                  store=store or s.store_dir, as_of=as_of, k=cfg.deprivation_k,
                                  model_version=version, mlflow_uri=s.mlflow_uri,
                                  log_mlflow=log_mlflow)
    if out is not None:
        out.print(f"reports: {rep.folder} ({', '.join(rep.written)})"
                  + (f"; drift logged to MLflow run {rep.logged_run}" if rep.logged_run else ""))
        for note in rep.notes:
            out.print(f"- {note}", markup=False)
    return run, version


def show_run(out: Console, run: ScoreRun, *, as_of: str, version: str) -> None:
    """Print what a scoring run produced: referrals per street, allocation, flags, truth check."""
    from rich.table import Table

    sm = run.summary
    t = Table(title=f"{sm['households_scored']:,} households scored as of {as_of} ({version})")
    for col in ("street", "allocated", "listed"):
        t.add_column(col, justify="left" if col == "street" else "right")
    for street, r in sm["referrals_per_street"].items():
        t.add_row(street, f"{r['allocated']:,}", f"{r['listed']:,}")
    out.print(t)
    a = sm["allocation"]
    out.print(f"allocation: expected need met {a['objective']:.2f} vs greedy top-k "
              f"{a['greedy']['objective']:.2f} ({a['visits']} visits, {a['status']}); "
              f"greedy violations: {len(a['greedy']['violations'])}")
    if sm["flags"]:
        out.print("early warning: " + ", ".join(f"{k} {v}" for k, v in sm["flags"].items()))
    truth = sm.get("truth") or {}
    if "precision_at_k" in truth:
        out.print(f"hidden truth: precision@{truth['k']} {truth['precision_at_k']:.3f} "
                  f"(prevalence {truth['prevalence']:.3f}); allocated referrals "
                  f"{truth['allocated_precision'] or 0:.3f}")
    out.print(f"snapshot: {run.folder} ({sm['seconds']:.1f} s)")
