"""Logging a training run to MLflow: parameters, metrics, artifacts (model, report, per-group
metrics, plots, held-out predictions and their fairness audit), registration and model card."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.experiments.config import ExperimentConfig
from assist.models.need import NeedModel
from assist.pipelines import evaluate as ev
from assist.pipelines.dataset import Dataset, MonthData
from assist.pipelines.evaluate import FoldResult

MODEL_FILE = "need_model.json"


@dataclass(eq=False)
class LoggedRun:
    """What logging produced: the run, the registered version and card, the fairness audit."""

    run_id: str
    version: str | None = None
    card: str | None = None
    fairness: tuple[dict[str, Any], str] | None = None


def write_artifacts(folder: Path, *, report: dict[str, Any], model: NeedModel, ds: Dataset,
                    folds: list[FoldResult], groups: pd.DataFrame,
                    explained: tuple[MonthData, pd.DataFrame]) -> tuple[dict[str, Any], str]:
    """The run's files: model, feature list, catalog, report, per-group metrics, plots, the
    held-out predictions and their fairness audit; returns the audit (JSON payload, HTML)."""
    import json

    from assist.experiments import tracking
    from assist.pipelines.heldout import heldout_predictions
    from assist.reports.model import (
        FAIRNESS_ARTIFACTS,
        PREDICTIONS_FILE,
        REFERENCE_FILE,
        fairness_report,
        training_reference,
        write_predictions,
    )

    latest = folds[-1]
    (folder / tracking.MODEL_ARTIFACT).mkdir(parents=True)
    model.save(folder / tracking.MODEL_ARTIFACT / MODEL_FILE)
    catalog = {"name": ds.catalog.name, "version": ds.catalog.version, "ids": ds.catalog.ids,
               "monotone_constraints": ds.catalog.monotone_constraints}
    for name, obj in (("features.json", list(model.feature_names_)), ("catalog.json", catalog),
                      (tracking.REPORT_ARTIFACT, report)):
        (folder / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=_plain),
                                   encoding="utf-8")
    groups.to_csv(folder / "per_group_metrics.csv", index=False)
    _plots(folder, ds, folds, explained)
    last = report["model"]["last_training_month"]
    if last is not None and ds.casebook_only and last not in {m.month for m in ds.months}:
        last = ds.months[-1].month  # a training-only month holds its labelled rows only
    if last in {m.month for m in ds.months}:
        X = ds.month(last).X  # noqa: N806
        training_reference(X, model.calibrate(model.predict_raw(X)),
                           seed=report["model"]["params"]["seed"]).to_parquet(
            folder / REFERENCE_FILE, index=False)
    share = report["capacity"]["share"]
    predictions = write_predictions(heldout_predictions(folds, share=share),
                                    folder / PREDICTIONS_FILE)
    payload, html = fairness_report(pd.read_parquet(predictions), share=share,
                                    groups=list(latest.test.groups.columns),
                                    run_id=report.get("run_id"),
                                    min_positives=report["gate"]["min_positives"])
    (folder / "reports").mkdir()
    (folder / FAIRNESS_ARTIFACTS[0]).write_text(json.dumps(payload, indent=2, ensure_ascii=False,
                                                           allow_nan=False), encoding="utf-8")
    (folder / FAIRNESS_ARTIFACTS[1]).write_text(html, encoding="utf-8")
    return payload, html


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def log_run(c: Any, r: dict[str, Any], *, config: ExperimentConfig, model: NeedModel,
            ds: Dataset, folds: list[FoldResult], uri: str, share: float, register: bool,
            explained: tuple[MonthData, pd.DataFrame]) -> LoggedRun:
    """Log the run to MLflow (``r`` is the run's report; its ``run_id`` is set), register the
    model and log its card."""
    import getpass
    import tempfile

    from assist.experiments import registry, tracking
    from assist.experiments.card import render_card
    from assist.experiments.config import flat_params

    tags = {"config_hash": r["config"]["hash"], "config_version": config.config_version,
            "data.source": ds.source, "data.fingerprint": ds.fingerprint,
            "data.snapshots": f"{ds.snapshots[0]}..{ds.snapshots[-1]}" if ds.snapshots else "-",
            "catalog.name": ds.catalog.name, "catalog.version": ds.catalog.version,
            "validation": "temporal" if ds.temporal else "stratified_kfold",
            "mlflow.user": getpass.getuser()}
    run_id = tracking.start_run(c, uri=uri, experiment=config.tracking.experiment,
                                run_name=f"{config.name}-{r['latest_month']}", tags=tags)
    logged = LoggedRun(run_id=run_id)
    r["run_id"] = run_id
    try:
        params = {**flat_params(config), **{f"lightgbm.{k}": v for k, v in
                  r["model"]["lightgbm"].items()}, "seed": config.model.seed,
                  "data.feature_months": ",".join(r["data"]["feature_months"]),
                  "data.test_months": ",".join(f["name"] for f in r["folds"]),
                  "data.casebook_labels": casebook_param(r["data"].get("casebook_labels"))}
        groups = ev.group_metrics(folds[-1].test, folds[-1].scores, share=share)
        tracking.log_values(c, run_id, params=params,
                            metrics=run_metrics(r) | group_run_metrics(groups))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            logged.fairness = write_artifacts(folder, report=r, model=model, ds=ds,
                                              folds=folds, groups=groups, explained=explained)
            c.log_artifacts(run_id, str(folder))
        if register:
            name = config.tracking.registered_model
            logged.version = tracking.register_version(c, name=name, run_id=run_id, tags={
                **{k: tags[k] for k in ("config_hash", "catalog.name", "catalog.version")},
                "latest_month": r["latest_month"],
                "pooled_precision_at_k": r["pooled"][ev.VERIFIED][ev.MODEL]["precision_at_k"]})
            prev = registry.previous_version(c, name, logged.version)
            logged.card = render_card(r, name=name, version=logged.version, params=c.get_run(
                run_id).data.params, previous=None if prev is None else registry.version_info(
                c, name, prev))
            c.log_text(run_id, logged.card, tracking.CARD_ARTIFACT)
    except BaseException:
        tracking.finish_run(c, run_id, failed=True)
        raise
    tracking.finish_run(c, run_id)
    return logged


def run_metrics(report: dict[str, Any]) -> dict[str, float]:
    """Metrics to log: latest month, folds, production, baselines beaten, disparity ratios."""
    from assist.experiments.tracking import flatten

    out = flatten("latest", report["latest"]) | flatten("pooled", report["pooled"])
    for f in report["folds"]:
        out |= flatten(f"fold.{f['name']}", {k: f[k] for k in (ev.VERIFIED, ev.TRUTH) if f[k]})
    champion = report.get("champion") or {}
    for target in (ev.VERIFIED, ev.TRUTH):
        if champion.get(target):
            out |= flatten(f"latest.{target}.{ev.PRODUCTION}", champion[target])
    cb = report["data"].get("casebook_labels")
    if cb is not None:
        out |= flatten("casebook_labels", {k: cb[k] for k in (
            "rows", "used", "used_in_training", "replaced_verification", "dropped") if k in cb})
    out |= flatten("beats", report["beats_baselines"])
    out |= flatten("beats_pooled", report["beats_baselines_pooled"])
    for key in ("disparity", "disparity_truth"):
        for row in (report.get(key) or {}).get("rows", []):
            if row["ratio"] is not None:
                out |= flatten(key, {row["attribute"]: {row["value"]: {"ratio": row["ratio"],
                                                                      "recall": row["recall"]}}})
    return out


def casebook_param(counts: dict[str, Any] | None) -> str:
    """The case-store label counts as one run parameter (``none`` without extra labels)."""
    if counts is None:
        return "none"
    dropped = ",".join(f"{k}={v}" for k, v in counts["dropped"].items())
    return (f"rows={counts['rows']},used={counts['used']},"
            f"used_in_training={counts.get('used_in_training', 0)},dropped:{dropped}")


def group_run_metrics(groups: pd.DataFrame) -> dict[str, float]:
    """The need model's per-group metrics on the latest test month, as run metrics
    ``group.<target>.<attribute>.<value>.<metric>``."""
    from assist.experiments.tracking import flatten

    out: dict[str, float] = {}
    if groups.empty:
        return out
    rows = groups.loc[(groups["scorer"] == ev.MODEL) & (groups["group"] != "(all)")]
    for r in rows.to_dict("records"):
        values = {m: r[m] for m in ("n", "positives", "precision_at_k", "recall_at_k",
                                     "recall_at_overall_k", "roc_auc", "brier", "ece")}
        out |= flatten(f"group.{r['target']}.{r['group']}.{r['value']}",
                       {k: v for k, v in values.items() if v is not None and v == v})
    return out


def _plots(folder: Path, ds: Dataset, folds: list[FoldResult],
           explained: tuple[MonthData, pd.DataFrame]) -> None:
    """Calibration curves (verified labels pooled; hidden truth of the latest month) and the
    SHAP summary of the explained sample."""
    from assist.experiments import tracking

    pooled = [(f.test.y.to_numpy()[f.test.labelled], {s: f.scores[s].prob[f.test.labelled]
               for s in (ev.MODEL, ev.LOGISTIC)}) for f in folds]
    panels = [("verified labels, test folds pooled", {
        s: (np.concatenate([y for y, _ in pooled]), np.concatenate([p[s] for _, p in pooled]))
        for s in (ev.MODEL, ev.LOGISTIC)})]
    latest = folds[-1]
    t = latest.test
    if t.truth is not None:
        known = t.truth.notna().to_numpy()
        panels.append((f"hidden true need, all households {latest.fold.test}", {
            s: (t.truth.to_numpy()[known], latest.scores[s].prob[known])
            for s in (ev.MODEL, ev.LOGISTIC)}))
    tracking.calibration_plot(folder / "calibration.png", panels)
    sample, contrib = explained
    tracking.shap_summary_plot(folder / "shap_summary.png", contrib[ds.catalog.ids].to_numpy(),
                               sample.X.to_numpy(dtype=float, na_value=np.nan),
                               [f"{i.name_en} ({i.id})" for i in ds.catalog])
