"""The simulated district one month at a time, from a saved state, told what the system did.

:func:`begin` builds the district and saves its state; each :func:`advance` lives one more
month — with the visits the system allocated (``outreach``: raw household ids) found by the
district's caseworkers from the hidden truth, confirmed households granted by the same rule
table as every other visit, grants lowering their need after a declared delay
(:data:`~assist.simulate.calibration.GRANT_EFFECT`) — writes the month's extracts and hidden
truth exactly as :func:`assist.simulate.simulate` does, saves the state, and returns what the
caseworkers found. With no outreach, ``begin`` + ``advance`` x N writes the same bytes as
``simulate(months=N)``: both run the same month function with the same seeded generators.

The state file is a pickle of plain arrays (the simulator's own format, read only by this
module); it lives beside the hidden truth, never with the extracts.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assist.errors import InputError
from assist.features import codes
from assist.features.policy import minimum_living_line
from assist.simulate import run, services, writer
from assist.simulate.state import PROGRAMMES, Calendar
from assist.simulate.summary import SimulationSummary

STATE_FILE = "district.pickle"


@dataclass
class Stepper:
    """What is saved between months: the district, the next month, and the months written."""

    district: run.District
    next_month: str
    months: list[str] = field(default_factory=list)
    invalid_rate: float = 0.002


@dataclass(frozen=True)
class Step:
    """One month lived: its visits and what each found, its grants, and its hidden truth."""

    month: str
    #: every visit of the month: household_id (raw), trigger, outcome, outreach (bool)
    visits: pd.DataFrame
    #: programmes granted from next month to the month's confirmed visits (raw household ids)
    granted: dict[str, list[str]]
    #: the month's hidden truth: household_id (raw) -> true_need, need_score, and relief (what
    #: the household's grants took off its need score this month: score + relief is the need
    #: it would have had without them)
    truth: pd.DataFrame


def _save(state: Stepper, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (STATE_FILE + ".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, folder / STATE_FILE)


def load(folder: Path) -> Stepper:
    """The saved state in ``folder`` (one-line error when there is none)."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise InputError("no saved simulator state here: start one with begin()", file=str(path))
    with path.open("rb") as fh:
        return pickle.load(fh)  # noqa: S301  (the simulator's own file, written by _save)


def begin(*, households: int, seed: int, first_month: str, state: Path,
          invalid_rate: float = 0.002) -> Stepper:
    """Build the district as it stands on the first day of ``first_month`` and save it."""
    cal = Calendar.of(0, run.snapshot_months(first_month, 1)[0])
    try:
        minimum_living_line(str(cal.start))
    except ValueError as exc:
        raise InputError(f"cannot simulate from {cal.snapshot}: {exc}") from None
    stepper = Stepper(district=run._build(seed, households, cal), next_month=cal.snapshot,
                      invalid_rate=invalid_rate)
    _save(stepper, Path(state))
    return stepper


def _index(d: run.District, household_ids: list[str]) -> np.ndarray:
    """Row numbers of raw household ids (unknown ids: a one-line error)."""
    lookup = pd.Index(d.h.hid.to_pylist())
    rows = lookup.get_indexer(pd.Index(household_ids))
    if (rows < 0).any():
        bad = household_ids[int(np.flatnonzero(rows < 0)[0])]
        raise InputError(f"outreach names household {bad!r}, which the district does not have")
    return rows.astype(np.int64)


def _append_truth(path: Path, table: pa.Table) -> None:
    """Add one month to ``need.parquet`` (rewritten whole, so it is always a complete file)."""
    if path.exists():
        table = pa.concat_tables([pq.read_table(path), table])
    tmp = path.with_suffix(".tmp")
    writer.write(table, tmp)
    os.replace(tmp, path)


def _granted(d: run.District, month: run.records.Month, hh: np.ndarray) -> dict[str, list[str]]:
    g = d.grants
    new = (g.start == month.cal.end + 1) & np.isin(g.hh, hh)
    out: dict[str, list[str]] = {}
    ids = d.h.hid.to_pylist()
    for h, p in zip(g.hh[new], g.programme[new], strict=True):
        out.setdefault(ids[h], []).append(PROGRAMMES[int(p)])
    return out


def advance(*, state: Path, out: Path, truth_out: Path,
            outreach: list[str] | None = None) -> Step:
    """Live the next month (see the module docstring) and save the state."""
    stepper = load(state)
    d = stepper.district
    cal = Calendar.of(len(stepper.months), np.datetime64(stepper.next_month, "M"))
    rows = _index(d, outreach) if outreach else None
    relief = services.relief(d.grants, len(d.h), cal, d.since)  # as _live computes it
    month = run._live(d, cal, rows)
    summary = SimulationSummary(households=len(d.h), months=1, seed=d.seed,
                                snapshots=[cal.snapshot])
    planted = run._write_extracts(d, month, Path(out), stepper.invalid_rate, summary)
    truth_out = Path(truth_out)
    truth_out.mkdir(parents=True, exist_ok=True)
    truth = run._truth(month)
    felt = relief[np.flatnonzero(month.h.exists)]  # the truth's rows, before the month closes
    _append_truth(truth_out / "need.parquet", truth)
    _append_truth(truth_out / "planted_invalid.parquet", planted)
    v = month.visits
    visited = np.asarray(v.hh)
    visits = pd.DataFrame({
        "household_id": d.h.hid.take(pa.array(visited)).to_pylist(),
        "trigger": [tuple(codes.VERIFICATION_TRIGGERS)[t] for t in v.trigger],
        "outcome": [tuple(codes.VERIFICATION_OUTCOMES)[o] for o in v.outcome],
        "outreach": np.isin(visited, rows) if rows is not None else np.zeros(len(visited), bool),
    })
    confirmed = visited[v.outcome == services.CONFIRMED]
    granted = _granted(d, month, confirmed)
    run._close(d, month)
    stepper.months.append(cal.snapshot)
    stepper.next_month = str(np.datetime64(cal.snapshot, "M") + 1)
    _save(stepper, Path(state))
    frame = truth.select(["household_id", "true_need", "need_score"]).to_pandas()
    frame["relief"] = felt
    return Step(month=cal.snapshot, visits=visits, granted=granted,
                truth=frame.set_index("household_id"))
