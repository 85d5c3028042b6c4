"""Fairness audit of any scored table: confusion-matrix rates per group and their disparities.

For social assistance the harm is being *missed*: a household in need that the list never
reaches. Recall (TPR) and its complement FNR are therefore the headline metrics of this audit;
selection-rate parity alone says nothing about who is missed.

- A row is predicted positive when ``score >= threshold``, or when it is among the ``k``
  highest scores (ties broken by row order, first rows first; :func:`assist.models.metrics.top_k`).
- Counts per group come from the per-group engine (:mod:`assist.models.groups`, fairlearn's
  :class:`~fairlearn.metrics.MetricFrame` semantics); every rate is
  a ratio of those counts and is ``None`` ("undefined") when its denominator is zero -- never a
  division warning and never fairlearn's silent ``0.0`` (its ``zero_division`` default).
- ``calibration_gap`` is mean score minus observed rate (``None`` when scores are not in [0, 1]).
- Disparity of a metric is the group's value divided by the reference group's value; a ratio
  outside ``[min_ratio, max_ratio]`` (0.8-1.25 by default, the four-fifths rule both ways) flags
  the metric. A ratio with an undefined or zero denominator is ``None`` and flags nothing.
- The reference group of an attribute is named (``GROUP`` or ``ATTRIBUTE=GROUP``), the
  ``majority`` (most rows; ties: first in sort order), or ``min``: the group with the lowest
  non-zero recall, so every ratio says how much better others are reached than the most-missed
  (a zero reference would leave every ratio undefined; groups at zero recall get ratio 0).
- Wilson score intervals (95 %) accompany every rate, so small groups are read with care.
- With two or more group columns, every pair is also audited as an intersection
  (attribute ``"a & b"``, group ``"x & y"``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assist.models.groups import group_metrics, string_labels
from assist.models.metrics import capacity, top_k

MIN_RATIO, MAX_RATIO = 0.8, 1.25
#: z of the two-sided 95 % Wilson interval
Z95 = 1.959963984540054
HEADLINE_TEXT = ("Recall (TPR) and its complement FNR are the headline: for social assistance "
                 "the harm is being missed, so a group whose households in need are reached "
                 "less often than the reference group's is the finding that matters most.")
INTERSECTION_SEP = " & "


@dataclass(frozen=True)
class Rate:
    """One rate: numerator and denominator counts, direction of goodness, plain meaning."""

    name: str
    num: str
    den: str
    greater_is_better: bool | None
    description: str


#: every rate of the audit, declared once (counts: n, pos, neg, pp, pn, tp, fp, tn, fn)
RATES: tuple[Rate, ...] = (
    Rate("base_rate", "pos", "n", None, "share of rows with outcome 1"),
    Rate("selection_rate", "pp", "n", None, "share of rows predicted positive (selected)"),
    Rate("tpr", "tp", "pos", True, "recall: share of households in need that were selected"),
    Rate("fnr", "fn", "pos", False, "miss rate: share of households in need not selected"),
    Rate("fpr", "fp", "neg", False, "share of households not in need that were selected"),
    Rate("tnr", "tn", "neg", True, "share of households not in need left unselected"),
    Rate("precision", "tp", "pp", True, "share of selected households in need"),
    Rate("fdr", "fp", "pp", False, "share of selected households not in need"),
    Rate("for", "fn", "pn", False, "share of unselected households in need"),
    Rate("npv", "tn", "pn", True, "share of unselected households not in need"),
)
RATE_NAMES = tuple(r.name for r in RATES)
#: rates compared against the reference group
DISPARITY_METRICS = tuple(r.name for r in RATES if r.name != "base_rate")


#: what :func:`_counts` returns per group
COUNTS = ("n", "tp", "fp", "tn", "fn", "score_sum")


def _counts(y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Size, confusion counts and score sum of one group."""
    yt, yp = y_true == 1, y_pred == 1
    return dict(zip(COUNTS, (yt.size, np.sum(yt & yp), np.sum(~yt & yp), np.sum(~yt & ~yp),
                             np.sum(yt & ~yp), np.sum(score)), strict=True))


@dataclass(frozen=True)
class AuditResult:
    """The audit: one row per (attribute, group) with counts, rates, intervals and disparities."""

    n: int
    threshold: float | None
    rule: str
    table: pd.DataFrame
    reference: dict[str, str]
    min_ratio: float = MIN_RATIO
    max_ratio: float = MAX_RATIO
    #: the audited rows (label, selected, the group columns), where the caller keeps them
    rows: pd.DataFrame | None = None

    def groups(self) -> list[dict[str, Any]]:
        """Per-group records in the JSON shape (rates as fractions, undefined as ``None``)."""
        out = []
        for r in self.table.to_dict("records"):
            out.append({
                "attribute": r["attribute"], "group": r["group"], "n": int(r["n"]),
                **{m: _num(r[m]) for m in RATE_NAMES},
                "calibration_gap": _num(r["calibration_gap"]),
                "disparity": {m: _num(r[f"{m}_ratio"]) for m in DISPARITY_METRICS},
                "flags": list(r["flags"]),
            })
        return out

    def to_dict(self) -> dict[str, Any]:
        """``{"n", "threshold", "groups", "reference"}`` exactly (the ``--json`` output)."""
        return {"n": self.n, "threshold": self.threshold, "groups": self.groups(),
                "reference": dict(self.reference)}

    def intervals(self) -> list[dict[str, Any]]:
        """Wilson 95 % interval ``[low, high]`` of every rate per group (``None``: undefined)."""
        return [{"attribute": r["attribute"], "group": r["group"],
                 **{m: [_num(r[f"{m}_low"]), _num(r[f"{m}_high"])] for m in RATE_NAMES}}
                for r in self.table.to_dict("records")]


def predicted_positive(score: Any, *, threshold: float | None = None, top_k_rows: int | None = None,
                       top_pct: float | None = None) -> tuple[np.ndarray, float | None, str]:
    """Selection by exactly one rule; returns (selected, threshold or lowest selected score, rule)."""
    s = np.asarray(score, dtype=float)
    given = [x is not None for x in (threshold, top_k_rows, top_pct)]
    if sum(given) > 1:
        raise ValueError("give one of threshold, top_k_rows, top_pct")
    if top_k_rows is None and top_pct is None:
        t = 0.5 if threshold is None else float(threshold)
        return s >= t, t, f"score >= {t:g}"
    if top_pct is not None:
        if not 0 < top_pct <= 100:
            raise ValueError(f"top_pct must lie in (0, 100], got {top_pct}")
        k, rule = capacity(top_pct / 100, s.size), f"top {top_pct:g}% by score"
    else:
        if top_k_rows < 1:
            raise ValueError(f"top_k_rows must be at least 1, got {top_k_rows}")
        k, rule = min(int(top_k_rows), s.size), f"top {top_k_rows} by score"
    selected = np.zeros(s.size, dtype=bool)
    chosen = top_k(s, k)
    selected[chosen] = True
    return selected, (float(s[chosen].min()) if k else None), rule


def audit(y_true: Any, score: Any, groups: pd.DataFrame, *, threshold: float | None = None,
          top_k_rows: int | None = None, top_pct: float | None = None,
          selected: Any = None, reference: str = "majority", intersections: bool = True,
          min_ratio: float = MIN_RATIO, max_ratio: float = MAX_RATIO) -> AuditResult:
    """Audit a scored table per value of each group column (and each pair of columns).

    ``selected`` (a boolean array) overrides the selection rule, e.g. when rows were selected
    among a larger population before unlabelled rows were dropped.
    """
    y = np.asarray(y_true, dtype=float).ravel()
    s = np.asarray(score, dtype=float).ravel()
    if y.shape != s.shape or len(groups) != y.size:
        raise ValueError(f"y_true has {y.size} values, score {s.size}, groups {len(groups)} rows")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold 0/1 outcomes (no missing values)")
    if np.isnan(s).any():
        raise ValueError("score has missing values")
    if selected is None:
        pred, cut, rule = predicted_positive(s, threshold=threshold, top_k_rows=top_k_rows,
                                             top_pct=top_pct)
    else:
        pred = np.asarray(selected, dtype=bool).ravel()
        cut = threshold if threshold is not None else (float(s[pred].min()) if pred.any() else None)
        rule = "given selection"
    is_prob = bool(s.size and np.all((s >= 0) & (s <= 1)))
    frames = []
    labels = string_labels(groups)
    attributes: list[list[str]] = [[c] for c in labels.columns]
    if intersections:
        attributes += [list(p) for p in itertools.combinations(labels.columns, 2)]
    refs: dict[str, str] = {}
    for cols in attributes:
        frame = _group_counts(y, pred.astype(int), s, labels[cols])
        attr = INTERSECTION_SEP.join(map(str, cols))
        frame.insert(0, "attribute", attr)
        frame = _rates(frame, is_prob)
        refs[attr] = _reference(frame, attr, reference)
        frames.append(_disparities(frame, refs[attr], min_ratio, max_ratio))
    table = pd.concat(frames, ignore_index=True)
    if reference not in ("majority", "min") and not _named_found(reference, refs, table):
        raise ValueError(f"reference group {reference!r} is not a value of any group column")
    return AuditResult(n=int(y.size), threshold=cut, rule=rule, table=table, reference=refs,
                       min_ratio=min_ratio, max_ratio=max_ratio)


def _group_counts(y: np.ndarray, pred: np.ndarray, s: np.ndarray,
                  sf: pd.DataFrame) -> pd.DataFrame:
    """Counts per observed group (or combination of two columns' groups)."""
    by = group_metrics(y, pred, sf, {"counts": _counts}, params={"score": s}).by_group
    by = by.reindex(columns=list(COUNTS)).loc[lambda f: f["n"] > 0]
    idx = by.index.to_frame(index=False).astype("string")
    group = idx.iloc[:, 0] if idx.shape[1] == 1 else idx.agg(INTERSECTION_SEP.join, axis=1)
    out = pd.DataFrame({"group": group.to_numpy(dtype=object)})
    for col in ("n", "tp", "fp", "tn", "fn"):
        out[col] = by[col].to_numpy().astype("int64")
    out["score_sum"] = by["score_sum"].to_numpy(dtype=float)
    out["pos"], out["neg"] = out["tp"] + out["fn"], out["tn"] + out["fp"]
    out["pp"], out["pn"] = out["tp"] + out["fp"], out["tn"] + out["fn"]
    return out


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den as floats, NaN where den is zero (no division warning)."""
    den = den.astype(float)
    return num.astype(float) / den.where(den > 0)


def _rates(frame: pd.DataFrame, is_prob: bool) -> pd.DataFrame:
    out = frame.copy()
    for r in RATES:
        k, n = out[r.num].astype(float), out[r.den].astype(float)
        out[r.name] = _ratio(k, n)
        out[f"{r.name}_low"], out[f"{r.name}_high"] = wilson(k, n)
    mean = _ratio(out["score_sum"], out["n"])
    out["mean_score"] = mean
    out["calibration_gap"] = (mean - out["base_rate"]) if is_prob else np.nan
    return out


def wilson(k: Any, n: Any, z: float = Z95) -> tuple[pd.Series, pd.Series]:
    """Wilson score interval of k successes in n trials (NaN where n is zero)."""
    k = pd.Series(k, dtype=float)
    n = pd.Series(n, dtype=float).where(lambda v: v > 0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half).clip(lower=0.0), (centre + half).clip(upper=1.0)


def ratio_interval(a: float, n: float, b: float, m: float,
                   z: float = Z95) -> tuple[float | None, float | None]:
    """Katz log interval of the ratio of two proportions ``(a / n) / (b / m)`` (e.g. a group's
    recall over the reference group's); half a success is added to an empty count so the
    interval stays defined (None when a denominator is zero)."""
    if n <= 0 or m <= 0:
        return None, None
    a, b = (a or 0.5), (b or 0.5)
    ratio = (a / n) / (b / m)
    se = float(np.sqrt(max(1 / a - 1 / n + 1 / b - 1 / m, 0.0)))
    return float(ratio * np.exp(-z * se)), float(ratio * np.exp(z * se))


def _reference(frame: pd.DataFrame, attr: str, reference: str) -> str:
    """The reference group of one attribute (see the module docstring)."""
    by_n = frame.sort_values(["n", "group"], ascending=[False, True], kind="stable")
    majority = str(by_n["group"].iloc[0])
    if reference == "majority":
        return majority
    if reference == "min":
        defined = frame.loc[frame["tpr"] > 0].sort_values(["tpr", "group"], kind="stable")
        return str(defined["group"].iloc[0]) if len(defined) else majority
    target, value = (reference.split("=", 1) if "=" in reference else (None, reference))
    if (target is None or target == attr) and value in set(frame["group"].astype(str)):
        return value
    return majority


def _named_found(reference: str, refs: dict[str, str], table: pd.DataFrame) -> bool:
    target, value = (reference.split("=", 1) if "=" in reference else (None, reference))
    return any(g == value and (target is None or a == target) for a, g in refs.items())


def _disparities(frame: pd.DataFrame, ref: str, lo: float, hi: float) -> pd.DataFrame:
    out = frame.copy()
    row = out.loc[out["group"] == ref].iloc[0]
    outside = []
    for m in DISPARITY_METRICS:
        base = row[m]
        ratio = out[m] / base if pd.notna(base) and base > 0 else pd.Series(np.nan, index=out.index)
        out[f"{m}_ratio"] = ratio
        outside.append(((ratio < lo) | (ratio > hi)).to_numpy())
    mask = np.column_stack(outside)
    out["flags"] = [[m for m, bad in zip(DISPARITY_METRICS, r, strict=True) if bad] for r in mask]
    out["reference"] = ref
    return out


def _num(v: Any) -> float | None:
    """A float, or ``None`` for NaN / missing."""
    return None if v is None or pd.isna(v) else float(v)
