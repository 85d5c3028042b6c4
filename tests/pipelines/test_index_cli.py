"""`assist index`: a YAML catalog over a flat table, JSON and table output, errors exit 2."""

from __future__ import annotations

import json
import sys
import types

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from assist.cli.app import app
from assist.features.catalog import Catalog, Indicator
from assist.pipelines.index import run_index

# Alkire & Foster (2011) worked example as a platform export: cutoffs (13, 12, 3, 1), deprived
# when below; the third indicator is declared through an expression.
AF_TABLE = pd.DataFrame({
    "household_id": ["h1", "h2", "h3", "h4"],
    "income": [13.1, 15.2, 12.5, 20.0],
    "years_of_schooling": [14, 7, 10, 11],
    "nutrition_x10": [40, 50, 10, 30],
    "health_insurance": [1, 0, 0, 1],
    "street": ["东湖街道", "东湖街道", "西林街道", "西林街道"],
    "sampling_weight": [2.0, 1.0, 3.0, 0.0],
})
AF_CATALOG = {
    "name": "af2011",
    "indicators": [
        {"id": "income", "column": "income", "dimension": "living", "direction": -1,
         "cutoff": 13, "weight": 0.25},
        {"id": "schooling", "column": "years_of_schooling", "dimension": "education",
         "direction": -1, "cutoff": 12, "weight": 0.25},
        {"id": "nutrition", "expr": "nutrition_x10 / 10", "dimension": "health",
         "direction": -1, "cutoff": 3, "weight": 0.25},
        {"id": "insurance", "column": "health_insurance", "dimension": "health",
         "direction": -1, "cutoff": 1, "weight": 0.25},
    ],
}
# scores (0, 0.5, 1, 0.25); k = 0.5: households 2 and 3 are poor
AF_EXPECTED = {
    "n": 4, "H": 0.5, "A": 0.75, "M0": 0.375, "k": 0.5,
    "indicators": {
        "income": {"uncensored": 0.25, "censored": 0.25, "contribution": 0.0625 / 0.375},
        "schooling": {"uncensored": 0.75, "censored": 0.5, "contribution": 0.125 / 0.375},
        "nutrition": {"uncensored": 0.25, "censored": 0.25, "contribution": 0.0625 / 0.375},
        "insurance": {"uncensored": 0.5, "censored": 0.5, "contribution": 0.125 / 0.375},
    },
    "dimensions": {"living": {"contribution": 1 / 6}, "education": {"contribution": 1 / 3},
                   "health": {"contribution": 1 / 2}},
    "groups": {},
}


@pytest.fixture
def files(tmp_path):
    """(table.csv, catalog.yaml) of the worked example."""
    table = tmp_path / "district.csv"
    AF_TABLE.to_csv(table, index=False)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(AF_CATALOG), encoding="utf-8")
    return table, catalog


def invoke(*args: str):
    return CliRunner().invoke(app, ["index", *map(str, args)])


def close(a, b) -> bool:
    """Nested dicts equal, floats within 1e-12."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[x], b[x]) for x in a)
    return type(a) is type(b) and (a == b or abs(a - b) < 1e-12)


def test_worked_example_json(files):
    table, catalog = files
    result = invoke("--table", table, "--catalog", catalog, "--k", "0.5", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1  # one JSON object, nothing else
    printed = json.loads(result.stdout)
    assert close(printed, AF_EXPECTED)
    written = json.loads((table.parent / "district.index.json").read_text(encoding="utf-8"))
    assert written == printed


def test_groups_and_sampling_weights(files, tmp_path):
    table, catalog = files
    out = tmp_path / "reports" / "af.json"
    result = invoke("--table", table, "--catalog", catalog, "--k", "0.5", "--by", "street",
                    "--weight", "sampling_weight", "--json", "--out", out)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    # weights (2, 1, 3, 0): poor are households 2 (score 0.5) and 3 (score 1) -> H 4/6
    assert (printed["n"], printed["H"], printed["M0"]) == (4, pytest.approx(4 / 6),
                                                        pytest.approx(3.5 / 6))
    assert close(printed["groups"], {
        "东湖街道": {"n": 2, "population_share": 0.5, "H": 1 / 3, "A": 0.5, "M0": 1 / 6},
        "西林街道": {"n": 2, "population_share": 0.5, "H": 1.0, "A": 1.0, "M0": 1.0},
    })
    assert json.loads(out.read_text(encoding="utf-8")) == printed


def test_table_output(files):
    table, catalog = files
    result = invoke("--table", table, "--catalog", catalog, "--k", "0.5", "--by", "street")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for fragment in ["k = 0.5", "50.0%", "75.0%", "0.3750", "Indicators", "Dimensions",
                     "Groups", "东湖街道", "西林街道", "16.7%", "33.3%", "district.index.json"]:
        assert fragment in text
    for ident in ("income", "schooling", "nutrition", "insurance", "living", "education"):
        assert ident in text
    assert (table.parent / "district.index.json").exists()


def test_parquet_table(files):
    table, catalog = files
    parquet = table.with_suffix(".parquet")
    AF_TABLE.to_parquet(parquet, index=False)
    result = invoke("--table", parquet, "--catalog", catalog, "--k", "0.5", "--json")
    assert result.exit_code == 0, result.output
    assert close(json.loads(result.stdout), AF_EXPECTED)


@pytest.fixture
def builtin(monkeypatch):
    """A two-indicator stand-in for the built-in catalog."""
    catalog = Catalog("builtin", "1", tuple(
        Indicator(id=i, name_zh=i, name_en=i, dimension=d, unit="", direction=1, cutoff=0.5,
                  weight=0.5, description=i, compute=lambda view: None)
        for i, d in (("arrears_months", "income"), ("rent_burden", "housing"))))
    monkeypatch.setitem(sys.modules, "assist.features.indicators",
                        types.SimpleNamespace(CATALOG=catalog))
    return catalog


def test_builtin_catalog_reads_columns_named_by_id(builtin, tmp_path):
    table = tmp_path / "features.csv"
    pd.DataFrame({"arrears_months": [0, 3, 2, 0], "rent_burden": [0.1, 0.9, 0.2, None]}
                 ).to_csv(table, index=False)
    result = run_index(table=table, catalog=None, k=1.0, by=None, weight=None)
    assert (result.H, result.M0) == (0.25, 0.25)
    assert result.indicators["uncensored"].tolist() == [0.5, 0.25]


def run_error(args, tmp_path, files):
    table, catalog = files
    args = [str(a).format(table=table, catalog=catalog, tmp=tmp_path) for a in args]
    return CliRunner().invoke(app, ["index", *args])


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("args", "prepare", "fragments"), [
    (["--table", "{tmp}/nope.csv", "--catalog", "{catalog}"], None,
     ["table does not exist", "nope.csv"]),
    (["--table", "{tmp}/t.xlsx", "--catalog", "{catalog}"], None,
     ["unsupported table format", "t.xlsx"]),
    (["--table", "{table}", "--catalog", "{tmp}/nope.yaml"], None,
     ["catalog file", "nope.yaml", "does not exist"]),
    (["--table", "{table}", "--catalog", "{tmp}/bad.yaml"],
     lambda tmp: _write(tmp / "bad.yaml", "indicators:\n  - {id: a, column: income}\n"),
     ["bad.yaml", "indicator 'a' (#1)", "field 'dimension' is required"]),
    (["--table", "{table}", "--catalog", "{tmp}/other.yaml"],
     lambda tmp: _write(tmp / "other.yaml", yaml.safe_dump({"indicators": [
         {"id": "a", "column": "wages", "dimension": "d", "direction": 1, "cutoff": 0,
          "weight": 1}]})),
     ["indicator 'a'", "field 'column'", "'wages' is not a column", "district.csv"]),
    (["--table", "{table}", "--catalog", "{catalog}", "--by", "town"], None,
     ["--by", "column 'town'", "district.csv"]),
    (["--table", "{table}", "--catalog", "{catalog}", "--weight", "street"], None,
     ["sampling weight", "column 'street'", "'东湖街道' at data row 1"]),
    (["--table", "{tmp}/neg.csv", "--catalog", "{catalog}", "--weight", "w"],
     lambda tmp: AF_TABLE.assign(w=[1, -1, 1, 1]).to_csv(tmp / "neg.csv", index=False),
     ["sampling weight", "column 'w'", "-1"]),
    (["--table", "{tmp}/zero.csv", "--catalog", "{catalog}", "--weight", "w"],
     lambda tmp: AF_TABLE.assign(w=0).to_csv(tmp / "zero.csv", index=False),
     ["sum to zero", "column 'w'"]),
    (["--table", "{tmp}/text.csv", "--catalog", "{catalog}"],
     lambda tmp: AF_TABLE.assign(income=["1", "2", "three", "4"]).to_csv(tmp / "text.csv",
                                                                         index=False),
     ["indicator 'income'", "'three' at data row 3", "text.csv"]),
    (["--table", "{tmp}/empty.csv", "--catalog", "{catalog}"],
     lambda tmp: AF_TABLE.iloc[:0].to_csv(tmp / "empty.csv", index=False),
     ["no households", "empty.csv"]),
    (["--table", "{table}", "--catalog", "{catalog}", "--k", "0"], None, ["k must lie in"]),
    (["--table", "{table}", "--catalog", "{catalog}", "--k", "1.5"], None, ["k must lie in"]),
    (["--table", "{table}", "--catalog", "{catalog}", "--out", "{tmp}"], None,
     ["cannot write the result"]),
])
def test_errors_exit_2_with_one_message(tmp_path, files, args, prepare, fragments):
    if prepare is not None:
        prepare(tmp_path)
    result = run_error(args, tmp_path, files)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    message = "".join(result.stderr.split())  # rich wraps long lines
    assert message.startswith("error:")
    for fragment in fragments:
        assert "".join(fragment.split()) in message


def test_builtin_catalog_lacking_columns_exits_2(builtin, files):
    table, _ = files
    result = invoke("--table", table, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    message = "".join(result.stderr.split())
    assert "arrears_months,rent_burden" in message and "--catalog" in message


def test_real_builtin_catalog_at_its_cutoffs_deprives_nobody(tmp_path):
    builtin = pytest.importorskip("assist.features.indicators").CATALOG
    table = tmp_path / "features.parquet"
    at_cutoff = {ind.id: [ind.cutoff] * 3 for ind in builtin}  # strict inequality: not deprived
    pd.DataFrame(at_cutoff).to_parquet(table, index=False)
    result = invoke("--table", table, "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert (printed["n"], printed["H"], printed["M0"]) == (3, 0.0, 0.0)
    assert list(printed["indicators"]) == builtin.ids
    assert list(printed["dimensions"]) == builtin.dimensions
