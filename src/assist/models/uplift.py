"""Did the grant help? The effect of a grant on whether the household is still in need a few
months on, estimated from what the product records.

The design (a model-based comparison, g-computation; Robins 1986, Hernán and Robins, "Causal
Inference: What If", ch. 13):

- **Who**: households whose referral was visited, confirmed in need and granted at least one
  programme (the case store's decisions).
- **Observed outcome**: their first routine review after the visit (the department's
  verification records), kept when it falls ``2–4`` months after the visit. Reviews of assisted
  households come at random months (a share every month, whatever their need), so the households
  whose first review falls in the window are a random part of the granted; the share found in
  need is turned into a share *in need* with the findings' declared sensitivity and
  specificity (Rogan–Gladen, :func:`assist.models.calibration.rogan_gladen`).
- **Counterfactual**: the same households' population-calibrated probability of need in the
  review month's snapshot. The model reads the departments' extracts, which a grant does not
  enter (no indicator reads the assistance table), so the probability is what the district's
  data say about the household's need without counting the grant.
- **Effect** = counterfactual share in need − observed share in need (positive: the grants
  lowered need), with a 95 % bootstrap interval over households (percentile, resampling the
  households behind the figure), overall and per programme where at least ``min_households``
  households had it.

What can bias it, said on every report: the model does not know that these households were
found in need before (need persists: a household's own hidden circumstances), so the
counterfactual can be too low and the effect too small; the review's findings are noisy and the
correction relies on the declared sensitivity and specificity. On simulated data
``assist simulate-loop`` checks the estimate against the simulator's true effect on the same
households and months.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assist.models.calibration import rogan_gladen

#: a figure per programme needs at least this many households
MIN_HOUSEHOLDS = 30
#: bootstrap resamples of the interval
REPS = 2000
#: columns of the follow-up pairs (:func:`estimate`)
PAIR_COLUMNS = ("household_id", "visit_month", "review_month", "programmes", "counterfactual",
                "found_in_need")
METHOD = ("model-based comparison (g-computation): counterfactual = the population-calibrated "
          "probability of need in the review month's snapshot (the extracts a grant does not "
          "enter); observed = the first routine review 2-4 months after the visit, found in "
          "need, corrected with the findings' sensitivity and specificity (Rogan-Gladen); "
          "95% percentile bootstrap over households")
CAVEAT = ("the model does not know the household was found in need before, so the "
          "counterfactual may be too low and the effect too small")


def _effects(cf: np.ndarray, found: np.ndarray, se: float, sp: float) -> np.ndarray:
    """Effect per row of ``cf`` / ``found`` (2-D: resamples x households)."""
    observed = rogan_gladen(found.mean(axis=-1), se, sp)
    return cf.mean(axis=-1) - observed


def _figure(cf: np.ndarray, found: np.ndarray, *, se: float, sp: float, reps: int,
            rng: np.random.Generator) -> dict[str, Any]:
    n = len(cf)
    effect = float(_effects(cf, found, se, sp))
    idx = rng.integers(0, n, size=(reps, n))
    boot = _effects(cf[idx], found[idx], se, sp)
    low, high = np.quantile(boot, [0.025, 0.975])
    return {"effect": round(effect, 4), "low": round(float(low), 4),
            "high": round(float(high), 4), "households": int(n),
            "counterfactual": round(float(cf.mean()), 4),
            "observed": round(float(rogan_gladen(found.mean(), se, sp)), 4),
            "found_share": round(float(found.mean()), 4)}


def estimate(pairs: pd.DataFrame, *, sensitivity: float, specificity: float,
             min_households: int = MIN_HOUSEHOLDS, reps: int = REPS,
             seed: int = 0) -> dict[str, Any]:
    """The effect of the grants behind ``pairs`` (one row per granted household:
    :data:`PAIR_COLUMNS`) on the share in need at the follow-up review (see the module
    docstring). Returns ``{"method", "caveat", "effect", "low", "high", "households", ...,
    "by_programme": {code: {...}}, "not_estimated": {code: n}}``; ``effect`` is None with a
    ``reason`` when fewer than ``min_households`` households are behind it."""
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise ValueError(f"follow-up pairs need column {missing[0]!r}")
    if not 0 < sensitivity + specificity - 1 <= 1:
        raise ValueError("findings no better than chance: sensitivity + specificity must "
                         "exceed 1")
    out: dict[str, Any] = {"method": METHOD, "caveat": CAVEAT, "sensitivity": sensitivity,
                           "specificity": specificity, "households": int(len(pairs)),
                           "by_programme": {}, "not_estimated": {}}
    if len(pairs) < min_households:
        return {**out, "effect": None, "low": None, "high": None,
                "reason": f"{len(pairs)} followed-up granted household(s), fewer than "
                          f"{min_households}"}
    rng = np.random.default_rng(seed)
    cf = pairs["counterfactual"].to_numpy(dtype=float)
    found = pairs["found_in_need"].to_numpy(dtype=float)
    out.update(_figure(cf, found, se=sensitivity, sp=specificity, reps=reps, rng=rng))
    held = pairs["programmes"].map(lambda v: sorted(set(v)))
    for code in sorted({c for v in held for c in v}):
        mask = held.map(lambda v, c=code: c in v).to_numpy(dtype=bool)
        if mask.sum() < min_households:
            out["not_estimated"][code] = int(mask.sum())
            continue
        out["by_programme"][code] = _figure(cf[mask], found[mask], se=sensitivity,
                                            sp=specificity, reps=reps, rng=rng)
    return out
