"""The scoring snapshot format: written whole, read back with list columns intact, either
engine's scores layout, a crash mid-write leaves the previous snapshot and pointer as they were;
the atomic file writes keep their bytes."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assist.errors import InputError
from assist.storage import atomic, snapshot

AS_OF = "2026-10"


def _frames(shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = pd.Index(["h1", "h2", "h3"], name="household_id")
    scores = pd.DataFrame({
        "street_code": pd.array(["S01", "S01", "S02"], dtype="string"),
        "probability": [0.9 - shift, 0.2, 0.6], "rank_district": [1, 3, 2],
        "allocated": [True, False, True],
        "primary_cause": pd.array(["illness", None, "housing"], dtype="string"),
        "top_factors_en": [["income is low", "costs; high"], None, []],
        "top_factors_zh": [["收入低", "支出高"], None, []],
    }, index=ids)
    referrals = scores.loc[["h1", "h3"], ["street_code", "allocated", "top_factors_en",
                                          "top_factors_zh"]].copy()
    referrals["programmes"] = [["dibao", "medical"], []]
    referrals["allocated_programmes"] = [["medical"], []]
    referrals["reasons_en"] = [["Dibao: low income", "Medical: costs"], []]
    referrals["reasons_zh"] = [["低保：收入低", "医疗：支出"], []]
    referrals["receiving"] = [["charity"], []]
    referrals["flags"] = pd.array(["income_drop;job_loss", ""], dtype="string")
    return scores, referrals


def _write(tmp_path, shift: float = 0.0, summary: dict | None = None):
    scores, referrals = _frames(shift)
    return snapshot.write_snapshot(tmp_path, AS_OF, scores=scores, referrals=referrals,
                                   summary=summary or {"as_of": AS_OF, "households_scored": 3},
                                   model_version="m/1", config_hash="abc")


def test_written_snapshot_reads_back_with_list_columns(tmp_path):
    folder = _write(tmp_path)
    assert snapshot.exists(tmp_path, AS_OF) and snapshot.months(tmp_path) == [AS_OF]
    assert snapshot.current(tmp_path) == AS_OF
    snap = snapshot.read_snapshot(tmp_path)
    scores, referrals = _frames()
    assert snap.folder == folder and snap.summary == {
        "as_of": AS_OF, "households_scored": 3, "revision": "r1", "model_version": "m/1",
        "config_hash": "abc"}
    assert snap.scores["top_factors_en"].tolist() == [["income is low", "costs; high"], None, []]
    assert snap.referrals["programmes"].tolist() == [["dibao", "medical"], []]
    assert snap.referrals["reasons_zh"].tolist() == referrals["reasons_zh"].tolist()
    pd.testing.assert_frame_equal(snap.scores.drop(columns=list(snapshot.LIST_COLUMNS)[:2]),
                                  scores.drop(columns=list(snapshot.LIST_COLUMNS)[:2]))
    schema = pq.read_schema(folder / snapshot.REFERRALS_FILE)
    for col in snapshot.LIST_COLUMNS:
        assert schema.field(col).type == pa.list_(pa.string()), col
    assert schema.field("flags").type != pa.list_(pa.string())   # flags stay text


def test_list_columns_stay_lists_when_all_empty_or_missing(tmp_path):
    path = tmp_path / "t.parquet"
    snapshot.write_frame(pd.DataFrame({"programmes": [[], []], "top_factors_en": [None, None]}),
                         path)
    schema = pq.read_schema(path)
    assert schema.field("programmes").type == schema.field("top_factors_en").type == \
        pa.list_(pa.string())


def test_other_columns_keep_the_bytes_of_to_parquet(tmp_path):
    scores, _ = _frames()
    plain = scores.drop(columns=["top_factors_en", "top_factors_zh"])
    plain.to_parquet(tmp_path / "a.parquet")
    snapshot.write_frame(plain, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_csv_lists_join_with_the_separators_text_had(tmp_path):
    folder = _write(tmp_path)
    csv = pd.read_csv(folder / "referrals" / "S01.csv", keep_default_na=False)
    row = csv.iloc[0]
    assert row["programmes"] == "dibao;medical"
    assert row["top_factors_en"] == "income is low; costs; high"
    assert row["top_factors_zh"] == "收入低；支出高"
    assert row["reasons_zh"] == "低保：收入低；医疗：支出"
    assert sorted(p.name for p in (folder / "referrals").iterdir()) == \
        ["S01.csv", "S01.parquet", "S02.csv", "S02.parquet"]


def test_summary_and_pointer_texts(tmp_path):
    _write(tmp_path, summary={"b": 1, "a": "街道"})
    assert (tmp_path / AS_OF / snapshot.SUMMARY_FILE).read_text(encoding="utf-8") == (
        '{\n  "a": "街道",\n  "b": 1,\n  "config_hash": "abc",\n  "model_version": "m/1",\n'
        '  "revision": "r1"\n}\n')
    pointer = json.loads((tmp_path / snapshot.CURRENT_FILE).read_text(encoding="utf-8"))
    assert pointer == {"as_of": AS_OF, "folder": str(tmp_path / AS_OF), "model_version": "m/1",
                       "config_hash": "abc", "revision": "r1"}
    assert (tmp_path / snapshot.CURRENT_FILE).read_text(encoding="utf-8") == \
        snapshot.pointer_text(as_of=AS_OF, folder=tmp_path / AS_OF, model_version="m/1",
                              config_hash="abc", revision="r1")


def test_a_crash_mid_write_leaves_the_previous_snapshot_and_pointer(tmp_path, monkeypatch):
    _write(tmp_path)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshot, "write_referrals", crash)   # after scores.parquet
    with pytest.raises(OSError, match="No space left"):
        _write(tmp_path, shift=0.5)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [AS_OF, snapshot.CURRENT_FILE]


def test_spark_scores_dataset_reads_like_the_pandas_file(tmp_path):
    scores, _ = _frames()
    (tmp_path / AS_OF / snapshot.SCORES_FILE).mkdir(parents=True)
    part = scores.reset_index().iloc[::-1]        # a dataset: household_id column, any order
    pq.write_table(snapshot.arrow_table(part, preserve_index=False),
                   tmp_path / AS_OF / snapshot.SCORES_FILE / "part-0.parquet")
    got = snapshot.read_scores(tmp_path, AS_OF)
    assert got.index.tolist() == ["h1", "h2", "h3"]
    assert got["top_factors_zh"].tolist() == [["收入低", "支出高"], None, []]
    assert snapshot.exists(tmp_path, AS_OF)


@pytest.mark.parametrize("value, expected", [
    (None, None), (float("nan"), None), (pd.NA, None), ([], []), (("a", "b"), ["a", "b"]),
    ("medical;dibao", ["medical", "dibao"]), ("收入低；支出高", ["收入低", "支出高"]), ("", []),
])
def test_as_list(value, expected):
    assert snapshot.as_list(value) == expected


def test_missing_snapshot_or_pointer_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="run `assist score` first"):
        snapshot.read_snapshot(tmp_path)
    with pytest.raises(InputError, match="no scoring snapshot for 2026-09"):
        snapshot.read_scores(tmp_path, "2026-09")
    (tmp_path / AS_OF).mkdir()
    with pytest.raises(InputError, match="no complete scoring snapshot"):
        snapshot.read_summary(tmp_path, AS_OF)
    assert not snapshot.exists(tmp_path, AS_OF) and snapshot.months(tmp_path) == []


@pytest.mark.parametrize("style, expected", [
    ({}, '{\n  "a": "é",\n  "b": [\n    1\n  ]\n}\n'),                          # the house format
    ({"sort_keys": False, "newline": False}, '{\n  "b": [\n    1\n  ],\n  "a": "é"\n}'),
    ({"indent": None, "sort_keys": False, "allow_nan": True, "newline": False},
     '{"b": [1], "a": "é"}'),
    ({"ensure_ascii": True, "allow_nan": True, "newline": False},
     '{\n  "a": "\\u00e9",\n  "b": [\n    1\n  ]\n}'),
])
def test_write_json_formats_as_json_dumps(tmp_path, style, expected):
    path = atomic.write_json({"b": [1], "a": "é"}, tmp_path / "x.json", **style)
    assert path.read_text(encoding="utf-8") == expected
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]     # no temporary file left


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = atomic.write_text("old", tmp_path / "f.txt")

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        atomic.write_text("new", path)
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]     # the temporary file is gone
