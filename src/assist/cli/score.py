"""CLI command ``assist score``: the monthly scoring snapshot (thin wrapper over
:func:`assist.pipelines.score.run_scoring`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from assist.cli.common import console, load_settings, month_option, out, user_errors
from assist.errors import InputError
from assist.experiments.tracking import MODEL_NAME
from assist.pipelines.spark import Engine, SparkBuckets, SparkMaster

if TYPE_CHECKING:
    from assist.pipelines.score import ScoreRun
    from assist.pipelines.score_config import ScoringConfig
    from assist.settings import Settings

app = typer.Typer()
#: a district's own flat household table and YAML catalog (:mod:`assist.pipelines.score_table`)
TableFile = Annotated[Path | None, typer.Option(
    "--table", help="Score a flat household table (.csv/.parquet) instead of the store; "
                    "needs --catalog.")]
CatalogFile = Annotated[Path | None, typer.Option(
    "--catalog", help="The YAML catalog over --table (the model's catalog).")]
IdColumn = Annotated[str | None, typer.Option(help="--table: household id column (default: "
                                                   "row numbers, as training).")]
MonthColumn = Annotated[str | None, typer.Option(help="--table: month column (default: "
                                                      "'snapshot' if present).")]
StreetColumn = Annotated[str | None, typer.Option(help="--table: street column (default: the "
                                                       "catalog's jurisdiction.street).")]
CommunityColumn = Annotated[str | None, typer.Option(help="--table: community column (default: "
                                                          "the catalog's jurisdiction.community).")]


@app.command()
@user_errors
def score(
    as_of: Annotated[str | None, typer.Option(callback=month_option,
        help="As-of month, YYYY-MM (with --table: default the table's latest month).")] = None,
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
    decisions: Annotated[Path | None, typer.Option(
        help="Decisions snapshot carried forward (`assist casebook export-decisions`); default "
             "<workspace>/casebook/decisions.parquet, none there: no decisions.")] = None,
    table: TableFile = None, catalog: CatalogFile = None, id_column: IdColumn = None,
    month_column: MonthColumn = None, street_column: StreetColumn = None,
    community_column: CommunityColumn = None,
) -> None:
    """Score every household, match programmes, allocate visits, flag changes; write a snapshot."""
    s = load_settings()
    if table is not None or catalog is not None:
        if engine is Engine.spark:
            raise InputError("--table scores on this machine: drop --engine spark")
        return score_table_file(s, table=table, catalog=catalog, as_of=as_of, model=model,
                                model_path=model_path, model_name=model_name, config=config,
                                out_dir=out_dir, decisions=decisions, columns=(
                                    id_column, month_column, street_column, community_column))
    if as_of is None:
        raise InputError("--as-of is required (or score a flat table: --table FILE --catalog FILE)")
    if engine is Engine.spark:  # the month's reports read single files: run `assist report`
        from assist.pipelines.spark.run import score_with_spark

        run, version = score_with_spark(s, as_of=as_of, model=model, model_path=model_path,
                                        model_name=model_name, config=config, store=store,
                                        out_dir=out_dir, master=master, buckets=buckets,
                                        status=console.status, decisions=decisions)
        if run is None:
            out.print(f"{as_of} is already scored with {version} and this config: nothing to do",
                      markup=False)
        show_run(out, run, as_of=as_of, version=version)
        return
    run, version = score_month(s, as_of=as_of, model=model, model_path=model_path,
                               model_name=model_name, config=config,
                               store=Path(store) if store else None,
                               out_dir=Path(out_dir) if out_dir else None,
                               status=console.status, log_mlflow=log_mlflow, out=out,
                               decisions=decisions)
    show_run(out, run, as_of=as_of, version=version)


def score_table_file(s: Settings, *, table: Path | None, catalog: Path | None,
                     as_of: str | None, model: str, model_path: Path | None, model_name: str,
                     config: Path | None, out_dir: str | None, decisions: Path | None,
                     columns: tuple[str | None, str | None, str | None, str | None]) -> None:
    """``assist score --table --catalog``: score a flat household table with its YAML catalog
    (:func:`assist.pipelines.score_table.run_table_scoring`) and print what it wrote;
    ``columns``: id, month, street and community columns (None: not given)."""
    from assist.features.custom import load_catalog
    from assist.pipelines.score_table import TableColumns, resolve_table_model, run_table_scoring
    from assist.storage.casebook import DECISIONS_FILE

    if table is None or catalog is None:
        raise InputError("--table and --catalog go together: the table and its YAML catalog")
    cat = load_catalog(catalog)
    cfg, config_hash = scoring_config(s, config, out=out)
    need, version = resolve_table_model(catalog=cat, catalog_path=catalog, model=model,
                                        model_path=model_path, tracking_uri=s.mlflow_uri,
                                        registered_model=model_name)
    with console.status(f"scoring {table} with {version}"):
        run = run_table_scoring(table=table, catalog=cat, catalog_path=catalog,
                                out=Path(out_dir) if out_dir else s.scores_dir, model=need,
                                model_version=version, config=cfg, config_hash=config_hash,
                                as_of=as_of, columns=TableColumns(*columns),
                                decisions=decisions or s.workspace / "casebook" / DECISIONS_FILE)
    show_run(out, run, as_of=run.summary["as_of"], version=version)
    for note in run.summary["notes"]:
        out.print(f"- {note}", markup=False)


def score_month(s: Settings, *, as_of: str, model: str = "production",
                model_path: Path | None = None, model_name: str = MODEL_NAME,
                config: Path | None = None, store: Path | None = None,
                out_dir: Path | None = None, status: Callable[[str], Any] | None = None,
                log_mlflow: bool = True, out: Console | None = None,
                decisions: Path | None = None) -> tuple[ScoreRun | None, str]:
    """Resolve the model and config from settings and options, run the monthly scoring (with
    the decisions snapshot carried forward: ``decisions``, default
    ``<workspace>/casebook/decisions.parquet``) and write the month's reports (coverage,
    drift, early warning, fairness). The config is ``experiments/scoring.yaml`` unless told
    otherwise. A month already scored with this registered model version and config is left
    as it is: returns ``(None, version)``; another model or config writes a new revision of the
    month (a ``model_path`` file is always scored: it may have changed under its name)."""
    from contextlib import nullcontext

    from assist.pipelines.score import resolve_model, run_scoring
    from assist.storage import snapshot
    from assist.storage.casebook import DECISIONS_FILE

    cfg, config_hash = scoring_config(s, config, out=out)
    need, version = resolve_model(model=model, model_path=model_path,
                                  tracking_uri=s.mlflow_uri, registered_model=model_name)
    scores_dir = out_dir or s.scores_dir
    done = None if model_path else snapshot.scored_with(  # a file may change under its name
        scores_dir, as_of, model_version=version, config_hash=config_hash)
    if done is not None:
        if out is not None:
            out.print(f"{as_of} is already scored with {version} and this config (revision "
                      f"{snapshot.revision_of(done)}): nothing to do", markup=False)
        return None, version
    with (status(f"scoring {as_of} with {version}") if status else nullcontext()):
        run = run_scoring(store=store or s.store_dir, as_of=as_of,
                          out=scores_dir, model=need,
                          model_version=version, config=cfg, config_hash=config_hash,
                          truth_dir=s.truth_dir, key=s.pseudonym_key.get_secret_value(),
                          decisions=decisions or s.workspace / "casebook" / DECISIONS_FILE)
    from assist.pipelines.month_reports import write_month_reports

    with (status(f"reports for {as_of}") if status else nullcontext()):
        rep = write_month_reports(workspace=s.workspace,
                                  scores_dir=out_dir or s.workspace / "scores",
                                  store=store or s.store_dir, as_of=as_of, k=cfg.deprivation_k,
                                  model_version=version, mlflow_uri=s.mlflow_uri,
                                  log_mlflow=log_mlflow)
    if out is not None:
        out.print(revision_note(scores_dir, as_of), markup=False)
        out.print(f"reports: {rep.folder} ({', '.join(rep.written)})"
                  + (f"; drift logged to MLflow run {rep.logged_run}" if rep.logged_run else ""))
        for note in rep.notes:
            out.print(f"- {note}", markup=False)
    return run, version


def scoring_config(s: Settings, config: Path | None, *,
                   out: Console | None = None) -> tuple[ScoringConfig, str]:
    """The scoring config (``config``, else ``experiments/scoring.yaml``, else the built-in one,
    which equals the shipped file) and its hash."""
    from assist.pipelines.score_config import config_digest, default_config_path, load_scoring_config

    path = config or default_config_path(s.workspace)
    cfg = load_scoring_config(path)
    if out is not None:
        out.print(f"scoring config: {path or 'built-in (experiments/scoring.yaml not found)'}",
                  markup=False)
    return cfg, config_digest(cfg)


def revision_note(scores_dir: Path, as_of: str) -> str:
    """Which revision of ``as_of`` was written, and where the earlier ones are kept."""
    from assist.storage import snapshot

    revs = snapshot.revisions(scores_dir, as_of)
    earlier = (f"; earlier: {', '.join(revs[:-1])} in "
               f"{snapshot.revision_folder(scores_dir, as_of, revs[0]).parent}"
               if len(revs) > 1 else "")
    return f"revision {revs[-1] if revs else snapshot.FIRST_REVISION} of {as_of}{earlier}"


def show_run(out: Console, run: ScoreRun | None, *, as_of: str, version: str) -> None:
    """Print what a scoring run produced: referrals per street, allocation, flags, truth check."""
    if run is None:  # already scored with this model and config (said by score_month)
        return
    show_summary(out, run.summary, folder=Path(run.folder), as_of=as_of, version=version)


def show_snapshot(out: Console, scores_dir: Path, as_of: str) -> None:
    """Print what the month's snapshot holds (as after scoring it)."""
    from assist.storage import snapshot

    sm = snapshot.read_summary(scores_dir, as_of)
    show_summary(out, sm, folder=snapshot.folder(scores_dir, as_of), as_of=as_of,
                 version=str(sm.get("model_version", "")))


def show_summary(out: Console, sm: dict[str, Any], *, folder: Path, as_of: str,
                 version: str) -> None:
    """Referrals per street, allocation, carried-forward decisions, flags, truth check."""
    from rich.table import Table

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
    carried = sm.get("carry_forward") or {}
    if carried:
        listings = ", ".join(f"{k} {v:,}" for k, v in sorted(carried["listings"].items()))
        out.print(f"decisions carried forward: {carried['decisions']}; "
                  f"{carried['households_decided']:,} households decided"
                  + (f" ({listings})" if listings else "")
                  + f"; {carried['pinned_allocated']:,} pending visits kept allocated",
                  markup=False)
    if sm["flags"]:
        out.print("early warning: " + ", ".join(f"{k} {v}" for k, v in sm["flags"].items()))
    truth = sm.get("truth") or {}
    if "precision_at_k" in truth:
        out.print(f"hidden truth: precision@{truth['k']} {truth['precision_at_k']:.3f} "
                  f"(prevalence {truth['prevalence']:.3f}); allocated referrals "
                  f"{truth['allocated_precision'] or 0:.3f}")
    out.print(f"snapshot: {folder} ({sm['seconds']:.1f} s)")
