"""Held-out predictions of a training run, kept as one table for the model's fairness report
(:func:`assist.reports.model.fairness_report`) and for ``assist audit``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from assist.pipelines import evaluate as ev


def heldout_predictions(folds: Sequence[ev.FoldResult], *, share: float) -> pd.DataFrame:
    """One row per household and test month: ``household_id, month, score`` (calibrated
    probability), ``raw_score``, ``selected`` (1: within capacity that month), ``verified``
    (1/0, NaN unvisited), ``truth`` (when known) and the evaluation group columns."""
    parts = []
    for f in folds:
        t, scored = f.test, f.scores[ev.MODEL]
        selected = ev.selection(t, scored.rank, share=share)
        d = pd.DataFrame({"household_id": t.X.index.astype(str), "month": f.fold.test,
                          "score": np.asarray(scored.prob if scored.prob is not None
                                              else scored.rank, dtype=float),
                          "raw_score": np.asarray(scored.rank, dtype=float),
                          "selected": selected.astype("int64"),
                          "verified": t.y.to_numpy(dtype=float)})
        if t.truth is not None:
            d["truth"] = t.truth.to_numpy(dtype=float)
        groups = t.groups.reset_index(drop=True).astype("string")
        parts.append(pd.concat([d, groups.drop(columns=d.columns, errors="ignore")], axis=1))
    out = pd.concat(parts, ignore_index=True)
    if "truth" in out and out["truth"].isna().all():
        out = out.drop(columns="truth")
    return out
