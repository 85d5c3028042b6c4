"""The Alkire–Foster multidimensional deprivation index (Alkire & Foster 2011).

Works on any :class:`~assist.features.catalog.Catalog` and any household table of indicator
values whose columns are the catalog's ids. Each household's deprivation score is the sum of
the weights of the indicators it is deprived on, ``c_i = sum_j w_j g_ij`` (catalog weights sum
to 1). A household is poor when ``c_i >= k`` (with a 1e-9 tolerance for float sums).

- ``H``: headcount ratio, the share of households that are poor;
- ``A``: average intensity, the mean score among the poor;
- ``M0 = H * A``: adjusted headcount ratio, the mean censored score over everyone.

Per indicator: the uncensored headcount (share deprived), the censored headcount (share poor
*and* deprived) and the percentage contribution ``w_j * censored_j / M0``; per dimension, the
sum of its indicators' contributions. By subgroup: population share, H, A and M0 of each
group, whose population-weighted M0s sum to the overall M0. Optional sampling weights weight
every share. Everything is vectorised over households (one pass per indicator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assist.features.catalog import Catalog

#: tolerance of the poverty cutoff: float sums of weights land a hair below k
K_TOLERANCE = 1e-9
#: group label of households whose subgroup value is missing
MISSING_GROUP = "(missing)"


@dataclass(frozen=True, eq=False)
class AFResult:
    """Alkire–Foster index of a set of households, with its decompositions."""

    #: poverty cutoff used
    k: float
    #: number of households (rows; not the sum of sampling weights)
    n: int
    #: headcount ratio: share of households that are poor
    H: float  # noqa: N815 - Alkire–Foster notation
    #: average intensity: mean deprivation score among the poor (0 when nobody is poor)
    A: float  # noqa: N815
    #: adjusted headcount ratio H × A
    M0: float  # noqa: N815
    #: deprivation score c_i of each household, indexed like the input
    scores: pd.Series = field(repr=False)
    #: whether each household is poor (c_i >= k)
    poor: pd.Series = field(repr=False)
    #: index: indicator id; columns: dimension, weight, uncensored, censored, contribution
    indicators: pd.DataFrame = field(repr=False)
    #: index: dimension; columns: weight, contribution
    dimensions: pd.DataFrame = field(repr=False)
    #: index: group label; columns: n, population_share, H, A, M0, contribution (empty: no ``by``)
    groups: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable summary; shares are fractions, not per cent."""
        return {
            "n": int(self.n),
            "H": float(self.H),
            "A": float(self.A),
            "M0": float(self.M0),
            "k": float(self.k),
            "indicators": {
                str(i): {"uncensored": float(r.uncensored), "censored": float(r.censored),
                         "contribution": float(r.contribution)}
                for i, r in self.indicators.iterrows()
            },
            "dimensions": {
                str(d): {"contribution": float(r.contribution)}
                for d, r in self.dimensions.iterrows()
            },
            "groups": {
                str(g): {"n": int(r.n), "population_share": float(r.population_share),
                         "H": float(r.H), "A": float(r.A), "M0": float(r.M0)}
                for g, r in self.groups.iterrows()
            },
        }


def deprivation_matrix(values: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Boolean deprivation of each household (row) on each indicator (column), in catalog order."""
    missing = [i for i in catalog.ids if i not in values.columns]
    if missing:
        raise ValueError(f"indicator values lack the column(s) {', '.join(missing)} "
                         f"of catalog {catalog.name!r}")
    return catalog.deprivation(values)


def alkire_foster(
    values: pd.DataFrame,
    catalog: Catalog,
    *,
    k: float,
    weights: pd.Series | None = None,
    by: pd.Series | None = None,
) -> AFResult:
    """Alkire–Foster H, A, M0 with indicator, dimension and (``by``) subgroup decompositions."""
    if not (np.isfinite(k) and 0 < k <= 1):
        raise ValueError(f"the poverty cutoff k must lie in (0, 1], got {k!r}")
    n = len(values)
    # sums of raw weights, divided once at the end: unweighted shares are exact fractions
    s = _sampling_weights(weights, values.index)
    total = float(s.sum())
    g = np.asfortranarray(deprivation_matrix(values, catalog).to_numpy(dtype=bool))
    w = catalog.weights.reindex(catalog.ids).to_numpy(dtype=float)

    scores = np.zeros(n)
    for j in range(len(w)):
        scores += w[j] * g[:, j]
    poor = scores >= k - K_TOLERANCE
    s_poor = np.where(poor, s, 0.0)
    poor_total = float(s_poor.sum())
    censored_total = float((s_poor * scores).sum())

    h = _ratio(poor_total, total)
    m0 = _ratio(censored_total, total)
    a = _ratio(censored_total, poor_total)
    uncensored = np.array([np.dot(s, g[:, j]) for j in range(len(w))])
    censored = np.array([np.dot(s_poor, g[:, j]) for j in range(len(w))])
    indicators = pd.DataFrame(
        {"dimension": [ind.dimension for ind in catalog], "weight": w,
         "uncensored": _ratio(uncensored, total), "censored": _ratio(censored, total),
         "contribution": _ratio(w * censored, censored_total)},
        index=pd.Index(catalog.ids, name="indicator"),
    )
    dimensions = (indicators.groupby("dimension", sort=False)[["weight", "contribution"]].sum()
                  .reindex(catalog.dimensions))

    groups = _groups(by, values.index, s, s_poor * scores, poor, censored_total)
    return AFResult(
        k=float(k), n=n, H=float(h), A=float(a), M0=float(m0),
        scores=pd.Series(scores, index=values.index, name="score"),
        poor=pd.Series(poor, index=values.index, name="poor"),
        indicators=indicators, dimensions=dimensions, groups=groups,
    )


def _aligned(s: pd.Series, index: pd.Index, what: str) -> pd.Series:
    """``s`` in the order of ``index``; the two must hold the same households."""
    if s.index.equals(index):
        return s
    if len(s) == len(index) and index.is_unique and s.index.is_unique and s.index.isin(index).all():
        return s.reindex(index)
    raise ValueError(f"{what} must be indexed by the same households as the indicator values")


def _sampling_weights(weights: pd.Series | None, index: pd.Index) -> np.ndarray:
    """Each household's sampling weight (1 when none are given), checked."""
    if weights is None:
        return np.ones(len(index))
    s = pd.to_numeric(_aligned(weights, index, "sampling weights"), errors="coerce")
    s = s.to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(s).all() or (s < 0).any():
        raise ValueError("sampling weights must be finite and non-negative numbers")
    if len(s) and s.sum() <= 0:
        raise ValueError("sampling weights sum to zero")
    return s


def _groups(by: pd.Series | None, index: pd.Index, s: np.ndarray, censored: np.ndarray,
            poor: np.ndarray, censored_total: float) -> pd.DataFrame:
    """Subgroup decomposition: n, population share, H, A, M0 and contribution per group.

    ``s`` holds sampling weights and ``censored`` each household's weighted censored score.
    """
    columns = ["n", "population_share", "H", "A", "M0", "contribution"]
    if by is None:
        return pd.DataFrame(columns=columns, dtype=float)
    codes, labels = pd.factorize(_aligned(by, index, "subgroup labels"), sort=True,
                                 use_na_sentinel=True)
    labels = list(labels)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING_GROUP)
    m = len(labels)
    weight = np.bincount(codes, weights=s, minlength=m)
    poor_weight = np.bincount(codes, weights=np.where(poor, s, 0.0), minlength=m)
    censored_sum = np.bincount(codes, weights=censored, minlength=m)
    return pd.DataFrame(
        {"n": np.bincount(codes, minlength=m), "population_share": _ratio(weight, s.sum()),
         "H": _ratio(poor_weight, weight), "A": _ratio(censored_sum, poor_weight),
         "M0": _ratio(censored_sum, weight), "contribution": _ratio(censored_sum, censored_total)},
        index=pd.Index(labels, name="group"),
    )


def _ratio(num: Any, den: Any) -> Any:
    """``num / den``, 0 where ``den`` is 0 (no division warning); scalars stay scalars."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)
    return out if out.ndim else float(out)
