"""CLI commands ``assist audit`` and ``assist report coverage|drift`` (thin wrappers over
:mod:`assist.reports.report` and :mod:`assist.reports.audit`)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from assist.cli.common import load_settings, month_option, out, user_errors
from assist.errors import InputError

if TYPE_CHECKING:
    from assist.models.fairness import AuditResult

app = typer.Typer()


report_app = typer.Typer(help="Coverage and drift reports (JSON + HTML in <workspace>/reports).",
                         no_args_is_help=True)

@app.command()
@user_errors
def audit(
    scores: Annotated[Path, typer.Option(help="Scored table, CSV or Parquet.")],
    score_col: Annotated[str, typer.Option(help="Column of scores (higher: more in need).")],
    label_col: Annotated[str, typer.Option(help="Column of 0/1 outcomes (1: in need).")],
    group: Annotated[list[str], typer.Option(help="Group column; repeat for several "
                                                  "(pairs are also audited together).")],
    reference: Annotated[str, typer.Option(
        help="Reference group: a value (or ATTRIBUTE=VALUE), 'majority' or 'min' "
             "(lowest recall).")] = "majority",
    threshold: Annotated[float | None, typer.Option(
        help="Selected when score >= threshold (default 0.5).")] = None,
    top_k: Annotated[int | None, typer.Option(help="Selected: the k highest scores.")] = None,
    top_pct: Annotated[float | None, typer.Option(help="Selected: the top P% by score.")] = None,
    drop_unlabelled: Annotated[bool, typer.Option(
        help="Select over all rows, then audit only rows with a label.")] = False,
    intersections: Annotated[bool, typer.Option(help="Audit pairs of group columns.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON result.")] = False,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    log_mlflow: Annotated[str | None, typer.Option(
        "--log-mlflow", help="Also attach the report to this MLflow run.")] = None,
) -> None:
    """Fairness audit of a scored table: rates, disparities and flags per group (recall first)."""
    from assist.reports.audit import audit_html, run_audit
    from assist.reports.model import log_to_mlflow
    from assist.reports.report import write_report
    from assist.storage.atomic import write_text

    if sum(x is not None for x in (threshold, top_k, top_pct)) > 1:
        raise InputError("give only one of --threshold, --top-k, --top-pct")
    result = run_audit(path=scores, score_col=score_col, label_col=label_col, groups=group,
                       reference=reference, threshold=threshold, top_k=top_k,
                       top_pct=top_pct, drop_unlabelled=drop_unlabelled,
                       intersections=intersections)
    payload = result.to_dict()
    page = audit_html(result, source=str(scores)) if (html or log_mlflow) else ""
    if html:
        html.parent.mkdir(parents=True, exist_ok=True)
        write_text(page, html)
    if log_mlflow:
        worst = {f"fairness.min_tpr_ratio.{a}": part["tpr_ratio"].min()
                 for a, part in result.table.groupby("attribute")
                 if part["tpr_ratio"].notna().any()}
        with tempfile.TemporaryDirectory() as d:
            paths = write_report(Path(d), "fairness_audit", payload, page)
            log_to_mlflow(load_settings().mlflow_uri, log_mlflow, paths, artifact_path="reports",
                          metrics={k: float(v) for k, v in worst.items()})
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False, allow_nan=False))
        return
    _show_audit(out, result)
    if html:
        out.print(f"HTML report: {html}")

@report_app.command("coverage")
@user_errors
def coverage(
    as_of: Annotated[str, typer.Option(callback=month_option, help="Month of the scoring snapshot, YYYY-MM.")],
    scores_dir: Annotated[Path | None, typer.Option(help="Folder of scoring snapshots.")] = None,
    store: Annotated[Path | None, typer.Option(help="Validated store (assistance, visits).")] = None,
    config: Annotated[Path | None, typer.Option(help="Scoring config (deprivation k).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON report.")] = False,
    log_mlflow: Annotated[str | None, typer.Option(
        "--log-mlflow", help="Also attach the report to this MLflow run.")] = None,
) -> None:
    """Need, assistance, referrals and the gap per street and community; index by dimension."""
    from assist.pipelines.score import load_scoring_config
    from assist.reports.model import log_to_mlflow
    from assist.reports.report import (
        coverage_html,
        coverage_report,
        report_folder,
        write_report,
    )

    s = load_settings()
    k = load_scoring_config(config).deprivation_k
    rep = coverage_report(scores_dir=scores_dir or s.workspace / "scores",
                          store=store or s.store_dir, as_of=as_of, k=k)
    paths = write_report(report_folder(s.workspace, as_of), "coverage", rep, coverage_html(rep))
    if log_mlflow:
        total = rep["streets"][-1]
        log_to_mlflow(s.mlflow_uri, log_mlflow, paths, artifact_path=f"reports/{as_of}",
                      metrics={"coverage.gap_model_rate": total["gap_model_rate"],
                               "coverage.gap_index_rate": total["gap_index_rate"]})
    if as_json:
        typer.echo(json.dumps(rep, ensure_ascii=False, allow_nan=False))
        return
    _show_rows(out, f"coverage {as_of} by street", rep["streets"],
               ["street_code", "households", "expected_in_need", "high_band", "index_poor",
                "assisted", "referred", "allocated", "verified", "confirmed", "gap_model",
                "gap_model_rate", "gap_index_rate"])
    out.print(f"report: {paths[1]}")

@report_app.command("drift")
@user_errors
def drift(
    as_of: Annotated[str, typer.Option(callback=month_option, help="Current month, YYYY-MM.")],
    reference: Annotated[str | None, typer.Option(callback=month_option,
        help="Reference month (default: the training data of the model that scored the "
             "month, else the earliest other month on disk); never the month itself. An "
             "explicit reference writes drift-vs-<month>.json|html, not the month's drift "
             "report.")] = None,
    features_dir: Annotated[Path | None, typer.Option(help="Folder of feature tables.")] = None,
    scores_dir: Annotated[Path | None, typer.Option(help="Folder of scoring snapshots.")] = None,
    bins: Annotated[int, typer.Option(help="Quantile bins of the reference.")] = 10,
    watch: Annotated[float, typer.Option(help="PSI at or above: watch.")] = 0.1,
    act: Annotated[float, typer.Option(help="PSI at or above: act.")] = 0.25,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON report.")] = False,
    log_mlflow: Annotated[str | None, typer.Option(
        "--log-mlflow", help="Also attach the report to this MLflow run.")] = None,
) -> None:
    """Missing-share change, mean/percentile shift and PSI of every indicator against a
    reference month, and of the score against the model's training data and last month."""
    from assist.models.drift import DriftThresholds
    from assist.pipelines.month_reports import drift_vs_training, training_month
    from assist.reports.model import log_to_mlflow
    from assist.reports.report import (
        drift_html,
        drift_name,
        drift_report,
        report_folder,
        write_report,
    )

    s = load_settings()
    if bins < 2 or not 0 < watch <= act:
        raise InputError("need --bins >= 2 and 0 < --watch <= --act")
    scores = scores_dir or s.workspace / "scores"
    thresholds = DriftThresholds(watch=watch, act=act)
    training = _training_reference(s, scores, as_of)
    if training is not None and reference is None:
        # the month's report, as scoring writes it: against the model's training data
        rep = drift_vs_training(training[0], training[1], scores, as_of, thresholds, bins)
    else:
        info = training and {"kind": "training", "model": training[1],
                             "month": training_month(training[0][1])}
        rep = drift_report(features_dir=features_dir or s.features_dir, scores_dir=scores,
                           as_of=as_of, reference=reference, bins=bins, thresholds=thresholds,
                           score_reference=training and (training[0][0], info))
    paths = write_report(report_folder(s.workspace, as_of), drift_name(reference), rep,
                         drift_html(rep))
    if log_mlflow:
        log_to_mlflow(s.mlflow_uri, log_mlflow, paths, artifact_path=f"reports/{as_of}",
                      metrics={f"drift.psi.{r['feature'].split(' ')[0]}": r["psi"]
                               for r in rep["features"] if r["psi"] is not None})
    if as_json:
        typer.echo(json.dumps(rep, ensure_ascii=False, allow_nan=False))
        return
    _show_rows(out, f"drift {as_of} vs {rep['reference']}", rep["features"],
               ["feature", "verdict", "missing_change", "shift", "shift_stat", "psi",
                "reference_mean", "current_mean"])
    out.print(f"report: {paths[1]}")


def _training_reference(s: Any, scores_dir: Path, as_of: str) -> tuple[Any, str] | None:
    """The training reference (frame, label) of the registered model that scored ``as_of``
    and its ``name/version``; None when unknown or unreachable."""
    from mlflow.exceptions import MlflowException

    from assist.reports.model import model_reference
    from assist.storage import snapshot

    try:
        version = snapshot.read_summary(scores_dir, as_of).get("model_version") or ""
        if "/" not in version or version.startswith("file:"):
            return None
        ref = model_reference(s.mlflow_uri, version)
    except (InputError, MlflowException, OSError):
        return None
    return None if ref is None else (ref, version)



def _show_audit(out: Console, result: AuditResult) -> None:
    """Terminal tables of the audit, one per attribute, headline first."""
    from rich.table import Table

    from assist.models.fairness import HEADLINE_TEXT

    out.print(HEADLINE_TEXT)
    out.print(f"{result.n:,} rows; selected when {result.rule}")
    for attr, part in result.table.groupby("attribute", sort=False):
        t = Table(title=f"{attr} (reference {result.reference[attr]})")
        for c in ("group", "n", "base", "sel.", "recall", "95% CI", "FNR", "FPR", "prec.",
                  "calib.", "recall/ref", "flags"):
            t.add_column(c, justify="left" if c in ("group", "flags") else "right")
        for r in part.to_dict("records"):
            head = [m for m in r["flags"] if m in ("tpr", "fnr")]
            more = len(r["flags"]) - len(head)
            t.add_row(str(r["group"]), f"{r['n']:,}", _p(r["base_rate"], 2),
                      _p(r["selection_rate"], 2), _p(r["tpr"], 2),
                      f"{_p(r['tpr_low'], 2)}-{_p(r['tpr_high'], 2)}", _p(r["fnr"], 2),
                      _p(r["fpr"], 2), _p(r["precision"], 2), _p(r["calibration_gap"], 2),
                      _p(r["tpr_ratio"], 2),
                      " ".join([*head, f"+{more}" if more else ""]).strip(),
                      style="red" if head else None)
        out.print(t)
    for line in result.flagged() or ["no group's recall or miss rate is outside the band"]:
        out.print(f"- {line}", markup=False)


def _show_rows(out: Console, title: str, rows: list[dict], cols: list[str]) -> None:
    from rich.table import Table

    t = Table(title=title)
    for c in cols:
        t.add_column(c, justify="left" if c in ("street_code", "feature", "level") else "right")
    for r in rows:
        t.add_row(*[_p(r.get(c)) if isinstance(r.get(c), float) or r.get(c) is None
                    else str(r.get(c)) for c in cols])
    out.print(t)


def _p(v: float | None, digits: int = 3) -> str:
    import math

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "undef." if digits < 3 else "undefined"
    return f"{v:.{digits}f}"
