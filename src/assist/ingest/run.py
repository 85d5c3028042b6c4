"""Ingest: validate every row of every extract, quarantine bad rows, pseudonymise, store.

For each snapshot month, table by table (households first, so that other tables can be
checked against the households accepted in that month), one extract file at a time:

1. read the file (:mod:`~assist.ingest.extracts`); a missing or unreadable file or column
   fails the whole run with an :class:`~assist.errors.InputError` naming it;
2. type each column as declared (:mod:`~assist.ingest.coerce`); unreadable -> ``bad_type``;
3. check every row against the table's schema (:mod:`~assist.ingest.rules`);
4. replace household and person ids by keyed pseudonyms (:mod:`~assist.ingest.pseudonym`),
   drop names, ID numbers, addresses and certificate numbers;
5. write failing rows to the quarantine (:mod:`~assist.ingest.quarantine`) and accepted rows,
   self-checked against the clean schema, to the store (:mod:`~assist.storage.store`).

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
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors as pe
import pyarrow as pa
from pandera.pandas import DataFrameSchema
from rich.progress import Progress
from rich.table import Table

import assist
from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER, TABLES, clean_schema
from assist.ingest.coerce import arrow_text, coerce_column
from assist.ingest.extracts import Extract, discover, read_extract
from assist.ingest.pseudonym import Pseudonymiser, key_fingerprint
from assist.ingest.quarantine import QuarantineWriter, quarantine_frame
from assist.ingest.rules import DeclaredChecks, TableRules
from assist.storage import atomic, store

log = logging.getLogger(__name__)


@dataclass
class TableCounts:
    """Rows of one table: read, accepted and quarantined (by rule), and ignored columns."""

    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    by_snapshot: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, result: FileResult) -> None:
        """Count one extract file."""
        self.rows_read += result.rows_read
        self.accepted += result.accepted
        self.quarantined += result.quarantined
        for rule, n in result.by_rule.items():
            self.by_rule[rule] = self.by_rule.get(rule, 0) + n
        self.extra_columns = sorted(set(self.extra_columns) | set(result.extra_columns))
        self.files.append(result.source_file)
        self.by_snapshot[result.snapshot] = {
            "rows_read": result.rows_read, "accepted": result.accepted,
            "quarantined": result.quarantined}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"rows_read": self.rows_read, "accepted": self.accepted,
                "quarantined": self.quarantined, "by_rule": dict(sorted(self.by_rule.items())),
                "extra_columns": list(self.extra_columns), "files": list(self.files),
                "by_snapshot": dict(sorted(self.by_snapshot.items()))}


@dataclass(frozen=True)
class IngestSummary:
    """What an ingest run read, accepted and quarantined, per table."""

    snapshots: tuple[str, ...]
    tables: dict[str, TableCounts]

    @property
    def rows_read(self) -> int:
        """Rows read over all tables."""
        return sum(t.rows_read for t in self.tables.values())

    @property
    def accepted(self) -> int:
        """Rows accepted over all tables."""
        return sum(t.accepted for t in self.tables.values())

    @property
    def quarantined(self) -> int:
        """Rows quarantined over all tables."""
        return sum(t.quarantined for t in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (what ``summary.json`` holds)."""
        return {"snapshots": list(self.snapshots),
                "totals": {"rows_read": self.rows_read, "accepted": self.accepted,
                           "quarantined": self.quarantined},
                "tables": {name: counts.to_dict() for name, counts in self.tables.items()}}

    def table(self) -> Table:
        """A Rich table: rows read / accepted / quarantined per table, by rule; ignored columns."""
        snaps = self.snapshots
        span = f"{snaps[0]} … {snaps[-1]}" if len(snaps) > 1 else (snaps[0] if snaps else "-")
        ignored = "; ".join(f"{name}: {', '.join(t.extra_columns)}"
                            for name, t in self.tables.items() if t.extra_columns)
        out = Table(title=f"Ingest: {len(snaps)} snapshot(s), {span}",
                    caption=f"ignored columns (not declared): {ignored}" if ignored else None)
        out.add_column("table", no_wrap=True)
        for header in ("rows read", "accepted", "quarantined"):
            out.add_column(header, justify="right", no_wrap=True)
        out.add_column("quarantined by rule", overflow="fold")
        for name, t in self.tables.items():
            rules = ", ".join(f"{r} {n:,}" for r, n in sorted(
                t.by_rule.items(), key=lambda kv: (-kv[1], kv[0])))
            out.add_row(name, f"{t.rows_read:,}", f"{t.accepted:,}",
                        f"[red]{t.quarantined:,}[/red]" if t.quarantined else "0", rules or "-")
        out.add_row("total", f"{self.rows_read:,}", f"{self.accepted:,}",
                    f"{self.quarantined:,}", "", style="bold", end_section=True)
        return out


@dataclass
class FileResult:
    """Counts for one extract file."""

    snapshot: str
    source_file: str
    rows_read: int
    accepted: int
    quarantined: int
    by_rule: dict[str, int]
    extra_columns: list[str]


#: a source folder at least this large is ingested by two processes (snapshots split)
PARALLEL_MIN_BYTES = 64 * 2**20


def ingest(*, source: Path, out: Path, key: str | bytes, progress: Progress | None = None,
           workers: int | None = None) -> IngestSummary:
    """Validate, quarantine and pseudonymise the extracts in ``source`` into the store ``out``.

    ``workers`` processes ingest whole snapshots side by side (default: 2 for a large source
    on a machine with 2 or more cores, else 1); the store is the same whatever their number.
    """
    source, out = Path(source), Path(out)
    atomic.recover(out)  # first, whatever happens next: repair a swap a killed run cut short
    _check_separate(source, out)
    snapshots, extracts = discover(source)
    atomic.check_replaceable(out, marker=store.MANIFEST_FILE)
    groups = [[e for e in extracts if e.snapshot == s] for s in snapshots]  # table order
    workers = _workers(workers, size=sum(e.path.stat().st_size for e in extracts),
                       snapshots=len(groups))
    task = progress.add_task("ingest", total=len(extracts)) if progress is not None else None
    counts = {name: TableCounts() for name in TABLE_ORDER}
    sources: dict[str, str] = {}
    with atomic.replacing(out, marker=store.MANIFEST_FILE) as staging:
        with QuarantineWriter(staging / store.QUARANTINE_DIR, TABLE_ORDER) as quarantine:
            for done in _ingested(groups, staging, key, workers):
                result = done.result
                if done.quarantine is not None:
                    quarantine.write(done.extract.table, done.quarantine)
                counts[done.extract.table].add(result)
                sources[done.extract.name] = done.sha256
                log.info("ingested %s: %d rows, %d accepted, %d quarantined", done.extract.name,
                         result.rows_read, result.accepted, result.quarantined)
                if progress is not None and task is not None:
                    progress.update(task, description=f"ingest {done.extract.name}")
                    progress.advance(task)
        summary = IngestSummary(tuple(snapshots), counts)
        store.write_json(summary.to_dict(), staging / store.SUMMARY_FILE)
        _write_manifest(staging, snapshots=snapshots, key=key, sources=sources)
    return summary


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
    """One ingested extract file: its counts, SHA-256 and quarantine rows (if any)."""

    extract: Extract
    result: FileResult
    sha256: str
    quarantine: pd.DataFrame | None


class _Snapshots:
    """Ingests snapshots one after another: the checks and the pseudonym cache they share."""

    def __init__(self, key: str | bytes) -> None:
        self.pseudonyms = Pseudonymiser(key)
        self.checks = {name: TableRules(name) for name in TABLE_ORDER}
        self.self_checks = {name: _self_check_schema(name) for name in TABLE_ORDER}

    def run(self, extracts: list[Extract], staging: Path) -> Iterator[_Done]:
        """Ingest one snapshot's files (households first), file by file."""
        households: pa.Array | None = None
        for extract in extracts:
            result, accepted_ids, sha, rejected = _ingest_file(
                extract, staging, self.checks[extract.table], self.self_checks[extract.table],
                self.pseudonyms,
                households=None if extract.table == "households" else households)
            if extract.table == "households":
                households = accepted_ids
            yield _Done(extract, result, sha, rejected)


def _ingested(groups: list[list[Extract]], staging: Path, key: str | bytes,
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


def _start_worker(key: str | bytes) -> None:
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
                 households: pa.Array | None,
                 ) -> tuple[FileResult, pa.Array, str, pd.DataFrame | None]:
    """Read, check, pseudonymise and write one extract file; its counts, accepted household
    ids (raw, for the next tables of the snapshot), the file's SHA-256 and its quarantine
    rows (``None`` when every row was accepted)."""
    spec = TABLES[extract.table]
    raw = read_extract(extract, spec)
    coerced, failed = {}, {}
    for col in spec.columns:
        result = coerce_column(raw.frame[col.name], col)
        coerced[col.name], failed[col.name] = result.values, result.failed
    frame = pd.DataFrame(coerced)
    findings = checks.find(frame, failed=failed, snapshot=extract.snapshot,
                           households=households)
    ids = {c.name: pseudonyms.column(frame[c.name], c.pii) for c in spec.columns
           if c.pii in ("household", "person")}
    ok = np.ones(len(frame), dtype=bool)
    ok[findings["row"].to_numpy()] = False
    rejected = None
    if not ok.all():
        rejected = quarantine_frame(spec, findings, raw.frame, frame, ids,
                                    snapshot=extract.snapshot, source_file=extract.name)
    extra, sha = raw.extra_columns, raw.sha256
    del raw
    clean = pd.DataFrame({name: ids.get(name, frame[name]) for name in spec.clean_column_names})
    if not ok.all():
        clean = clean.take(np.flatnonzero(ok)).reset_index(drop=True)
    _self_check(self_check, clean, extract)
    store.write_parquet(clean, store.table_path(staging, spec.name, extract.snapshot),
                        store.arrow_schema(spec.name), sort_by=spec.key)
    accepted_ids = arrow_text(frame.loc[ok, "household_id"])
    by_rule = findings.drop_duplicates(["row", "rule"])["rule"].value_counts()
    result = FileResult(extract.snapshot, extract.name, len(frame), int(ok.sum()),
                        int((~ok).sum()), {str(k): int(v) for k, v in by_rule.items()}, extra)
    return result, accepted_ids, sha, rejected


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


def _write_manifest(staging: Path, *, snapshots: list[str], key: str | bytes,
                    sources: dict[str, str]) -> None:
    files = {}
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        rel = path.relative_to(staging).as_posix()
        files[rel] = {"sha256": store.file_sha256(path), "bytes": path.stat().st_size}
    store.write_json({
        "format": store.STORE_FORMAT,
        "assist_version": assist.__version__,
        "snapshots": snapshots,
        "tables": list(TABLE_ORDER),
        "key_fingerprint": key_fingerprint(key),
        "files": files,
        "sources": {name: {"sha256": sha} for name, sha in sorted(sources.items())},
    }, staging / store.MANIFEST_FILE)
