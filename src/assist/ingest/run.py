"""Ingest: validate every row of every new or changed extract, quarantine bad rows,
pseudonymise, store.

For each snapshot month, table by table (households first, so that other tables can be
checked against the households accepted in that month), one extract file at a time:

1. read the file (:mod:`~assist.ingest.extracts`); a missing or unreadable file or column
   fails the whole run with an :class:`~assist.errors.InputError` naming it;
2. type each column as declared (:mod:`~assist.ingest.coerce`); unreadable -> ``bad_type``;
3. replace household and person ids by keyed pseudonyms (:mod:`~assist.ingest.pseudonym`),
   check every row against the table's schema (:mod:`~assist.ingest.rules`; a row's household
   must be among the month's accepted households, compared by pseudonym);
4. drop names, ID numbers, addresses and certificate numbers;
5. write failing rows to the quarantine (:mod:`~assist.ingest.quarantine`) and accepted rows,
   self-checked against the clean schema, to the store (:mod:`~assist.storage.store`).

Incremental by default (:mod:`~assist.ingest.incremental`): only source files that are new
or changed since the store's last ingest are validated; the unchanged table-months are
hard-linked into the new store with their quarantine rows and counts. ``full=True``
validates everything. Either way the store is the same, byte for byte.

Before anything is written, the run refuses months later than the horizon (the run date's
month by default) and, with ``strict``, a source folder holding anything but extracts
(:mod:`~assist.ingest.source`); while validating, a table-month with too few accepted rows
fails the run unless its table is in ``accept_low`` (:mod:`~assist.ingest.acceptance`).

Everything is written to a staging folder and swapped in at the end
(:mod:`~assist.storage.atomic`): a failed run leaves the previous store as it was. Output
is deterministic — the same extracts and key give byte-identical files. Memory is bounded by
one extract file (plus the per-run pseudonym cache) per worker.

Snapshots are independent of each other (the pseudonym cache only saves work), so a large
source is ingested by two worker processes, each taking whole snapshots; the main process
writes the quarantine and the summary in snapshot order, so the store is the same as with one.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors as pe
import pyarrow as pa
from pandera.pandas import DataFrameSchema
from rich.progress import Progress

from assist.errors import InputError
from assist.features.schemas import PSEUDONYMISED, TABLE_ORDER, TABLES, clean_schema
from assist.ingest import acceptance, incremental, layout
from assist.ingest.coerce import arrow_text, coerce_column
from assist.ingest.extracts import Extract, discover, read_extract
from assist.ingest.manifest import previous_manifest, source_entry, write_manifest
from assist.ingest.pseudonym import Pseudonymiser
from assist.ingest.quarantine import MALFORMED_ROW, WHOLE_ROW, QuarantineWriter, quarantine_frame
from assist.ingest.rules import DeclaredChecks, TableRules
from assist.ingest.source import check_horizon, check_strays, read_options, strays
from assist.ingest.summary import FileResult, IngestSummary, TableCounts
from assist.storage import atomic, store

log = logging.getLogger(__name__)

__all__ = ["PARALLEL_MIN_BYTES", "FileResult", "IngestSummary", "TableCounts", "ingest"]

#: a source folder at least this large is ingested by two processes (snapshots split)
PARALLEL_MIN_BYTES = 64 * 2**20

#: called once per extract file, validated or kept (progress)
Tick = Callable[[Extract, bool], None]
#: the pseudonym key and the store's household buckets, as every worker needs them
_Key = tuple[str | bytes, int]


def ingest(*, source: Path, out: Path, key: str | bytes, progress: Progress | None = None,
           workers: int | None = None, full: bool = False, strict: bool = False,
           accept_low: Collection[str] = (), horizon: str | None = None,
           encoding: str | None = None, buckets: int | None = None) -> IngestSummary:
    """Validate, quarantine and pseudonymise the extracts in ``source`` into the store ``out``.

    Only the source files that are new or changed since the store's last ingest are validated
    (``full``: all of them); the summary's ``changes`` say which. ``workers`` processes ingest
    whole snapshots side by side (default: 2 for a large source on a machine with 2 or more
    cores, else 1); the store is the same whatever their number and whichever the mode.
    Months after ``horizon`` (default: the run date's month) are refused; anything in the
    source folder that is no extract is reported (refused with ``strict``); a table-month
    below its acceptance rule fails the run unless its table is in ``accept_low``; CSV files
    are UTF-8 unless ``encoding`` (or the folder's ``source.yaml``) declares another. Every
    table-month is laid out in ``buckets`` household buckets (default: the store's own, else
    chosen from the district's size: :mod:`~assist.ingest.layout`).
    """
    source, out = Path(source), Path(out)
    atomic.recover(out)  # first, whatever happens next: repair a swap a killed run cut short
    _check_separate(source, out)
    acceptance.check_names(accept_low)
    snapshots, extracts = discover(source, read_options(source, encoding=encoding))
    check_horizon({e.snapshot: str(e.path) for e in reversed(extracts)}, horizon=horizon)
    ignored = strays(source)
    check_strays(ignored, source=source, strict=strict)
    for name in ignored:
        log.warning("not an extract, ignored: %s", name)
    rules = _Acceptance(frozenset(accept_low), tuple(ignored))
    atomic.check_replaceable(out, marker=store.MANIFEST_FILE)
    buckets = layout.bucket_count(buckets, manifest=previous_manifest(out)[0], extracts=extracts)
    plan = incremental.plan(extracts, out=out, key=key, full=full, buckets=buckets)
    groups = [g for s in snapshots
              if (g := [e for e in extracts if e.snapshot == s and not plan.keeps(e)])]
    tick = _ticker(progress, len(extracts))
    if not groups and not plan.changes.removed:  # the store already is what a run would write
        log.info("nothing new or changed in %s: the store stays as it is", source)
        return _carried_summary(snapshots, extracts, plan, tick, rules)
    workers = _workers(workers, size=sum(e.path.stat().st_size for g in groups for e in g),
                       snapshots=len(groups))
    with atomic.replacing(out, marker=store.MANIFEST_FILE) as staging:
        linked = incremental.carry_over(plan, out=out, staging=staging)
        log.info("carried %d unchanged table-month(s) over (%d hard-linked)",
                 len(plan.kept_files), linked)
        summary, sources = _store(snapshots, extracts, plan, groups, out=out, staging=staging,
                                  key=(key, buckets), workers=workers, tick=tick, rules=rules)
        store.write_json(summary.to_dict(), staging / store.SUMMARY_FILE)
        write_manifest(staging, snapshots=snapshots, key=key, sources=sources,
                       expected=plan.kept_files, buckets=buckets)
    return summary


def _ticker(progress: Progress | None, total: int) -> Tick:
    """Advance a progress task once per extract file."""
    if progress is None:
        return lambda extract, kept: None
    task = progress.add_task("ingest", total=total)

    def tick(extract: Extract, kept: bool) -> None:
        progress.update(task, description=f"{'kept' if kept else 'ingest'} {extract.name}")
        progress.advance(task)
    return tick


@dataclass
class _Acceptance:
    """The run's acceptance: tables allowed below their rule, the overrides used, and what
    the source folder held besides extracts."""

    accept_low: frozenset[str]
    ignored: tuple[str, ...]
    overrides: list[dict[str, Any]] | None = None

    def check(self, extract: Extract, result: FileResult) -> None:
        """Refuse a file below its table's rule (or record the override); its rows must add up."""
        if result.rows_read != result.accepted + result.quarantined:
            raise RuntimeError(f"ingest counts of {extract.name} do not add up")
        override = acceptance.check(result, extract.table, file=str(extract.path),
                                    accept_low=self.accept_low)
        if override is not None:
            log.warning("accepted below the rule (--accept-low): %s", extract.name)
            self.overrides = [*(self.overrides or []), override]

    def summary(self, snapshots: list[str], counts: dict[str, TableCounts],
                plan: incremental.Plan) -> IngestSummary:
        """The run's summary."""
        return IngestSummary(tuple(snapshots), counts, plan.changes,
                             accepted_low=tuple(self.overrides or ()), ignored=self.ignored)


def _carried_summary(snapshots: list[str], extracts: list[Extract], plan: incremental.Plan,
                     tick: Tick, rules: _Acceptance) -> IngestSummary:
    """The summary of a run with nothing to validate: every file's recorded counts."""
    counts = {name: TableCounts() for name in TABLE_ORDER}
    for extract in extracts:
        result = incremental.kept_file(plan, extract)[0]
        rules.check(extract, result)
        counts[extract.table].add(result)
        tick(extract, True)
    return rules.summary(snapshots, counts, plan)


def _store(snapshots: list[str], extracts: list[Extract], plan: incremental.Plan,
           groups: list[list[Extract]], *, out: Path, staging: Path, key: _Key,
           workers: int, tick: Tick,
           rules: _Acceptance) -> tuple[IngestSummary, dict[str, dict[str, Any]]]:
    """Validate ``groups`` and carry the rest over, in snapshot and table order: the summary
    and the manifest's source entries."""
    counts = {name: TableCounts() for name in TABLE_ORDER}
    sources: dict[str, dict[str, Any]] = {}
    kept_rows = incremental.KeptQuarantine(out)
    validated = _ingested(groups, staging, key, workers)
    with closing(validated), \
            QuarantineWriter(staging / store.QUARANTINE_DIR, TABLE_ORDER) as quarantine:
        for extract in extracts:
            kept = plan.keeps(extract)
            if kept:
                result, entry = incremental.kept_file(plan, extract)
                rows = kept_rows.rows(extract)
                if rows.num_rows != result.quarantined:
                    raise InputError(f"the previous store's quarantine does not match its "
                                     f"manifest for {extract.name}: run `assist ingest --full`",
                                     file=str(store.quarantine_path(out, extract.table)))
                quarantine.write_rows(extract.table, rows)
            else:
                done = next(validated)
                if done.extract != extract:
                    raise RuntimeError(f"ingest order: {done.extract.name} for {extract.name}")
                result = done.result
                if done.quarantine is not None:
                    quarantine.write(extract.table, done.quarantine)
                entry = source_entry(extract, size=done.size, sha256=done.sha256, result=result,
                                     encoding=extract.encoding)
                log.info("ingested %s: %d rows, %d accepted, %d quarantined", extract.name,
                         result.rows_read, result.accepted, result.quarantined)
            rules.check(extract, result)
            counts[extract.table].add(result)
            sources[extract.name] = entry
            tick(extract, kept)
    return rules.summary(snapshots, counts, plan), sources


def _workers(asked: int | None, *, size: int, snapshots: int) -> int:
    """Worker processes for ``snapshots`` snapshots of ``size`` bytes of extracts."""
    if asked is not None:
        if asked < 1:
            raise ValueError("workers must be at least 1")
        return min(asked, max(snapshots, 1))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if size >= PARALLEL_MIN_BYTES and (cores or 1) >= 2 and snapshots >= 2 else 1


@dataclass
class _Done:
    """One ingested extract file: its counts, SHA-256, size and quarantine rows (if any)."""

    extract: Extract
    result: FileResult
    sha256: str
    size: int
    quarantine: pd.DataFrame | None


class _Snapshots:
    """Ingests snapshots one after another: the checks and the pseudonym cache they share."""

    def __init__(self, key: _Key) -> None:
        self.pseudonyms, self.buckets = Pseudonymiser(key[0]), key[1]
        self.checks = {name: TableRules(name) for name in TABLE_ORDER}
        self.self_checks = {name: _self_check_schema(name) for name in TABLE_ORDER}

    def run(self, extracts: list[Extract], staging: Path) -> Iterator[_Done]:
        """Ingest one snapshot's files (households first), file by file. When the month's
        households file is unchanged (carried over), the accepted households are those of
        the store."""
        households: pa.Array | None = None
        for extract in extracts:
            if extract.table != "households" and households is None:
                households = _stored_households(staging, extract.snapshot)
            done, accepted = _ingest_file(
                extract, staging, self.checks[extract.table], self.self_checks[extract.table],
                self.pseudonyms,
                households=None if extract.table == "households" else households,
                buckets=self.buckets)
            if extract.table == "households":
                households = accepted
            yield done


def _stored_households(staging: Path, snapshot: str) -> pa.Array:
    """Pseudonyms of the households of ``snapshot`` already in the (staging) store."""
    path = store.table_path(staging, "households", snapshot)
    return arrow_text(pd.read_parquet(path, columns=["household_id"])["household_id"])


def _ingested(groups: list[list[Extract]], staging: Path, key: _Key,
              workers: int) -> Iterator[_Done]:
    """Every file ingested, in snapshot and table order, by ``workers`` processes."""
    if workers == 1:
        run = _Snapshots(key)
        for group in groups:
            yield from run.run(group, staging)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                               initializer=_start_worker, initargs=(key,))
    try:
        for done in pool.map(_run_snapshot, groups, [staging] * len(groups)):
            yield from done
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # no worker writes after the cleanup
        raise
    pool.shutdown(wait=True)


#: in a worker process only: its checks and pseudonym cache, kept from snapshot to snapshot
_WORKER: dict[str, _Snapshots] = {}


def _start_worker(key: _Key) -> None:
    _WORKER["run"] = _Snapshots(key)


def _run_snapshot(extracts: list[Extract], staging: Path) -> list[_Done]:
    return list(_WORKER["run"].run(extracts, staging))


def _check_separate(source: Path, out: Path) -> None:
    src, dst = source.resolve(), out.resolve()
    if src == dst or src in dst.parents or dst in src.parents:
        raise InputError("the store folder must not contain or lie inside the source folder",
                         file=str(out))


@dataclass(frozen=True)
class _SelfCheck:
    """The clean schema of a table: its structure (columns, dtypes, nullability) validated by
    pandera, its row rules (column checks, unique key, table-wide checks) as row masks."""

    structure: DataFrameSchema
    rules: DeclaredChecks


def _self_check_schema(name: str) -> _SelfCheck:
    schema = clean_schema(name)
    structure = schema.update_columns({c: {"coerce": False, "checks": []}
                                       for c in schema.columns})
    structure.coerce, structure.checks, structure.unique = False, [], None
    return _SelfCheck(structure, DeclaredChecks(schema, TABLES[name]))


def _ingest_file(extract: Extract, staging: Path, checks: TableRules,
                 self_check: _SelfCheck, pseudonyms: Pseudonymiser, *,
                 households: pa.Array | None, buckets: int) -> tuple[_Done, pa.Array | None]:
    """Read, check, pseudonymise and write one extract file: what it gave (counts, SHA-256,
    size, quarantine rows) and, for a households file, the pseudonyms of the accepted
    households (for the next tables of the snapshot)."""
    spec = TABLES[extract.table]
    raw = read_extract(extract, spec)
    coerced, failed = {}, {}
    for col in spec.columns:
        result = coerce_column(raw.frame[col.name], col)
        coerced[col.name], failed[col.name] = result.values, result.failed
    frame = pd.DataFrame(coerced)
    ids = {c.name: pseudonyms.column(frame[c.name], c.pii) for c in spec.columns
           if c.pii in PSEUDONYMISED}
    findings = checks.find(frame, failed=failed, snapshot=extract.snapshot,
                           households=households, household_ids=ids.get("household_id"))
    if len(raw.malformed):
        findings = _malformed(findings, raw.malformed)
    ok = np.ones(len(frame), dtype=bool)
    ok[findings["row"].to_numpy()] = False
    rejected = None
    if not ok.all():
        rejected = quarantine_frame(spec, findings, raw.frame, frame, ids,
                                    snapshot=extract.snapshot, source_file=extract.name)
    extra, sha, size = raw.extra_columns, raw.sha256, raw.size
    del raw
    clean = pd.DataFrame({name: ids.get(name, frame[name]) for name in spec.clean_column_names})
    if not ok.all():
        clean = clean.take(np.flatnonzero(ok)).reset_index(drop=True)
    _self_check(self_check, clean, extract)
    store.write_parquet(clean, store.table_path(staging, spec.name, extract.snapshot),
                        store.arrow_schema(spec.name), sort_by=spec.key, buckets=buckets)
    accepted = arrow_text(clean["household_id"]) if extract.table == "households" else None
    by_rule = findings.drop_duplicates(["row", "rule"])["rule"].value_counts()
    result = FileResult(extract.snapshot, extract.name, len(frame), int(ok.sum()),
                        int((~ok).sum()), {str(k): int(v) for k, v in by_rule.items()}, extra)
    return _Done(extract, result, sha, size, rejected), accepted


def _malformed(findings: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The findings with each malformed row reported once, as such (its values are missing
    because the row could not be split, not because they were)."""
    kept = findings[~findings["row"].isin(rows)]
    own = pd.DataFrame({"row": rows.astype(np.int64), "rule": MALFORMED_ROW, "column": WHOLE_ROW})
    out = pd.concat([kept, own.astype(kept.dtypes.to_dict())], ignore_index=True)
    return out.sort_values(["row", "rule", "column"], kind="stable").reset_index(drop=True)


def _self_check(check: _SelfCheck, clean: pd.DataFrame, extract: Extract) -> None:
    """Accepted rows must satisfy the clean schema; a failure is a bug, reported without values."""
    try:  # columns, dtypes and missing values first: the row rules need the right columns
        check.structure.validate(clean, lazy=True)
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases[["column", "check"]].astype(str).value_counts()
        _self_check_failed(extract, {(str(c), str(k)): int(n) for (c, k), n in cases.items()})
    rules = check.rules
    found = [(column, rule, len(rows)) for column, rule, rows in rules.failing(clean)]
    found.append((",".join(rules.unique), "duplicate_key", len(rules.copies(clean))))
    found += [("", name, int((~passed).sum())) for name, passed in rules.table_wide(clean)]
    failures = {(column, rule): n for column, rule, n in found if n}
    if failures:
        _self_check_failed(extract, failures)


def _self_check_failed(extract: Extract, failures: dict[tuple[str, str], int]) -> None:
    what = ", ".join(f"{col}:{name} x{n}" for (col, name), n in sorted(failures.items()))
    raise RuntimeError(f"ingest self-check failed for {extract.name}: {what}")

