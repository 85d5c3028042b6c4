"""The case store's side of the pipelines: the scoring snapshot it loads (read by
:mod:`assist.storage.snapshot`), the case store's decisions written as extra training labels
(``data.extra_labels`` of an experiment), and the decisions snapshot that scoring reads to
carry decisions forward (scoring never queries the live case store).

Only files and frames cross this boundary; the store itself lives in :mod:`assist.serving`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assist.errors import InputError
from assist.storage.snapshot import SnapshotFiles, read_snapshot

__all__ = ["DECISION_COLUMNS", "DECISIONS_FILE", "LABEL_COLUMNS", "REQUIRED_LABEL_COLUMNS",
           "SnapshotFiles", "read_decisions", "read_snapshot", "write_decisions", "write_labels"]

#: columns of ``data.extra_labels`` (see :func:`assist.pipelines.dataset.read_extra_labels`;
#: a test checks they agree — importing dataset here would pull experiments into the API).
#: ``month``: the label month (the month after the referral's, as the department's visit
#: records label that example); ``referral_month``: the snapshot month of the referral, the
#: feature month the label trains; ``updated_at``: when the decision last changed (the latest
#: wins). The last two are optional: files without them are read as before.
LABEL_COLUMNS = ("household_id", "month", "outcome", "date", "referral_month", "updated_at")
#: optional: how the referral's visit was chosen and its propensity (from its month's snapshot;
#: ``assist simulate-loop`` writes them), which population calibration weighs labels by
PROPENSITY_COLUMNS = ("selection", "propensity")
#: the columns a labels file must have (files written before ``referral_month`` have these)
REQUIRED_LABEL_COLUMNS = LABEL_COLUMNS[:4]


def write_labels(labels: pd.DataFrame, path: Path) -> Path:
    """Write decisions as labels (``LABEL_COLUMNS``; the optional ones when present), CSV or
    Parquet."""
    missing = [c for c in REQUIRED_LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise InputError(f"labels need columns {', '.join(REQUIRED_LABEL_COLUMNS)}",
                         column=missing[0])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = labels.loc[:, [c for c in (*LABEL_COLUMNS, *PROPENSITY_COLUMNS)
                           if c in labels.columns]]
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, encoding="utf-8")
    return path


#: the decisions snapshot: one row per recorded decision, written from the case store before a
#: month is scored (``<workspace>/casebook/decisions.parquet``)
DECISIONS_FILE = "decisions.parquet"
#: ``referral_month``: the snapshot month of the referral decided; ``visit_date``: a date;
#: ``programmes_granted``: list of programme codes; ``updated_at``: when last changed (UTC)
DECISION_COLUMNS = ("household_id", "referral_month", "outcome", "visit_date",
                    "programmes_granted", "updated_at")


def _decisions_schema():  # noqa: ANN202 - pyarrow.Schema
    import pyarrow as pa

    return pa.schema([("household_id", pa.string()), ("referral_month", pa.string()),
                      ("outcome", pa.string()), ("visit_date", pa.timestamp("ns")),
                      ("programmes_granted", pa.list_(pa.string())),
                      ("updated_at", pa.timestamp("ns", tz="UTC"))])


def write_decisions(decisions: pd.DataFrame, path: Path) -> Path:
    """Write the decisions snapshot atomically (Parquet, ``DECISION_COLUMNS`` with fixed types,
    so the same decisions always give the same bytes)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from assist.storage.atomic import write_bytes

    missing = [c for c in DECISION_COLUMNS if c not in decisions.columns]
    if missing:
        raise InputError(f"decisions need columns {', '.join(DECISION_COLUMNS)}",
                         column=missing[0])
    d = decisions.loc[:, list(DECISION_COLUMNS)]
    updated = pd.to_datetime(d["updated_at"], utc=True).dt.tz_localize(None)
    columns = [
        *(pa.array(d[c].astype("string").tolist(), pa.string())
          for c in ("household_id", "referral_month", "outcome")),
        pa.array(pd.to_datetime(d["visit_date"]).to_numpy(dtype="datetime64[ns]"),
                 pa.timestamp("ns"), from_pandas=True),
        pa.array([[] if v is None else [str(x) for x in v] for v in d["programmes_granted"]],
                 pa.list_(pa.string())),
        pa.array(updated.to_numpy(dtype="datetime64[ns]"), pa.timestamp("ns"),
                 from_pandas=True).cast(pa.timestamp("ns", tz="UTC"))]
    table = pa.Table.from_arrays(columns, schema=_decisions_schema())
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None), buf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(buf.getvalue(), path)
    return path


def read_decisions(path: Path) -> pd.DataFrame:
    """The decisions snapshot (empty, with ``DECISION_COLUMNS``, when none was written)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DECISION_COLUMNS})
    df = pd.read_parquet(path)
    missing = [c for c in DECISION_COLUMNS if c not in df.columns]
    if missing:
        raise InputError("not a decisions snapshot", file=str(path), column=missing[0])
    df["programmes_granted"] = df["programmes_granted"].map(
        lambda v: [] if v is None else [str(x) for x in v])
    return df
