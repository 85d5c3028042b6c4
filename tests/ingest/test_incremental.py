"""Incremental ingest: only new or changed extracts are validated, the rest is carried over
byte for byte, and the store always equals a full ingest of the same source folder."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import assist.ingest.run as run_module
from assist.cli.app import app
from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER
from assist.ingest.pseudonym import key_fingerprint
from assist.ingest.run import IngestSummary, ingest
from assist.ingest.summary import CHANGED, NEW, RECHECKED, UNCHANGED
from assist.storage import atomic, store
from tests.conftest import KEY, RawSource, tree

MONTHS = ("2024-01", "2024-02", "2024-03")


@pytest.fixture
def read(monkeypatch) -> list[str]:
    """The extract files ingest reads (validates), in order."""
    names: list[str] = []
    real = run_module.read_extract

    def spy(extract, spec):
        names.append(extract.name)
        return real(extract, spec)

    monkeypatch.setattr(run_module, "read_extract", spy)
    return names


def files_of(month: str, tables=TABLE_ORDER) -> list[str]:
    """The source file names of ``month``, in ingest order."""
    return [f"{t}/{month}.parquet" for t in tables]


def fresh(source: Path, folder: Path, key: str = KEY) -> dict[str, bytes]:
    """The bytes of a full ingest of ``source`` into a new store."""
    ingest(source=source, out=folder, key=key, full=True)
    return tree(folder)


def caption(summary: IngestSummary) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(summary.table())
    return console.file.getvalue()


@pytest.fixture
def two_months(tmp_path) -> tuple[RawSource, Path, Path]:
    """Three months of extracts written, the first two ingested: raw, source, store."""
    raw = RawSource(snapshots=MONTHS)
    raw.set("income", 1, "2024-01", monthly_income=-5.0)  # a quarantined row to carry over
    source = raw.write(tmp_path / "all")
    (tmp_path / "source").mkdir()
    for table in TABLE_ORDER:
        (tmp_path / "source" / table).mkdir()
        for month in MONTHS[:2]:
            shutil.copy2(source / table / f"{month}.parquet", tmp_path / "source" / table)
    ingest(source=tmp_path / "source", out=tmp_path / "store", key=KEY)
    return raw, tmp_path / "source", tmp_path / "store"


def add_month(source: Path, month: str = MONTHS[2]) -> None:
    for table in TABLE_ORDER:
        shutil.copy2(source.parent / "all" / table / f"{month}.parquet", source / table)


def test_a_new_month_alone_is_validated_and_the_others_kept_byte_for_byte(two_months, read):
    _, source, out = two_months
    before = tree(out / "tables")
    inodes = {rel: (out / "tables" / rel).stat().st_ino for rel in before}
    add_month(source)
    summary = ingest(source=source, out=out, key=KEY)
    assert read == files_of("2024-03")
    assert summary.changes is not None and summary.changes.mode == "incremental"
    assert summary.changes.validated == 12
    assert summary.changes.of(NEW) == [(t, "2024-03") for t in TABLE_ORDER]
    assert len(summary.changes.of(UNCHANGED)) == 24
    after = tree(out / "tables")
    assert {rel: after[rel] for rel in before} == before
    assert {rel: (out / "tables" / rel).stat().st_ino for rel in before} == inodes  # linked
    assert summary.quarantined == 1 and summary.tables["income"].by_rule == {"negative_value": 1}
    assert "new (validated): 2024-03 (all tables)" in caption(summary)
    assert tree(out) == fresh(source, out.parent / "fresh")


def test_two_workers_add_a_month_as_one_does(two_months, tmp_path):
    _, source, out = two_months
    add_month(source)
    summary = ingest(source=source, out=out, key=KEY, workers=2)
    assert summary.changes is not None and summary.changes.validated == 12
    assert tree(out) == fresh(source, tmp_path / "fresh")


def test_a_changed_past_month_is_revalidated_and_named(two_months, read, tmp_path):
    raw, source, out = two_months
    raw.set("persons", 0, "2024-01", age=-3)
    raw.add("persons", 1, "2024-01", person_id="PPX9999", household_id="HHX77777")
    raw.write(tmp_path / "all")  # other files rewritten with the same bytes
    shutil.copy2(tmp_path / "all" / "persons" / "2024-01.parquet", source / "persons")
    summary = ingest(source=source, out=out, key=KEY)
    assert read == ["persons/2024-01.parquet"]
    assert summary.changes is not None and summary.changes.of(CHANGED) == [("persons", "2024-01")]
    # the unknown household is found against the households kept in the store (by pseudonym)
    assert summary.tables["persons"].by_rule == {"negative_value": 1, "unknown_household": 1}
    text = caption(summary)
    assert "changed since the last ingest (re-validated): 2024-01: persons" in text
    assert "1 file(s) validated, 23 skipped" in text
    assert tree(out) == fresh(source, tmp_path / "fresh")


def test_a_changed_households_file_rechecks_its_whole_month(two_months, read, tmp_path):
    raw, source, out = two_months
    raw.set("households", 2, "2024-02", household_id="HH 3!")  # its members become unknown
    raw.write(tmp_path / "all")
    shutil.copy2(tmp_path / "all" / "households" / "2024-02.parquet", source / "households")
    summary = ingest(source=source, out=out, key=KEY)
    assert read == files_of("2024-02")
    changes = summary.changes
    assert changes is not None and changes.of(CHANGED) == [("households", "2024-02")]
    assert changes.of(RECHECKED) == [(t, "2024-02") for t in TABLE_ORDER[1:]]
    assert summary.tables["persons"].by_rule.get("unknown_household", 0) > 0
    assert tree(out) == fresh(source, tmp_path / "fresh")


def test_nothing_new_leaves_the_store_untouched(two_months, read):
    _, source, out = two_months
    before, inode = tree(out), (out / store.MANIFEST_FILE).stat().st_ino
    summary = ingest(source=source, out=out, key=KEY)
    assert read == []
    assert summary.changes is not None and summary.changes.validated == 0
    assert (out / store.MANIFEST_FILE).stat().st_ino == inode and tree(out) == before
    assert json.loads((out / store.SUMMARY_FILE).read_text("utf-8")) == summary.to_dict()


def test_full_equals_a_fresh_ingest_byte_for_byte(two_months, read, tmp_path):
    raw, source, out = two_months
    add_month(source)
    ingest(source=source, out=out, key=KEY)
    read.clear()
    summary = ingest(source=source, out=out, key=KEY, full=True)
    assert len(read) == 36
    assert summary.changes is not None and summary.changes.mode == "full"
    assert tree(out) == fresh(source, tmp_path / "fresh")


def test_a_different_key_is_refused_naming_it(two_months, read):
    _, source, out = two_months
    add_month(source)
    before = tree(out)
    other = KEY + "-rotated"
    with pytest.raises(InputError, match="another pseudonym key") as err:
        ingest(source=source, out=out, key=other)
    message = str(err.value)
    assert key_fingerprint(KEY) in message and key_fingerprint(other) in message
    assert "--full" in message and other not in message
    assert read == [] and tree(out) == before
    ingest(source=source, out=out, key=other, full=True)
    assert store.read_manifest(out)["key_fingerprint"] == key_fingerprint(other)


def test_a_crash_mid_incremental_leaves_the_old_store_intact(two_months, monkeypatch):
    _, source, out = two_months
    add_month(source)
    before = tree(out)
    real, calls = store.write_parquet, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "write_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        ingest(source=source, out=out, key=KEY)
    assert tree(out) == before
    assert not atomic.staging_path(out).exists() and not atomic.previous_path(out).exists()
    monkeypatch.setattr(store, "write_parquet", real)
    assert ingest(source=source, out=out, key=KEY).snapshots == MONTHS


def test_a_run_killed_after_linking_is_cleaned_up_without_touching_the_store(two_months):
    _, source, out = two_months
    before = tree(out)
    staging = atomic.staging_path(out)  # what a killed run left: links to the store's files
    rel = store.table_path(Path(), "persons", "2024-01")
    (staging / rel).parent.mkdir(parents=True)
    store.link_or_copy(out / rel, staging / rel)
    add_month(source)
    ingest(source=source, out=out, key=KEY)
    assert not staging.exists()
    assert {k: v for k, v in tree(out).items() if k in before and k.startswith("tables/")} == {
        k: v for k, v in before.items() if k.startswith("tables/")}


def test_a_month_gone_from_the_source_is_dropped_with_a_warning(two_months, tmp_path, caplog):
    _, source, out = two_months
    for table in TABLE_ORDER:
        (source / table / "2024-01.parquet").unlink()
    with caplog.at_level(logging.WARNING, logger="assist.ingest.incremental"):
        summary = ingest(source=source, out=out, key=KEY)
    assert "2024-01" in caplog.text
    assert summary.changes is not None and summary.changes.removed == ("2024-01",)
    assert summary.changes.validated == 0 and store.list_snapshots(out) == ["2024-02"]
    assert "dropped, extracts gone from the source: 2024-01" in caption(summary)
    assert tree(out) == fresh(source, tmp_path / "fresh")


def test_a_store_from_another_version_is_ingested_in_full(two_months, read):
    _, source, out = two_months
    manifest = store.read_manifest(out)
    store.write_json({**manifest, "assist_version": "0.0.1"}, out / store.MANIFEST_FILE)
    summary = ingest(source=source, out=out, key=KEY)
    assert len(read) == 24
    assert summary.changes is not None and summary.changes.mode == "full"
    assert "store written by assist 0.0.1" in caption(summary)


def test_a_store_with_an_unreadable_manifest_is_rebuilt_in_full(two_months, read, tmp_path):
    _, source, out = two_months
    (out / store.MANIFEST_FILE).write_text("{not json", "utf-8")
    summary = ingest(source=source, out=out, key=KEY)
    assert len(read) == 24
    assert summary.changes is not None and summary.changes.mode == "full"
    assert "unreadable store manifest" in caption(summary)
    assert tree(out) == fresh(source, tmp_path / "fresh")


def test_a_store_file_changed_since_the_last_ingest_is_not_carried_over(two_months):
    _, source, out = two_months
    add_month(source)
    path = store.table_path(out, "income", "2024-01")
    frame = pd.read_parquet(path)
    frame.iloc[:1].to_parquet(path, index=False)
    before = tree(out)
    with pytest.raises(InputError, match=r"changed since the last ingest \(first: "
                                         r"tables/income/2024-01.parquet\).*--full"):
        ingest(source=source, out=out, key=KEY)
    assert tree(out) == before


def test_cli_ingest_is_incremental_and_full_on_request(two_months, monkeypatch):
    _, source, out = two_months
    monkeypatch.delenv("ASSIST_PSEUDONYM_KEY", raising=False)
    env = {"ASSIST_ENV": "dev", "COLUMNS": "200"}
    args = ["ingest", "--source", str(source), "--out", str(out.parent / "cli")]
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    add_month(source)
    second = CliRunner().invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert "incremental ingest: 12 file(s) validated, 24 skipped" in second.output
    assert "new (validated): 2024-03 (all tables)" in second.output
    third = CliRunner().invoke(app, [*args, "--full"], env=env)
    assert third.exit_code == 0, third.output
    assert "full ingest (--full): 36 file(s) validated, 0 skipped" in third.output


def test_a_file_changed_in_place_with_its_size_and_time_kept_is_revalidated(tmp_path, read):
    """The decision is by checksum: same size and modification time do not hide a change."""
    source = RawSource().write(tmp_path / "source", "csv")
    out = tmp_path / "store"
    ingest(source=source, out=out, key=KEY)
    path = source / "income" / "2024-01.csv"
    stat = path.stat()
    text = path.read_text("utf-8")
    path.write_text(text.replace("HHX00002,2024-01,2024-01-31,3000.0",
                                 "HHX00002,2024-01,2024-01-31,-300.0"), "utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    read.clear()
    summary = ingest(source=source, out=out, key=KEY)
    assert read == ["income/2024-01.csv"]
    assert summary.changes is not None and summary.changes.of(CHANGED) == [("income", "2024-01")]
    assert summary.tables["income"].by_rule == {"negative_value": 1}
