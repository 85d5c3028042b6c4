"""Ingest: every bad row quarantined with its rule and column, nothing personal leaks, output
is deterministic, and a failed run leaves the previous store untouched."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pandera.errors as pe
import pyarrow.parquet as pq
import pytest
from pandera.pandas import Check
from rich.console import Console
from typer.testing import CliRunner

from assist.cli.app import app
from assist.errors import InputError
from assist.features.schemas import RULES, TABLE_ORDER, TABLES, Col, clean_schema, raw_schema
from assist.ingest.coerce import coerce_column
from assist.ingest.extracts import Extract, discover, read_extract
from assist.ingest.pseudonym import key_fingerprint, pseudonym
from assist.ingest.quarantine import QUARANTINE_SCHEMA
from assist.ingest.rules import TableRules, _Findings, failing_rows
from assist.ingest.run import (
    PARALLEL_MIN_BYTES,
    IngestSummary,
    _self_check,
    _self_check_schema,
    _workers,
    ingest,
)
from assist.storage import store
from tests.conftest import (
    ADDRESSES,
    CERTIFICATES,
    HOUSEHOLD_IDS,
    ID_NUMBERS,
    KEY,
    NAMES,
    PERSON_IDS,
    RawSource,
    tree,
)

T = pd.Timestamp


def run(raw: RawSource, folder: Path, key: str, fmt: str = "parquet",
        out: str = "store") -> tuple[IngestSummary, Path]:
    """Write ``raw`` under ``folder/source`` and ingest it into ``folder/<out>``."""
    source = raw.write(folder / "source", fmt)
    summary = ingest(source=source, out=folder / out, key=key)
    return summary, folder / out


def quarantine(out: Path, table: str) -> pd.DataFrame:
    """The quarantine file of ``table``."""
    return pd.read_parquet(store.quarantine_path(out, table))


# --- reading values as their declared types ------------------------------------------------
NA = None
COERCE = [  # kind, input values, input dtype, values read, rows failing (by rule)
    ("int", ["1", " 2 ", "2.0", "abc", "1.5", "", NA, "1e30"], "string",
     [1, 2, 2, NA, NA, NA, NA, NA], {"bad_type": [3, 4, 7]}),
    ("int", [1, NA], "Int64", [1, NA], {}),
    ("int", [1.0, 2.5], "float64", [1, NA], {"bad_type": [1]}),
    ("float", ["1.5", "x", "inf", "", "-3"], "string", [1.5, NA, NA, NA, -3.0],
     {"bad_type": [1, 2]}),
    ("bool", ["true", "False", " 1", "0", "maybe", NA, "YES", "n"], "string",
     [True, False, True, False, NA, NA, True, False], {"bad_type": [4]}),
    ("bool", [1, 0, 2], "int64", [True, False, NA], {"bad_type": [2]}),
    ("date", ["2024-01-31", "1500-01-01", "3000-01-01", "2024-02-30", "", NA], "string",
     [T("2024-01-31"), NA, NA, NA, NA, NA], {"bad_type": [2, 3], "implausible_date": [1]}),
    ("date", [T("2024-01-31"), NA], "datetime64[ms]", [T("2024-01-31"), NA], {}),
    ("id", [123, NA], "Int64", ["123", NA], {}),
    ("category", ["a", "", NA], "str", ["a", "", NA], {}),
]


@pytest.mark.parametrize(("kind", "values", "dtype", "expected", "failed"), COERCE)
def test_values_are_read_as_declared_and_unreadable_ones_reported(
        kind, values, dtype, expected, failed):
    got = coerce_column(pd.Series(values, dtype=dtype), Col("x", kind, "test column"))
    assert [None if pd.isna(v) else v for v in got.values.tolist()] == expected
    assert {rule: mask.nonzero()[0].tolist() for rule, mask in got.failed.items()} == failed
    assert str(got.values.dtype) == {"int": "Int64", "float": "Float64", "bool": "boolean",
                                     "date": "datetime64[ns]"}.get(kind, "string")


# --- each kind of invalid record ----------------------------------------------------------
INVALID = [  # table, 0-based row of the January file, planted values, rules, columns
    ("persons", 0, {"person_id": "P 1!"}, "malformed_id", "person_id"),
    ("assistance", 0, {"programme": "lottery"}, "unknown_code", "programme"),
    ("income", 0, {"monthly_income": -5.0}, "negative_value", "monthly_income"),
    ("persons", 2, {"age": 150}, "above_maximum", "age"),
    ("medical_claims", 2, {"inpatient_days": 400}, "above_maximum", "inpatient_days"),
    ("housing", 0, {"floor_area_m2": 0.5}, "below_minimum", "floor_area_m2"),
    ("medical_claims", 0, {"service_date": T("2024-02-03")}, "future_date", "service_date"),
    ("persons", 3, {"age": "abc"}, "bad_type", "age"),
    ("employment", 0, {"monthly_wage": "12k"}, "bad_type", "monthly_wage"),
    ("housing", 1, {"shared_kitchen": "maybe"}, "bad_type", "shared_kitchen"),
    ("disability", 0, {"issue_date": "2015-13-45"}, "bad_type", "issue_date"),
    ("disability", 2, {"grade": 2.5}, "bad_type", "grade"),
    ("persons", 1, {"sex": None}, "missing_value", "sex"),
    ("verifications", 1, {"visit_date": None}, "missing_value", "visit_date"),
    ("income", 1, {"as_of_date": T("2024-02-05")}, "as_of_outside_snapshot", "as_of_date"),
    ("income", 2, {"household_id": "HHZ99999"}, "unknown_household", "household_id"),
    ("water_readings", 0, {"snapshot": "2024-02"}, "snapshot_mismatch", "snapshot"),
    ("hotline_appeals", 0, {"snapshot": "2024/01"}, "bad_snapshot", "snapshot"),
    ("disability", 1, {"issue_date": T("1850-01-01")}, "implausible_date", "issue_date"),
    ("disability", 3, {"issue_date": "1500-01-01"}, "implausible_date", "issue_date"),
    ("medical_claims", 1, {"out_of_pocket": 5000.0}, "out_of_pocket_exceeds_total_cost",
     "out_of_pocket"),
    ("persons", 4, {"age": -1, "sex": "X"}, "negative_value,unknown_code", "age,sex"),
]
DUPLICATES = [("persons", 5, "person_id,snapshot"), ("water_readings", 3,
                                                     "person_id,reading_date")]
FORMATS = ["parquet", "csv"]


def planted_source() -> tuple[RawSource, list[tuple[str, int, str, str]]]:
    """The tiny district with every invalid record planted (each in its own row), copies of
    rows appended, and an undeclared column holding an ID number; plus the expected
    quarantine rows (table, 1-based row number, rules, columns)."""
    raw = RawSource()
    expected = []
    for table, row, values, rules, columns in INVALID:
        raw.set(table, row, **values)
        expected.append((table, row + 1, rules, columns))
    for table, row, key_columns in DUPLICATES:
        expected.append((table, raw.add(table, row) + 1, "duplicate_key", key_columns))
    raw.tables["persons"]["2024-02"]["note"] = ID_NUMBERS[0]
    return raw, sorted(expected)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, tuple[IngestSummary, Path]]:
    """The planted district ingested once from Parquet and once from CSV."""
    raw, _ = planted_source()
    return {fmt: run(raw, tmp_path_factory.mktemp(fmt), KEY, fmt) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("table", "row", "values", "rules", "columns"), INVALID,
                         ids=[f"{r[0]}-{r[3]}" for r in INVALID])
def test_each_invalid_record_is_quarantined_with_its_rule_and_column(
        stores, fmt, table, row, values, rules, columns):
    summary, out = stores[fmt]
    q = quarantine(out, table)
    got = q.loc[q["row_number"] == row + 1]
    assert len(got) == 1
    got = got.iloc[0]
    assert (got["rules"], got["columns"]) == (rules, columns)
    assert (got["table"], got["snapshot"]) == (table, "2024-01")
    assert got["source_file"] == f"{table}/2024-01.{fmt}"
    for rule in rules.split(","):
        assert RULES[rule] in got["reasons"]
        assert summary.tables[table].by_rule[rule] >= 1
    record = json.loads(got["record"])
    assert list(record) == TABLES[table].clean_column_names
    assert json.loads(got["row_key"]).keys() == set(TABLES[table].key)


@pytest.mark.parametrize("fmt", FORMATS)
def test_exactly_the_planted_records_are_quarantined_the_rest_accepted(stores, fmt):
    summary, out = stores[fmt]
    _, expected = planted_source()
    found = sorted((t, int(n), r, c) for t in TABLE_ORDER for n, r, c in
                   quarantine(out, t)[["row_number", "rules", "columns"]].itertuples(index=False))
    assert found == expected
    assert summary.quarantined == len(expected)
    for name, counts in summary.tables.items():
        mine = [e for e in expected if e[0] == name]
        assert (counts.quarantined, counts.accepted) == (len(mine), counts.rows_read - len(mine))
        stored = sum(len(pd.read_parquet(p)) for p in (out / "tables" / name).glob("*.parquet"))
        assert stored == counts.accepted
        by_rule = pd.Series([r for e in mine for r in e[2].split(",")], dtype=object)
        assert counts.by_rule == by_rule.value_counts().to_dict()


@pytest.mark.parametrize("fmt", FORMATS)
def test_extra_columns_are_ignored_but_listed(stores, fmt):
    summary, out = stores[fmt]
    assert summary.tables["persons"].extra_columns == ["note"]
    assert "note" not in pd.read_parquet(store.table_path(out, "persons", "2024-02"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_raw_identifier_or_personal_value_survives_anywhere(stores, fmt):
    summary, out = stores[fmt]
    assert summary.tables["persons"].quarantined >= 5  # rows holding names and ID numbers
    secrets = HOUSEHOLD_IDS + PERSON_IDS + NAMES + ID_NUMBERS + ADDRESSES + CERTIFICATES
    strings: list[str] = []
    for path in out.rglob("*"):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            strings += table.schema.names
            strings += [str(v) for col in table.columns for v in col.to_pylist()]
            strings += [str(v) for v in (table.schema.metadata or {}).values()]
        elif path.suffix == ".json":
            text = path.read_bytes().decode("utf-8")
            assert not [s for s in secrets if s in text], path
    assert len(strings) > 1000
    assert not {s for s in secrets for v in strings if s in v}
    for dropped in ("name", "id_number", "address", "certificate_no"):
        assert dropped not in strings


def test_csv_input_gives_the_same_store_as_parquet(stores):
    (_, from_parquet), (_, from_csv) = stores["parquet"], stores["csv"]
    assert tree(from_parquet / "tables") == tree(from_csv / "tables")
    cols = ["snapshot", "row_number", "row_key", "household_id", "rules", "columns"]
    for name in TABLE_ORDER:
        assert quarantine(from_parquet, name)[cols].equals(quarantine(from_csv, name)[cols])


def test_summary_and_manifest_describe_the_run(stores):
    summary, out = stores["parquet"]
    written = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(summary.to_dict()))
    assert written["tables"]["income"]["by_snapshot"]["2024-01"]["quarantined"] == 3
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["key_fingerprint"] == key_fingerprint(KEY)
    assert KEY not in (out / "manifest.json").read_text(encoding="utf-8")
    assert manifest["snapshots"] == ["2024-01", "2024-02"]
    assert set(manifest["files"]) == set(tree(out)) - {"manifest.json"}
    for rel, meta in manifest["files"].items():
        assert meta["sha256"] == store.file_sha256(out / rel)
    assert len(manifest["sources"]) == 24
    console = Console(file=io.StringIO(), width=80)
    console.print(summary.table())
    assert "negative_value 1" in console.file.getvalue()
    assert "persons: note" in console.file.getvalue()


def test_rerun_gives_byte_identical_output(stores, tmp_path):
    _, out = stores["parquet"]
    ingest(source=out.parent / "source", out=tmp_path / "again", key=KEY)
    assert tree(tmp_path / "again") == tree(out)


def test_a_different_key_gives_different_pseudonyms(stores, tmp_path):
    _, out = stores["parquet"]
    ingest(source=out.parent / "source", out=tmp_path / "other", key=KEY + "-other")
    for table, column in (("households", "household_id"), ("persons", "person_id")):
        mine = set(pd.read_parquet(store.table_path(out, table, "2024-02"))[column])
        other = set(pd.read_parquet(store.table_path(tmp_path / "other", table, "2024-02"))[column])
        assert len(mine) == len(other) > 5 and not mine & other


def test_a_quarantined_household_takes_its_rows_in_other_tables_with_it(raw, tmp_path, key):
    raw.set("households", 0, household_id="HH 1!")
    summary, out = run(raw, tmp_path, key)
    assert quarantine(out, "households")["rules"].tolist() == ["malformed_id"]
    members = sum(h == HOUSEHOLD_IDS[0] for h in raw.frame("persons")["household_id"])
    persons = quarantine(out, "persons")
    assert persons["rules"].tolist() == ["unknown_household"] * members
    assert set(persons["snapshot"]) == {"2024-01"}  # the February snapshot is fine
    for name in TABLE_ORDER[1:]:
        assert set(summary.tables[name].by_rule) <= {"unknown_household"}


# --- valid input ---------------------------------------------------------------------------
def test_valid_rows_are_all_accepted_and_stored_by_key(baseline):
    _, out, summary, raw, _ = baseline
    assert summary.quarantined == 0 and summary.accepted == raw.count() == summary.rows_read
    assert summary.snapshots == ("2024-01", "2024-02")
    for name in TABLE_ORDER:
        q = pq.read_table(store.quarantine_path(out, name))
        assert q.num_rows == 0 and q.schema.names == QUARANTINE_SCHEMA.names
        for snap in ("2024-01", "2024-02"):
            df = pd.read_parquet(store.table_path(out, name, snap))
            assert list(df.columns) == TABLES[name].clean_column_names
            assert isinstance(df.index, pd.RangeIndex)
            assert len(df) == len(raw.frame(name, snap))
            clean_schema(name).validate(df)
            keys = df[list(TABLES[name].key)].astype(str)
            assert keys.equals(keys.sort_values(list(TABLES[name].key)))
    persons = pd.read_parquet(store.table_path(out, "persons", "2024-01"))
    assert pseudonym(PERSON_IDS[0], kind="person", key=KEY) in set(persons["person_id"])


def test_progress_advances_once_per_file(baseline):
    (task,) = baseline[4].tasks
    assert task.total == task.completed == 24


# --- failures: the whole run stops, the previous store stays as it was ---------------------
def _remove(path: Path) -> None:
    path.unlink()


BREAKAGES = {  # name -> (change to the source folder, expected message, file, column)
    "missing file": (lambda s: _remove(s / "income" / "2024-02.parquet"),
                     "has no extract for snapshot 2024-02", "income", None),
    "missing table folder": (lambda s: shutil.rmtree(s / "verifications"),
                             "table folder not found", "verifications", None),
    "missing column": (lambda s: pd.read_parquet(s / "persons" / "2024-02.parquet").drop(
        columns=["age", "sex"]).to_parquet(s / "persons" / "2024-02.parquet"),
        "missing columns", "persons/2024-02.parquet", "age, sex"),
    "unreadable parquet": (lambda s: (s / "housing" / "2024-01.parquet").write_bytes(
        b"PAR1 not really"), "unreadable Parquet file", "housing/2024-01.parquet", None),
    "unreadable csv": (lambda s: (s / "housing" / "2024-01.parquet").rename(
        s / "housing" / "2024-01.csv") or (s / "housing" / "2024-01.csv").write_bytes(
        b"household_id,snapshot\n\xff\xfe\xfa,2024-01\n"),
        "unreadable CSV file", "housing/2024-01.csv", None),
    "badly named file": (lambda s: (s / "income" / "2024-02.parquet").rename(
        s / "income" / "2024-2.parquet"), "not named YYYY-MM", "income/2024-2.parquet", None),
    "two files for one month": (lambda s: pd.read_parquet(s / "income" / "2024-02.parquet")
                                .to_csv(s / "income" / "2024-02.csv", index=False),
                                "two extracts for snapshot 2024-02", "income", None),
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_bad_input_fails_naming_file_and_column_and_keeps_the_previous_store(
        previous, key, name):
    source, out, before = previous
    change, message, file, column = BREAKAGES[name]
    change(source)
    with pytest.raises(InputError, match=message) as info:
        ingest(source=source, out=out, key=key)
    assert info.value.file is not None and info.value.file.endswith(file)
    assert info.value.column == column
    assert tree(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["source", "store"]


def test_a_missing_source_folder_fails(tmp_path, key):
    with pytest.raises(InputError, match="source folder not found"):
        ingest(source=tmp_path / "nowhere", out=tmp_path / "store", key=key)
    assert not (tmp_path / "store").exists()


def test_a_malformed_csv_row_is_quarantined_by_line_and_not_echoed(previous, key):
    source, out, _ = previous
    path = source / "persons" / "2024-01.parquet"
    frame = pd.read_parquet(path)
    text = frame.to_csv(index=False) + f"{PERSON_IDS[0]},{NAMES[0]},extra\n"
    path.unlink()
    (source / "persons" / "2024-01.csv").write_text(text, encoding="utf-8")
    summary = ingest(source=source, out=out, key=key)
    got = quarantine(out, "persons")
    bad = got[got["rules"] == "malformed_row"]
    assert bad["row_number"].tolist() == [len(frame) + 1]  # the header is row 0
    assert PERSON_IDS[0] not in bad.to_json() and NAMES[0] not in bad.to_json()
    assert summary.tables["persons"].by_snapshot["2024-01"] == {
        "rows_read": len(frame) + 1, "accepted": len(frame), "quarantined": 1}


# --- the command line ---------------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path, monkeypatch) -> dict[str, str]:
    monkeypatch.delenv("ASSIST_PSEUDONYM_KEY", raising=False)
    return {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path), "COLUMNS": "200"}


def test_cli_ingest_prints_the_summary(raw, tmp_path, cli_env):
    raw.set("income", 0, monthly_income=-1.0)
    raw.write(tmp_path / "source")
    result = CliRunner().invoke(app, ["ingest"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "persons" in result.output and "negative_value" in result.output
    assert (tmp_path / "store" / "manifest.json").is_file()


def test_cli_bad_input_exits_2_with_a_clear_message(raw, tmp_path, cli_env):
    raw.write(tmp_path / "source")
    path = tmp_path / "source" / "persons" / "2024-01.parquet"
    pd.read_parquet(path).drop(columns=["relation"]).to_parquet(path)
    result = CliRunner().invoke(app, ["ingest"], env=cli_env)
    assert result.exit_code == 2
    assert "missing column" in result.output and "'relation'" in result.output
    assert "persons/2024-01.parquet" in result.output.replace("\n", "")
    assert "Traceback" not in result.output
    assert not (tmp_path / "store").exists()


def test_cli_refuses_the_development_key_outside_dev(raw, tmp_path, cli_env):
    raw.write(tmp_path / "source")
    result = CliRunner().invoke(app, ["ingest"], env={**cli_env, "ASSIST_ENV": "production"})
    assert result.exit_code == 2 and "ASSIST_PSEUDONYM_KEY" in result.output
    assert not (tmp_path / "store").exists()


# --- the simulator's district ---------------------------------------------------------------
@pytest.mark.slow
def test_every_row_the_simulator_planted_is_quarantined_for_its_rule(tmp_path):
    simulate = pytest.importorskip("assist.simulate").simulate
    simulate(households=2000, months=2, seed=11, end_month="2024-02", out=tmp_path / "source",
             truth_out=tmp_path / "truth")
    summary = ingest(source=tmp_path / "source", out=tmp_path / "store", key=KEY)
    planted = pd.read_parquet(tmp_path / "truth" / "planted_invalid.parquet")
    planted["row_number"] = planted["row"] + 1
    q = pd.concat([quarantine(tmp_path / "store", t) for t in TABLE_ORDER], ignore_index=True)
    assert len(planted) > 20 and summary.quarantined == len(q)

    caught = planted.merge(q, on=["table", "snapshot", "row_number"], how="left")
    assert caught["rules"].notna().all()
    for kind, column, rules, columns in caught[["kind", "column", "rules", "columns"]].itertuples(
            index=False):
        assert kind in rules.split(",")
        assert pd.isna(column) or column in columns.split(",")
    # anything else quarantined belongs to a household that was itself quarantined
    rest = q.merge(planted, on=["table", "snapshot", "row_number"], how="left", indicator=True)
    assert set(rest.loc[rest["_merge"] == "left_only", "rules"]) <= {"unknown_household"}


# --- the rules are the declared schema's own checks ------------------------------------------
def _pandera_findings(table: str, frame: pd.DataFrame) -> set[tuple[int, str, str]]:
    """(row, rule, column) for the column checks, nullability and key uniqueness of the raw
    schema, as pandera's lazy validation reports them (a missing key part is not a copy)."""
    schema = raw_schema(table)
    columns = schema.update_columns({c: {"coerce": False, "dtype": None} for c in schema.columns})
    columns.coerce, columns.checks = False, []
    try:
        columns.validate(frame, lazy=True)
        return set()
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
    names = {"not_nullable": "missing_value", "multiple_fields_uniqueness": "duplicate_key"}
    key_missing = frame[list(TABLES[table].key)].isna().any(axis=1)
    return {(int(i), names.get(str(k), str(k)), str(c))
            for i, k, c in cases[["index", "check", "column"]].itertuples(index=False)
            if not (str(k) == "multiple_fields_uniqueness" and key_missing[int(i)])}


@pytest.mark.slow
def test_rules_find_what_pandera_validation_of_the_declared_schema_finds(tmp_path):
    simulate = pytest.importorskip("assist.simulate").simulate
    simulate(households=400, months=1, seed=5, end_month="2024-01", out=tmp_path / "source",
             truth_out=tmp_path / "truth", invalid_rate=0.05)
    _, extracts = discover(tmp_path / "source")
    checked = 0
    for extract in extracts:
        spec = TABLES[extract.table]
        raw = read_extract(extract, spec).frame
        frame = pd.DataFrame({c.name: coerce_column(raw[c.name], c).values
                              for c in spec.columns})
        for extra in range(3):  # copies of rows, one with a missing key part
            frame = pd.concat([frame, frame.iloc[[extra]]], ignore_index=True)
        frame.loc[len(frame) - 1, spec.key[0]] = None
        expected = _pandera_findings(spec.name, frame)
        found = _Findings(len(frame))
        TableRules(spec.name)._columns(frame, found, unreadable={})
        got = {(int(r), str(u), str(c)) for r, u, c in found.frame().itertuples(index=False)}
        assert got == expected, spec.name
        checked += len(expected)
    assert checked > 100


@pytest.mark.parametrize("values", [
    ["a", "b", "a", None, "zz", "a", "b", "zz"],   # few distinct values: checked once each
    ["a", "b", "zz", None],                         # mostly distinct: checked row by row
    [None, None, None],
    ["zz", "zz", "zz", "zz"],
])
def test_a_column_check_on_distinct_values_fails_the_same_rows(values):
    check = Check(lambda s: s.isin(["a", "b"]), name="unknown_code", ignore_na=True)
    series = pd.Series(values, dtype=pd.StringDtype())
    expected = [i for i, v in enumerate(values) if v is not None and v not in ("a", "b")]
    assert failing_rows(check, series, few=True).tolist() == expected
    assert failing_rows(check, series, few=False).tolist() == expected


SELF_CHECK_BUGS = [  # how a bug could spoil accepted rows of persons, what the check names
    (lambda f: f.assign(person_id=f["person_id"].str.upper()), "person_id:malformed_id"),
    (lambda f: f.assign(relation="boss"), "relation:unknown_code"),
    (lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True), "person_id,snapshot:duplicate_key"),
    (lambda f: f.assign(as_of_date=T("2030-01-01")), ":as_of_outside_snapshot"),
    (lambda f: f.assign(age=f["age"].astype("float64")), "age:dtype"),
    (lambda f: f.assign(sex=None).astype({"sex": pd.StringDtype()}), "sex:not_nullable"),
    (lambda f: f.assign(name="Wang Fang"), "persons:column_in_schema"),
    (lambda f: f.drop(columns=["relation"]), "persons:column_in_dataframe"),
]


@pytest.mark.parametrize(("spoil", "named"), SELF_CHECK_BUGS)
def test_the_self_check_refuses_accepted_rows_that_break_the_clean_schema(baseline, spoil,
                                                                          named):
    _, out, *_ = baseline
    clean = pd.read_parquet(store.table_path(out, "persons", "2024-01"))
    clean = clean.astype(store.dtypes("persons", clean=True))
    extract = Extract("persons", "2024-01", Path("persons/2024-01.parquet"),
                      "persons/2024-01.parquet")
    check = _self_check_schema("persons")
    _self_check(check, clean, extract)  # the stored rows pass
    with pytest.raises(RuntimeError, match="self-check failed for persons/2024-01") as err:
        _self_check(check, spoil(clean), extract)
    assert named in str(err.value) and "Wang" not in str(err.value)


# --- two worker processes -------------------------------------------------------------------
def test_two_workers_write_the_same_store_as_one(baseline, tmp_path):
    source, out, summary, *_ = baseline
    raw, _ = planted_source()
    planted = raw.write(tmp_path / "planted")
    one = ingest(source=planted, out=tmp_path / "one", key=KEY, workers=1)
    two = ingest(source=planted, out=tmp_path / "two", key=KEY, workers=2)
    assert one.quarantined > 0 and one.to_dict() == two.to_dict()
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    ingest(source=source, out=tmp_path / "valid", key=KEY, workers=2)
    assert tree(tmp_path / "valid") == tree(out)


def test_a_worker_failure_names_the_file_and_keeps_the_previous_store(previous, key):
    source, out, before = previous
    (source / "housing" / "2024-02.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="unreadable Parquet file") as err:
        ingest(source=source, out=out, key=key, workers=2)
    assert err.value.file is not None and err.value.file.endswith("housing/2024-02.parquet")
    assert tree(out) == before
    assert not any(p.name.endswith((".incoming", ".previous")) for p in out.parent.iterdir())


@pytest.mark.parametrize(("asked", "size", "expected"), [
    (None, 10, 1), (None, PARALLEL_MIN_BYTES, 2), (1, PARALLEL_MIN_BYTES, 1), (2, 10, 2),
    (5, 10, 2),  # never more workers than snapshots
])
def test_the_number_of_workers(monkeypatch, asked, size, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert _workers(asked, size=size, snapshots=2) == expected
    with pytest.raises(ValueError, match="at least 1"):
        _workers(0, size=size, snapshots=2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert _workers(None, size=size, snapshots=2) == 1  # one core: one process
