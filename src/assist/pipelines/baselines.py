"""Baselines every need model is compared with: the Alkire–Foster deprivation score c_i (a
ranking, not a probability: no Brier or ECE) and a logistic regression (median imputation +
missing indicators, clipped to the 1st-99th training percentiles, then scaled: heavy-tailed
indicators such as financial assets would otherwise decide a linear model's top k by
extrapolation)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from assist.features.catalog import Catalog
from assist.models.deprivation import alkire_foster


def deprivation_score(X: pd.DataFrame, catalog: Catalog, *, k: float) -> np.ndarray:  # noqa: N803
    """Alkire–Foster deprivation score c_i of each household (the index's ranking)."""
    return alkire_foster(X, catalog, k=k).scores.to_numpy(dtype=float)


class Winsorise(TransformerMixin, BaseEstimator):
    """Clip each column to its training quantiles (heavy tails would dominate a linear model)."""

    def __init__(self, lower: float = 0.01, upper: float = 0.99) -> None:
        self.lower = lower
        self.upper = upper

    def fit(self, X: np.ndarray, y: Any = None) -> Winsorise:  # noqa: N803
        """Learn each column's clipping bounds."""
        self.bounds_ = np.quantile(np.asarray(X, dtype=float), [self.lower, self.upper], axis=0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Clip the columns to the learned bounds."""
        return np.clip(np.asarray(X, dtype=float), self.bounds_[0], self.bounds_[1])


def fit_logistic(X: pd.DataFrame, y: np.ndarray, *, c: float) -> Pipeline:  # noqa: N803
    """Logistic regression with median imputation, missing-value indicators, clipping to the
    1st-99th training percentiles and scaling."""
    pipe = Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("clip", Winsorise()),
        ("scale", StandardScaler()),
        ("logit", LogisticRegression(C=c, max_iter=5000)),
    ])
    return pipe.fit(X.to_numpy(dtype=float, na_value=np.nan), np.asarray(y, dtype=int))


def logistic_proba(pipe: Pipeline, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
    """Probability of need from the logistic baseline."""
    return pipe.predict_proba(X.to_numpy(dtype=float, na_value=np.nan))[:, 1]
