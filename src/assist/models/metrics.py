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
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

ECE_BINS = 10
#: group label of rows whose group value is missing
MISSING_GROUP = "(missing)"


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
    is_prob = n > 0 and bool(np.all((s >= 0.0) & (s <= 1.0)))
    out["brier"] = float(brier_score_loss(y, s, pos_label=1)) if is_prob else None
    out["ece"] = expected_calibration_error(y, s) if is_prob else None
    return out


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
                      k_share: float) -> pd.DataFrame:
    """Metrics overall and per value of each group column, with k = k_share × group size.

    Besides :func:`evaluate`'s columns (``k`` is each group's own capacity), two columns judge
    the overall top ``k_share`` selection: ``selected_share`` (share of the group selected)
    and ``recall_at_overall_k`` (share of the group's positives selected).
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
    rows = [_group_row("(all)", "(all)", np.ones(y.size, dtype=bool), y, s, selected, k_share)]
    for col in groups.columns:
        codes, uniques = pd.factorize(groups[col], sort=True, use_na_sentinel=True)
        labels = [*uniques.tolist(), MISSING_GROUP] if (codes < 0).any() else uniques.tolist()
        for code, label in zip([*range(len(uniques)), -1], labels, strict=False):
            rows.append(_group_row(str(col), label, codes == code, y, s, selected, k_share))
    return pd.DataFrame(rows)


def capacity(k_share: float, n: int) -> int:
    """Rows selected at capacity share ``k_share`` of ``n`` rows: round half up, at least 1."""
    return max(1, int(np.floor(k_share * n + 0.5))) if n else 0


def _group_row(group: str, value: Any, mask: np.ndarray, y: np.ndarray, s: np.ndarray,
               selected: np.ndarray, k_share: float) -> dict[str, Any]:
    n = int(mask.sum())
    row: dict[str, Any] = {"group": group, "value": str(value)}
    row |= evaluate(y[mask], s[mask], k=max(1, capacity(k_share, n)))
    row["k"] = capacity(k_share, n)
    pos = int(y[mask].sum())
    row["selected_share"] = float(selected[mask].mean()) if n else None
    row["recall_at_overall_k"] = float((selected & mask & (y > 0)).sum() / pos) if pos else None
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
