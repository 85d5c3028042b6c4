"""Incremental ingest: which source files to validate, and carrying the others over unchanged.

Each extract is compared with the previous store's manifest (:mod:`assist.ingest.manifest`),
table-month by table-month:

* **new** — the store has no such table-month: validated;
* **changed** — another path (format), size, SHA-256 or declared encoding: validated again,
  and named;
* **rechecked** — unchanged, but its month's households file is new or changed: validated
  again, because every table is checked against the households accepted that month;
* **unchanged** — same path, size and SHA-256: skipped. Its store file is hard-linked (copied
  where links are impossible) into the staging store, its quarantine rows and counts are
  carried over from the previous store.

The decision is by checksum: a file whose size matches is hashed (~1.7 GB/s here, a few
seconds for a city's year against minutes of validation). Modification times are not
trusted — copies, restores and re-exports within the same second keep or change them
independently of the content — and are not recorded, so that the store depends on content only.

A month whose extracts are gone from the source folder is **dropped**, with a warning and
named in the summary: the store always equals what a full ingest of the source folder gives
(byte for byte), so the two ways of building it never disagree.

An incremental run needs the previous store's key (refused otherwise, naming both key
fingerprints) and the same version of ingest (otherwise the run is full, and says why).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assist.errors import InputError
from assist.ingest.extracts import Extract
from assist.ingest.layout import why_rebuilt
from assist.ingest.manifest import check_key, kept_result, previous_manifest, why_not_incremental
from assist.ingest.summary import CHANGED, NEW, RECHECKED, UNCHANGED, Changes, FileResult
from assist.storage import store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """What a run validates and what it carries over from the previous store."""

    changes: Changes
    #: the previous store's manifest entries of the unchanged source files, by name
    kept: dict[str, dict[str, Any]]
    #: the previous store's SHA-256 of each store file carried over, by store path
    kept_files: dict[str, str]

    def keeps(self, extract: Extract) -> bool:
        """Whether ``extract`` is carried over rather than validated."""
        return extract.name in self.kept


def plan(extracts: list[Extract], *, out: Path, key: str | bytes, full: bool,
         buckets: int = 1) -> Plan:
    """Compare ``extracts`` with the store at ``out``: what to validate, what to keep (nothing
    when the store is laid out in other than ``buckets`` household buckets)."""
    manifest, unreadable = previous_manifest(out)
    if manifest is None:
        return _full(extracts, reason="--full" if full and unreadable else unreadable)
    held = sorted(set(manifest["snapshots"]) - {e.snapshot for e in extracts})
    if held:
        log.warning("months no longer in the source folder are dropped from the store: %s",
                    ", ".join(held))
    if full:
        return _full(extracts, reason="--full", removed=held)
    check_key(manifest, key, out)
    reason = why_not_incremental(manifest) or why_rebuilt(manifest, buckets)
    if reason:
        log.warning("validating every file: %s", reason)
        return _full(extracts, reason=reason, removed=held)
    old = {(e["table"], e["snapshot"]): (name, e) for name, e in manifest["sources"].items()}
    status = {(x.table, x.snapshot): _compare(x, old.get((x.table, x.snapshot)))
              for x in extracts}
    for table, snapshot in list(status):
        if status[("households", snapshot)] in (NEW, CHANGED) and status[
                (table, snapshot)] == UNCHANGED:
            status[(table, snapshot)] = RECHECKED
    kept = {x.name: old[(x.table, x.snapshot)][1] for x in extracts
            if status[(x.table, x.snapshot)] == UNCHANGED}
    files = manifest["files"]
    kept_files = {}
    for entry in kept.values():
        rel = _table_rel(entry["table"], entry["snapshot"])
        if rel not in files or not (out / rel).is_file():
            raise InputError(f"the store lacks {rel}, which its manifest lists: run "
                             "`assist ingest --full` to rebuild it", file=str(out))
        kept_files[rel] = files[rel]["sha256"]
    return Plan(Changes("incremental", status, tuple(held)), kept, kept_files)


def _full(extracts: list[Extract], *, reason: str, removed: list[str] | None = None) -> Plan:
    status = {(x.table, x.snapshot): NEW for x in extracts}
    return Plan(Changes("full", status, tuple(removed or ()), reason), {}, {})


def _compare(extract: Extract, old: tuple[str, dict[str, Any]] | None) -> str:
    """NEW, CHANGED or UNCHANGED: by path and size first, then by SHA-256."""
    if old is None:
        return NEW
    name, entry = old
    if name != extract.name or extract.path.stat().st_size != entry["bytes"] or \
            entry.get("encoding") != extract.encoding:
        return CHANGED
    return UNCHANGED if store.file_sha256(extract.path) == entry["sha256"] else CHANGED


def _table_rel(table: str, snapshot: str) -> str:
    return store.table_path(Path(), table, snapshot).as_posix()


def carry_over(plan: Plan, *, out: Path, staging: Path) -> int:
    """Hard-link (or copy) the store files of the unchanged table-months into ``staging``;
    the number linked (the rest were copied)."""
    linked = 0
    for rel in plan.kept_files:
        linked += store.link_or_copy(out / rel, staging / rel)
    return linked


class KeptQuarantine:
    """The previous store's quarantine rows, per unchanged source file (read table by table)."""

    def __init__(self, out: Path) -> None:
        self._out = out
        self._tables: dict[str, pa.Table] = {}

    def rows(self, extract: Extract) -> pa.Table:
        """The quarantine rows ``extract`` gave in the previous run, in file order."""
        if extract.table not in self._tables:
            path = store.quarantine_path(self._out, extract.table)
            try:
                self._tables[extract.table] = pq.read_table(path)
            except (OSError, pa.ArrowException) as exc:
                raise InputError(f"unreadable quarantine of the previous store "
                                 f"({type(exc).__name__}): run `assist ingest --full`",
                                 file=str(path)) from None
        table = self._tables[extract.table]
        mask = pc.and_(pc.equal(table["source_file"], extract.name),
                       pc.equal(table["snapshot"], extract.snapshot))
        return table.filter(mask).combine_chunks()


def kept_file(plan: Plan, extract: Extract) -> tuple[FileResult, dict[str, Any]]:
    """The counts and manifest entry of an unchanged source file, as last recorded."""
    entry = plan.kept[extract.name]
    return kept_result(entry, extract.name), entry
