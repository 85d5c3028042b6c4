"""Validation of a training run: folds, fitting and scoring them, baselines and metrics.

Folds roll forward in time: each of the last ``test_folds`` feature months is a test month,
the ``calibration_months`` before it calibrate the probabilities, and every earlier month
trains the trees. Data without months gets stratified k-fold folds instead.

Scores are judged at caseworker capacity k. On a month that holds every household, the k
highest-scored households are selected, and against verified labels ``precision_at_k`` is the
share confirmed among the selected households that were verified the next month,
``recall_at_k`` the share of confirmed households that were selected (the metrics' ``k`` is
the number of verified households selected); ROC-AUC, PR-AUC, Brier and ECE use all
labelled households. Against the simulator's hidden truth every household counts. On a set
of labelled rows only (k-fold), k is the capacity share of those rows.

Baselines (:mod:`assist.pipelines.baselines`): the Alkire–Foster deprivation score and a
logistic regression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from assist.errors import ConfigError, InputError
from assist.experiments.config import ExperimentConfig
from assist.features.catalog import Catalog
from assist.models.metrics import capacity, evaluate, evaluate_by_group, top_k
from assist.models.need import NeedModel
from assist.pipelines.baselines import deprivation_score, fit_logistic, logistic_proba
from assist.pipelines.dataset import Dataset, MonthData

MODEL, LOGISTIC, DEPRIVATION, PRODUCTION = "model", "logistic", "deprivation", "production"
VERIFIED, TRUTH = "verified", "truth"


@dataclass(frozen=True)
class Fold:
    """One validation fold: months (or k-fold parts) to train, calibrate and test on."""

    name: str
    test: str
    calibration: tuple[str, ...]
    train: tuple[str, ...]


def temporal_folds(months: Sequence[str], *, test_folds: int, calibration_months: int,
                   min_train_months: int) -> list[Fold]:
    """Rolling-forward folds over sorted feature months; the last fold is the latest."""
    months = sorted(months)
    need = min_train_months + calibration_months + test_folds
    if len(months) < need:
        span = f" ({months[0]} to {months[-1]})" if months else ""
        raise ConfigError(
            f"section 'validation', field 'test_folds': {test_folds} test fold(s) with "
            f"{calibration_months} calibration month(s) and at least {min_train_months} "
            f"training month(s) need {need} feature months with labels; the data has "
            f"{len(months)}{span}: lower the counts or add months")
    out = []
    for i in range(len(months) - test_folds, len(months)):
        cal = tuple(months[i - calibration_months:i])
        out.append(Fold(name=months[i], test=months[i], calibration=cal,
                        train=tuple(months[:i - calibration_months])))
    return out


def kfold_parts(y: pd.Series, *, folds: int, seed: int) -> np.ndarray:
    """Stratified fold number (0..folds-1) of each labelled row; -1 for unlabelled rows."""
    lab = y.notna().to_numpy()
    labels = y.to_numpy()[lab]
    smallest = int(min((labels == 1).sum(), (labels == 0).sum())) if lab.any() else 0
    if smallest < folds:
        raise InputError(f"stratified {folds}-fold validation needs at least {folds} labelled "
                         f"rows of each class; the smaller class has {smallest}")
    part = np.full(len(y), -1)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for i, (_, test) in enumerate(skf.split(np.zeros(lab.sum()), labels)):
        part[np.flatnonzero(lab)[test]] = i
    return part


def calibration_split(y: np.ndarray, *, share: float, seed: int) -> np.ndarray:
    """Stratified boolean mask of the rows held out for calibration."""
    idx = np.arange(len(y))
    _, cal = train_test_split(idx, test_size=share, stratify=y, random_state=seed)
    mask = np.zeros(len(y), dtype=bool)
    mask[cal] = True
    return mask


def capacity_k(share: float, households: int) -> int:
    """Households selected at capacity share ``share`` of ``households``."""
    return capacity(share, households)


def capacity_share(*, k: int | None, k_pct: float | None, households: int) -> float:
    """Share of households selected: ``k`` households, ``k_pct``, or the smaller of the two."""
    shares = [s for s in (None if k is None else k / max(households, 1), k_pct) if s is not None]
    return float(min(1.0, min(shares)))


# -- metrics ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Scored:
    """A scorer's output on a test set: a ranking score and, if it has one, a probability.

    The need model ranks by its raw score (isotonic calibration may tie households) and is
    judged for calibration on its calibrated probability.
    """

    rank: np.ndarray
    prob: np.ndarray | None = None


def selection(test: MonthData, score: np.ndarray, *, share: float) -> np.ndarray:
    """Boolean mask of the rows selected at capacity (all households, or the labelled rows)."""
    pool = np.ones(len(test.X), bool) if test.complete else test.labelled
    chosen = np.flatnonzero(pool)[top_k(score[pool], capacity(share, int(pool.sum())))]
    mask = np.zeros(len(test.X), dtype=bool)
    mask[chosen] = True
    return mask


def _metrics(y: np.ndarray, scored: Scored, rows: np.ndarray, k: int) -> dict[str, Any]:
    out = evaluate(y, scored.rank[rows], k=k)
    prob = None if scored.prob is None else evaluate(y, scored.prob[rows], k=k)
    return out | {"brier": prob and prob["brier"], "ece": prob and prob["ece"]}


def verified_metrics(test: MonthData, scored: Scored, *, share: float) -> dict[str, Any]:
    """Metrics against verified labels (see the module docstring for k)."""
    lab = test.labelled
    k_in = int(selection(test, scored.rank, share=share)[lab].sum())
    out = _metrics(test.y.to_numpy()[lab], scored, lab, max(k_in, 1))
    if k_in == 0:
        out |= {"k": 0, "precision_at_k": None, "recall_at_k": 0.0 if out["positives"] else None}
    return out


def truth_metrics(test: MonthData, scored: Scored, *, share: float) -> dict[str, Any] | None:
    """Metrics against the hidden true need of every household (None without truth)."""
    if test.truth is None or not test.complete:
        return None
    known = test.truth.notna().to_numpy()
    return _metrics(test.truth.to_numpy()[known], scored, known,
                    max(1, capacity(share, int(known.sum()))))


def evaluate_fold(test: MonthData, scores: Mapping[str, Scored], *,
                  share: float) -> dict[str, Any]:
    """Verified and (when known) true-need metrics of every scorer on one test set."""
    verified = {name: verified_metrics(test, s, share=share) for name, s in scores.items()}
    truth = {name: t for name, s in scores.items()
             if (t := truth_metrics(test, s, share=share)) is not None}
    return {VERIFIED: verified, TRUTH: truth or None}


def group_metrics(test: MonthData, scores: Mapping[str, Scored], *,
                  share: float) -> pd.DataFrame:
    """Per-group metrics of every scorer, against verified labels and (when known) truth."""
    frames = []
    lab = test.labelled
    targets = []
    if lab.any():
        targets.append((VERIFIED, lab, test.y.to_numpy()))
    if test.truth is not None and test.complete:
        targets.append((TRUTH, test.truth.notna().to_numpy(), test.truth.to_numpy()))
    for name, s in scores.items():
        sel = selection(test, s.rank, share=share)
        for target, rows, y in targets:
            k_share = share if target == TRUTH or not test.complete else \
                min(1.0, max(1, sel[rows].sum()) / rows.sum())
            groups = test.groups.loc[rows].reset_index(drop=True)
            prob = None if s.prob is None else s.prob[rows]  # brier and ece judge it
            df = evaluate_by_group(y[rows], s.rank[rows], groups, k_share=k_share, prob=prob)
            df[["brier", "ece"]] = np.nan if prob is None else \
                df[["brier", "ece"]].to_numpy(dtype=float, na_value=np.nan)
            frames.append(df.assign(target=target, scorer=name))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    out["value"] = out["value"].astype(str)
    first = ["target", "scorer", "group", "value"]
    return out[first + [c for c in out.columns if c not in first]]


def pooled(fold_metrics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Precision and recall at capacity pooled over test folds (hits and selections summed):
    the steadier estimate when each month has few verified households."""
    out: dict[str, Any] = {}
    for target in (VERIFIED, TRUTH):
        blocks = [f[target] for f in fold_metrics if f.get(target)]
        if not blocks:
            continue
        out[target] = {}
        for scorer in blocks[0]:
            ms = [b[scorer] for b in blocks if scorer in b]
            k = sum(m["k"] for m in ms)
            hits = sum(round((m["precision_at_k"] or 0.0) * m["k"]) for m in ms)
            positives = sum(m["positives"] for m in ms)
            out[target][scorer] = {"precision_at_k": hits / k if k else None,
                                   "recall_at_k": hits / positives if positives else None,
                                   "k": k, "positives": positives,
                                   "n": sum(m["n"] for m in ms), "folds": len(ms)}
    return out


def comparison(latest: Mapping[str, Any], metric: str = "precision_at_k") -> dict[str, Any]:
    """Whether the model beats each baseline on ``metric`` (verified, and truth when known)."""
    out: dict[str, Any] = {}
    for target in (VERIFIED, TRUTH):
        block = latest.get(target)
        if not block or MODEL not in block:
            continue
        mine = block[MODEL].get(metric)
        out[target] = {name: (None if mine is None or m.get(metric) is None
                              else bool(mine > m[metric]))
                       for name, m in block.items() if name != MODEL}
    return out


# -- fitting and scoring folds ------------------------------------------------------------
@dataclass(eq=False)
class FoldResult:
    """A trained fold: its models, test set, scores and metrics."""

    fold: Fold
    model: NeedModel
    logistic: Pipeline
    test: MonthData
    scores: dict[str, Scored]
    metrics: dict[str, Any]
    n_train: int
    n_train_positives: int
    n_calibration: int


def _labelled(months: list[MonthData]) -> tuple[pd.DataFrame, np.ndarray, list[np.ndarray]]:
    parts = [m.subset(m.labelled) for m in months]
    X = pd.concat([p.X for p in parts])  # noqa: N806
    return X, pd.concat([p.y for p in parts]).to_numpy(), [p.y.to_numpy() for p in parts]


def _shuffled(ys: list[np.ndarray], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(y) for y in ys]) if ys else np.empty(0)


def new_model(config: ExperimentConfig, catalog: Catalog) -> NeedModel:
    """An unfitted need model with the config's parameters."""
    m = config.model
    return NeedModel(catalog, n_estimators=m.n_estimators, num_leaves=m.num_leaves,
                     learning_rate=m.learning_rate, min_child_samples=m.min_child_samples,
                     seed=m.seed, num_threads=m.num_threads, calibration=m.calibration)


def fit_models(config: ExperimentConfig, catalog: Catalog, train: list[MonthData],
               calibration: list[MonthData], *, where: str) -> tuple[NeedModel, Pipeline, dict]:
    """Fit the need model (trees on ``train``, calibration on ``calibration``) and the
    logistic baseline (on both)."""
    X, y, ys = _labelled(train)  # noqa: N806
    Xc, yc, ycs = _labelled(calibration)  # noqa: N806
    for what, labels in (("training", y), ("calibration", yc)):
        if np.unique(labels).size < 2:
            raise InputError(f"{where}: the {what} months hold {labels.size} labelled "
                             f"example(s) of one class only; add months or lower "
                             "validation.calibration_months / test_folds")
    logistic = fit_logistic(pd.concat([X, Xc]), np.concatenate([y, yc]),
                            c=config.baselines.logistic_c)
    sizes = {"n_train": len(y), "n_train_positives": int(y.sum()), "n_calibration": len(yc)}
    if config.validation.shuffle_labels:  # negative control: the need model must get worse
        y, yc = _shuffled(ys, config.model.seed), _shuffled(ycs, config.model.seed + 1)
    model = new_model(config, catalog).fit(X, y, X_cal=Xc, y_cal=yc)
    return model, logistic, sizes


def score(model: NeedModel, logistic: Pipeline | None, test: MonthData, catalog: Catalog,
          *, deprivation_k: float) -> dict[str, Scored]:
    """Scores of the need model and the baselines on a test set."""
    raw = model.predict_raw(test.X)
    out = {MODEL: Scored(raw, model.calibrate(raw))}
    if logistic is not None:
        p = logistic_proba(logistic, test.X)
        out[LOGISTIC] = Scored(p, p)
    out[DEPRIVATION] = Scored(deprivation_score(test.X, catalog, k=deprivation_k))
    return out


def run_folds(config: ExperimentConfig, ds: Dataset, *, share: float,
              progress: Progress | None = None) -> list[FoldResult]:
    """Train and score every fold (temporal, or stratified k-fold without months)."""
    v = config.validation
    if ds.temporal:
        folds = temporal_folds([m.month for m in ds.months], test_folds=v.test_folds,
                               calibration_months=v.calibration_months,
                               min_train_months=v.min_train_months)
        plans = [(f, [ds.month(m) for m in f.train], [ds.month(m) for m in f.calibration],
                  ds.month(f.test)) for f in folds]
    else:
        plans = _kfold_plans(config, ds.months[0])
    task = progress.add_task("training folds", total=len(plans)) if progress else None
    out = []
    for fold, train, cal, test in plans:
        model, logistic, sizes = fit_models(config, ds.catalog, train, cal,
                                            where=f"fold {fold.name}")
        scores = score(model, logistic, test, ds.catalog,
                       deprivation_k=config.baselines.deprivation_k)
        out.append(FoldResult(fold=fold, model=model, logistic=logistic, test=test, scores=scores,
                              metrics=evaluate_fold(test, scores, share=share), **sizes))
        if progress is not None and task is not None:
            progress.advance(task)
    return out


def _kfold_plans(config: ExperimentConfig, data: MonthData) -> list[tuple]:
    v, seed = config.validation, config.model.seed
    part = kfold_parts(data.y, folds=v.kfold, seed=seed)
    plans = []
    for i in range(v.kfold):
        rest = np.flatnonzero((part >= 0) & (part != i))
        cal = calibration_split(data.y.to_numpy()[rest], share=v.calibration_share, seed=seed + i)
        fold = Fold(name=f"fold-{i + 1}", test=f"fold-{i + 1}",
                    calibration=(f"{v.calibration_share:.0%} of the other folds",),
                    train=("the other folds",))
        plans.append((fold, [_rows(data, rest[~cal])], [_rows(data, rest[cal])],
                       _rows(data, np.flatnonzero(part == i))))
    return plans


def _rows(data: MonthData, positions: np.ndarray) -> MonthData:
    mask = np.zeros(len(data.y), dtype=bool)
    mask[positions] = True
    return data.subset(mask)


def final_model(config: ExperimentConfig, ds: Dataset,
                latest: FoldResult) -> tuple[NeedModel, str, str | None]:
    """The model to register (the latest fold's, or refit on every month: ``model.final``),
    what it is in words, and the last feature month it learned from (None without months)."""
    if config.model.final == "latest_fold":
        seen = max((*latest.fold.train, *latest.fold.calibration)) if ds.temporal else None
        return latest.model, (f"the latest fold's model (trees on {', '.join(latest.fold.train)}, "
                              f"calibrated on {', '.join(latest.fold.calibration)}), evaluated "
                              "as registered"), seen
    if ds.temporal:
        months = list(ds.months)
        c = config.validation.calibration_months
        model, _, _ = fit_models(config, ds.catalog, months[:-c], months[-c:], where="refit")
        return model, (f"refit on {months[0].month}..{months[-c - 1].month}, calibrated on "
                       f"{', '.join(m.month for m in months[-c:])}; metrics are the latest "
                       "fold's, which had fewer months"), months[-1].month
    data = ds.months[0]
    lab = np.flatnonzero(data.labelled)
    cal = calibration_split(data.y.to_numpy()[lab], share=config.validation.calibration_share,
                            seed=config.model.seed)
    model, _, _ = fit_models(config, ds.catalog, [_rows(data, lab[~cal])],
                             [_rows(data, lab[cal])], where="refit")
    return model, "refit on all labelled rows; metrics are the k-fold estimates", None
