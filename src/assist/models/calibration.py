"""Probability calibration of a raw model score, fitted on held-out rows and saved as JSON.

A :class:`Calibrator` maps the need model's raw margin (log-odds) to a probability:

- ``isotonic``: a non-decreasing step-and-slope map (scikit-learn ``IsotonicRegression`` on the
  raw margin, clipped to [0, 1] and flat beyond the fitted range), stored as its thresholds;
- ``sigmoid``: Platt scaling ``p = 1 / (1 + exp(-(a * raw + b)))`` with Platt's smoothed
  targets (Platt 1999), stored as ``a`` and ``b``;
- ``none``: the booster's own probability, ``1 / (1 + exp(-raw))``.

Isotonic calibration needs many rows (it overfits small sets), so ``auto`` picks it only when
the calibration set has at least ``isotonic_min_rows`` rows, and Platt scaling otherwise.
Both maps are non-decreasing in the raw score, so calibration never reorders households
(isotonic maps may create ties: rank by the raw score).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

Method = Literal["isotonic", "sigmoid", "none"]
METHODS: tuple[str, ...] = ("isotonic", "sigmoid", "none")
#: below this many calibration rows ``auto`` uses Platt scaling instead of isotonic regression
ISOTONIC_MIN_ROWS = 1000
#: smallest Platt slope: the map stays increasing, so calibration never reorders households
MIN_SLOPE = 1e-3


@dataclass(frozen=True, eq=False)
class Calibrator:
    """A fitted, non-decreasing map from raw score to probability."""

    method: Method
    #: isotonic: raw-score thresholds and their probabilities (linear in between)
    x: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    y: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    #: sigmoid: slope and intercept on the raw score
    a: float = 1.0
    b: float = 0.0
    #: rows and positives of the calibration set (0 for ``none``)
    n: int = 0
    positives: int = 0
    #: how often the labels (caseworkers' findings) are right; below 1 the map's probability
    #: of a finding is turned into a probability of need (:func:`rogan_gladen`)
    sensitivity: float = 1.0
    specificity: float = 1.0
    #: whom the map describes: ``visited`` (fitted on visited households) or ``population``
    #: (refitted on the labels of visits chosen by score, exploration included: the district)
    basis: str = "visited"

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the raw scores."""
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            q = np.interp(raw, self.x, self.y)
        elif self.method == "sigmoid":
            q = expit(self.a * raw + self.b)
        else:
            return expit(raw)
        if self.sensitivity < 1 or self.specificity < 1:
            return rogan_gladen(q, self.sensitivity, self.specificity)
        return q

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (floats round-trip exactly through ``json``)."""
        out: dict[str, Any] = {"method": self.method, "n": int(self.n),
                               "positives": int(self.positives)}
        if self.method == "isotonic":
            out |= {"x": [float(v) for v in self.x], "y": [float(v) for v in self.y]}
        elif self.method == "sigmoid":
            out |= {"a": float(self.a), "b": float(self.b)}
        if self.sensitivity < 1 or self.specificity < 1:
            out |= {"sensitivity": float(self.sensitivity),
                    "specificity": float(self.specificity)}
        if self.basis != "visited":
            out["basis"] = self.basis
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on a malformed entry."""
        method = data.get("method")
        if method not in METHODS:
            raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
        common = {"n": int(data.get("n", 0)), "positives": int(data.get("positives", 0)),
                  "sensitivity": float(data.get("sensitivity", 1.0)),
                  "specificity": float(data.get("specificity", 1.0)),
                  "basis": str(data.get("basis", "visited"))}
        if common["sensitivity"] + common["specificity"] <= 1:
            raise ValueError("label sensitivity + specificity must exceed 1")
        if method == "isotonic":
            x, y = np.asarray(data["x"], dtype=float), np.asarray(data["y"], dtype=float)
            if x.ndim != 1 or x.shape != y.shape or x.size == 0 or np.any(np.diff(x) < 0) \
                    or np.any(np.diff(y) < 0):
                raise ValueError("isotonic calibration needs equal-length, non-decreasing x and y")
            return cls("isotonic", x=x, y=y, **common)
        if method == "sigmoid":
            return cls("sigmoid", a=float(data["a"]), b=float(data["b"]), **common)
        return cls("none")


def rogan_gladen(q: np.ndarray, sensitivity: float, specificity: float) -> np.ndarray:
    """Probability of need from the probability ``q`` of a finding of need, when findings are
    right with the given sensitivity and specificity (Rogan and Gladen, "Estimating prevalence
    from the results of a screening test", Am. J. Epidemiol. 1978): ``(q + sp - 1) / (se + sp
    - 1)``, clipped to [0, 1]. Increasing in ``q``, so it never reorders households."""
    return np.clip((np.asarray(q, dtype=float) + specificity - 1)
                   / (sensitivity + specificity - 1), 0.0, 1.0)


def fit_isotonic(raw: np.ndarray, y: np.ndarray, *,
                 sample_weight: np.ndarray | None = None) -> Calibrator:
    """Isotonic regression of the outcome on the raw score (rows weighted when given)."""
    raw, y = _check(raw, y)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(raw, y, sample_weight=_weights(sample_weight, raw.size))
    return Calibrator("isotonic", x=np.asarray(iso.X_thresholds_, dtype=float),
                      y=np.asarray(iso.y_thresholds_, dtype=float), n=raw.size,
                      positives=int(y.sum()))


def fit_sigmoid(raw: np.ndarray, y: np.ndarray, *,
                sample_weight: np.ndarray | None = None) -> Calibrator:
    """Platt scaling: a logistic fit of the outcome on the raw score, with smoothed targets;
    with ``sample_weight`` each row counts that many times (e.g. Horvitz-Thompson weights
    1 / propensity, so a sample describes the population it was drawn from)."""
    raw, y = _check(raw, y)
    w = _weights(sample_weight, raw.size)
    n_pos = float(y.sum())
    n_neg = raw.size - n_pos
    t = np.where(y > 0, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * raw + ab[1]
        r = w * (expit(z) - t)
        return float(np.sum(w * (np.logaddexp(0.0, z) - t * z))), np.array([r @ raw, r.sum()])

    # the slope is kept positive: calibration must never reverse the ranking (a few noisy
    # calibration rows can prefer a negative slope, which would list the least needy first)
    res = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B",
                   bounds=[(MIN_SLOPE, None), (None, None)])
    a, b = (float(v) for v in res.x)
    return Calibrator("sigmoid", a=a, b=b, n=raw.size, positives=int(n_pos))


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str = "auto", *,
                   isotonic_min_rows: int = ISOTONIC_MIN_ROWS) -> Calibrator:
    """Fit the named calibration (``auto``: isotonic with enough rows, else sigmoid)."""
    if method == "auto":
        method = "isotonic" if np.asarray(raw).size >= isotonic_min_rows else "sigmoid"
    if method == "isotonic":
        return fit_isotonic(raw, y)
    if method == "sigmoid":
        return fit_sigmoid(raw, y)
    if method == "none":
        return Calibrator("none")
    raise ValueError(f"calibration must be 'auto' or one of {METHODS}, got {method!r}")


def _weights(weight: np.ndarray | None, n: int) -> np.ndarray:
    """Row weights (all 1 when none), scaled to mean 1; positive and finite or an error."""
    if weight is None:
        return np.ones(n)
    w = np.asarray(weight, dtype=float).ravel()
    if w.size != n or not np.all(np.isfinite(w) & (w > 0)):
        raise ValueError("calibration weights must be one positive, finite number per row")
    return w / w.mean()


def _check(raw: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = np.asarray(raw, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if raw.shape != y.shape:
        raise ValueError(f"calibration scores ({raw.size}) and labels ({y.size}) differ in length")
    if not np.all(np.isfinite(raw)):
        raise ValueError("calibration scores must be finite")
    if not np.isin(y, (0.0, 1.0)).all() or np.unique(y).size < 2:
        raise ValueError("calibration labels must be 0/1 and contain both classes")
    return raw, y
