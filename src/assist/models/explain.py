"""Explanations of the need model: exact TreeSHAP contributions, local and global.

:func:`contributions` asks LightGBM for exact TreeSHAP values (``pred_contrib=True``) in
raw-score (log-odds) space: one column per indicator plus ``bias`` (the expected raw score);
each row sums to the model's raw score. ``shap.TreeExplainer`` on the same booster returns the
same numbers (tests check it, with shap's own tree parser too); features are numeric only,
where shap and LightGBM agree.

Contributions are summed per dimension (:func:`by_dimension`) and per distress cause
(:func:`by_cause`). Local: :func:`explain` turns each household's row into a typed
:class:`HouseholdExplanation` — top factors pushing toward need, in plain words (zh/en), and
its primary and secondary distress cause, the causes with the largest positive summed
contribution. A missing record is never a reason (:func:`speaks`): such a value may move the
score, and its contribution stays in the per-dimension and per-cause sums, but it is neither
a factor nor counted toward the primary and secondary cause. Global: :func:`global_summary` gives managers mean |contribution| per
indicator, dimension and cause and the share of households whose primary cause is each cause.
Both are computed from the contribution matrix with array operations; the only per-household
Python work is building the explanation objects and their sentences.

Explanations are frozen dataclasses: ``to_dict()`` gives JSON-safe data, and pydantic
(``TypeAdapter(HouseholdExplanation)``, or a FastAPI ``response_model``) validates and
documents them without a second set of schema classes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from assist.features.catalog import Catalog
from assist.features.codes import cause_label
from assist.features.wording import YES_NO
from assist.models.need import NeedModel, check_features, describe_mismatch

BIAS = "bias"
#: cause column of indicators that declare no distress cause (never a primary cause)
NO_CAUSE = "unassigned"


class _Serialisable:
    """``to_dict`` for the frozen explanation dataclasses."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (missing values as ``None``)."""
        return {f.name: _plain(getattr(self, f.name))
                for f in fields(self)}  # type: ignore[arg-type]


def _plain(v: Any) -> Any:
    if isinstance(v, _Serialisable):
        return v.to_dict()
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@dataclass(frozen=True, slots=True)
class Factor(_Serialisable):
    """One indicator pushing a household toward need."""

    indicator: str
    name_zh: str
    name_en: str
    dimension: str
    cause: str | None
    #: the household's indicator value (``None``: no record)
    value: float | None
    #: TreeSHAP contribution to the raw score (log-odds), > 0
    contribution: float
    sentence_en: str
    sentence_zh: str


@dataclass(frozen=True, slots=True)
class CauseContribution(_Serialisable):
    """A distress cause and its summed contribution for one household."""

    cause: str
    name_zh: str
    name_en: str
    contribution: float


@dataclass(frozen=True, slots=True)
class HouseholdExplanation(_Serialisable):
    """Why the model scores one household as it does."""

    household_id: str
    #: calibrated probability of need
    probability: float
    #: raw score (log-odds) = bias + sum of all contributions
    raw_score: float
    #: expected raw score over the training data (the same for every household)
    bias: float
    #: largest positive contributions first; empty when nothing pushes toward need
    factors: tuple[Factor, ...]
    primary_cause: CauseContribution | None
    secondary_cause: CauseContribution | None
    #: summed contribution per dimension and per cause (raw-score units)
    dimensions: dict[str, float]
    causes: dict[str, float]


@dataclass(frozen=True, slots=True)
class IndicatorImportance(_Serialisable):
    """How much one indicator moves scores across households."""

    indicator: str
    name_zh: str
    name_en: str
    dimension: str
    cause: str | None
    mean_abs_contribution: float
    mean_contribution: float
    #: share of households whose largest positive factor is this indicator
    top_factor_share: float
    #: share of households with no value for this indicator
    missing_share: float


@dataclass(frozen=True, slots=True)
class GroupImportance(_Serialisable):
    """How much one dimension or cause moves scores (its contributions summed per household)."""

    key: str
    name_zh: str
    name_en: str
    mean_abs_contribution: float
    mean_contribution: float
    #: causes: share of households whose primary cause this is (``None`` for dimensions)
    primary_share: float | None = None


@dataclass(frozen=True, slots=True)
class GlobalSummary(_Serialisable):
    """Model-wide importance for managers; rows sorted by mean |contribution|, largest first."""

    n: int
    bias: float
    indicators: tuple[IndicatorImportance, ...]
    dimensions: tuple[GroupImportance, ...]
    causes: tuple[GroupImportance, ...]
    #: share of households with no positive cause contribution (no primary cause)
    no_primary_cause_share: float

    def frames(self) -> dict[str, pd.DataFrame]:
        """The three tables as DataFrames (for reports)."""
        return {name: pd.DataFrame([r.to_dict() for r in getattr(self, name)])
                for name in ("indicators", "dimensions", "causes")}


def contributions(model: NeedModel, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
    """Exact TreeSHAP contributions in raw-score space (indicator columns + ``bias``)."""
    model._check_fitted()
    arr = check_features(X, model.feature_names_)
    phi = model.booster_.predict(arr, pred_contrib=True, num_threads=int(model.num_threads))
    return pd.DataFrame(phi, index=X.index, columns=[*model.feature_names_, BIAS])


def by_dimension(contrib: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Contributions summed per dimension (columns in catalog order; bias excluded)."""
    keys, onehot = _grouping([i.dimension for i in catalog])
    return pd.DataFrame(_values(contrib, catalog) @ onehot, index=contrib.index, columns=keys)


def by_cause(contrib: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Contributions summed per distress cause (order of first appearance; bias excluded)."""
    keys, onehot = _grouping(_causes(catalog))
    return pd.DataFrame(_values(contrib, catalog) @ onehot, index=contrib.index, columns=keys)


def explain(model: NeedModel, X: pd.DataFrame, catalog: Catalog, *, top: int = 3,  # noqa: N803
            contrib: pd.DataFrame | None = None) -> list[HouseholdExplanation]:
    """One explanation per row of X (pass ``contrib`` to reuse computed contributions)."""
    problem = describe_mismatch(model.feature_names_, catalog.ids)
    if problem:
        raise ValueError(f"model features and catalog {catalog.name!r} differ: {problem}")
    if contrib is None:
        contrib = contributions(model, X)
    raw = contrib.to_numpy().sum(axis=1)
    return explanations_from(contrib, X, catalog, probability=model.calibrate(raw), top=top)


def explanations_from(contrib: pd.DataFrame, X: pd.DataFrame, catalog: Catalog, *,  # noqa: N803
                      probability: np.ndarray, top: int = 3) -> list[HouseholdExplanation]:
    """Explanations from a contribution matrix, the indicator values and the probabilities."""
    if top < 0:
        raise ValueError(f"top must be >= 0, got {top}")
    c = _values(contrib, catalog)
    if not X.index.equals(contrib.index):
        raise ValueError("X and contributions must have the same index (households, in order)")
    values = check_features(X, catalog.ids)
    probability = np.asarray(probability, dtype=float)
    if probability.shape != (len(c),):
        raise ValueError(f"probability must hold one value per household ({len(c)})")
    indicators = list(catalog)
    top = min(top, len(indicators))
    said = np.where(speaks(values, indicators), c, 0.0)  # what a factor or cause may rest on
    order = np.argsort(-said, axis=1, kind="stable")[:, :top]
    top_c = np.take_along_axis(said, order, axis=1)
    top_v = np.take_along_axis(values, order, axis=1)
    n_pos = (top_c > 0).sum(axis=1)
    dim_keys, dim_onehot = _grouping([i.dimension for i in catalog])
    cause_keys, cause_onehot = _grouping(_causes(catalog))
    causes = c @ cause_onehot
    real_at = [j for j, k in enumerate(cause_keys) if k != NO_CAUSE]
    real = [cause_keys[j] for j in real_at]
    cause_sums = (said @ cause_onehot)[:, real_at]
    c_order = np.argsort(-cause_sums, axis=1, kind="stable")[:, :2]
    c_top = np.take_along_axis(cause_sums, c_order, axis=1)
    full = contrib.to_numpy(dtype=float)
    bias = full[:, -1].tolist()
    raw = full.sum(axis=1).tolist()
    prob = probability.tolist()
    lists = zip(contrib.index.tolist(), order.tolist(), top_v.tolist(), top_c.tolist(),
                n_pos.tolist(), c_order.tolist(), c_top.tolist(), (c @ dim_onehot).tolist(),
                causes.tolist(), strict=True)
    out = []
    for i, (hid, js, vs, cs, k, ks, ss, drow, crow) in enumerate(lists):
        factors = tuple(_factor(indicators[j], v, ci)
                        for j, v, ci in zip(js[:k], vs[:k], cs[:k], strict=True))
        picked = [_cause(real[kk], s) if s > 0 else None for kk, s in zip(ks, ss, strict=True)]
        picked += [None] * (2 - len(picked))
        out.append(HouseholdExplanation(
            household_id=str(hid), probability=prob[i], raw_score=raw[i], bias=bias[i],
            factors=factors, primary_cause=picked[0], secondary_cause=picked[1],
            dimensions=dict(zip(dim_keys, drow, strict=True)),
            causes=dict(zip(cause_keys, crow, strict=True)),
        ))
    return out


def global_summary(contrib: pd.DataFrame, X: pd.DataFrame,  # noqa: N803
                   catalog: Catalog) -> GlobalSummary:
    """Mean |contribution| per indicator, dimension and cause, and primary-cause shares."""
    c = _values(contrib, catalog)
    if not X.index.equals(contrib.index):
        raise ValueError("X and contributions must have the same index (households, in order)")
    n = len(c)
    if n == 0:
        raise ValueError("global_summary needs at least one household")
    missing = np.isnan(check_features(X, catalog.ids)).mean(axis=0)
    best = np.argmax(c, axis=1)
    has_pos = c[np.arange(n), best] > 0
    top_share = np.bincount(best[has_pos], minlength=c.shape[1]) / n
    rows = [IndicatorImportance(
        indicator=ind.id, name_zh=ind.name_zh, name_en=ind.name_en, dimension=ind.dimension,
        cause=ind.cause, mean_abs_contribution=float(np.abs(c[:, j]).mean()),
        mean_contribution=float(c[:, j].mean()), top_factor_share=float(top_share[j]),
        missing_share=float(missing[j])) for j, ind in enumerate(catalog)]
    dims = by_dimension(contrib, catalog)
    dim_rows = [GroupImportance(
        key=k, name_zh=catalog.dimension(k).name_zh, name_en=catalog.dimension(k).name_en,
        mean_abs_contribution=float(dims[k].abs().mean()),
        mean_contribution=float(dims[k].mean())) for k in dims.columns]
    causes = by_cause(contrib, catalog)
    real = [k for k in causes.columns if k != NO_CAUSE]
    sums = causes[real].to_numpy()
    primary = np.argmax(sums, axis=1) if real else np.zeros(n, dtype=int)
    primary_ok = sums[np.arange(n), primary] > 0 if real else np.zeros(n, dtype=bool)
    primary_share = np.bincount(primary[primary_ok], minlength=len(real)) / n
    cause_rows = [GroupImportance(
        key=k, name_zh=cause_label(k).zh, name_en=cause_label(k).en,
        mean_abs_contribution=float(causes[k].abs().mean()),
        mean_contribution=float(causes[k].mean()),
        primary_share=float(primary_share[real.index(k)]) if k in real else None)
        for k in causes.columns]
    return GlobalSummary(
        n=n, bias=float(contrib[BIAS].mean()), indicators=_by_importance(rows),
        dimensions=_by_importance(dim_rows), causes=_by_importance(cause_rows),
        no_primary_cause_share=float(1.0 - primary_ok.mean()))


def speaks(values: np.ndarray, indicators: list) -> np.ndarray:
    """Whether each value (households × indicators) can be a reason for need: a missing
    record never is, nor is "no" on a yes/no indicator (its sentence would say "yes")."""
    out = ~np.isnan(values)
    yes_no = np.array([i.unit == YES_NO for i in indicators], dtype=bool)
    return out & ~(yes_no[None, :] & (np.nan_to_num(values, nan=0.0) < 0.5))


def _by_importance(rows: list) -> tuple:
    return tuple(sorted(rows, key=lambda r: -r.mean_abs_contribution))


def _values(contrib: pd.DataFrame, catalog: Catalog) -> np.ndarray:
    expected = [*catalog.ids, BIAS]
    columns = contrib.columns.tolist()
    if columns != expected:
        problem = describe_mismatch([str(c) for c in columns], expected)
        raise ValueError(f"contributions do not match catalog {catalog.name!r}: {problem}")
    return contrib.to_numpy(dtype=float)[:, :-1]


def _causes(catalog: Catalog) -> list[str]:
    return [i.cause or NO_CAUSE for i in catalog]


def _grouping(labels: list[str]) -> tuple[list[str], np.ndarray]:
    keys = list(dict.fromkeys(labels))
    onehot = np.zeros((len(labels), len(keys)))
    onehot[np.arange(len(labels)), [keys.index(k) for k in labels]] = 1.0
    return keys, onehot


def _factor(ind: Any, value: float, contribution: float) -> Factor:
    missing = value != value  # NaN
    return Factor(
        indicator=ind.id, name_zh=ind.name_zh, name_en=ind.name_en, dimension=ind.dimension,
        cause=ind.cause, value=None if missing else value, contribution=contribution,
        sentence_en=ind.sentence(value, "en"), sentence_zh=ind.sentence(value, "zh"))


def _cause(code: str, contribution: float) -> CauseContribution:
    name = cause_label(code)
    return CauseContribution(cause=code, name_zh=name.zh, name_en=name.en,
                             contribution=contribution)
