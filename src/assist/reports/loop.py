"""Figures of a simulated year (``assist simulate-loop``): per policy and month, against the
simulator's hidden truth; the JSON other tools read, and the chart of need reached.

A month's inputs (plain frames, raw household ids of the simulated district): ``truth`` (the
visit month's ``true_need``), ``truth_as_of`` (the scored month's), ``visits`` (every visit of
the month: ``household_id``, ``outcome``, ``outreach``), ``allocated`` (the policy's visits)
and ``scores`` (the scored snapshot: ``probability``, ``allocated`` and the group columns; None
for the status quo). Definitions:

- ``visits`` / ``confirmed``: the policy's visits of the month (status quo: the district's own
  visits) and how many found need;
- ``repeat_share``: of those, households the policy visited in an earlier month of the run
  (``repeat_last_month``: in the month before — the measure of "the same households every
  month"); ``repeat_after_finding``: households the policy visited in an earlier month of the
  run with a finding (confirmed or not in need), so retries after a failed contact
  (unreachable, declined) are not counted — the measure of "visited twice for nothing";
- ``precision_truth``: share of them truly in need in the visit month;
- ``ece_population``: expected calibration error of the month's probabilities over every
  household against the truth of the scored month (the ``model`` policy);
- ``recall_ratio_min`` / ``_max``: per group of the gate's attributes, truly-needy households
  allocated / truly-needy households, divided by the largest group's; groups with fewer than
  ``MIN_POSITIVES`` truly-needy households are not judged;
- ``reached_within_3_months``: of the households that fell into need three months earlier
  (in need then, not the month before), the share visited by anyone (the district's own
  visits or the policy's) in those four months; null until the run has four months;
- ``reached_so_far`` and ``reached_cumulative``: of the households truly in need in some month
  of the run, the share visited by anyone in a month they were in need;
- ``uplift_true``: what the grants that followed the policy's visits did, three months on:
  the share of those households that would have been in need without their grants (need score
  + relief > 0, the simulator's counterfactual) minus the share that is (pooled over the months
  with three months to follow; ``uplift_households`` says over how many);
- ``uplift_estimate``: what the product estimates from its own records (learning policies,
  :mod:`assist.models.uplift`: granted households' first routine review 2-4 months on against
  their population-calibrated probability of need); ``uplift`` holds the whole estimate (its
  interval, the households behind it, per programme) and ``true_matched``, the simulator's
  true effect on the same households and review months, which checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.models.metrics import expected_calibration_error

ATTRIBUTES = ("head_sex", "head_age_band", "head_hukou", "has_disability")
MIN_POSITIVES = 20
#: visit outcomes that found something (need or no need); unreachable and declined did not
FINDINGS = ("confirmed", "not_in_need")
MONTH_FIELDS = ("month", "visits", "confirmed", "repeat_share", "precision_truth",
                "ece_population", "recall_ratio_min", "recall_ratio_max",
                "reached_within_3_months")


def _needy(truth: pd.DataFrame | None) -> pd.Series:
    if truth is None:
        return pd.Series(dtype=bool)
    return truth["true_need"].astype(bool)


def recall_ratios(scores: pd.DataFrame, needy: pd.Series, *,
                  attributes: Sequence[str] = ATTRIBUTES,
                  min_positives: int = MIN_POSITIVES) -> tuple[float | None, float | None]:
    """Lowest and highest recall ratio (group / largest group) over judged groups."""
    need = needy.reindex(scores.index, fill_value=False).to_numpy()
    chosen = scores["allocated"].astype(bool).to_numpy()
    ratios: list[float] = []
    for attr in (a for a in attributes if a in scores.columns):
        g = scores[attr].astype("string").fillna("(missing)").to_numpy()
        frame = pd.DataFrame({"g": g, "need": need, "hit": need & chosen})
        per = frame.groupby("g").agg(n=("need", "size"), pos=("need", "sum"), hit=("hit", "sum"))
        largest = per["n"].idxmax()
        judged = per[per["pos"] >= min_positives]
        if largest not in judged.index or per.loc[largest, "hit"] == 0:
            continue
        base = per.loc[largest, "hit"] / per.loc[largest, "pos"]
        ratios += [float(r.hit / r.pos / base) for r in judged.itertuples()]
    return (min(ratios), max(ratios)) if ratios else (None, None)


def _month(m: dict[str, Any], *, status_quo: bool, ece: bool, earlier: set[str],
           last: set[str], found: set[str]) -> dict[str, Any]:
    visits = m["visits"]
    mine = set(visits["household_id"]) if status_quo else set(m["allocated"])
    outcome = visits.set_index("household_id")["outcome"]
    needy = _needy(m["truth"])
    ids = sorted(mine)
    row: dict[str, Any] = {
        "month": m["month"], "visits": len(ids),
        "confirmed": int((outcome.reindex(ids) == "confirmed").sum()),
        "repeat_share": (len(mine & earlier) / len(ids)) if ids else None,
        "repeat_last_month": (len(mine & last) / len(ids)) if ids else None,
        "repeat_after_finding": (len(mine & found) / len(ids)) if ids else None,
        "precision_truth": float(needy.reindex(ids, fill_value=False).mean()) if ids else None,
        "ece_population": None, "recall_ratio_min": None, "recall_ratio_max": None,
    }
    scores, truth_as_of = m.get("scores"), m.get("truth_as_of")
    if scores is not None and truth_as_of is not None:
        y = _needy(truth_as_of).reindex(scores.index)
        known = y.notna().to_numpy()
        if ece:
            row["ece_population"] = expected_calibration_error(
                y[known].astype(int), scores["probability"].to_numpy()[known])
        row["recall_ratio_min"], row["recall_ratio_max"] = recall_ratios(scores, y.fillna(False))
    return row


def _reached(months: list[dict[str, Any]], truth: dict[str, pd.DataFrame]) -> list[Any]:
    """Per month: the share of households that fell into need three months earlier and were
    visited by anyone in those four months (None before the run has four months)."""
    seen = [set(m["visits"]["household_id"]) for m in months]
    out: list[Any] = []
    for j in range(len(months)):
        if j < 3:
            out.append(None)
            continue
        start = months[j - 3]["month"]
        before = str(np.datetime64(start, "M") - 1)
        now, prev = _needy(truth.get(start)), _needy(truth.get(before))
        fell = now.index[now.to_numpy() & ~prev.reindex(now.index, fill_value=False).to_numpy()]
        if len(fell) == 0:
            out.append(None)
            continue
        visited = set().union(*seen[j - 3:j + 1])
        out.append(sum(h in visited for h in fell) / len(fell))
    return out


def true_uplift(months: list[dict[str, Any]], *, status_quo: bool) -> tuple[float | None, int]:
    """The simulator's counterfactual effect of the policy's grants on need three months on
    (see the module docstring), and the households behind it."""
    would, was, n = 0.0, 0.0, 0
    for j in range(len(months) - 3):
        m = months[j]
        mine = set(m["visits"]["household_id"]) if status_quo else set(m["allocated"])
        granted = [h for h in m.get("granted", []) if h in mine]
        later = months[j + 3]["truth"].reindex(granted).dropna()
        if later.empty:
            continue
        would += float((later["need_score"] + later["relief"] > 0).sum())
        was += float((later["need_score"] > 0).sum())
        n += len(later)
    return ((would - was) / n if n else None), n


def policy_figures(months: list[dict[str, Any]], *, status_quo: bool, ece: bool,
                   truth: dict[str, pd.DataFrame],
                   uplift: dict[str, Any] | None = None) -> dict[str, Any]:
    """The figures of one policy's run (see the module docstring); ``uplift``: the product's
    estimate (:mod:`assist.models.uplift`, with ``true_matched``), None where not made."""
    rows, earlier, last, found = [], set(), set(), set()
    ever_needy: set[str] = set()
    reached: set[str] = set()
    for m in months:
        rows.append(_month(m, status_quo=status_quo, ece=ece, earlier=earlier, last=last,
                           found=found))
        last = set(m["visits"]["household_id"]) if status_quo else set(m["allocated"])
        earlier |= last
        outcome = m["visits"].set_index("household_id")["outcome"].reindex(sorted(last))
        found |= set(outcome.index[outcome.isin(FINDINGS).to_numpy()])
        needy = _needy(m["truth"])
        now = set(needy.index[needy.to_numpy()])
        ever_needy |= now
        reached |= now & set(m["visits"]["household_id"])
        rows[-1]["reached_so_far"] = len(reached) / len(ever_needy) if ever_needy else None
    for row, r in zip(rows, _reached(months, truth), strict=True):
        row["reached_within_3_months"] = r
    estimate = uplift
    true, households = true_uplift(months, status_quo=status_quo)
    return {"months": rows,
            "reached_cumulative": len(reached) / len(ever_needy) if ever_needy else None,
            "uplift_estimate": None if estimate is None else estimate.get("effect"),
            "uplift_true": true, "uplift_households": households, "uplift": estimate}


def chart(figures: dict[str, dict[str, Any]], path: Path) -> Path:
    """PNG: share of truly-needy households reached by month, one line per policy."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    for name, f in figures.items():
        xs = [r["month"] for r in f["months"]]
        ys = [100 * (r["reached_so_far"] or 0) for r in f["months"]]
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_ylabel("truly-needy households reached (%)")
    ax.set_xlabel("month")
    ax.set_title("Hidden need reached, month after month (simulated district)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
