"""The simulation loop: build the district, then month by month draw events, write extracts.

Only the state arrays persist between months; each month's twelve extracts and its slice of
the hidden truth are written and dropped, so memory stays flat as months go by.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.progress import Progress

from assist.errors import InputError
from assist.features import schemas
from assist.features.policy import minimum_living_line
from assist.simulate import events, invalid, need, population, records, services, textgen, writer
from assist.simulate.metrics import Metrics
from assist.simulate.state import (
    CAUSES,
    Calendar,
    Claims,
    Grants,
    Households,
    IdKeys,
    Persons,
)
from assist.simulate.summary import SimulationSummary

TRUTH_SCHEMA = pa.schema(
    [pa.field("household_id", pa.string()), pa.field("snapshot", pa.string()),
     pa.field("true_need", pa.bool_()), pa.field("need_score", pa.float64())]
    + [pa.field(f"cause_{c}", pa.bool_()) for c in CAUSES]
    + [pa.field("primary_cause", pa.string())]
)
PLANTED_SCHEMA = pa.schema([
    pa.field("table", pa.string()), pa.field("snapshot", pa.string()),
    pa.field("row", pa.int64()), pa.field("kind", pa.string()), pa.field("column", pa.string()),
])
_ID_KINDS = ("household", "person", "claim", "appeal", "grant", "verification")


def _rng(seed: int, month: int, part: str) -> np.random.Generator:
    """An independent generator for one part of one month (stable across code changes elsewhere)."""
    return np.random.default_rng(np.random.SeedSequence([seed, month, zlib.crc32(part.encode())]))


def snapshot_months(end_month: str, months: int) -> list[np.datetime64]:
    """The ``months`` months ending at ``end_month``, oldest first."""
    if not re.fullmatch(schemas.SNAPSHOT_PATTERN, end_month):
        raise InputError(f"end month {end_month!r} is not a month written YYYY-MM")
    end = np.datetime64(end_month, "M")
    return [end - i for i in range(months - 1, -1, -1)]


def _check_arguments(households: int, months: int, seed: int, invalid_rate: float,
                     out: Path, truth_out: Path) -> None:
    if households < 1:
        raise InputError(f"households must be at least 1, not {households}")
    if months < 1:
        raise InputError(f"months must be at least 1, not {months}")
    if seed < 0:
        raise InputError(f"seed must be a non-negative integer, not {seed}")
    if not 0 <= invalid_rate < 0.5:
        raise InputError(f"invalid_rate must lie in [0, 0.5), not {invalid_rate}")
    out_r, truth_r = out.resolve(), truth_out.resolve()
    if truth_r == out_r or out_r in truth_r.parents:
        raise InputError("the hidden truth must not be written inside the extracts folder",
                         file=str(truth_out))


def _check_out(out: Path, snapshots: list[str]) -> None:
    """Refuse to mix this run's extracts with another run's months in the same folder."""
    stale = sorted(
        str(f.relative_to(out)) for name in schemas.TABLES if (out / name).is_dir()
        for f in (out / name).glob("*.parquet") if f.stem not in snapshots
    )
    if stale:
        raise InputError(f"the extracts folder already holds {len(stale)} file(s) of other "
                         f"months (e.g. {stale[0]}); remove them or choose another folder",
                         file=str(out))


def _truth(month: records.Month) -> pa.Table:
    rows = np.flatnonzero(month.h.exists)
    nd = month.need
    needy = nd.in_need()[rows]
    causes = nd.causes()[rows]
    primary = textgen.take(CAUSES, nd.primary()[rows])
    cols = {
        "household_id": month.h.hid.take(pa.array(rows)),
        "snapshot": pa.array([month.cal.snapshot] * len(rows), pa.string()),
        "true_need": pa.array(needy), "need_score": pa.array(np.round(nd.score[rows], 6)),
        **{f"cause_{c}": pa.array(causes[:, i]) for i, c in enumerate(CAUSES)},
        "primary_cause": records.with_nulls(primary, ~needy),
    }
    return pa.Table.from_pydict(cols, schema=TRUTH_SCHEMA)


@dataclass
class District:
    """What carries over from month to month: people, households, grants, pending claims."""

    seed: int
    p: Persons
    h: Households
    keys: IdKeys
    grants: Grants = field(default_factory=Grants)
    pending: Claims = field(default_factory=Claims)
    threshold: float | None = None
    #: grants that start after this day change the household's need (GRANT_EFFECT)
    since: np.datetime64 = field(default_factory=lambda: np.datetime64("NaT", "D"))

    def rng(self, month: int, part: str) -> np.random.Generator:
        """The generator of one part of one month."""
        return _rng(self.seed, month, part)


def _build(seed: int, households: int, first: Calendar) -> District:
    """The district as it stands on the first day of the first month."""
    keys = IdKeys({k: textgen.id_key(_rng(seed, 0, f"key/{k}")) for k in _ID_KINDS})
    rng = _rng(seed, 0, "population")
    h, template = population.build_households(rng, households, keys)
    p, _ = population.build_persons(rng, template, first.start, keys)
    line = float(minimum_living_line(str(first.start)))
    population.settle_households(rng, h, p, need.usual_income(p, h, first.start), line)
    return District(seed=seed, p=p, h=h, keys=keys, since=first.start)


def _live(d: District, cal: Calendar, outreach: np.ndarray | None = None) -> records.Month:
    """One month of life, need and services; returns what the month's records are built from.

    ``outreach``: households (row numbers) the system allocated for a visit this month; they
    are visited with what the caseworker finds drawn from the hidden truth (households the
    district visits anyway this month keep that visit), and confirmed ones are granted."""
    k = cal.index + 1
    p, h = d.p, d.h
    line = float(minimum_living_line(str(cal.end)))
    ev = events.advance(d.rng(k, "events"), p, cal)
    d.pending.append(ev.claims)
    school = events.schooling(p, ev.age, cal)
    agg = need.aggregate(p, h, ev.age, ev.oop, school[0], school[2], ev.admitted)
    need.smooth_medical(h, agg, first=cal.index == 0)
    nd, d.threshold = need.score(d.rng(k, "need"), h, agg, line, d.threshold,
                                 services.relief(d.grants, len(h), cal, d.since))
    if cal.index == 0:
        d.grants = services.initial_grants(d.rng(k, "initial"), h, agg, nd, cal, line, d.keys)
    gone = h.exists & (np.bincount(p.hh[p.alive & ~ev.died], minlength=len(h)) == 0)
    visits = services.visits(d.rng(k, "visits"), h, agg, nd, d.grants, cal, d.keys)
    if outreach is not None and len(outreach):
        extra = np.setdiff1d(outreach[h.exists[outreach]], visits.hh)
        visits = services.join(visits, services.outreach(
            d.rng(k, "outreach"), extra, h, agg, nd, cal, d.keys))
    services.decide(d.rng(k, "decide"), h, agg, nd, visits, d.grants, cal, line, d.keys, gone)
    appeals = services.appeals(d.rng(k, "appeals"), h, agg, nd, cal, d.keys)
    settled = d.pending.split(d.pending.settle <= cal.as_of("medical_claims"))
    settled = settled.split(h.exists[p.hh[settled.person]])  # claims of vanished households drop
    return records.Month(
        cal=cal, p=p, h=h, ev=ev, agg=agg, need=nd, school=school, claims=settled,
        claim_seq=d.keys.next("claim", len(settled.person)), appeals=appeals, visits=visits,
        grants=d.grants.subset(services.in_snapshot(d.grants, cal)), keys=d.keys.keys,
    )


def _close(d: District, month: records.Month) -> None:
    """End the month: savings and arrears move, the dead leave, ended grants are dropped."""
    cal = month.cal
    line = float(minimum_living_line(str(cal.end)))
    need.update_finances(d.rng(cal.index + 1, "finances"), d.h, month.agg, line, cal.index)
    events.close_month(d.p, d.h, month.ev.died)
    services.prune(d.grants, cal)


def _write_extracts(d: District, month: records.Month, out: Path, invalid_rate: float,
                    summary: SimulationSummary) -> pa.Table:
    """Write the month's twelve extracts with planted invalid rows; returns the planted list."""
    cal, k = month.cal, month.cal.index + 1
    planted_tables = []
    for name, spec in schemas.TABLES.items():
        table = writer.to_table(spec, records.BUILDERS[name](month, d.rng(k, f"records/{name}")))
        table, planted = invalid.plant(d.rng(k, f"invalid/{name}"), spec, table, invalid_rate)
        writer.write(table, out / name / f"{cal.snapshot}.parquet")
        summary.rows.setdefault(name, {})[cal.snapshot] = table.num_rows
        counts = summary.invalid.setdefault(name, {})
        for kind in planted.kind:
            counts[kind] = counts.get(kind, 0) + 1
        planted_tables.append(pa.Table.from_pydict({
            "table": [name] * len(planted.row), "snapshot": [cal.snapshot] * len(planted.row),
            "row": planted.row, "kind": planted.kind, "column": planted.column,
        }, schema=PLANTED_SCHEMA))
    return pa.concat_tables(planted_tables)


def simulate(*, households: int, months: int, seed: int, end_month: str = "2026-10",
             out: Path, truth_out: Path, invalid_rate: float = 0.002,
             progress: Progress | None = None) -> SimulationSummary:
    """Simulate a district: monthly department extracts to ``out``, hidden truth to ``truth_out``.

    ``out/<table>/<YYYY-MM>.parquet`` holds each department's extract of each of the ``months``
    months ending at ``end_month``; about ``invalid_rate`` of each file's rows are invalid.
    ``truth_out`` receives ``need.parquet`` (true need, need score, causes, primary cause per
    household and month), ``planted_invalid.parquet`` (table, snapshot, row, kind, column of
    every planted invalid row) and ``summary.json``. Same arguments, same bytes.
    """
    out, truth_out = Path(out), Path(truth_out)
    _check_arguments(households, months, seed, invalid_rate, out, truth_out)
    calendars = [Calendar.of(i, m) for i, m in enumerate(snapshot_months(end_month, months))]
    try:
        minimum_living_line(str(calendars[0].start))
    except ValueError as exc:
        raise InputError(f"cannot simulate from {calendars[0].snapshot}: {exc}") from None
    snapshots = [c.snapshot for c in calendars]
    _check_out(out, snapshots)

    district = _build(seed, households, calendars[0])
    summary = SimulationSummary(households=households, months=months, seed=seed,
                                snapshots=snapshots)
    metrics = Metrics()
    planted: list[pa.Table] = []
    truth = writer.TruthWriter(truth_out / "need.parquet", TRUTH_SCHEMA)
    task = progress.add_task("simulating district", total=months) if progress else None
    try:
        for cal in calendars:
            month = _live(district, cal)
            planted.append(_write_extracts(district, month, out, invalid_rate, summary))
            truth.add(_truth(month))
            metrics.add(month)
            _close(district, month)
            if progress is not None and task is not None:
                progress.advance(task)
    finally:
        truth.close()
    writer.write(pa.concat_tables(planted), truth_out / "planted_invalid.parquet")
    summary.calibration, summary.by_snapshot = metrics.figures()
    (truth_out / "summary.json").write_text(
        json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return summary
