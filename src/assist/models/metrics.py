"""Evaluation of need scores: ranking at caseworker capacity, probability quality, per group.

Every metric is declared once in :data:`METRICS` with its direction of goodness. A metric that
is undefined on the data (AUC with one class, recall without positives, Brier on scores outside
[0, 1], anything on zero rows) is ``None``, never an exception or a warning.

- ``precision_at_k`` / ``recall_at_k``: the ``k`` highest scores are selected (ties broken by
  row order, first rows first); with ``k > n`` all ``n`` rows are selected, so precision is
  ``hits / min(k, n)`` and recall ``hits / positives``.
- ``ece``: expected calibration error over 10 equal-width probability bins ``[0, 0.1), ...,
  [0.9, 1.0]`` (bin ``min(floor(10 p), 9)``): ``sum_b n_b / n * |mean(y_b) - mean(p_b)|``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from assist.models.groups import MISSING_GROUP, group_metrics

__all__ = ["ECE_BINS", "METRICS", "MISSING_GROUP", "MetricSpec", "capacity", "evaluate",
           "evaluate_by_group", "expected_calibration_error", "top_k"]

ECE_BINS = 10


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its key, whether larger is better (``None``: a count), and its meaning."""

    name: str
    greater_is_better: bool | None
    description: str


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("n", None, "rows evaluated"),
    MetricSpec("positives", None, "rows with outcome 1"),
    MetricSpec("base_rate", None, "share of rows with outcome 1"),
    MetricSpec("k", None, "capacity: rows selected by highest score"),
    MetricSpec("roc_auc", True, "ROC-AUC: chance a random positive outranks a random negative"),
    MetricSpec("pr_auc", True, "PR-AUC as average precision"),
    MetricSpec("precision_at_k", True, "share of the k selected rows that are positive"),
    MetricSpec("recall_at_k", True, "share of positives among the k selected rows"),
    MetricSpec("brier", False, "mean squared error of the probability"),
    MetricSpec("ece", False, "expected calibration error, 10 equal-width bins"),
)


def evaluate(y_true: Any, score: Any, *, k: int) -> dict[str, Any]:
    """All metrics of :data:`METRICS` for one set of rows (undefined ones are ``None``)."""
    y, s = _arrays(y_true, score)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n, pos = y.size, int(y.sum())
    out: dict[str, Any] = {"n": n, "positives": pos, "base_rate": pos / n if n else None,
                           "k": int(k)}
    both = 0 < pos < n
    out["roc_auc"] = float(roc_auc_score(y, s)) if both else None
    out["pr_auc"] = float(average_precision_score(y, s)) if pos else None
    hits = int(y[top_k(s, k)].sum())
    out["precision_at_k"] = hits / min(k, n) if n else None
    out["recall_at_k"] = hits / pos if pos else None
    return out | _probability_quality(y, s)


def _probability_quality(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """Brier and ECE of ``p`` (``None`` when ``p`` is not a probability, or without rows)."""
    is_prob = y.size > 0 and bool(np.all((p >= 0.0) & (p <= 1.0)))
    return {"brier": float(brier_score_loss(y, p, pos_label=1)) if is_prob else None,
            "ece": expected_calibration_error(y, p) if is_prob else None}


def top_k(score: Any, k: int) -> np.ndarray:
    """Row positions of the k highest scores, highest first; ties keep row order."""
    s = np.asarray(score, dtype=float)
    return np.argsort(-s, kind="stable")[:k]


def expected_calibration_error(y_true: Any, prob: Any, *, bins: int = ECE_BINS) -> float | None:
    """Bin-size-weighted mean |observed rate - mean probability| over equal-width bins."""
    y, p = _arrays(y_true, prob)
    if y.size == 0:
        return None
    b = np.minimum(np.floor(p * bins).astype(int), bins - 1)
    count = np.bincount(b, minlength=bins)
    gap = np.abs(np.bincount(b, weights=y, minlength=bins)
                 - np.bincount(b, weights=p, minlength=bins))
    # sum_b n_b/n * |sum_y/n_b - sum_p/n_b| = sum_b |sum_y - sum_p| / n
    return float(gap[count > 0].sum() / y.size)


def evaluate_by_group(y_true: Any, score: Any, groups: pd.DataFrame, *,
                      k_share: float, prob: Any = None) -> pd.DataFrame:
    """Metrics overall and per value of each group column, with k = k_share × group size.

    Besides :func:`evaluate`'s columns (``k`` is each group's own capacity), two columns judge
    the overall top ``k_share`` selection: ``selected_share`` (share of the group selected)
    and ``recall_at_overall_k`` (share of the group's positives selected). Groups come from
    :func:`assist.models.groups.group_metrics`: ordered by value, missing values last.
    With ``prob`` (a probability per row), ``brier`` and ``ece`` judge it instead of ``score``.
    """
    y, s = _arrays(y_true, score)
    if not 0 < k_share <= 1:
        raise ValueError(f"k_share must lie in (0, 1], got {k_share}")
    if len(groups) != y.size:
        raise ValueError(f"groups has {len(groups)} rows, y_true and score have {y.size}")
    for name, obj in (("y_true", y_true), ("score", score)):
        if isinstance(obj, pd.Series) and not obj.index.equals(groups.index):
            raise ValueError(f"{name} and groups must have the same index (rows in order)")
    selected = np.zeros(y.size, dtype=bool)
    selected[top_k(s, capacity(k_share, y.size))] = True
    params = {"selected": selected} | ({} if prob is None else {"prob": _arrays(y, prob)[1]})
    spec = {"metrics": partial(_at_capacity, k_share=k_share)}
    # one column at a time: its groups, not combinations with the other columns' groups
    frames = [group_metrics(y, s, groups.iloc[:, [i]], spec, params=params)
              for i in range(groups.shape[1])]
    overall = frames[0].overall if frames else group_metrics(
        y, s, groups.iloc[:, :0], spec, params=params).overall
    rows = [{"group": "(all)", "value": "(all)", **overall}]
    for col, frame in zip(groups.columns, frames, strict=True):
        by = frame.by_group
        rows += [{"group": str(col), "value": str(value), **r}
                 for value, r in zip(by.index, by.to_dict("records"), strict=True)]
    return pd.DataFrame(rows)


def capacity(k_share: float, n: int) -> int:
    """Rows selected at capacity share ``k_share`` of ``n`` rows: round half up, at least 1."""
    return max(1, int(np.floor(k_share * n + 0.5))) if n else 0


def _at_capacity(y_true: Any, score: Any, *, selected: Any, k_share: float,
                 prob: Any = None) -> dict[str, Any]:
    """:func:`evaluate` of one group at its own capacity, and its share of the overall top k."""
    y, s = _arrays(y_true, score)
    chosen = np.asarray(selected, dtype=bool).ravel()
    n, pos = y.size, int(y.sum())
    row = evaluate(y, s, k=max(1, capacity(k_share, n)))
    if prob is not None:
        row |= _probability_quality(*_arrays(y, prob))
    row["k"] = capacity(k_share, n)
    row["selected_share"] = float(chosen.mean()) if n else None
    row["recall_at_overall_k"] = float((chosen & (y > 0)).sum() / pos) if pos else None
    return row


def _arrays(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).ravel()
    s = np.asarray(score, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true has {y.size} values, score has {s.size}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold 0/1 outcomes (no missing values)")
    if np.isnan(s).any():
        raise ValueError("score has missing values")
    return y, s
