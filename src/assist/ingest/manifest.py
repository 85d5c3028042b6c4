"""The store manifest as ingest writes it, and the previous one as an incremental run reads it.

Besides every store file with its SHA-256 (see :mod:`assist.storage.store`), the manifest keeps
one entry per source file (:func:`source_entry`): table, snapshot, size, SHA-256 and the counts
its validation gave. That is all an incremental run needs to carry a table-month over without
reading its extract again. Every field depends on file content only, so a store built
incrementally has the same manifest, byte for byte, as one built in full.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import assist
from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER
from assist.ingest.extracts import Extract
from assist.ingest.pseudonym import key_fingerprint
from assist.ingest.summary import FileResult
from assist.storage import store
from assist.storage.buckets import HASH_NAME

_ENTRY_FIELDS = {"table", "snapshot", "bytes", "sha256", "counts"}


def source_entry(extract: Extract, *, size: int, sha256: str, result: FileResult,
                 encoding: str | None = None) -> dict[str, Any]:
    """The manifest's record of one ingested source file (with its declared text encoding,
    when it is not UTF-8: reading it another way is another validation)."""
    entry = {"table": extract.table, "snapshot": extract.snapshot, "bytes": size,
             "sha256": sha256, "counts": result.counts()}
    if encoding is not None:
        entry["encoding"] = encoding
    return entry


def write_manifest(staging: Path, *, snapshots: list[str], key: str | bytes,
                   sources: dict[str, dict[str, Any]], expected: dict[str, str],
                   buckets: int = 1) -> None:
    """Hash every file of ``staging`` and write its manifest (with the store's household
    ``buckets``, see :mod:`assist.storage.buckets`).

    ``expected`` maps store files carried over from the previous store to the SHA-256 that
    store's manifest gave them: a file whose bytes no longer match was changed after that
    ingest, and the run fails rather than carry it on.
    """
    files = {}
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        rel = path.relative_to(staging).as_posix()
        files[rel] = {"sha256": store.file_sha256(path), "bytes": path.stat().st_size}
    spoiled = sorted(rel for rel, sha in expected.items() if files[rel]["sha256"] != sha)
    if spoiled:
        raise InputError(f"{len(spoiled)} store file(s) changed since the last ingest (first: "
                         f"{spoiled[0]}); run `assist ingest --full` to rebuild the store",
                         file=str(staging.parent))
    store.write_json({
        "format": store.STORE_FORMAT,
        "assist_version": assist.__version__,
        "snapshots": snapshots,
        "tables": list(TABLE_ORDER),
        "key_fingerprint": key_fingerprint(key),
        "buckets": buckets,
        "bucket_hash": HASH_NAME,
        "files": files,
        "sources": dict(sorted(sources.items())),
    }, staging / store.MANIFEST_FILE)


def previous_manifest(out: Path) -> tuple[dict[str, Any] | None, str]:
    """The manifest of the store at ``out`` (``None`` when there is no store yet, or when it
    cannot be read: then also why, and the store is rebuilt in full)."""
    if not (Path(out) / store.MANIFEST_FILE).is_file():
        return None, ""
    try:
        return store.read_manifest(out), ""
    except InputError as exc:
        return None, exc.args[0] if exc.args else "unreadable store manifest"


def check_key(manifest: dict[str, Any], key: str | bytes, out: Path) -> None:
    """Refuse to add to a store written with another pseudonym key (its pseudonyms would not
    match the new ones): name both fingerprints, suggest a full re-ingest."""
    mine, theirs = key_fingerprint(key), manifest.get("key_fingerprint")
    if theirs != mine:
        raise InputError(f"the store was ingested with another pseudonym key (fingerprint "
                         f"{theirs}; this key's is {mine}): an incremental ingest would mix "
                         "pseudonyms. Use the store's key, or run `assist ingest --full` to "
                         "re-ingest everything with this one", file=str(out))


def why_not_incremental(manifest: dict[str, Any]) -> str:
    """Why the previous store cannot be added to ("" when it can): another version of ingest,
    or a manifest without source entries."""
    version = manifest.get("assist_version")
    if version != assist.__version__:
        return f"store written by assist {version}, this is {assist.__version__}"
    if manifest.get("tables") != list(TABLE_ORDER):
        return "the store holds other tables"
    sources = manifest.get("sources")
    if not isinstance(sources, dict) or not all(
            isinstance(e, dict) and _ENTRY_FIELDS <= set(e) for e in sources.values()):
        return "the store manifest does not describe its source files"
    return ""


def kept_result(entry: dict[str, Any], name: str) -> FileResult:
    """The counts of a carried-over source file, as its manifest entry recorded them."""
    return FileResult.from_counts(entry["counts"], snapshot=entry["snapshot"], source_file=name)
