"""``assist demo``: the main job end to end on a simulated district."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from assist.cli.common import load_settings, month_option, out, progress_bar, user_errors
from assist.cli.meters import run_demo as meters_demo
from assist.cli.month import month_stages, run_month
from assist.cli.month import show as show_month
from assist.cli.score import show_snapshot
from assist.errors import AssistError, InputError
from assist.pipelines.month import record_path
from assist.settings import Settings

if TYPE_CHECKING:
    from assist.experiments.config import ExperimentConfig

app = typer.Typer()


@app.command()
@user_errors
def demo(
    households: Annotated[int, typer.Option(help="Households in the simulated district.")] = 20_000,
    months: Annotated[int, typer.Option(help="Monthly snapshots.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    end_month: Annotated[str, typer.Option(callback=month_option, help="Last month, YYYY-MM.")] = "2026-10",
    config: Annotated[Path, typer.Option(help="Experiment config for training.")] = Path(
        "experiments/default.yaml"),
) -> None:
    """Run the main job end to end on a simulated district: simulate, ingest, train, then the
    last month's cycle (`assist month`: features, decisions, score, reports, case store)."""
    from assist.experiments.config import load_config
    from assist.ingest.run import ingest as run_ingest
    from assist.pipelines.train import run_training
    from assist.simulate import simulate as run_simulate

    s = load_settings()
    cfg, base = load_config(config)  # fail early on a bad config
    _enough_months(months, cfg, config)
    out.rule(f"1/4 simulate {households:,} households x {months} months")
    with progress_bar() as bar:
        sim = run_simulate(households=households, months=months, seed=seed, end_month=end_month,
                           out=s.source_dir, truth_out=s.truth_dir, progress=bar)
    out.print(sim.table())
    out.rule("2/4 ingest: validate, quarantine, pseudonymise")
    with progress_bar() as bar:
        summary = run_ingest(source=s.source_dir, out=s.store_dir,
                             key=s.pseudonym_key.get_secret_value(), progress=bar)
    out.print(summary.table())
    out.rule(f"3/4 train the need model ({config})")
    with progress_bar() as bar:
        trained = run_training(config=cfg, base_dir=base, settings=s, register=True, progress=bar)
    for table in trained.tables():
        out.print(table)
    promoted = _promote(s, cfg.tracking.registered_model, trained.version)
    out.rule(f"4/4 assist month --as-of {end_month}: features, decisions, score, reports, "
             "case store")
    record = run_month(s, end_month, month_stages(model="production", config=None))
    show_month(record)
    if not record.complete:
        raise AssistError(f"the month {end_month} did not complete: see the table above")
    show_snapshot(out, s.scores_dir, end_month)
    out.rule("水管家: a simulated day of smart water-meter readings -> urgent alerts")
    meters_demo(s)
    out.rule("produced")
    for label, path in (("raw extracts", s.source_dir), ("hidden truth (evaluation only)", s.truth_dir),
                        ("validated store + quarantine", s.store_dir),
                        ("features", s.features_dir / end_month),
                        ("MLflow tracking + registry", s.mlflow_uri), ("need model", promoted),
                        ("scoring snapshot + referral lists", s.scores_dir / end_month),
                        ("reports (coverage, drift, fairness...)", s.workspace / "reports"),
                        ("case store", s.db_url.split("///")[-1]),
                        ("month record", record_path(s.workspace, end_month))):
        out.print(f"{label:32} {path}")


def _enough_months(months: int, cfg: ExperimentConfig, config: Path) -> None:
    """Refuse, before any work, fewer months than training with ``cfg`` needs."""
    v = cfg.validation
    least = cfg.data.min_history_months + v.min_train_months + v.calibration_months \
        + v.test_folds + 1  # the last month's labels arrive the month after
    if months < least:
        raise InputError(
            f"--months {months}: training with {config} needs at least {least} months "
            f"({cfg.data.min_history_months} of look-back, {v.min_train_months} to train on, "
            f"{v.calibration_months} to calibrate, {v.test_folds} to test, and the scored "
            "month); give more months or lower validation.test_folds in the config")


def _promote(s: Settings, name: str, version: str | None) -> str:
    """Promote the demo's first model: by the gate, or by a recorded override when it refuses."""
    from assist.experiments import registry, tracking

    if not version:
        return "not registered"
    c = tracking.client(s.mlflow_uri)
    try:
        registry.promote(c, name=name, version=version, user="make demo")
        return f"version {version} promoted to production by the gate"
    except registry.PromotionRefused as refused:
        out.print(f"[yellow]gate:[/yellow] {escape(str(refused))}")
        registry.promote(c, name=name, version=version, force=True, user="make demo",
                         reason="make demo: first model of a simulated district; "
                                "gate findings kept on the version for review")
        return (f"version {version} promoted by override (recorded on the version; "
                f"see `assist models card {version}`)")
