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
    from assist.settings import Settings

app = typer.Typer()


report_app = typer.Typer(help="Coverage and drift reports (JSON + HTML in <workspace>/reports).",
                         no_args_is_help=True)

#: options of ``assist audit`` whose help runs long
AuditMonth = Annotated[str | None, typer.Option(
    "--as-of", callback=month_option, help="Audit the scoring snapshot of this month, YYYY-MM, "
    "against the labels recorded for it (verification visits of the next month, case-store "
    "decisions on its referrals), instead of --scores.")]
Groups = Annotated[list[str] | None, typer.Option(
    "--group", help="Group column; repeat for several (pairs are also audited together); with "
    "--as-of: every group column of the snapshot.")]
Selection = Annotated[str, typer.Option(
    help="With --as-of and no threshold, top k or top P%: the month's list as it was made, "
         "'candidate' (listed) or 'allocated' (given a visit).")]
DropUnlabelled = Annotated[bool, typer.Option(
    help="Select over all rows, then audit only rows with a label (always with --as-of).")]
MinPositives = Annotated[int, typer.Option(
    min=1, help="Groups with fewer households in need are listed as not judged.")]
StoreLive = Annotated[bool, typer.Option(
    "--store", help="With --as-of: add this audit ('live') to the month's fairness report (the "
    "fairness page and its download show it).")]


@app.command()
@user_errors
def audit(
    scores: Annotated[Path | None, typer.Option(help="Scored table, CSV or Parquet.")] = None,
    as_of: AuditMonth = None,
    score_col: Annotated[str | None, typer.Option(
        help="Column of scores (higher: more in need); with --as-of: probability.")] = None,
    label_col: Annotated[str | None, typer.Option(
        help="Column of 0/1 outcomes (1: in need); not with --as-of.")] = None,
    group: Groups = None,
    reference: Annotated[str, typer.Option(
        help="Reference group: a value (or ATTRIBUTE=VALUE), 'majority' or 'min' "
             "(lowest recall).")] = "majority",
    threshold: Annotated[float | None, typer.Option(
        help="Selected when score >= threshold (default 0.5).")] = None,
    top_k: Annotated[int | None, typer.Option(help="Selected: the k highest scores.")] = None,
    top_pct: Annotated[float | None, typer.Option(help="Selected: the top P% by score.")] = None,
    selection: Selection = "candidate",
    drop_unlabelled: DropUnlabelled = False,
    intersections: Annotated[bool, typer.Option(help="Audit pairs of group columns.")] = True,
    min_positives: MinPositives = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON result.")] = False,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    log_mlflow: Annotated[str | None, typer.Option(
        "--log-mlflow", help="Also attach the report to this MLflow run.")] = None,
    store: StoreLive = False,
) -> None:
    """Fairness audit of a scored table or a month's snapshot: rates, disparities and findings
    per group (recall first; a finding when the ratio's 95 % interval lies outside the band)."""
    from assist.reports.audit import audit_html, audit_payload, store_live
    from assist.storage.atomic import write_text

    if sum(x is not None for x in (threshold, top_k, top_pct)) > 1:
        raise InputError("give only one of --threshold, --top-k, --top-pct")
    if store and as_of is None:
        raise InputError("--store needs --as-of: only a month's live audit joins its report")
    result, source = _audit_result(
        scores=scores, as_of=as_of, score_col=score_col, label_col=label_col, groups=group,
        selection=selection, drop_unlabelled=drop_unlabelled,
        options={"reference": reference, "threshold": threshold, "top_k": top_k,
                 "top_pct": top_pct, "intersections": intersections})
    payload = audit_payload(result, min_positives=min_positives)
    page = (audit_html(result, source=source, min_positives=min_positives)
            if (html or log_mlflow) else "")
    if html:
        html.parent.mkdir(parents=True, exist_ok=True)
        write_text(page, html)
    if log_mlflow:
        _log_audit(log_mlflow, result, payload, page)
    stored = (store_live(load_settings().workspace, as_of, payload, rows=result.rows)
              if store and as_of else None)
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False, allow_nan=False))
        return
    _show_audit(out, result, payload["findings"], source)
    if stored:
        out.print(f"added to the month's fairness report: {stored[1]}")
    if html:
        out.print(f"HTML report: {html}")


def _log_audit(run_id: str, result: AuditResult, payload: dict[str, Any], page: str) -> None:
    """Attach the audit's JSON and HTML, and each attribute's lowest recall ratio, to a run."""
    from assist.reports.model import log_to_mlflow
    from assist.reports.report import write_report

    worst = {f"fairness.min_tpr_ratio.{a}": part["tpr_ratio"].min()
             for a, part in result.table.groupby("attribute") if part["tpr_ratio"].notna().any()}
    with tempfile.TemporaryDirectory() as d:
        paths = write_report(Path(d), "fairness_audit", payload, page)
        log_to_mlflow(load_settings().mlflow_uri, run_id, paths, artifact_path="reports",
                      metrics={k: float(v) for k, v in worst.items()})


def _audit_result(*, scores: Path | None, as_of: str | None, score_col: str | None,
                  label_col: str | None, groups: list[str] | None, selection: str,
                  drop_unlabelled: bool, options: dict[str, Any]) -> tuple[AuditResult, str]:
    """The audit of ``--scores`` (a file) or of ``--as-of`` (a month's snapshot and labels)."""
    from assist.reports.audit import run_audit

    if (scores is None) == (as_of is None):
        raise InputError("give either --scores FILE or --as-of MONTH")
    if scores is not None:
        missing = next((o for o, v in (("--score-col", score_col), ("--label-col", label_col),
                                       ("--group", groups)) if not v), None)
        if missing:
            raise InputError(f"{missing} is required with --scores")
        return run_audit(path=scores, score_col=score_col, label_col=label_col, groups=groups,
                         drop_unlabelled=drop_unlabelled, **options), str(scores)
    if label_col is not None:
        raise InputError("--label-col is not used with --as-of: the labels are those recorded "
                         "for the month")
    return live_audit(load_settings(), as_of, selection=selection, score_col=score_col,
                      groups=groups, options=options)


def live_audit(s: Settings, as_of: str, *, selection: str = "candidate",
               score_col: str | None = None, groups: list[str] | None = None,
               options: dict[str, Any] | None = None) -> tuple[AuditResult, str]:
    """The audit of month ``as_of``'s list against the labels recorded for it (verification
    visits of the next month, the case store's decisions on its referrals): ``assist audit
    --as-of`` and the monthly job's audit stage."""
    from assist.cli.admin import case_store_session
    from assist.pipelines.month_audit import month_table
    from assist.reports.audit import audit_frame
    from assist.serving.services.decisions import decisions_as_labels

    options = options or {}
    with case_store_session(s) as session:
        decisions = decisions_as_labels(session)
    table = month_table(scores_dir=s.workspace / "scores", store=s.store_dir, as_of=as_of,
                        casebook=decisions, selection=selection)
    rule_given = any(options.get(k) is not None for k in ("threshold", "top_k", "top_pct"))
    source = (f"snapshot {as_of} · labels: {table.counts['verification']:,} verification "
              f"visits, {table.counts['casebook']:,} case-store decisions")
    return audit_frame(table.frame, source=source, score_col=score_col or "probability",
                       label_col="label", groups=groups or list(table.groups),
                       selected_col=None if rule_given else selection, drop_unlabelled=True,
                       **options), source

@report_app.command("coverage")
@user_errors
def coverage(
    as_of: Annotated[str, typer.Option(callback=month_option, help="Month of the scoring snapshot, YYYY-MM.")],
    scores_dir: Annotated[Path | None, typer.Option(help="Folder of scoring snapshots.")] = None,
    store: Annotated[Path | None, typer.Option(help="Validated store (assistance, visits).")] = None,
    config: Annotated[Path | None, typer.Option(help="Scoring config (deprivation k).")] = None,
    case_store: Annotated[bool, typer.Option(
        help="Count the caseworkers' decisions of the case store (ASSIST_DATABASE_URL) with "
             "the department's verification and assistance records.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON report.")] = False,
    log_mlflow: Annotated[str | None, typer.Option(
        "--log-mlflow", help="Also attach the report to this MLflow run.")] = None,
) -> None:
    """Need, referrals, visits, findings, assistance and the gap per street and community
    (department records and case-store decisions, a household in both counted once); the
    trend per street; the deprivation index by dimension. The same report the coverage page
    and the API show."""
    from assist.pipelines.score import load_scoring_config
    from assist.reports.coverage_view import NEED_BASIS
    from assist.reports.model import log_to_mlflow
    from assist.reports.report import (
        coverage_html,
        coverage_report,
        report_folder,
        write_report,
    )

    s = load_settings()
    k = load_scoring_config(config).deprivation_k
    decisions, state = _case_store_decisions(s) if case_store else (None, None)
    rep = coverage_report(scores_dir=scores_dir or s.workspace / "scores",
                          store=store or s.store_dir, as_of=as_of, k=k, decisions=decisions,
                          case_store=state)
    paths = write_report(report_folder(s.workspace, as_of), "coverage", rep, coverage_html(rep))
    if log_mlflow:
        total = rep["streets"][-1]
        log_to_mlflow(s.mlflow_uri, log_mlflow, paths, artifact_path=f"reports/{as_of}",
                      metrics={"coverage.gap_model_rate": total["gap_model_rate"],
                               "coverage.gap_index_rate": total["gap_index_rate"]})
    if as_json:
        typer.echo(json.dumps(rep, ensure_ascii=False, allow_nan=False))
        return
    population = rep["probability_basis"] == "population"
    _show_rows(out, f"coverage {as_of} by street", rep["streets"],
               ["street_code", "households", "high_band", "index_poor", "expected_in_need",
                "referred", "verified", "verified_decisions", "confirmed", "assisted",
                NEED_BASIS[population].gap])
    out.print("probabilities calibrated for the whole district: need and gap by the model"
              if population else "probabilities calibrated on visited households (they "
              "overstate need): need and gap by the deprivation index")
    out.print(f"case store: {rep['decisions']:,} decisions on {as_of} referrals"
              if state is not None else "case store not read: department records only")
    out.print(f"report: {paths[1]}")


def _case_store_decisions(s: Any) -> tuple[Any, dict[str, Any] | None]:
    """The case store's decisions and state (as the coverage page reads them); (None, None)
    when the case store is a SQLite file not created yet."""
    from assist.cli.admin import case_store_session
    from assist.serving.services.coverage import case_store_state, decisions_frame

    url = s.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None, None
    with case_store_session(s) as session:
        state = case_store_state(session)
        return decisions_frame(session), state


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



def _show_audit(out: Console, result: AuditResult, findings: dict[str, Any],
                source: str) -> None:
    """Terminal tables of the audit, one per attribute, headline first; then the findings."""
    from rich.table import Table

    from assist.models.fairness import HEADLINE_TEXT

    out.print(HEADLINE_TEXT)
    out.print(f"{source}: {result.n:,} rows; selected when {result.rule}", markup=False)
    for attr, part in result.table.groupby("attribute", sort=False):
        t = Table(title=f"{attr} (reference {result.reference[attr]})")
        for c in ("group", "n", "base", "sel.", "recall", "95% CI", "FNR", "FPR", "prec.",
                  "calib.", "recall/ref"):
            t.add_column(c, justify="left" if c == "group" else "right")
        for r in part.to_dict("records"):
            t.add_row(str(r["group"]), f"{r['n']:,}", _p(r["base_rate"], 2),
                      _p(r["selection_rate"], 2), _p(r["tpr"], 2),
                      f"{_p(r['tpr_low'], 2)}-{_p(r['tpr_high'], 2)}", _p(r["fnr"], 2),
                      _p(r["fpr"], 2), _p(r["precision"], 2), _p(r["calibration_gap"], 2),
                      _p(r["tpr_ratio"], 2))
        out.print(t)
    for line in _finding_lines(findings):
        out.print(line, markup=False)


def _finding_lines(found: dict[str, Any]) -> list[str]:
    """The findings in words: harmful first, then favourable (each by severity), then how
    many groups were not judged and the rule."""
    band = f"{found['min_ratio']:g}-{found['max_ratio']:g}"
    lines = []
    for kind in ("harmful", "favourable"):
        for f in found[kind]:
            ratios = "; ".join(f"{m['metric']} {_p(m['ratio'], 2)} x (95% interval "
                               f"{_p(m['low'], 2)}-{_p(m['high'], 2)})" for m in f["metrics"])
            lines.append(f"- {kind}: {f['attribute']}={f['group']} vs {f['reference']}: "
                         f"{ratios}; {f['positives']:,} in need, {f['reached']:,} reached")
    if not found["harmful"]:
        lines.append(f"- no group is reached less often than its reference beyond chance "
                     f"(band {band})")
    lines.append(f"- not judged (fewer than {found['min_positives']} in need): "
                 f"{len(found['not_judged']):,} group(s); {found['method']}")
    return lines


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
