"""The need model: monotone LightGBM on the catalog's indicators, calibrated on held-out rows.

:class:`NeedModel` follows scikit-learn's conventions (``__init__`` stores parameters, ``fit``
returns ``self``, learned state ends in ``_``). Its inputs are the feature matrix of
:func:`assist.features.build` — one float column per indicator in catalog order, NaN allowed
(LightGBM routes missing values natively). Each tree is monotone in each indicator in the
indicator's direction (+1: the raw score never falls when the value rises; -1: never rises).

Calibration is fitted on rows the trees did not see (``X_cal``/``y_cal``, e.g. a later
snapshot); without them ``predict_proba`` is the booster's own probability and
``calibration_`` is ``"none"``. Saved models are one JSON file (LightGBM model text,
calibrator, feature list and catalog version) and :meth:`NeedModel.load` refuses a model
whose features or catalog version differ from the running code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from assist.errors import AssistError
from assist.features.catalog import Catalog
from assist.features.indicators import CATALOG
from assist.models.calibration import ISOTONIC_MIN_ROWS, METHODS, Calibrator, fit_calibrator
from assist.storage.atomic import write_json

FORMAT = "assist.need_model"
FORMAT_VERSION = 1
#: LightGBM parameters the model sets itself; ``params`` may not override them
RESERVED_PARAMS = frozenset({
    "objective", "monotone_constraints", "num_leaves", "learning_rate", "min_child_samples",
    "min_data_in_leaf", "seed", "deterministic", "force_col_wise", "num_threads",
    "num_iterations", "n_estimators", "verbose", "categorical_feature",
})


class FeatureMismatchError(AssistError, ValueError):
    """The input columns are not the model's features, in the model's order."""


class IncompatibleModelError(AssistError, ValueError):
    """A saved model does not fit the running code (features or catalog version differ)."""


class NeedModel:
    """Monotone LightGBM classifier of verified need, with probability calibration."""

    def __init__(self, catalog: Catalog | None = CATALOG, *, num_leaves: int = 15,
                 n_estimators: int = 200, learning_rate: float = 0.05,
                 min_child_samples: int = 50, seed: int = 0, num_threads: int = 0,
                 calibration: str = "auto", isotonic_min_rows: int = ISOTONIC_MIN_ROWS,
                 params: Mapping[str, Any] | None = None) -> None:
        self.catalog = catalog
        self.num_leaves = num_leaves
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.seed = seed
        self.num_threads = num_threads
        self.calibration = calibration
        self.isotonic_min_rows = isotonic_min_rows
        self.params = params

    # -- parameters ---------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (scikit-learn convention)."""
        return {k: getattr(self, k) for k in (
            "catalog", "num_leaves", "n_estimators", "learning_rate", "min_child_samples",
            "seed", "num_threads", "calibration", "isotonic_min_rows", "params")}

    def set_params(self, **params: Any) -> NeedModel:
        """Set constructor parameters (e.g. ``num_threads=1`` in the API worker)."""
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"NeedModel has no parameter {k!r}; valid: {sorted(valid)}")
            setattr(self, k, v)
        return self

    def lightgbm_params(self) -> dict[str, Any]:
        """The LightGBM training parameters this model uses (JSON-safe, for run tracking)."""
        if self.catalog is None:
            raise ValueError("NeedModel needs a catalog to train (a loaded model has none)")
        extra = dict(self.params or {})
        reserved = sorted(RESERVED_PARAMS & extra.keys())
        if reserved:
            raise ValueError(f"params may not set {reserved}: use NeedModel's own arguments "
                             "(objective and monotone constraints come from the catalog)")
        return {
            "objective": "binary", "num_leaves": int(self.num_leaves),
            "learning_rate": float(self.learning_rate),
            "min_data_in_leaf": int(self.min_child_samples),
            "monotone_constraints": self.catalog.monotone_constraints,
            "seed": int(self.seed), "deterministic": True, "force_col_wise": True,
            "num_threads": int(self.num_threads), "verbose": -1, **extra,
        }

    # -- fitting and prediction ---------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any, *, sample_weight: Any = None,  # noqa: N803
            X_cal: pd.DataFrame | None = None, y_cal: Any = None) -> NeedModel:  # noqa: N803
        """Train the trees on (X, y), then calibrate on (X_cal, y_cal) when given."""
        params = self.lightgbm_params()
        if self.calibration not in ("auto", *METHODS):
            raise ValueError(f"calibration must be 'auto' or one of {METHODS}, "
                             f"got {self.calibration!r}")
        features = self.catalog.ids
        arr = check_features(X, features)
        labels = _labels(y, len(arr), "y")
        weight = None
        if sample_weight is not None:
            weight = np.asarray(sample_weight, dtype=float).ravel()
            if weight.shape != labels.shape or not np.all(np.isfinite(weight) & (weight >= 0)):
                raise ValueError("sample_weight needs one finite, non-negative weight per row")
        if (X_cal is None) != (y_cal is None):
            raise ValueError("give both X_cal and y_cal, or neither")
        data = lgb.Dataset(arr, label=labels, weight=weight, feature_name=features,
                           params=params)
        booster = lgb.train(params, data, num_boost_round=int(self.n_estimators))
        self.booster_ = booster
        self.feature_names_ = list(features)
        self.monotone_constraints_ = list(self.catalog.monotone_constraints)
        self.catalog_name_ = self.catalog.name
        self.catalog_version_ = self.catalog.version
        self.n_train_ = len(arr)
        self.lightgbm_version_ = lgb.__version__
        if X_cal is None:
            self.calibrator_ = Calibrator("none")
        else:
            cal = check_features(X_cal, features)
            cal_y = _labels(y_cal, len(cal), "y_cal")
            self.calibrator_ = fit_calibrator(
                self._raw(cal), cal_y, self.calibration, isotonic_min_rows=self.isotonic_min_rows)
        self.calibration_ = self.calibrator_.method
        return self

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Raw margin (log-odds before calibration), one per row."""
        self._check_fitted()
        return self._raw(check_features(X, self.feature_names_))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Calibrated probability of need, one per row (1-D)."""
        return self.calibrate(self.predict_raw(X))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw margins (e.g. row sums of SHAP contributions)."""
        self._check_fitted()
        return self.calibrator_(raw)

    def _raw(self, arr: np.ndarray) -> np.ndarray:
        return self.booster_.predict(arr, raw_score=True, num_threads=int(self.num_threads))

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("this NeedModel is not fitted yet: call fit() or NeedModel.load()")

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-safe data (LightGBM model text inside)."""
        self._check_fitted()
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "features": self.feature_names_,
            "monotone_constraints": self.monotone_constraints_,
            "catalog": {"name": self.catalog_name_, "version": self.catalog_version_},
            "params": {k: v for k, v in self.get_params().items() if k != "catalog"},
            "n_train": self.n_train_, "lightgbm_version": self.lightgbm_version_,
            "calibration": self.calibrator_.to_dict(),
            "booster": self.booster_.model_to_string(),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to one JSON file; returns the path."""
        return write_json(self.to_dict(), Path(path), indent=None, sort_keys=False,
                          allow_nan=True, newline=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, expected_features: Sequence[str],
             expected_catalog_version: str, num_threads: int = 0) -> NeedModel:
        """Read a saved model; refuse it unless its features and catalog version match."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IncompatibleModelError(f"cannot read need model {path}: {exc}") from exc
        return cls.from_dict(data, expected_features=expected_features,
                             expected_catalog_version=expected_catalog_version,
                             num_threads=num_threads, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, expected_features: Sequence[str],
                  expected_catalog_version: str, num_threads: int = 0,
                  source: str = "model") -> NeedModel:
        """Inverse of :meth:`to_dict`, with the same checks as :meth:`load`."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise IncompatibleModelError(f"{source} is not a saved need model")
        if data.get("format_version") != FORMAT_VERSION:
            raise IncompatibleModelError(
                f"{source} has format version {data.get('format_version')!r}; this code reads "
                f"version {FORMAT_VERSION}: retrain the model")
        features = list(data["features"])
        problem = describe_mismatch(features, list(expected_features),
                                    missing="the code has, the model lacks",
                                    extra="the model has, the code lacks")
        if problem:
            raise IncompatibleModelError(
                f"{source} was trained on other features than the running code: {problem}; "
                "retrain the model")
        version = data["catalog"]["version"]
        if version != expected_catalog_version:
            raise IncompatibleModelError(
                f"{source} was trained with catalog version {version!r}, the running code has "
                f"{expected_catalog_version!r}; retrain the model")
        params = {k: v for k, v in data["params"].items() if k != "num_threads"}
        model = cls(None, num_threads=num_threads, **params)
        model.booster_ = lgb.Booster(model_str=data["booster"])
        if model.booster_.feature_name() != features:
            raise IncompatibleModelError(f"{source}: booster features differ from its metadata")
        model.feature_names_ = features
        model.monotone_constraints_ = list(data["monotone_constraints"])
        model.catalog_name_ = data["catalog"]["name"]
        model.catalog_version_ = version
        model.n_train_ = int(data["n_train"])
        model.lightgbm_version_ = data["lightgbm_version"]
        model.calibrator_ = Calibrator.from_dict(data["calibration"])
        model.calibration_ = model.calibrator_.method
        return model


def describe_mismatch(got: Sequence[str], expected: Sequence[str], *, missing: str = "missing",
                      extra: str = "unexpected") -> str:
    """'' when the lists are equal, else which names are missing, extra or out of order."""
    got, expected = list(got), list(expected)
    if got == expected:
        return ""
    absent = [c for c in expected if c not in got]
    surplus = [c for c in got if c not in expected]
    parts = []
    if absent:
        parts.append(f"{missing} {absent}")
    if surplus:
        parts.append(f"{extra} {surplus}")
    if not parts:
        if len(set(got)) != len(got):
            dupes = sorted({c for c in got if got.count(c) > 1})
            parts.append(f"duplicated {dupes}")
        else:
            first = next(i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b)
            parts.append(f"same names in another order (position {first}: {got[first]!r}, "
                         f"expected {expected[first]!r})")
    return "; ".join(parts)


def check_features(X: pd.DataFrame, features: Sequence[str]) -> np.ndarray:  # noqa: N803
    """The feature matrix as a float array, after checking its columns are ``features`` in order."""
    if not isinstance(X, pd.DataFrame):
        raise FeatureMismatchError(
            f"X must be a DataFrame with the indicator columns, got {type(X).__name__}")
    columns = X.columns.tolist()
    if columns != list(features):
        problem = describe_mismatch([str(c) for c in columns], features)
        raise FeatureMismatchError(f"X columns are not the model's features: {problem}")
    bad = [c for c, dt in zip(columns, X.dtypes.tolist(), strict=True)
           if not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt))]
    if bad:
        raise FeatureMismatchError(f"X columns must be numeric; not numeric: {bad}")
    return X.to_numpy(dtype=float, na_value=np.nan)


def _labels(y: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(y, dtype=float).ravel()
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} labels for {n} rows")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError(f"{name} must hold 0/1 labels (no missing values)")
    if np.unique(arr).size < 2:
        raise ValueError(f"{name} must contain both classes")
    return arr
