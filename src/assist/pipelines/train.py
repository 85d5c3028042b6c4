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

from assist.experiments.config import ExperimentConfig, config_hash, resolve
from assist.features.catalog import Catalog
from assist.models.need import IncompatibleModelError, NeedModel
from assist.pipelines import evaluate as ev
from assist.pipelines.dataset import Dataset, MonthData, dataset_from_config
from assist.pipelines.evaluate import FoldResult, final_model, run_folds
from assist.pipelines.mlflow_run import MODEL_FILE, log_run
from assist.pipelines.population import calibrate_for_population
from assist.pipelines.population import note as population_note
from assist.settings import Settings


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
                 "labels": ds.label_counts(), "casebook_labels": ds.casebook,
                 "truth": ds.truth_source, "temporal": ds.temporal,
                 "validation": _validation(config, ds, len(folds))},
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


def final_with_casebook(config: ExperimentConfig, ds: Dataset,
                        latest: FoldResult) -> tuple[NeedModel, str, str | None]:
    """The model to register (:func:`~assist.pipelines.evaluate.final_model`), its trees refit
    to also learn the case-store labels of months its trees did not train on (calibration and
    test months, the training-only last month); calibration then leaves those rows out.
    ``ds.casebook['used_in_training']`` says how many case-store labels the trees learned."""
    model, note, last = final_model(config, ds, latest)
    if ds.casebook is None or not ds.temporal:
        return model, note, last
    c = config.validation.calibration_months
    if config.model.final == "latest_fold":
        train, cal = list(latest.fold.train), list(latest.fold.calibration)
    else:
        train, cal = [m.month for m in ds.months[:-c]], [m.month for m in ds.months[-c:]]
    trees = [ds.month(m) for m in train]
    fresh = [m.subset(m.from_casebook & m.labelled)
             for m in (*ds.months, *ds.casebook_only) if m.month not in train]
    fresh = [m for m in fresh if len(m.y)]
    learned = sum(int((m.from_casebook & m.labelled).sum()) for m in trees)
    ds.casebook["used_in_training"] = learned + sum(len(m.y) for m in fresh)
    if not fresh:
        return model, note, last
    calibration = [ds.month(m).subset(~ds.month(m).from_casebook) for m in cal]
    model, _, _ = ev.fit_models(config, ds.catalog, trees + fresh, calibration,
                                where="final model with case-store labels")
    months = [m.month for m in fresh]
    note = (f"{note}; trees refit with the {sum(len(m.y) for m in fresh):,} case-store label(s) "
            f"of {', '.join(months)} that no fold trained on (the metrics are of the model "
            "without them)")
    return model, note, max(filter(None, (last, *months)))


def _validation(config: ExperimentConfig, ds: Dataset, folds: int) -> str:
    """How the run was validated, in words."""
    if ds.temporal:
        return (f"temporal: {folds} test month(s) rolling forward, each trained on all earlier "
                f"months with the {config.validation.calibration_months} latest held out for "
                "calibration")
    return (f"stratified {config.validation.kfold}-fold over labelled rows (no months: temporal "
            "validation was not possible)")


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
    model, final_note, last_month = final_with_casebook(config, ds, folds[-1])
    extra = config.data.extra_labels
    q = config.labels
    model, population = calibrate_for_population(
        model, ds, resolve(extra, base_dir) if extra else None,
        quality=(q.sensitivity, q.specificity) if q.sensitivity and q.specificity else None)
    if extra:
        final_note = f"{final_note}; {population_note(population)}"
    explained = explain_sample(model, folds[-1].test, seed=config.model.seed)
    result = TrainResult(report=build_report(config, ds, folds, model, share=share,
                                             households=households, champion=champion,
                                             final_note=final_note, last_month=last_month,
                                             explained=explained))
    if track:
        task = progress.add_task("logging to MLflow", total=None) if progress else None
        logged = log_run(c, result.report, config=config, model=model, ds=ds, folds=folds,
                         uri=settings.mlflow_uri, share=share, explained=explained,
                         register=config.tracking.register_versions if register is None
                         else register)
        result.run_id, result.version = logged.run_id, logged.version
        result.card, result.fairness = logged.card, logged.fairness
        if progress is not None and task is not None:
            progress.update(task, total=1, completed=1)
        write_model_fairness(settings.workspace, result,
                             name=config.tracking.registered_model)
    result.seconds = time.perf_counter() - t0
    return result


def write_model_fairness(workspace: Path, result: TrainResult, *, name: str) -> list[Path]:
    """Write the run's fairness report to ``<workspace>/reports/model-<version>/`` (``run-<id>``
    when not registered), where the API and pages find it."""
    from assist.reports.report import write_report

    if result.fairness is None:
        return []
    payload, html = result.fairness
    label = f"model-{result.version}" if result.version else f"run-{result.run_id}"
    payload = {**payload, "as_of": label,
               "model_version": f"{name}/{result.version}" if result.version else None}
    return write_report(Path(workspace) / "reports" / label, "fairness", payload, html)
