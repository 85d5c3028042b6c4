"""The need model's own fairness report, from its held-out predictions.

Training evaluates every fold on a later month it never saw. Its held-out predictions
(pseudonymous household id, month, score, the capacity selection, verified
label, hidden truth when simulated, group columns) are one table -- a run artifact that
``assist audit`` reads like any scored file. :func:`fairness_report` audits it per group
(against verified labels, and against the hidden truth when present) with the selection the
model made at caseworker capacity in each test month, and returns the JSON and the HTML page
(:func:`assist.reports.render.fairness_html`: the fairness page's view and body) logged with
the model's MLflow run (``reports/fairness.json|html``) and written to
``<workspace>/reports/model-<version>/``. After scoring, :func:`model_fairness` fetches the
scoring model's report so the month's reports include it (its HTML rendered again from the
payload, labelled with the scored month).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.models import fairness
from assist.reports.fairness_findings import audit_json, judge
from assist.reports.render import fairness_html

PREDICTIONS_FILE = "heldout_predictions.parquet"
#: indicator values and model probabilities of the last training month: the drift reference
REFERENCE_FILE = "training_reference.parquet"
REFERENCE_ROWS = 50_000
FAIRNESS_ARTIFACTS = ("reports/fairness.json", "reports/fairness.html")
TARGETS = {"verified": "verified outcomes of visited households (selection-biased)",
           "truth": "hidden true need of every household (simulated data only)"}


def fairness_report(predictions: pd.DataFrame, *, groups: Sequence[str], share: float,
                    run_id: str | None = None, model_version: str | None = None,
                    reference: str = "majority",
                    min_positives: int = 20) -> tuple[dict[str, Any], str]:
    """The model's fairness audit on held-out months (JSON payload, HTML page).

    Payload::

        {"run_id", "model_version", "as_of": latest test month (where the report is stored:
         the scored month, or ``model-<version>``), "months": [held-out test months],
         "selection": text, "headline": text, "min_positives": int,
         "audits": {"verified" | "truth": {"n", "threshold", "groups": [...], "reference",
                                             "intervals": [...], "rule", "min_ratio",
                                             "max_ratio", "findings": {...}, "target"}}}

    (``groups`` entries as in ``assist audit --json``; rates ``None`` where undefined;
    ``findings``: :func:`assist.reports.fairness_findings.judge` -- recall and miss-rate ratios
    whose whole 95 % interval lies outside the band, harmful apart from favourable, by
    severity; groups with fewer than ``min_positives`` households in need not judged.)
    """
    groups = [g for g in groups if g in predictions.columns]
    months = sorted(predictions["month"].astype(str).unique())
    selection = (f"the top {share:.2%} of households by score in each test month (caseworker "
                 "capacity), as the model would have listed them")
    payload: dict[str, Any] = {"run_id": run_id, "model_version": model_version,
                               "as_of": months[-1] if months else None, "months": months,
                               "selection": selection, "headline": fairness.HEADLINE_TEXT,
                               "min_positives": min_positives, "audits": {}}
    for target, text in TARGETS.items():
        if target not in predictions.columns or not groups:
            continue
        keep = predictions[target].notna().to_numpy()
        if not keep.any():
            continue
        res = fairness.audit(predictions.loc[keep, target].to_numpy(dtype=float),
                             predictions.loc[keep, "score"].to_numpy(dtype=float),
                             predictions.loc[keep, groups], reference=reference,
                             selected=predictions.loc[keep, "selected"].to_numpy(dtype=bool))
        audit = {**audit_json(res), "target": text}
        payload["audits"][target] = {**audit, "findings": judge(audit,
                                                                min_positives=min_positives)}
    return payload, fairness_html(payload)


def _model_run(uri: str, model_version: str) -> tuple[Any, str] | None:
    """The tracking client and the run id of a registered model version (``name/version``);
    None when it is not a registered version or cannot be found."""
    from assist.errors import InputError
    from assist.experiments import registry, tracking

    name, _, version = model_version.rpartition("/")
    if not name or not version:
        return None
    c = tracking.client(uri)
    try:
        return c, registry.version_info(c, name, version, with_report=False).run_id
    except InputError:
        return None


def model_fairness(uri: str, model_version: str, *,
                   as_of: str) -> tuple[dict[str, Any], str] | None:
    """The fairness report logged with the run of a registered model version
    (``name/version``), labelled with the scored month; None when it cannot be found."""
    from assist.experiments import registry

    found = _model_run(uri, model_version)
    if found is None:
        return None
    c, run_id = found
    payload = registry.run_json(c, run_id, FAIRNESS_ARTIFACTS[0])
    if payload is None:
        return None
    payload = {**payload, "model_version": model_version, "as_of": as_of, "scored_month": as_of}
    return payload, fairness_html(payload)  # rendered as the fairness page shows this payload


def model_heldout(uri: str, model_version: str) -> pd.DataFrame | None:
    """The rows the model's held-out audits counted (:func:`fairness_households.heldout_rows`
    of the run's held-out predictions), so that the scored month's fairness counts open their
    households; None when the predictions cannot be found."""
    import tempfile

    from mlflow.exceptions import MlflowException

    from assist.reports.fairness_households import heldout_rows

    found = _model_run(uri, model_version)
    if found is None:
        return None
    c, run_id = found
    with tempfile.TemporaryDirectory() as tmp:
        try:
            predictions = pd.read_parquet(c.download_artifacts(run_id, PREDICTIONS_FILE, tmp))
        except (MlflowException, OSError):
            return None
    core = {"household_id", "month", "score", "raw_score", "selected", *TARGETS}
    return heldout_rows(predictions, [g for g in predictions.columns if g not in core])


def training_reference(X: pd.DataFrame, probability: Any, *, seed: int = 0,  # noqa: N803
                       limit: int = REFERENCE_ROWS) -> pd.DataFrame:
    """Indicator values and the model's ``probability`` of (a seeded sample of at most
    ``limit``) households of the last training month, for drift against the training data."""
    out = X.reset_index(drop=True).astype(float)
    out["probability"] = np.asarray(probability, dtype=float)
    if len(out) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(out), limit, replace=False))
        out = out.iloc[keep].reset_index(drop=True)
    return out


def model_reference(uri: str, model_version: str) -> tuple[pd.DataFrame, str] | None:
    """The training reference of a registered model version (``name/version``) and a label
    naming its month; None when it cannot be found."""
    import tempfile

    from mlflow.exceptions import MlflowException

    from assist.errors import InputError
    from assist.experiments import registry, tracking

    name, _, version = model_version.rpartition("/")
    if not name or not version:
        return None
    c = tracking.client(uri)
    try:
        info = registry.version_info(c, name, version)
    except InputError:
        return None
    month = ((info.report or {}).get("model") or {}).get("last_training_month")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = c.download_artifacts(info.run_id, REFERENCE_FILE, tmp)
        except (MlflowException, OSError):
            return None
        frame = pd.read_parquet(local)
    return frame, f"training data of {model_version} ({month or 'last training month'})"


def write_predictions(predictions: pd.DataFrame, path: Path) -> Path:
    """Write the held-out predictions as Parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_parquet(path, index=False)
    return path


def log_to_mlflow(uri: str, run_id: str, paths: Sequence[Path], *, artifact_path: str,
                  metrics: dict[str, float] | None = None) -> None:
    """Attach report files (and headline metrics) to an existing MLflow run."""
    from assist.experiments import tracking

    c = tracking.client(uri)
    for p in paths:
        c.log_artifact(run_id, str(p), artifact_path=artifact_path)
    if metrics:
        tracking.log_values(c, run_id, metrics={k: v for k, v in metrics.items() if v is not None})
