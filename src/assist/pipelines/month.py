"""The record of one month's cycle (``assist month``): which stage ran, on what, with what result.

``<workspace>/months/<YYYY-MM>.json`` holds, per stage, its status (``done``, ``unchanged``,
``failed``), seconds, a one-line detail and the fingerprint of its input (for features: the
store's manifest). A stage whose input fingerprint is unchanged and whose output exists is not
run again, so running a month twice changes nothing and a killed run resumes where it stopped.
The record is written atomically after every stage.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assist.errors import InputError
from assist.storage.atomic import write_json

MONTHS_DIR = "months"
#: the stages of a month, in order
STAGES = ("ingest", "features", "decisions", "score", "load", "audit")
DONE, UNCHANGED, FAILED = "done", "unchanged", "failed"


@dataclass
class StageResult:
    """What one stage did: ``done`` (work was done), ``unchanged`` (nothing to do) or ``failed``."""

    status: str
    detail: str = ""
    seconds: float = 0.0
    fingerprint: str | None = None


@dataclass
class MonthRecord:
    """A month's stages as last run (see the module docstring)."""

    as_of: str
    stages: dict[str, StageResult] = field(default_factory=dict)
    updated_at: str = ""

    @property
    def complete(self) -> bool:
        """Every stage ended without failing."""
        return all(self.stages.get(s) is not None and self.stages[s].status != FAILED
                   for s in STAGES)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"as_of": self.as_of, "updated_at": self.updated_at,
                "stages": {k: asdict(v) for k, v in self.stages.items()}}


def record_path(workspace: Path, as_of: str) -> Path:
    """Where the month's record lives."""
    return Path(workspace) / MONTHS_DIR / f"{as_of}.json"


def load_record(workspace: Path, as_of: str) -> MonthRecord:
    """The month's record (empty when the month never ran)."""
    path = record_path(workspace, as_of)
    if not path.exists():
        return MonthRecord(as_of=as_of)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        stages = {k: StageResult(**v) for k, v in data.get("stages", {}).items()}
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a month record ({exc}); remove it to run the month afresh",
                         file=str(path)) from None
    return MonthRecord(as_of=as_of, stages=stages, updated_at=data.get("updated_at", ""))


def save_record(workspace: Path, record: MonthRecord) -> Path:
    """Write the record atomically (after every stage)."""
    record.updated_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    path = record_path(workspace, record.as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(record.to_dict(), path)


def store_fingerprint(store: Path) -> str:
    """The validated store's version: the checksum of its manifest."""
    from assist.storage.store import MANIFEST_FILE, file_sha256

    manifest = Path(store) / MANIFEST_FILE
    if not manifest.exists():
        raise InputError("no validated store here: run the ingest stage first",
                         file=str(store))
    return file_sha256(manifest)


def month_features(record: MonthRecord, *, store: Path, out: Path) -> StageResult:
    """Build the month's features unless they were built from this same store."""
    from assist.pipelines.featurize import build_features

    fingerprint = store_fingerprint(store)
    last = record.stages.get("features")
    if (last is not None and last.status != FAILED and last.fingerprint == fingerprint
            and (Path(out) / record.as_of / "meta.json").exists()):
        return StageResult(UNCHANGED, f"already built from this store ({out}/{record.as_of})",
                           fingerprint=fingerprint)
    run = build_features(store=Path(store), as_of=record.as_of, out=Path(out))
    return StageResult(DONE, f"{run.households:,} households x {run.indicators} indicators",
                       fingerprint=fingerprint)
