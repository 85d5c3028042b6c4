"""Population calibration: probabilities that describe the whole district, not only the
households that were visited (the selective-labels problem, Lakkaraju et al. KDD 2017).

The case store's labels come from visits chosen two ways (:mod:`assist.models.exploration`):
by rank (and pinned: kept from an earlier month's rank) and by exploration (a random,
band-stratified sample of the households the ranking did not choose). Both choose on the
model's scores, that is on the features alone, so P(need | score) is the same for the visited
households as for the others (covariate shift, not label shift): a calibration map fitted on
these labels holds for the district wherever the labels reach, and exploration makes them
reach the low scores the ranking never visits. Such a map needs no weights: weighting by
1 / propensity (Horvitz–Thompson) would only add variance, since a few explored labels carry
weights in the hundreds (Shimodaira, "Improving predictive inference under covariate shift by
weighting the log-likelihood function", J. Stat. Plan. Inference 2000: weights help only a
misspecified model). Measured on the simulated year (20,000 households, seed 7; the third
model's raw scores, six months of labels): weighted Platt scaling had a population ECE of
0.021-0.029 and put the top 5 % of households at 0.40 where 0.70-0.81 were in need;
unweighted, 0.004-0.010 and 0.79. Labels of visits chosen otherwise (the department's own visits to applicants,
chosen by the households themselves, so by their need) have no known propensity and stay out.
Findings are not the truth: when the experiment declares how often they are right
(``labels.sensitivity`` / ``specificity``, from quality-control re-visits), the map is turned
into a probability of need (Rogan–Gladen). The trees keep learning from every label (ranking);
only the calibration map is refitted, with Platt scaling (two parameters: the explored labels
are few, which an isotonic map would follow step by step). Used by
:func:`assist.pipelines.train.run_training` when the experiment's ``data.extra_labels`` carry
``selection`` and ``propensity`` (``assist simulate-loop`` writes them; a district's case-store
export does too once its snapshots record them).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.models.calibration import fit_sigmoid
from assist.models.need import NeedModel
from assist.pipelines.dataset import Dataset, read_extra_labels

#: outcomes that label (the others say nothing about need)
LABEL_OF = {"confirmed": 1.0, "not_in_need": 0.0}
#: a population calibration needs at least this many explored labels
MIN_EXPLORED = 20


def weighted_sample(ds: Dataset, labels: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray,
                                                                 np.ndarray, dict[str, int]]:
    """Features, labels and 1 / propensity weights of the labels with a known propensity,
    each on the features its referral was scored on (the latest decision per household and
    month), and counts by how the visit was chosen."""
    keep = labels["propensity"].notna() & labels["outcome"].isin(list(LABEL_OF))
    rows = labels.loc[keep.to_numpy()].copy()
    rows["feature_month"] = rows["referral_month"].astype(str)
    if "updated_at" in rows.columns:
        rows = rows.sort_values("updated_at", kind="stable")
    rows = rows.drop_duplicates(["household_id", "feature_month"], keep="last")
    xs, ys, ws, how = [], [], [], []
    for m in (*ds.months, *ds.casebook_only):
        part = rows.loc[(rows["feature_month"] == m.month).to_numpy()]
        part = part.loc[part["household_id"].isin(m.X.index).to_numpy()]
        if len(part):
            xs.append(m.X.loc[part["household_id"].to_numpy()])
            ys.append(part["outcome"].map(LABEL_OF).to_numpy(dtype=float))
            ws.append(1.0 / part["propensity"].to_numpy(dtype=float))
            how.append(part["selection"].astype(str).to_numpy())
    if not xs:
        return pd.DataFrame(), np.zeros(0), np.zeros(0), {}
    chosen = pd.Series(np.concatenate(how)).value_counts()
    return (pd.concat(xs), np.concatenate(ys), np.concatenate(ws),
            {str(k): int(v) for k, v in chosen.items()})


def calibrate_for_population(model: NeedModel, ds: Dataset, labels_path: Path | None, *,
                             quality: tuple[float, float] | None = None,
                             ) -> tuple[NeedModel, dict[str, Any]]:
    """Refit ``model``'s calibration map on the weighted sample (see the module docstring);
    with ``quality`` (the findings' sensitivity and specificity) the map gives the probability
    of need rather than of a finding of need (:func:`assist.models.calibration.rogan_gladen`).
    Returns the model and what was done (``applied`` false, with the reason, when not)."""
    if labels_path is None:
        return model, {"applied": False, "reason": "no case-store labels"}
    labels = read_extra_labels(labels_path)
    if "propensity" not in labels.columns or "referral_month" not in labels.columns:
        return model, {"applied": False, "reason": "the labels carry no propensities"}
    X, y, w, counts = weighted_sample(ds, labels)  # noqa: N806
    explored = counts.get("exploration", 0)
    if explored < MIN_EXPLORED or len(np.unique(y)) < 2:
        return model, {"applied": False, "counts": counts,
                       "reason": f"{explored} explored label(s) (need {MIN_EXPLORED}) or one "
                                 "class only"}
    # no weights: see the module docstring
    fitted = replace(fit_sigmoid(model.predict_raw(X), y), basis="population")
    if quality is not None:
        fitted = replace(fitted, sensitivity=quality[0], specificity=quality[1])
    model.calibrator_ = fitted
    model.calibration_ = "sigmoid"
    return model, {"applied": True, "method": "sigmoid on labels chosen by score (rank, exploration), "
                                               "unweighted",
                   "rows": int(len(y)), "counts": counts, "quality": quality,
                   "population": float(np.round(w.sum(), 1))}


def note(info: dict[str, Any]) -> str:
    """One line for the training report."""
    if not info.get("applied"):
        return f"population calibration not applied: {info.get('reason')}"
    per = ", ".join(f"{k} {v:,}" for k, v in sorted(info["counts"].items()))
    quality = info.get("quality")
    findings = ("" if quality is None else f"; findings right with sensitivity {quality[0]:.3f} "
                f"and specificity {quality[1]:.3f} (Rogan-Gladen)")
    return (f"calibrated for the whole district on {info['rows']:,} case-store labels with a "
            f"known propensity ({per}), chosen by score alone, so unweighted (weighted "
            f"1/propensity they would represent {info['population']:,.0f} households)"
            f"{findings}")
