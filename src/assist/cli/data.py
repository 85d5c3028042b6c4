"""Data stages of the ``assist`` CLI: ``simulate``, ``ingest``, ``index``, ``features`` and
``readme-table``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assist.cli.common import console, load_settings, month_option, out, progress_bar, user_errors
from assist.cli.identity import write_identity
from assist.pipelines.spark import Engine, SparkBuckets, SparkMaster

app = typer.Typer()


@app.command()
@user_errors
def simulate(
    households: Annotated[int, typer.Option(help="Number of households in the district.")] = 20_000,
    months: Annotated[int, typer.Option(help="Monthly snapshots to write.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same district.")] = 7,
    end_month: Annotated[str, typer.Option(callback=month_option, help="Last snapshot month, YYYY-MM.")] = "2026-10",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the extracts.")] = None,
    truth_out: Annotated[Path | None, typer.Option(help="Folder for the hidden truth.")] = None,
    invalid_rate: Annotated[float, typer.Option(help="Share of rows planted invalid per table.")] = 0.002,
) -> None:
    """Write a simulated district's department extracts (Parquet, one file per table per month)."""
    from assist.simulate import simulate as run

    s = load_settings()
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
    full: Annotated[bool, typer.Option(
        "--full", help="Validate every extract again, not only those new or changed since the "
                       "last ingest (needed after changing the pseudonym key); same store.")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail when the source folder holds anything but extracts (a folder "
                         "of no known table, stray files); otherwise they are reported.")] = False,
    accept_low: Annotated[list[str] | None, typer.Option(
        "--accept-low", metavar="TABLE",
        help="Accept this table's months even below its minimum acceptance rate or row count "
             "(repeat; recorded in the summary).")] = None,
    horizon: Annotated[str | None, typer.Option(callback=month_option,
        help="Latest month accepted, YYYY-MM (default: the month of today's date).")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="Text encoding of every CSV extract, e.g. gb18030 (default: UTF-8, or what "
             "the source folder's source.yaml declares per table).")] = None,
    buckets: Annotated[int | None, typer.Option(
        min=1, help="Household buckets the store is laid out in (default: the store's own, "
                    "else ~20,000 households each); another count rebuilds it in full.")] = None,
) -> None:
    """Validate every row of new or changed extracts, quarantine bad rows with reasons,
    pseudonymise ids, write the store (unchanged months are kept as they are); a table-month
    with too few accepted rows, or a month after the horizon, fails the run."""
    from assist.ingest.run import ingest as run

    s = load_settings()
    with progress_bar() as bar:
        summary = run(source=source or s.source_dir, out=out_dir or s.store_dir,
                      key=s.pseudonym_key.get_secret_value(), progress=bar, workers=workers,
                      full=full, strict=strict, accept_low=tuple(accept_low or ()),
                      horizon=horizon, encoding=encoding, buckets=buckets)
    out.print(summary.table())
    out.print(write_identity(s, source=source or s.source_dir, store=out_dir, encoding=encoding))


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
    as_of: Annotated[str, typer.Option(callback=month_option, help="As-of month, YYYY-MM.")],
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

    s = load_settings()
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
