"""The case store's side of the pipelines: the scoring snapshot it loads (read by
:mod:`assist.storage.snapshot`), and the case store's decisions written as extra training labels
(``data.extra_labels`` of an experiment).

Only files and frames cross this boundary; the store itself lives in :mod:`assist.serving`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assist.errors import InputError
from assist.storage.snapshot import SnapshotFiles, read_snapshot

__all__ = ["LABEL_COLUMNS", "SnapshotFiles", "read_snapshot", "write_labels"]

#: columns of ``data.extra_labels`` (see :func:`assist.pipelines.dataset.read_extra_labels`;
#: a test checks they agree — importing dataset here would pull experiments into the API)
LABEL_COLUMNS = ("household_id", "month", "outcome", "date")


def write_labels(labels: pd.DataFrame, path: Path) -> Path:
    """Write decisions as labels (``household_id, month, outcome, date``), CSV or Parquet."""
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise InputError(f"labels need columns {', '.join(LABEL_COLUMNS)}", column=missing[0])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = labels.loc[:, list(LABEL_COLUMNS)]
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, encoding="utf-8")
    return path
