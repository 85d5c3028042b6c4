"""Fairness audit of any scored table (``assist audit``): read, check, audit, render.

Reads CSV or Parquet, checks the score, label and group columns (errors name the file, column
and row), selects by threshold, top k or top P% (or takes the list as it was made, for a
month's live snapshot: :mod:`assist.pipelines.month_audit`), and audits with
:func:`assist.models.fairness.audit`; :func:`audit_payload` adds the findings
(:mod:`assist.reports.fairness_findings`) and :func:`audit_html` renders it with the fairness
report's view and body (:mod:`assist.reports.render`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.errors import InputError
from assist.models import fairness
from assist.reports import fairness_households as fh
from assist.reports.fairness_findings import with_findings
from assist.reports.render import fairness_html
from assist.reports.report import report_folder, write_report

#: groups with fewer households in need are not judged (the promotion gate's default)
MIN_POSITIVES = 20


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
    """Read a scored table and audit it (see :func:`audit_frame`)."""
    path = Path(path)
    return audit_frame(read_scored(path), source=str(path), score_col=score_col,
                       label_col=label_col, groups=groups, reference=reference,
                       threshold=threshold, top_k=top_k, top_pct=top_pct,
                       drop_unlabelled=drop_unlabelled, intersections=intersections)


def audit_frame(frame: pd.DataFrame, *, source: str, score_col: str, label_col: str,
                groups: Sequence[str], reference: str = "majority",
                threshold: float | None = None, top_k: int | None = None,
                top_pct: float | None = None, selected_col: str | None = None,
                drop_unlabelled: bool = False,
                intersections: bool = True) -> fairness.AuditResult:
    """Check a scored table's columns and audit it (see :mod:`assist.models.fairness`).

    The selection is ``selected_col`` (a boolean column: the list as it was made), else the
    threshold, top k or top P%. With ``drop_unlabelled`` it is made over all rows first and
    only then are rows without a label left out, as a caseworker list would be.
    """
    path = Path(source)
    if not groups:
        raise InputError("give at least one --group column", file=source)
    for col in (score_col, label_col, *groups, *([selected_col] if selected_col else [])):
        if col not in frame.columns:
            raise InputError(f"no column {col!r} (columns: {', '.join(map(str, frame.columns))})",
                             file=source, column=col)
    score = pd.to_numeric(frame[score_col], errors="coerce").astype(float)
    if score.isna().any():
        row = int(np.flatnonzero(score.isna().to_numpy())[0])
        raise InputError("score column must be numeric with no missing values", file=source,
                         column=score_col, row=row)
    y = _labels(frame, label_col, path, drop_unlabelled)
    if selected_col:
        selected, cut, rule = (frame[selected_col].fillna(False).to_numpy(dtype=bool), None,
                               f"listed ({selected_col})")
    else:
        try:
            selected, cut, rule = fairness.predicted_positive(score, threshold=threshold,
                                                              top_k_rows=top_k, top_pct=top_pct)
        except ValueError as exc:
            raise InputError(str(exc), file=source) from None
    keep = y.notna().to_numpy()
    if not keep.any():
        raise InputError("no labelled rows to audit", file=source, column=label_col)
    try:
        result = fairness.audit(y[keep], score[keep], frame.loc[keep, list(groups)],
                                selected=selected[keep], threshold=cut, reference=reference,
                                intersections=intersections)
    except ValueError as exc:
        raise InputError(str(exc), file=source) from None
    rows = frame.loc[keep, list(dict.fromkeys([*groups, *(
        ["street_code"] if "street_code" in frame.columns else [])]))].assign(
        label=y[keep].to_numpy(), selected=selected[keep])
    return fairness.AuditResult(n=result.n, threshold=cut, rule=rule, table=result.table,
                                reference=result.reference, rows=rows)


def audit_payload(result: fairness.AuditResult, *,
                  min_positives: int = MIN_POSITIVES) -> dict[str, Any]:
    """The audit as the fairness report stores it: ``to_dict()``, the intervals of the rates,
    the selection rule, the parity band and the findings
    (:func:`assist.reports.fairness_findings.judge`; their ratio intervals)."""
    return with_findings(result, min_positives=min_positives)


def audit_html(result: fairness.AuditResult, *, source: str,
               min_positives: int = MIN_POSITIVES) -> str:
    """The audit as a stored HTML page, rendered as the fairness page renders an audit
    (findings first, recall and its intervals, the judged ratios and a chart per attribute)."""
    subtitle = f"{source} · n = {result.n:,} · {result.rule}"
    return fairness_html({**audit_payload(result, min_positives=min_positives),
                          "min_positives": min_positives}, subtitle=subtitle)


#: what the live audit of a month compares, as its stored report says
LIVE_TARGET = ("the month's referral list against the labels recorded for its households "
               "(verification visits of the next month, case-store decisions on its referrals)")


def store_live(workspace: Path, as_of: str, audit: dict[str, Any],
               rows: pd.DataFrame | None = None) -> list[Path]:
    """Put a month's live audit (``audit_payload`` of ``assist audit --as-of``) into the
    month's fairness report as audit ``live``, beside the model's own audits, and write the
    report's JSON and HTML again (the page and the download then show it). ``rows``: the
    audited rows by household (:attr:`AuditResult.rows`), kept so that each count opens its
    households (:mod:`assist.reports.fairness_households`)."""
    folder = report_folder(workspace, as_of)
    if rows is not None:
        groups = [c for c in rows.columns if c not in ("label", "selected")]
        fh.store(folder, fh.audit_rows(
            "live", household_id=rows.index, month=as_of, label=rows["label"],
            selected=rows["selected"], groups=rows[groups],
            street_code=rows["street_code"] if "street_code" in rows.columns else None))
    path = folder / "fairness.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable fairness report ({type(exc).__name__})",
                         file=str(path)) from None
    payload.setdefault("as_of", as_of)
    payload.setdefault("min_positives", audit["findings"]["min_positives"])
    payload["audits"] = {**(payload.get("audits") or {}),
                         "live": {**audit, "target": LIVE_TARGET}}
    return write_report(folder, "fairness", payload, fairness_html(payload))
