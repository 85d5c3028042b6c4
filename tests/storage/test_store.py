"""The store: loading a window of snapshots with declared dtypes; replacing the folder whole."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER, TABLES, clean_schema, dtypes
from assist.ingest.run import ingest
from assist.storage import atomic, store
from tests.conftest import KEY, RawSource, tree


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """A store of the tiny district over three months."""
    folder = tmp_path_factory.mktemp("store")
    raw = RawSource(snapshots=("2024-01", "2024-02", "2024-03"))
    source = raw.write(folder / "source")
    ingest(source=source, out=folder / "store", key=KEY)
    return folder / "store"


def test_list_snapshots(ingested):
    assert store.list_snapshots(ingested) == ["2024-01", "2024-02", "2024-03"]


@pytest.mark.parametrize(("as_of", "months", "expected"), [
    ("2024-03", 13, ["2024-01", "2024-02", "2024-03"]),  # a short history: what there is
    ("2024-03", 2, ["2024-02", "2024-03"]),
    ("2024-02", 1, ["2024-02"]),
    ("2024-01", 13, ["2024-01"]),
])
def test_load_tables_reads_the_window_ending_at_as_of(ingested, as_of, months, expected):
    tables = store.load_tables(ingested, as_of=as_of, months=months)
    assert list(tables) == list(TABLE_ORDER)
    for name, df in tables.items():
        assert sorted(df["snapshot"].unique()) == expected
        assert df.dtypes.to_dict() == dtypes(name, clean=True)
        assert isinstance(df.index, pd.RangeIndex)
        clean_schema(name).validate(df)
    assert len(tables["households"]) == 6 * len(expected)


def test_load_tables_can_pick_tables(ingested):
    tables = store.load_tables(ingested, as_of="2024-03", tables=["persons", "income"])
    assert list(tables) == ["persons", "income"]
    assert list(tables["persons"].columns) == TABLES["persons"].clean_column_names


def test_window_crosses_the_year():
    assert store.window("2024-02", 4) == ["2023-11", "2023-12", "2024-01", "2024-02"]


@pytest.mark.parametrize(("as_of", "message"), [
    ("2024-07", "no snapshot 2024-07"),
    ("2024-7", "not written YYYY-MM"),
])
def test_load_tables_refuses_a_month_the_store_lacks(ingested, as_of, message):
    with pytest.raises(InputError, match=message):
        store.load_tables(ingested, as_of=as_of)


def test_missing_store_table_or_file_is_an_input_error(ingested, tmp_path):
    with pytest.raises(InputError, match="store not found") as info:
        store.load_tables(tmp_path / "nothing", as_of="2024-01")
    assert info.value.file == str(tmp_path / "nothing")
    with pytest.raises(InputError, match="no manifest"):
        store.load_tables(tmp_path, as_of="2024-01")

    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / store.MANIFEST_FILE).write_bytes((ingested / store.MANIFEST_FILE).read_bytes())
    with pytest.raises(InputError, match="table 'households' is missing") as info:
        store.load_tables(copy, as_of="2024-02")
    assert info.value.file.endswith("tables/households")
    (copy / "tables" / "households").mkdir(parents=True)
    with pytest.raises(InputError, match="snapshot 2024-01 of table 'households'") as info:
        store.load_tables(copy, as_of="2024-02", tables=["households"])
    assert info.value.file.endswith("households/2024-01.parquet")


def test_a_manifest_of_another_format_is_refused(tmp_path):
    (tmp_path / store.MANIFEST_FILE).write_text(json.dumps({"format": "other"}))
    with pytest.raises(InputError, match="format"):
        store.list_snapshots(tmp_path)


# --- replacing the store folder as a whole -------------------------------------------------
@pytest.mark.parametrize("full", [True, False])
def test_a_crash_mid_run_leaves_the_previous_store_byte_identical(previous, key, monkeypatch,
                                                                   full):
    source, out, before = previous
    if not full:  # incremental: 2024-02 re-exported (same rows, other bytes), 2024-01 linked
        for path in sorted(source.glob("*/2024-02.parquet")):
            pd.read_parquet(path).to_parquet(path, index=False, compression="gzip")
    real, calls = store.write_parquet, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 5:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "write_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        ingest(source=source, out=out, key=key, full=full)
    assert len(calls) == 6
    assert tree(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["source", "store"]


def test_a_swap_cut_short_is_repaired_by_the_next_run(previous, key):
    source, out, before = previous
    # killed between the two renames: the store moved aside, the new one half written
    out.rename(atomic.previous_path(out))
    (atomic.staging_path(out) / "tables").mkdir(parents=True)
    with pytest.raises(InputError):  # even a run that then fails repairs first
        ingest(source=source / "missing", out=out, key=key)
    assert tree(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["source", "store"]


def test_a_folder_that_is_not_a_store_is_never_replaced(raw, tmp_path, key):
    source = raw.write(tmp_path / "source")
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(InputError, match="refusing to replace"):
        ingest(source=source, out=precious, key=key)
    assert (precious / "thesis.txt").read_text(encoding="utf-8") == "keep me"
    with pytest.raises(InputError, match="must not contain or lie inside"):
        ingest(source=source, out=source / "store", key=key)


def _fill(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / store.MANIFEST_FILE).write_text(text)


def test_replacing_swaps_in_the_new_folder(tmp_path):
    out = tmp_path / "out"
    _fill(out, "old")
    with atomic.replacing(out, marker=store.MANIFEST_FILE) as staging:
        _fill(staging, "new")
        assert (out / store.MANIFEST_FILE).read_text() == "old"  # untouched until the end
    assert (out / store.MANIFEST_FILE).read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_replacing_removes_the_staging_folder_on_failure(tmp_path):
    out = tmp_path / "out"
    _fill(out, "old")
    with pytest.raises(KeyboardInterrupt), atomic.replacing(out, marker=store.MANIFEST_FILE) as st:
        _fill(st, "half")
        raise KeyboardInterrupt
    assert (out / store.MANIFEST_FILE).read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize(("out_exists", "previous_exists", "expected"), [
    (False, True, "old"),   # killed between the renames: the previous store comes back
    (True, True, "new"),    # killed before deleting the previous store: it is deleted
    (True, False, "new"),   # only a staging folder left: it is deleted
])
def test_recover_repairs_a_swap_cut_short(tmp_path, out_exists, previous_exists, expected):
    out = tmp_path / "out"
    if out_exists:
        _fill(out, "new")
    if previous_exists:
        _fill(atomic.previous_path(out), "old")
    _fill(atomic.staging_path(out), "half")
    atomic.recover(out)
    assert (out / store.MANIFEST_FILE).read_text() == expected
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_file_in_place_of_the_store_is_refused(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        atomic.check_replaceable(tmp_path / "out", marker=store.MANIFEST_FILE)


def test_link_or_copy_links_where_it_can_and_copies_where_it_cannot(tmp_path, monkeypatch):
    src = tmp_path / "a.parquet"
    src.write_bytes(b"PAR1 rows")
    assert store.link_or_copy(src, tmp_path / "linked" / "a.parquet")
    assert (tmp_path / "linked" / "a.parquet").stat().st_ino == src.stat().st_ino

    def cross_device(a, b):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(store.os, "link", cross_device)
    assert not store.link_or_copy(src, tmp_path / "copied" / "a.parquet")
    copied = tmp_path / "copied" / "a.parquet"
    assert copied.read_bytes() == src.read_bytes() and copied.stat().st_ino != src.stat().st_ino
    with pytest.raises(FileNotFoundError):
        store.link_or_copy(tmp_path / "gone.parquet", tmp_path / "copied" / "gone.parquet")
