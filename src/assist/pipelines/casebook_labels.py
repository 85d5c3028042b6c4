"""Case-store labels: outcomes recorded by caseworkers, as labels of the feature month their
referral was scored on, combined with the department's verification records.

A decision on a referral of snapshot month m labels the household's features of month m (the
``referral_month`` column of ``assist casebook export-labels``): the very example the referral
was ranked on, which the department's records label with a visit dated in m + 1
(:mod:`assist.pipelines.dataset`), whatever the decision's visit date. Files written before
``referral_month`` existed give only the label month ``month`` (the visit's month, as the
department's records have it); their feature month is the month before it.

Rules, in this order (each drop is counted under its reason, never silent):

1. ``duplicates``: one label per household and feature month — the latest update wins
   (``updated_at``, then ``date``, then the order of the rows in the file);
2. ``unlabelled``: outcomes other than ``confirmed`` / ``not_in_need`` (unreachable, declined,
   pending, unknown values) say nothing;
3. ``outside_months``: the feature month is not an example month of the run (before the
   look-back months, outside ``data.months``, or after the store's last month);
4. ``not_in_store``: the household is not among the store's households that month.

Precedence: where the department's records also label a household-month, the case store's
label replaces it (it answers the question the referral asked); such labels are counted as
``replaced_verification``. Used labels train the trees like any other label, and the final
model also learns those of months the folds did not train on (:mod:`assist.pipelines.train`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assist.features.labels import LABEL_OF_OUTCOME

#: why a case-store label was not used, in the order the rules apply
DROP_REASONS = ("duplicates", "unlabelled", "outside_months", "not_in_store")
DROP_WORDS = {"duplicates": "duplicates (an earlier version of a later decision)",
              "unlabelled": "unlabelled outcomes (unreachable, declined, pending, unknown)",
              "outside_months": "outside the store's example months",
              "not_in_store": "households not in the store that month"}


def _month(values: pd.Series) -> pd.Series:
    """``YYYY-MM`` strings (NaT where not a month)."""
    return pd.to_datetime(values.astype("string"), format="%Y-%m", errors="coerce")


def _times(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(df[column], utc=True, errors="coerce")


def feature_months(df: pd.DataFrame) -> pd.Series:
    """The feature month each label row labels: ``referral_month``, else the month before the
    label month ``month`` (NaN when neither is a month)."""
    before = (_month(df["month"]) - pd.DateOffset(months=1)).dt.strftime("%Y-%m")
    if "referral_month" not in df.columns:
        return before
    return _month(df["referral_month"]).dt.strftime("%Y-%m").fillna(before)


def prepare(extra: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rules 1–2: one labelled row per household and feature month (``household_id,
    feature_month, label``) and the counts so far (``rows``, ``dropped``)."""
    df = extra.reset_index(drop=True)
    rows = pd.DataFrame({"household_id": df["household_id"].astype(str),
                         "feature_month": feature_months(df),
                         "updated": _times(df, "updated_at"), "date": _times(df, "date"),
                         "row": np.arange(len(df)), "outcome": df["outcome"].astype(str)})
    rows = rows.sort_values(["updated", "date", "row"], na_position="first", kind="stable")
    latest = rows.drop_duplicates(["household_id", "feature_month"], keep="last")
    known = latest["outcome"].isin(list(LABEL_OF_OUTCOME)).to_numpy()
    out = latest.loc[known, ["household_id", "feature_month"]].assign(
        label=latest.loc[known, "outcome"].map(LABEL_OF_OUTCOME).astype(float))
    counts = {"rows": len(df), "used": 0, "replaced_verification": 0, "by_month": {},
              "dropped": {"duplicates": len(rows) - len(latest),
                          "unlabelled": int((~known).sum()), "outside_months": 0,
                          "not_in_store": 0}}
    return out.sort_values(["feature_month", "household_id"]).reset_index(drop=True), counts


def months_with_labels(labels: pd.DataFrame) -> set[str]:
    """Feature months that hold at least one prepared label."""
    return {str(m) for m in labels["feature_month"].dropna().unique()}


def merge(y: pd.Series, labels: pd.DataFrame, month: str,
          counts: dict[str, Any]) -> tuple[pd.Series, pd.Series]:
    """Rules 4 and precedence for one feature month: ``y`` (the department's labels, indexed
    by the month's households) with the case store's labels put over them, and the mask of
    the rows they label; ``counts`` is updated."""
    rows = labels.loc[(labels["feature_month"] == month).to_numpy()]
    inside = rows["household_id"].isin(y.index).to_numpy()
    hit = rows.loc[inside]
    y = y.copy()
    replaced = int(y.reindex(hit["household_id"]).notna().sum())
    y.loc[hit["household_id"].to_numpy()] = hit["label"].to_numpy(dtype=float)
    counts["dropped"]["not_in_store"] += int((~inside).sum())
    counts["used"] += len(hit)
    counts["replaced_verification"] += replaced
    if len(hit):
        counts["by_month"][month] = len(hit)
    return y, pd.Series(y.index.isin(hit["household_id"]), index=y.index, name="casebook")


def count_outside(labels: pd.DataFrame, months: set[str], counts: dict[str, Any]) -> None:
    """Rule 3: count the labels whose feature month is not an example month of the run."""
    counts["dropped"]["outside_months"] += int((~labels["feature_month"].isin(months)).sum())


def summary(counts: dict[str, Any] | None) -> str:
    """The counts in one line, for ``assist train`` and the run's notes."""
    if counts is None:
        return "case-store labels: none given (data.extra_labels is not set)"
    dropped = counts["dropped"]
    said = ", ".join(f"{dropped[r]:,} {DROP_WORDS[r]}" for r in DROP_REASONS if dropped[r])
    training = counts.get("used_in_training")
    return (f"case-store labels: {counts['used']:,} of {counts['rows']:,} row(s) used"
            + (f", {training:,} in the final model's training" if training is not None else "")
            + f"; {counts['replaced_verification']:,} replaced a department verification"
            + f"; dropped: {said or 'none'}")
