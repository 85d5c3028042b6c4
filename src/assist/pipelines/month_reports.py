"""The month's reports after scoring: coverage, drift, early warning and the model's fairness.

:func:`write_month_reports` runs at the end of ``assist score`` (and so of ``assist demo``) and
writes ``<workspace>/reports/<as_of>/{coverage,drift,early_warning,fairness}.json|html``.
Drift compares the month with the scoring model's training data (the reference saved with its
run; the score also with last month's scores) and falls back to the earliest month on disk for
models without one. The reports that
concern the model (drift; fairness is already in its run) are attached to the model's MLflow
run under ``reports/<as_of>/``. A report that cannot be made is noted, never fatal: reports
inform, they block nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist.errors import InputError
from assist.features import CATALOG
from assist.models.drift import BINS, DriftThresholds
from assist.reports import fairness_households
from assist.reports.cases import early_warning_html, early_warning_report
from assist.reports.model import log_to_mlflow, model_fairness, model_heldout, model_reference
from assist.reports.report import (
    coverage_html,
    coverage_report,
    drift_between,
    drift_html,
    drift_report,
    previous_month,
    report_folder,
    write_report,
)
from assist.storage import snapshot


@dataclass
class MonthReports:
    """What :func:`write_month_reports` wrote, what it could not, and where it logged."""

    as_of: str
    folder: Path
    written: dict[str, list[Path]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    logged_run: str | None = None


def write_month_reports(*, workspace: Path, scores_dir: Path, store: Path | None, as_of: str,
                        k: float, model_version: str | None = None,
                        mlflow_uri: str | None = None, log_mlflow: bool = True,
                        thresholds: DriftThresholds | None = None) -> MonthReports:
    """Write the month's coverage, drift, early-warning and fairness reports for a scored
    month; with ``log_mlflow`` attach drift to the run of ``model_version`` (``name/version``)."""
    out = MonthReports(as_of=as_of, folder=report_folder(workspace, as_of))
    cov = coverage_report(scores_dir=scores_dir, store=store, as_of=as_of, k=k)
    out.written["coverage"] = write_report(out.folder, "coverage", cov, coverage_html(cov))

    summary = snapshot.read_summary(scores_dir, as_of)
    referrals = snapshot.read_referrals(scores_dir, as_of, columns=["street_code", "flags"])
    ew = early_warning_report(referrals, as_of=as_of, model_version=model_version,
                              summary_flags=summary.get("flags"))
    out.written["early_warning"] = write_report(out.folder, "early_warning", ew,
                                                early_warning_html(ew))

    from_model = _registered(model_version) and mlflow_uri is not None
    ref = model_reference(mlflow_uri, model_version) if from_model else None
    try:
        if ref is not None:
            drift = drift_vs_training(ref, model_version, scores_dir, as_of, thresholds)
        else:
            out.notes.append("drift: no training reference saved with the model; compared "
                             "with the earliest month on disk")
            drift = drift_report(features_dir=Path(workspace) / "features",
                                 scores_dir=scores_dir, as_of=as_of, thresholds=thresholds)
        out.written["drift"] = write_report(out.folder, "drift", drift, drift_html(drift))
    except InputError as exc:
        out.notes.append(f"drift not written: {exc}")

    fair = model_fairness(mlflow_uri, model_version, as_of=as_of) if from_model else None
    if fair is None:
        out.notes.append(f"fairness: no fairness report logged with {model_version}")
    else:
        out.written["fairness"] = write_report(out.folder, "fairness", *fair)
        rows = model_heldout(mlflow_uri, model_version)
        if rows is not None:  # each count of the report opens its households
            out.written["fairness"].append(fairness_households.store(out.folder, rows))

    if log_mlflow and from_model and "drift" in out.written:
        out.logged_run = _log(out, mlflow_uri, model_version, drift)
    return out


def drift_vs_training(ref: tuple[Any, str], model_version: str, scores_dir: Path, as_of: str,
                      thresholds: DriftThresholds | None, bins: int = BINS) -> dict[str, Any]:
    """Drift of the month against the model's training data (``ref``: its frame and label, as
    :func:`assist.reports.model.model_reference` returns them); the score also against last
    month's scores (a second column)."""
    base, label = ref
    info = {"kind": "training", "model": model_version, "month": training_month(label)}
    current = snapshot.read_scores(scores_dir, as_of, columns=[*CATALOG.ids, "probability"])
    prev = previous_month(scores_dir, as_of)
    last = (snapshot.read_scores(scores_dir, prev, columns=["probability"])
            if prev is not None else None)
    return drift_between(base[CATALOG.ids], current[CATALOG.ids], as_of=as_of, reference=label,
                         bins=bins, thresholds=thresholds, reference_info=info,
                         score_reference=info,
                         scores=(base[["probability"]], current[["probability"]],
                                 "score (probability; reference: training data)"),
                         previous=None if last is None else (last, prev))


def training_month(label: str) -> str | None:
    """The last training month named in a training reference's label (``... (YYYY-MM)``)."""
    m = re.search(r"\((\d{4}-\d{2})\)\s*$", label)
    return m and m.group(1)


def _registered(model_version: str | None) -> bool:
    return bool(model_version) and "/" in model_version and not model_version.startswith("file:")


def _log(out: MonthReports, uri: str, model_version: str, drift: dict[str, Any]) -> str | None:
    """Attach the drift report and its PSI metrics to the model's run; None when unreachable."""
    from mlflow.exceptions import MlflowException

    from assist.experiments import registry, tracking

    name, _, version = model_version.rpartition("/")
    try:
        run_id = registry.version_info(tracking.client(uri), name, version,
                                       with_report=False).run_id
        log_to_mlflow(uri, run_id, out.written["drift"], artifact_path=f"reports/{out.as_of}",
                      metrics={f"drift.{out.as_of}.psi.{r['feature'].split(' ')[0]}": r["psi"]
                               for r in drift["features"] if r["psi"] is not None})
    except (MlflowException, InputError, OSError) as exc:
        out.notes.append(f"not logged to MLflow: {type(exc).__name__}")
        return None
    return run_id
