"""The households behind the counts of a fairness report.

Every stored fairness report keeps, beside its JSON, the rows its audits counted
(``fairness_households.parquet`` in the report's folder): per audit (``verified``, ``truth``:
the model's held-out months; ``live``: a month's list against the labels recorded for it) the
household's pseudonym, month, street, group labels as audited, label and whether the list
selected it. Each count of a group on the fairness page (households, in need, reached, missed)
opens the list of exactly those rows (:func:`behind`), so the list and the count agree.
Pseudonyms only: the page adds identities by the caller's role, as every list does.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd

from assist.models.groups import string_labels
from assist.reports.fairness_findings import PAIR_SEP
from assist.reports.i18n import N_
from assist.storage.atomic import write_bytes

FILE = "fairness_households.parquet"
#: the counts of a group that open a list: name -> heading of the list
COUNTS: dict[str, str] = {"n": N_("Households audited"), "positives": N_("In need"),
                          "reached": N_("In need and listed"),
                          "missed": N_("In need and not listed")}
#: the columns every audit's rows carry besides its group labels
BASE = ("audit", "household_id", "month", "street_code", "label", "selected")


def audit_rows(audit: str, *, household_id: Sequence, month: Sequence | str,
               label: Sequence, selected: Sequence, groups: pd.DataFrame,
               street_code: Sequence | None = None) -> pd.DataFrame:
    """An audit's labelled rows as stored: rows without a label are left out (the audit
    judges labelled rows only); group columns as the audit labels them (missing values
    named as it names them)."""
    n = len(groups)
    frame = pd.DataFrame({
        "audit": audit, "household_id": pd.array(list(map(str, household_id)), dtype="string"),
        "month": pd.array([month] * n if isinstance(month, str) else list(month),
                          dtype="string"),
        "street_code": pd.array([None] * n if street_code is None else list(street_code),
                                dtype="string"),
        "label": pd.to_numeric(pd.Series(list(label)), errors="coerce").astype(float),
        "selected": pd.Series(list(selected)).fillna(False).astype(bool)})
    frame = pd.concat([frame, string_labels(groups).add_prefix("g:")], axis=1)
    return frame.loc[frame["label"].notna().to_numpy()].reset_index(drop=True)


def heldout_rows(predictions: pd.DataFrame, groups: Sequence[str]) -> pd.DataFrame:
    """The rows of the model's held-out audits (``verified``, and ``truth`` when the
    predictions hold it) from the training run's held-out predictions."""
    groups = [g for g in groups if g in predictions.columns]
    street = predictions["street_code"] if "street_code" in predictions.columns else None
    parts = [audit_rows(target, household_id=predictions["household_id"],
                        month=predictions["month"].astype(str), label=predictions[target],
                        selected=predictions["selected"].astype(bool),
                        groups=predictions[groups], street_code=street)
             for target in ("verified", "truth") if target in predictions.columns]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(BASE))


def store(folder: Path, rows: pd.DataFrame) -> Path:
    """Write ``rows`` into the folder's table, replacing the rows of the audits they hold
    and keeping the others (atomically: temporary file, then rename)."""
    path = Path(folder) / FILE
    old = read(folder)
    if old is not None:
        old = old.loc[~old["audit"].isin(rows["audit"].unique()).to_numpy()]
        rows = pd.concat([old, rows], ignore_index=True)
    group_cols = [c for c in rows.columns if c.startswith("g:")]
    rows[group_cols] = rows[group_cols].astype("string")
    buf = io.BytesIO()
    rows.to_parquet(buf, index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes(buf.getvalue(), path)


def read(folder: Path) -> pd.DataFrame | None:
    """The folder's table; None when no audit stored its rows there."""
    path = Path(folder) / FILE
    return pd.read_parquet(path) if path.is_file() else None


def audits(folder: Path) -> set[str]:
    """The audits whose rows the folder holds (their counts open lists)."""
    path = Path(folder) / FILE
    if not path.is_file():
        return set()
    return set(pd.read_parquet(path, columns=["audit"])["audit"].astype(str).unique())


def behind(rows: pd.DataFrame, *, audit: str, attribute: str, group: str,
           count: str) -> pd.DataFrame:
    """The rows behind one count of a group (``count``: a key of :data:`COUNTS`;
    ``attribute`` and ``group``: as the report names them, pairs joined by " & "); empty
    when the attribute is not one the rows carry."""
    if count not in COUNTS:
        raise ValueError(f"count must be one of {', '.join(COUNTS)}, got {count!r}")
    attrs, values = attribute.split(PAIR_SEP), group.split(PAIR_SEP)
    keep = (rows["audit"] == audit).to_numpy(dtype=bool, copy=True)
    if len(attrs) != len(values) or any(f"g:{a}" not in rows.columns for a in attrs):
        return rows.iloc[0:0]
    for a, v in zip(attrs, values, strict=True):
        keep &= (rows[f"g:{a}"] == v).fillna(False).to_numpy(dtype=bool)
    need = (rows["label"] == 1).to_numpy()
    listed = rows["selected"].to_numpy(dtype=bool)
    keep &= {"n": True, "positives": need, "reached": need & listed,
             "missed": need & ~listed}[count]
    return rows.loc[keep]


def drill(as_of: str, audit: str, attribute: str, group: str, count: str) -> str:
    """The query of the list behind a count (``/fairness/households?...``)."""
    return "/fairness/households?" + urlencode({"as_of": as_of, "audit": audit,
                                                "attribute": attribute, "group": group,
                                                "count": count})
