"""The table that ``assist audit --as-of M`` audits: month M's scoring snapshot (score, whether
the household was listed, the group attributes it carries) with the labels known for it.

A household of snapshot M is labelled as training labels it (:mod:`assist.pipelines.dataset`,
:mod:`assist.pipelines.casebook_labels`): the outcome of its informative verification visit
dated in M + 1 in the department's records (when the store holds that month), with the case
store's decision on its referral of month M put over it. Households with neither are
unlabelled; the audit selects over every household first and then judges the labelled ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.errors import InputError
from assist.pipelines import casebook_labels as cl
from assist.pipelines.dataset import label_tables, next_month, outcomes_in_month
from assist.storage import snapshot
from assist.storage.store import list_snapshots

#: group attributes the scoring snapshot carries, compared by the live audit
GROUPS = ("head_sex", "head_age_band", "head_hukou", "has_disability", "street_code")
#: how the month's list selected households: snapshot column -> what it means
SELECTIONS = {"candidate": "listed on the month's referral list",
              "allocated": "given one of the month's caseworker visits"}
LABEL, SCORE = "label", "probability"


@dataclass(frozen=True)
class MonthTable:
    """The audited month: one row per household of the snapshot, and where its labels came
    from (``counts``: households labelled by each source)."""

    as_of: str
    frame: pd.DataFrame
    groups: tuple[str, ...]
    counts: dict[str, Any]


def month_labels(store: Path | None, as_of: str, households: pd.Index,
                 casebook: pd.DataFrame | None) -> tuple[pd.Series, dict[str, Any]]:
    """1 / 0 / NaN per household of snapshot ``as_of``: department visits dated in the next
    month, the case store's decisions on the month's referrals over them."""
    y = pd.Series(np.nan, index=households, name=LABEL)
    label_month = next_month(as_of)
    held = set(list_snapshots(store)) if store is not None and Path(store).is_dir() else set()
    if label_month in held:
        dept = outcomes_in_month(label_tables(Path(store), label_month, held), label_month)
        y = dept.reindex(households).rename(LABEL)
    counts: dict[str, Any] = {"verification": int(y.notna().sum()), "casebook": 0,
                              "label_month": label_month if label_month in held else None}
    if casebook is not None and len(casebook):
        labels, info = cl.prepare(casebook)
        y, mask = cl.merge(y, labels, as_of, info)
        counts["casebook"] = int(mask.sum())
        counts["replaced_verification"] = info["replaced_verification"]
    counts["labelled"] = int(y.notna().sum())
    return y, counts


def month_table(*, scores_dir: Path, store: Path | None, as_of: str,
                casebook: pd.DataFrame | None, selection: str = "candidate") -> MonthTable:
    """Snapshot ``as_of`` with its labels; a one-line error when the month has no snapshot or
    no household of it has a label yet."""
    if selection not in SELECTIONS:
        raise InputError(f"selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    if not snapshot.exists(scores_dir, as_of):
        raise InputError(f"no scoring snapshot of {as_of} (months with one: "
                         f"{', '.join(snapshot.months(scores_dir)) or 'none'})",
                         file=str(scores_dir))
    scores = snapshot.read_scores(scores_dir, as_of)
    groups = tuple(g for g in GROUPS if g in scores.columns)
    missing = [c for c in (SCORE, selection) if c not in scores.columns]
    if missing or not groups:
        raise InputError("the scoring snapshot carries no " + (
            f"column {missing[0]!r}" if missing else "group columns") + "; score the month again",
            file=str(scores_dir), column=missing[0] if missing else None)
    y, counts = month_labels(store, as_of, scores.index, casebook)
    if not counts["labelled"]:
        raise InputError(f"no labels for {as_of}: no verification visit dated in "
                         f"{next_month(as_of)} in the store and no decision recorded on the "
                         f"month's referrals")
    frame = scores[[SCORE, selection, *groups]].assign(**{LABEL: y.to_numpy()})
    frame[selection] = frame[selection].fillna(False).astype(bool)
    return MonthTable(as_of=as_of, frame=frame, groups=groups, counts=counts)
