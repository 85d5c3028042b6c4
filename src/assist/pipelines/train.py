"""Stage ``train``: examples -> validation folds -> need model and baselines -> MLflow run.

One run: build the examples (:mod:`assist.pipelines.dataset`), train and score the need
model, the logistic regression and the deprivation index on every fold
(:mod:`assist.pipelines.evaluate`), score the current production model on the latest test
month when it fits the running code, then log params, metrics, plots and the model to MLflow,
register it as a new version and log its model card.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress
from rich.table import Table

from assist.experiments.config import ExperimentConfig, config_hash
from assist.features.catalog import Catalog
from assist.models.need import IncompatibleModelError, NeedModel
from assist.pipelines import evaluate as ev
from assist.pipelines.dataset import Dataset, MonthData, dataset_from_config
from assist.pipelines.evaluate import FoldResult, final_model, run_folds
from assist.settings import Settings

MODEL_FILE = "need_model.json"


@dataclass(eq=False)
class TrainResult:
    """What ``assist train`` produced."""

    report: dict[str, Any]
    run_id: str | None = None
    version: str | None = None
    card: str | None = None
    seconds: float = 0.0
    #: the model's fairness report on its held-out months (JSON payload, HTML page)
    fairness: tuple[dict[str, Any], str] | None = None

    def tables(self) -> list[Table]:
        """Latest-test-month metrics of the model, baselines and production, per target."""
        r = self.report
        champion = r.get("champion") or {}
        out = []
        for target, title in ((ev.VERIFIED, "verified labels (visited households)"),
                              (ev.TRUTH, "hidden true need (all households)")):
            block = dict(r["latest"].get(target) or {})
            if not block:
                continue
            if champion.get(target):
                block[f"production v{champion['version']}"] = champion[target]
            t = Table(title=f"{r['latest_month']} vs {title}, k = {r['capacity']['k']:,}")
            for col in ("scorer", "p@k", "r@k", "ROC-AUC", "PR-AUC", "Brier", "ECE", "k", "n"):
                t.add_column(col, justify="left" if col == "scorer" else "right")
            for scorer, m in block.items():
                t.add_row(scorer, *[_cell(m.get(k)) for k in (
                    "precision_at_k", "recall_at_k", "roc_auc", "pr_auc", "brier", "ece", "k",
                    "n")])
            out.append(t)
        return out


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:,}" if isinstance(v, int) else f"{v:.3f}"


def champion_scores(c: Any, config: ExperimentConfig, ds: Dataset, latest: FoldResult, *,
                    share: float) -> dict[str, Any] | None:
    """Metrics of the current production model on the latest test month, when it exists and
    fits the running code (else a note)."""
    from assist.experiments import registry

    name = config.tracking.registered_model
    version = registry.production_version(c, name)
    if version is None or not ds.temporal:
        return None
    seen = (registry.version_info(c, name, version).report or {}).get("model", {}).get(
        "last_training_month")
    if seen is None or seen >= latest.fold.test:
        return {"version": version, "note": f"was not scored: it was trained on months up to "
                                            f"{seen}, not before the test month {latest.fold.test}"}
    try:
        model = load_version(c, name=name, version=version, catalog=ds.catalog)
    except IncompatibleModelError as exc:
        return {"version": version, "note": f"was not scored: {exc}"}
    raw = model.predict_raw(latest.test.X)
    metrics = ev.evaluate_fold(latest.test, {ev.PRODUCTION: ev.Scored(raw, model.calibrate(raw))},
                               share=share)
    return {"version": version, "verified": metrics[ev.VERIFIED][ev.PRODUCTION],
            "truth": (metrics[ev.TRUTH] or {}).get(ev.PRODUCTION)}


def load_version(c: Any, *, name: str, version: str, catalog: Catalog) -> NeedModel:
    """A registered version's need model, refused unless it matches ``catalog`` (features
    and catalog version)."""
    import tempfile

    from assist.experiments import registry, tracking

    info = registry.version_info(c, name, version, with_report=False)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(c.download_artifacts(info.run_id, tracking.MODEL_ARTIFACT, tmp))
        return NeedModel.load(local / MODEL_FILE, expected_features=catalog.ids,
                              expected_catalog_version=catalog.version)


def build_report(config: ExperimentConfig, ds: Dataset, folds: list[FoldResult],
                 model: NeedModel, *, share: float, households: int,
                 champion: dict[str, Any] | None, final_note: str, last_month: str | None,
                 explained: tuple[MonthData, pd.DataFrame]) -> dict[str, Any]:
    """The run's report (JSON-safe): data, folds, latest metrics, disparity, explanations."""
    from datetime import UTC, datetime

    from assist.experiments.registry import recall_disparity
    from assist.models.explain import global_summary

    latest, g = folds[-1], config.gate
    fold_reports = [{"name": f.fold.name, "test": f.fold.test, "train": list(f.fold.train),
                     "calibration": list(f.fold.calibration), "n_train": f.n_train,
                     "n_train_positives": f.n_train_positives, "n_calibration": f.n_calibration,
                     **f.metrics} for f in folds]
    selected = [(f.test, ev.selection(f.test, f.scores[ev.MODEL].rank, share=share)) for f in folds]
    attrs = [a for a in g.attributes if a in latest.test.groups.columns]
    band = {"attributes": attrs, "min_positives": g.min_positives, "min_ratio": g.min_ratio,
            "max_ratio": g.max_ratio}
    verified = _stacked(selected, ev.VERIFIED)
    truth = _stacked([(t, s) for t, s in selected if t.truth is not None], ev.TRUTH)
    sample, contrib = explained
    summary = global_summary(contrib, sample.X, ds.catalog)
    validation = (f"temporal: {len(folds)} test month(s) rolling forward, each trained on all "
                  f"earlier months with the {config.validation.calibration_months} latest held "
                  "out for calibration" if ds.temporal else
                  f"stratified {config.validation.kfold}-fold over labelled rows (no months: "
                  "temporal validation was not possible)")
    notes = list(ds.notes)
    if champion and champion.get("note"):
        notes.append(f"production version {champion['version']} {champion['note']}")
    return {
        "config": {"name": config.name, "version": config.config_version,
                   "hash": config_hash(config), "description": config.description},
        "trained_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "data": {"source": ds.source, "fingerprint": ds.fingerprint,
                 "snapshots": list(ds.snapshots), "feature_months": [m.month for m in ds.months],
                 "label_months": [m.label_month for m in ds.months if m.label_month],
                 "labels": ds.label_counts(), "truth": ds.truth_source, "temporal": ds.temporal,
                 "validation": validation},
        "capacity": {"k": ev.capacity_k(share, households), "share": share,
                     "households": households},
        "model": {"params": config.model.model_dump(), "lightgbm": model.lightgbm_params(),
                  "catalog": {"name": ds.catalog.name, "version": ds.catalog.version},
                  "features": list(model.feature_names_), "calibration": model.calibration_,
                  "n_train": model.n_train_, "final_note": final_note,
                  "last_training_month": last_month},
        "folds": fold_reports,
        "latest_month": latest.fold.test,
        "latest": latest.metrics,
        "pooled": ev.pooled(fold_reports),
        "beats_baselines": ev.comparison(latest.metrics),
        "beats_baselines_pooled": ev.comparison(ev.pooled(fold_reports)),
        "disparity": recall_disparity(*verified, **band),
        "disparity_truth": recall_disparity(*truth, **band, target=ev.TRUTH) if truth else None,
        "gate": {**band, "tolerance": g.tolerance},
        "champion": champion if champion and "note" not in champion else None,
        "explanations": {"n": summary.n, "indicators": [r.to_dict() for r in summary.indicators],
                         "causes": [r.to_dict() for r in summary.causes]},
        "notes": notes,
    }


def _stacked(tests: list[tuple[MonthData, np.ndarray]], target: str) -> tuple | None:
    """Groups, outcomes and selection masks of several test sets, stacked (None when empty)."""
    if not tests:
        return None
    y = [t.truth.to_numpy() if target == ev.TRUTH else t.y.to_numpy() for t, _ in tests]
    return (pd.concat([t.groups for t, _ in tests], ignore_index=True), np.concatenate(y),
            np.concatenate([s for _, s in tests]))


def explain_sample(model: NeedModel, test: MonthData, *, seed: int,
                   limit: int = 5000) -> tuple[MonthData, pd.DataFrame]:
    """TreeSHAP contributions of (a seeded sample of) the latest test month's households."""
    from assist.models.explain import contributions

    if len(test.X) > limit:
        keep = np.zeros(len(test.X), dtype=bool)
        keep[np.random.default_rng(seed).choice(len(test.X), limit, replace=False)] = True
        test = test.subset(keep)
    return test, contributions(model, test.X)


def write_artifacts(folder: Path, *, report: dict[str, Any], model: NeedModel, ds: Dataset,
                    folds: list[FoldResult], groups: pd.DataFrame,
                    explained: tuple[MonthData, pd.DataFrame]) -> tuple[dict[str, Any], str]:
    """The run's files: model, feature list, catalog, report, per-group metrics, plots, the
    held-out predictions and their fairness audit; returns the audit (JSON payload, HTML)."""
    import json

    from assist.experiments import tracking
    from assist.pipelines.report_model import (
        FAIRNESS_ARTIFACTS,
        PREDICTIONS_FILE,
        REFERENCE_FILE,
        fairness_report,
        heldout_predictions,
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
    pooled = [(f.test.y.to_numpy()[f.test.labelled], {s: f.scores[s].prob[f.test.labelled]
               for s in (ev.MODEL, ev.LOGISTIC)}) for f in folds]
    panels = [("verified labels, test folds pooled", {
        s: (np.concatenate([y for y, _ in pooled]), np.concatenate([p[s] for _, p in pooled]))
        for s in (ev.MODEL, ev.LOGISTIC)})]
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
    last = report["model"]["last_training_month"]
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


def log_run(c: Any, result: TrainResult, *, config: ExperimentConfig, model: NeedModel,
            ds: Dataset, folds: list[FoldResult], uri: str, share: float, register: bool,
            explained: tuple[MonthData, pd.DataFrame]) -> None:
    """Log the run to MLflow, register the model and log its card (fills ``result``)."""
    import getpass
    import tempfile

    from assist.experiments import registry, tracking
    from assist.experiments.card import render_card
    from assist.experiments.config import flat_params

    r = result.report
    tags = {"config_hash": r["config"]["hash"], "config_version": config.config_version,
            "data.source": ds.source, "data.fingerprint": ds.fingerprint,
            "data.snapshots": f"{ds.snapshots[0]}..{ds.snapshots[-1]}" if ds.snapshots else "-",
            "catalog.name": ds.catalog.name, "catalog.version": ds.catalog.version,
            "validation": "temporal" if ds.temporal else "stratified_kfold",
            "mlflow.user": getpass.getuser()}
    run_id = tracking.start_run(c, uri=uri, experiment=config.tracking.experiment,
                                run_name=f"{config.name}-{r['latest_month']}", tags=tags)
    result.run_id = r["run_id"] = run_id
    try:
        params = {**flat_params(config), **{f"lightgbm.{k}": v for k, v in
                  r["model"]["lightgbm"].items()}, "seed": config.model.seed,
                  "data.feature_months": ",".join(r["data"]["feature_months"]),
                  "data.test_months": ",".join(f["name"] for f in r["folds"])}
        groups = ev.group_metrics(folds[-1].test, folds[-1].scores, share=share)
        tracking.log_values(c, run_id, params=params,
                            metrics=run_metrics(r) | group_run_metrics(groups))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            result.fairness = write_artifacts(folder, report=r, model=model, ds=ds,
                                              folds=folds, groups=groups, explained=explained)
            c.log_artifacts(run_id, str(folder))
        if register:
            name = config.tracking.registered_model
            result.version = tracking.register_version(c, name=name, run_id=run_id, tags={
                **{k: tags[k] for k in ("config_hash", "catalog.name", "catalog.version")},
                "latest_month": r["latest_month"],
                "pooled_precision_at_k": r["pooled"][ev.VERIFIED][ev.MODEL]["precision_at_k"]})
            prev = registry.previous_version(c, name, result.version)
            result.card = render_card(r, name=name, version=result.version, params=c.get_run(
                run_id).data.params, previous=None if prev is None else registry.version_info(
                c, name, prev))
            c.log_text(run_id, result.card, tracking.CARD_ARTIFACT)
    except BaseException:
        tracking.finish_run(c, run_id, failed=True)
        raise
    tracking.finish_run(c, run_id)


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
    out |= flatten("beats", report["beats_baselines"])
    out |= flatten("beats_pooled", report["beats_baselines_pooled"])
    for key in ("disparity", "disparity_truth"):
        for row in (report.get(key) or {}).get("rows", []):
            if row["ratio"] is not None:
                out |= flatten(key, {row["attribute"]: {row["value"]: {"ratio": row["ratio"],
                                                                      "recall": row["recall"]}}})
    return out


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


def run_training(*, config: ExperimentConfig, base_dir: Path, settings: Settings,
                 register: bool | None = None, track: bool = True,
                 progress: Progress | None = None) -> TrainResult:
    """Train, validate and (with ``track``) log and register a need model as configured."""
    from assist.experiments import tracking

    t0 = time.perf_counter()
    ds = dataset_from_config(config, base_dir=base_dir, settings=settings, progress=progress)
    households = len(ds.months[-1].X)
    share = ev.capacity_share(k=config.capacity.k, k_pct=config.capacity.k_pct,
                              households=households)
    folds = run_folds(config, ds, share=share, progress=progress)
    c = tracking.client(settings.mlflow_uri) if track else None
    champion = champion_scores(c, config, ds, folds[-1], share=share) if track else None
    model, final_note, last_month = final_model(config, ds, folds[-1])
    explained = explain_sample(model, folds[-1].test, seed=config.model.seed)
    result = TrainResult(report=build_report(config, ds, folds, model, share=share,
                                             households=households, champion=champion,
                                             final_note=final_note, last_month=last_month,
                                             explained=explained))
    if track:
        task = progress.add_task("logging to MLflow", total=None) if progress else None
        log_run(c, result, config=config, model=model, ds=ds, folds=folds,
                uri=settings.mlflow_uri, share=share, explained=explained,
                register=config.tracking.register_versions if register is None else register)
        if progress is not None and task is not None:
            progress.update(task, total=1, completed=1)
        write_model_fairness(settings.workspace, result,
                             name=config.tracking.registered_model)
    result.seconds = time.perf_counter() - t0
    return result


def write_model_fairness(workspace: Path, result: TrainResult, *, name: str) -> list[Path]:
    """Write the run's fairness report to ``<workspace>/reports/model-<version>/`` (``run-<id>``
    when not registered), where the API and pages find it."""
    from assist.pipelines.report import write_report

    if result.fairness is None:
        return []
    payload, html = result.fairness
    label = f"model-{result.version}" if result.version else f"run-{result.run_id}"
    payload = {**payload, "as_of": label,
               "model_version": f"{name}/{result.version}" if result.version else None}
    return write_report(Path(workspace) / "reports" / label, "fairness", payload, html)
