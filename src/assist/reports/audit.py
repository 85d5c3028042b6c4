"""Fairness audit of any scored table (``assist audit``): read, check, audit, render.

Reads CSV or Parquet, checks the score, label and group columns (errors name the file, column
and row), selects by threshold, top k or top P%, and audits with
:func:`assist.models.fairness.audit`; :func:`audit_html` renders it with the fairness report's
view and body (:mod:`assist.reports.render`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.errors import InputError
from assist.models import fairness
from assist.reports.render import fairness_html


def read_scored(path: Path) -> pd.DataFrame:
    """A scored table from CSV or Parquet (by suffix); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("scored table not found", file=str(path))
    try:
        if path.suffix.lower() in (".csv", ".txt"):
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable scored table ({type(exc).__name__})", file=str(path)) from None


def _labels(frame: pd.DataFrame, col: str, path: Path, drop_unlabelled: bool) -> pd.Series:
    raw = frame[col]
    if pd.api.types.is_bool_dtype(raw):
        raw = raw.astype("Int64")
    y = pd.to_numeric(raw, errors="coerce").astype(float)
    bad = raw.notna() & ~y.isin([0.0, 1.0])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"label column must hold 0/1 outcomes, found {raw.iloc[row]}",
                         file=str(path), column=col, row=row)
    if y.isna().any() and not drop_unlabelled:
        raise InputError(f"{int(y.isna().sum())} rows have no label; pass --drop-unlabelled to "
                         "audit the labelled rows only", file=str(path), column=col)
    return y


def run_audit(*, path: Path, score_col: str, label_col: str, groups: Sequence[str],
              reference: str = "majority", threshold: float | None = None,
              top_k: int | None = None, top_pct: float | None = None,
              drop_unlabelled: bool = False, intersections: bool = True) -> fairness.AuditResult:
    """Read a scored table and audit it (see :mod:`assist.models.fairness`).

    With ``drop_unlabelled`` the selection (threshold, top k or top P%) is made over all rows
    first and only then are rows without a label left out, as a caseworker list would be.
    """
    path = Path(path)
    frame = read_scored(path)
    if not groups:
        raise InputError("give at least one --group column", file=str(path))
    for col in (score_col, label_col, *groups):
        if col not in frame.columns:
            raise InputError(f"no column {col!r} (columns: {', '.join(map(str, frame.columns))})",
                             file=str(path), column=col)
    score = pd.to_numeric(frame[score_col], errors="coerce").astype(float)
    if score.isna().any():
        row = int(np.flatnonzero(score.isna().to_numpy())[0])
        raise InputError("score column must be numeric with no missing values", file=str(path),
                         column=score_col, row=row)
    y = _labels(frame, label_col, path, drop_unlabelled)
    try:
        selected, cut, rule = fairness.predicted_positive(score, threshold=threshold,
                                                          top_k_rows=top_k, top_pct=top_pct)
    except ValueError as exc:
        raise InputError(str(exc), file=str(path)) from None
    keep = y.notna().to_numpy()
    if not keep.any():
        raise InputError("no labelled rows to audit", file=str(path), column=label_col)
    try:
        result = fairness.audit(y[keep], score[keep], frame.loc[keep, list(groups)],
                                selected=selected[keep], threshold=cut, reference=reference,
                                intersections=intersections)
    except ValueError as exc:
        raise InputError(str(exc), file=str(path)) from None
    return fairness.AuditResult(n=result.n, threshold=cut, rule=rule, table=result.table,
                                reference=result.reference)


def audit_payload(result: fairness.AuditResult) -> dict[str, Any]:
    """The audit as the fairness report renders it: ``to_dict()`` plus the intervals, the
    selection rule and the parity band."""
    return {**result.to_dict(), "intervals": result.intervals(), "rule": result.rule,
            "min_ratio": result.min_ratio, "max_ratio": result.max_ratio}


def audit_html(result: fairness.AuditResult, *, source: str) -> str:
    """The audit as a stored HTML page, rendered as the fairness page renders an audit
    (recall first, Wilson intervals, disparities and a recall chart per attribute)."""
    subtitle = f"{source} · n = {result.n:,} · {result.rule}"
    return fairness_html(audit_payload(result), subtitle=subtitle)
