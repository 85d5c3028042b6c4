"""The case store's side of the pipelines: read a scoring snapshot for loading, and write the
case store's decisions as extra training labels (``data.extra_labels`` of an experiment).

Only files and frames cross this boundary; the store itself lives in :mod:`assist.serving`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from assist.errors import InputError
from assist.pipelines.store import read_scores

#: file names of a scoring snapshot (as :mod:`assist.pipelines.score` writes them; not imported
#: from there, which would pull the model registry into the API process)
CURRENT_FILE, SUMMARY_FILE = "current.json", "summary.json"
#: columns of ``data.extra_labels`` (see :func:`assist.pipelines.dataset.read_extra_labels`;
#: a test checks they agree — importing dataset here would pull experiments into the API)
LABEL_COLUMNS = ("household_id", "month", "outcome", "date")


@dataclass(frozen=True)
class SnapshotFiles:
    """A complete scoring snapshot read from disk."""

    as_of: str
    folder: Path
    summary: dict[str, Any]
    scores: pd.DataFrame
    referrals: pd.DataFrame


def read_snapshot(scores_dir: Path, as_of: str | None = None) -> SnapshotFiles:
    """The snapshot of ``as_of`` (default: the one ``current.json`` names)."""
    scores_dir = Path(scores_dir)
    if as_of is None:
        pointer = scores_dir / CURRENT_FILE
        if not pointer.is_file():
            raise InputError("no scoring snapshot yet: run `assist score` first", file=str(pointer))
        as_of = str(json.loads(pointer.read_text(encoding="utf-8"))["as_of"])
    folder = scores_dir / as_of
    summary_file = folder / SUMMARY_FILE
    if not summary_file.is_file():
        raise InputError(f"no complete scoring snapshot for {as_of}", file=str(summary_file))
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    return SnapshotFiles(as_of=as_of, folder=folder, summary=summary,
                         scores=read_scores(folder / "scores.parquet"),
                         referrals=pd.read_parquet(folder / "referrals.parquet"))


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
