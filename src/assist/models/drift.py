"""Population stability index (PSI): has this month's population moved away from a reference?

``PSI = sum_b (c_b - r_b) * ln(c_b / r_b)`` over bins ``b``, where ``r_b`` and ``c_b`` are the
shares of the reference and current rows in bin ``b``.

- Bins are quantiles of the *reference*: interior cut points at ``1/B, ..., (B-1)/B``, taken
  as reference values (inverted CDF, no interpolation) with duplicates removed, so a 0/1
  indicator gets the bins ``<= 0``, ``(0, 1]`` and ``> 1``; bin ``b`` holds values in
  ``(cut_{b-1}, cut_b]``, the outer bins are open-ended. Missing values form their own bin.
- An empty bin would make the logarithm infinite, so every share is floored at
  ``EPSILON = 1e-4`` before the sum (shares are not renormalised). A bin empty on both sides
  contributes exactly 0.
- Levels (industry convention): below 0.1 stable, 0.1-0.25 ``watch``, 0.25 and above ``act``.
  PSI feeds reports; it blocks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

EPSILON = 1e-4
BINS = 10
WATCH, ACT = 0.1, 0.25


@dataclass(frozen=True)
class DriftThresholds:
    """PSI levels: at or above ``watch`` the feature is watched, at or above ``act`` acted on."""

    watch: float = WATCH
    act: float = ACT

    def level(self, psi: float | None) -> str:
        """``stable``, ``watch``, ``act`` or ``undefined`` (no rows on one side)."""
        if psi is None or not np.isfinite(psi):
            return "undefined"
        return "act" if psi >= self.act else "watch" if psi >= self.watch else "stable"


def quantile_cuts(reference: Any, bins: int = BINS) -> np.ndarray:
    """Interior cut points: distinct reference quantiles at 1/bins ... (bins-1)/bins."""
    r = np.asarray(reference, dtype=float)
    r = r[~np.isnan(r)]
    if r.size == 0 or bins < 2:
        return np.array([])
    return np.unique(np.quantile(r, np.arange(1, bins) / bins, method="inverted_cdf"))


def bin_shares(values: Any, cuts: np.ndarray) -> np.ndarray:
    """Share of values per bin ``(-inf, c1], (c1, c2], ..., (c_last, inf)``, then missing."""
    v = np.asarray(values, dtype=float)
    missing = np.isnan(v)
    idx = np.searchsorted(cuts, v[~missing], side="left")
    counts = np.append(np.bincount(idx, minlength=cuts.size + 1), missing.sum()).astype(float)
    return counts / v.size if v.size else counts


def psi(reference: Any, current: Any, *, bins: int = BINS, eps: float = EPSILON) -> float | None:
    """PSI of ``current`` against ``reference`` with reference quantile bins (None: empty side)."""
    r_all, c_all = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    if r_all.size == 0 or c_all.size == 0:
        return None
    cuts = quantile_cuts(r_all, bins)
    r = np.maximum(bin_shares(r_all, cuts), eps)
    c = np.maximum(bin_shares(c_all, cuts), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_table(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], *,
              bins: int = BINS, eps: float = EPSILON,
              thresholds: DriftThresholds | None = None) -> pd.DataFrame:
    """PSI, level and mean shift of each column (columns in the given order)."""
    thresholds = thresholds or DriftThresholds()
    rows = []
    for col in columns:  # one vectorised PSI per column (22 indicators + score), not per row
        value = psi(reference[col], current[col], bins=bins, eps=eps)
        rows.append({"feature": col, "psi": value, "level": thresholds.level(value),
                     "reference_mean": _mean(reference[col]), "current_mean": _mean(current[col]),
                     "reference_missing": _missing(reference[col]),
                     "current_missing": _missing(current[col])})
    return pd.DataFrame(rows)


def _mean(s: pd.Series) -> float | None:
    v = pd.to_numeric(s, errors="coerce").astype(float)
    return float(v.mean()) if v.notna().any() else None


def _missing(s: pd.Series) -> float | None:
    return float(s.isna().mean()) if len(s) else None
