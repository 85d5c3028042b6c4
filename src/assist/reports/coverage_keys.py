"""What each part of a coverage report was computed from, so that computing it again after a
caseworker's decision redoes only the parts the decision changes.

The coverage page recomputes the report whenever the case store changed. At district scale
most of that work does not depend on the decision just recorded: the trend's earlier months
read a month of the store each, and the deprivation index by street reads every indicator of
every household (measured at 2,000,000 households: 27 s in all). Each part therefore carries
a key (a digest of what it was computed from: the store's manifest, the snapshot files' size
and time, that month's decisions, the report's version and the probabilities' basis); a part
whose key is unchanged in the previous report is taken from it as it is.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from assist.storage import snapshot
from assist.storage.store import MANIFEST_FILE


def _stamp(path: Path) -> list[int] | None:
    """Size and modification time (ns) of a file; None when it is not there."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str)
                          .encode("utf-8")).hexdigest()[:32]


def store_stamp(store: Path | None) -> str | None:
    """Digest of the store's manifest (any ingest rewrites it); None without a store."""
    if store is None:
        return None
    try:
        return hashlib.sha256((Path(store) / MANIFEST_FILE).read_bytes()).hexdigest()[:32]
    except OSError:
        return None


def scores_stamp(scores_dir: Path, month: str) -> list[int] | None:
    """Size and time of a month's snapshot scores file; None when the month has none."""
    return _stamp(snapshot.folder(scores_dir, month) / snapshot.SCORES_FILE)


def decisions_digest(decisions: pd.DataFrame | None, month: str) -> str:
    """Digest of the decisions on a month's referrals (in their order: the last one counts)."""
    if decisions is None or decisions.empty:
        return ""
    d = decisions.loc[(decisions["as_of"].astype(str) == month).to_numpy()]
    return _digest(d.astype(str).to_numpy().tolist()) if len(d) else ""


def trend_key(*, version: int, basis: str, store: str | None, scores_dir: Path, month: str,
              as_of: str, decisions: pd.DataFrame | None) -> str:
    """What the trend's row of ``month`` was computed from: its snapshot (or, without one,
    the report month's households it is counted on), the store, its decisions."""
    own = scores_stamp(scores_dir, month)
    return _digest([version, basis, store, month, own,
                    scores_stamp(scores_dir, as_of) if own is None else None,
                    decisions_digest(decisions, month)])


def deprivation_key(*, version: int, scores_dir: Path, as_of: str, k: float) -> str:
    """What the deprivation index by street was computed from: the snapshot and ``k``."""
    return _digest([version, as_of, scores_stamp(scores_dir, as_of), float(k)])
