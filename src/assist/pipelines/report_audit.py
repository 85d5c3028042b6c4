"""Fairness audit of any scored table (``assist audit``): read, check, audit, render.

Reads CSV or Parquet, checks the score, label and group columns (errors name the file, column
and row), selects by threshold, top k or top P%, and audits with
:func:`assist.models.fairness.audit`; :func:`audit_sections` renders the audit's charts and
tables for any page that shows one (this command's, the model's fairness report).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.errors import InputError
from assist.models import fairness
from assist.pipelines.report_html import Bar, bar_chart, interval, num, page


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


def audit_html(result: fairness.AuditResult, *, source: str) -> str:
    """The audit as an HTML page: recall with Wilson intervals and disparity charts per attribute."""
    intro, sections = audit_sections(result, source=source)
    return page("Fairness audit", intro=intro, sections=sections)


def audit_sections(result: fairness.AuditResult, *, source: str,
                   prefix: str = "") -> tuple[list[str], list[dict[str, Any]]]:
    """Intro lines and page sections (charts and table per attribute) of an audit."""
    t = result.table
    sections = []
    for attr, part in t.groupby("attribute", sort=False):
        ref = result.reference[attr]
        recs = part.to_dict("records")
        recall = bar_chart([Bar(f"{r['group']} (n={r['n']})", num(r["tpr"]), num(r["tpr_low"]),
                                num(r["tpr_high"]), "tpr" in r["flags"]) for r in recs],
                           title=f"recall (TPR) by {attr}, 95% Wilson interval")
        ratio = bar_chart([Bar(str(r["group"]), num(r["tpr_ratio"]), flagged="tpr" in r["flags"])
                           for r in recs], title=f"recall ratio to {ref}",
                          band=(result.min_ratio, result.max_ratio), lines=[(1.0, "parity")])
        rows = [{"group": r["group"], "n": int(r["n"]), "positives": int(r["pos"]),
                 **{m: num(r[m]) for m in fairness.RATE_NAMES},
                 "recall 95% CI": interval(r["tpr_low"], r["tpr_high"]),
                 "calibration_gap": num(r["calibration_gap"]),
                 "recall ratio": num(r["tpr_ratio"]), "flags": r["flags"],
                 "_flag": bool(set(r["flags"]) & set(fairness.HEADLINE))} for r in recs]
        sections.append({"heading": f"{prefix}{attr} (reference: {ref})", "chart": recall + ratio,
                         "columns": [c for c in rows[0] if c != "_flag"], "rows": rows})
    findings = result.flagged() or ["no group's recall or miss rate is outside the band"]
    intro = [fairness.HEADLINE_TEXT,
             (f"{source}: {result.n:,} rows; predicted positive when {result.rule}; disparity = "
              f"group / reference, band {result.min_ratio:g}-{result.max_ratio:g}; "
              "'undefined' where a denominator is zero."),
             *findings]
    return intro, sections
