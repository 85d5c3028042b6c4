"""Ingest refuses what it should: too few accepted rows, future months, stray folders (strict),
and names what it cannot read (a non-UTF-8 file); a malformed CSV row is quarantined by line.
Each case through the command line: exit code and message; a refused run leaves the store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from assist.cli.app import app
from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER
from assist.ingest.acceptance import ACCEPTANCE, Acceptance, shortfall
from assist.ingest.run import ingest
from assist.ingest.summary import FileResult
from assist.storage import store
from tests.conftest import KEY, tree


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    monkeypatch.delenv("ASSIST_PSEUDONYM_KEY", raising=False)
    return {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path), "COLUMNS": "400"}


def cli(env: dict[str, str], *args: str):  # noqa: ANN201
    result = CliRunner().invoke(app, ["ingest", *args], env=env)
    return result, " ".join(result.output.split())  # Rich wraps long lines


def as_csv(source: Path, table: str, month: str, encoding: str = "utf-8",
           frame: pd.DataFrame | None = None) -> Path:
    """Replace a Parquet extract by the same rows (or ``frame``) as CSV."""
    path = source / table / f"{month}.parquet"
    frame = pd.read_parquet(path) if frame is None else frame
    path.unlink()
    target = path.with_suffix(".csv")
    target.write_bytes(frame.to_csv(index=False, date_format="%Y-%m-%d").encode(encoding))
    return target


@pytest.fixture
def source(raw, tmp_path) -> Path:
    return raw.write(tmp_path / "source")


def test_every_table_declares_its_acceptance_rule():
    assert set(ACCEPTANCE) == set(TABLE_ORDER)
    assert all(0 < a.min_rate <= 1 and a.min_rows >= 0 for a in ACCEPTANCE.values())
    assert ACCEPTANCE["households"] == Acceptance(min_rate=0.5, min_rows=1)
    assert ACCEPTANCE["hotline_appeals"].min_rows == 0  # a month without appeals is possible


@pytest.mark.parametrize(("rows", "accepted", "table", "refused"), [
    (10, 5, "income", False), (10, 4, "income", True), (0, 0, "income", True),
    (0, 0, "hotline_appeals", False), (2, 0, "hotline_appeals", True)])
def test_the_rule_refuses_below_the_rate_or_the_row_count(rows, accepted, table, refused):
    result = FileResult("2024-01", f"{table}/2024-01.csv", rows, accepted, rows - accepted,
                        {"bad_type": rows - accepted} if rows > accepted else {}, [])
    assert bool(shortfall(result, table)) is refused


def test_a_numeric_column_all_text_fails_naming_file_table_month_rate_and_reasons(
        raw, tmp_path, env):
    raw.tables["income"]["2024-02"]["monthly_income"] = "n/a"
    raw.write(tmp_path / "source", "csv")
    result, text = cli(env)
    assert result.exit_code == 2, result.output
    assert ("too few rows accepted in table income, month 2024-02: 0 of 6 rows accepted "
            "(0.0%, minimum 50%); top reasons: bad_type x6") in text
    assert "--accept-low income" in text and "income/2024-02.csv" in text
    assert not (tmp_path / "store").exists()


def test_accept_low_lets_it_through_and_is_recorded_in_the_summary(raw, tmp_path, env):
    raw.tables["income"]["2024-02"]["monthly_income"] = "n/a"
    raw.write(tmp_path / "source", "csv")
    result, text = cli(env, "--accept-low", "income")
    assert result.exit_code == 0, result.output
    assert "accepted below the rule (--accept-low): income/2024-02.csv, 0 of 6 rows" in text
    summary = json.loads((tmp_path / "store" / store.SUMMARY_FILE).read_text())
    assert summary["accepted_low"] == [{
        "table": "income", "snapshot": "2024-02", "source_file": "income/2024-02.csv",
        "rows_read": 6, "accepted": 0, "by_rule": {"bad_type": 6}}]
    result, text = cli(env, "--accept-low", "incomes")
    assert result.exit_code == 2 and "--accept-low names no source table: incomes" in text


def test_a_header_only_csv_fails_and_leaves_the_previous_store(previous, key):
    source, out, before = previous
    header = pd.read_parquet(source / "housing" / "2024-02.parquet").iloc[:0]
    as_csv(source, "housing", "2024-02", frame=header)
    with pytest.raises(InputError, match=r"table housing, month 2024-02: 0 of 0 rows accepted "
                                         r"\(minimum 1 rows\); top reasons: no rows") as info:
        ingest(source=source, out=out, key=key)
    assert info.value.file.endswith("housing/2024-02.csv")
    assert tree(out) == before


def test_a_header_only_csv_exits_2(source, env):
    frame = pd.read_parquet(source / "persons" / "2024-01.parquet").iloc[:0]
    as_csv(source, "persons", "2024-01", frame=frame)
    result, text = cli(env)
    assert result.exit_code == 2 and "table persons, month 2024-01: 0 of 0 rows" in text


def test_a_month_after_the_run_date_is_refused(raw, tmp_path, env):
    future = "2031-01"
    for table, by_month in raw.tables.items():
        frame = by_month["2024-02"].copy()
        frame["snapshot"] = future
        frame["as_of_date"] = pd.Timestamp("2031-01-31")
        if table == "hotline_appeals":
            frame["appeal_date"] = pd.Timestamp("2031-01-15")
        by_month[future] = frame
    raw.write(tmp_path / "source")
    result, text = cli(env)
    assert result.exit_code == 2, result.output
    assert "extracts for month 2031-01 are later than the horizon" in text
    assert "the month of the run date" in text and "households/2031-01.parquet" in text
    assert not (tmp_path / "store").exists()
    result, text = cli(env, "--horizon", "2024-01")
    assert result.exit_code == 2 and "later than the horizon 2024-01 (declared)" in text
    assert "2024-02, 2031-01" in text
    result, text = cli(env, "--horizon", "2031-01")
    assert result.exit_code == 0, result.output
    assert store.list_snapshots(tmp_path / "store")[-1] == future


def test_unknown_folders_and_stray_files_are_reported_and_refused_when_strict(source, env):
    (source / "pensions").mkdir()
    (source / "pensions" / "2024-01.csv").write_text("a\n1\n")
    (source / "notes.txt").write_text("hello")
    (source / "income" / "2024-01.xlsx").write_bytes(b"PK")
    result, text = cli(env, "--strict")
    assert result.exit_code == 2, result.output
    assert "the source folder holds 3 thing(s) that are no extract (first: income/2024-01.xlsx)" \
        in text
    result, text = cli(env)
    assert result.exit_code == 0, result.output
    assert ("not extracts, ignored: income/2024-01.xlsx, notes.txt, pensions/ (no such table)"
            in text)


def test_the_monthly_run_ingests_strictly():
    text = Path("src/assist/cli/month.py").read_text(encoding="utf-8")
    body = text.split("def _ingest(", 1)[1].split("\ndef ", 1)[0]
    assert "strict=True" in body


def test_a_malformed_csv_row_is_quarantined_with_its_line_the_rest_ingested(source, env):
    path = as_csv(source, "income", "2024-01")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] += ",1,2"  # the third data row gets two fields too many
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result, text = cli(env)
    assert result.exit_code == 0, result.output
    q = pd.read_parquet(store.quarantine_path(Path(env["ASSIST_WORKSPACE"]) / "store", "income"))
    assert q[["source_file", "row_number", "rules", "columns"]].values.tolist() == [
        ["income/2024-01.csv", 3, "malformed_row", "(row)"]]
    assert "more or fewer fields than the header" in q["reasons"].iloc[0]
    assert "malformed_row 1" in text


def test_a_gbk_csv_is_named_with_its_guessed_encoding_or_read_when_declared(source, env):
    path = as_csv(source, "households", "2024-01", encoding="gbk")
    result, text = cli(env)
    assert result.exit_code == 2, result.output
    assert "unreadable CSV file (not UTF-8 text: it looks like gb18030" in text
    assert "households/2024-01.csv" in text
    (source / "source.yaml").write_text("encoding:\n  households: gb18030\n", encoding="utf-8")
    result, text = cli(env)
    assert result.exit_code == 0, result.output
    (source / "source.yaml").unlink()
    result, text = cli(env, "--encoding", "gbk")
    assert result.exit_code == 0, result.output
    assert path.is_file()
    result, text = cli(env, "--encoding", "klingon")
    assert result.exit_code == 2 and "unknown text encoding 'klingon'" in text


def test_every_file_counts_rows_in_as_accepted_plus_quarantined(raw, tmp_path):
    raw.set("income", 0, monthly_income=-5.0)
    summary = ingest(source=raw.write(tmp_path / "source"), out=tmp_path / "store", key=KEY)
    files = [c for t in summary.to_dict()["tables"].values() for c in t["by_snapshot"].values()]
    assert len(files) == len(TABLE_ORDER) * 2
    assert all(f["rows_read"] == f["accepted"] + f["quarantined"] for f in files)
    assert sum(f["quarantined"] for f in files) == 1
