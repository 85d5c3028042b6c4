"""YAML catalogs for a district's own flat household table: loading, validation, values, I/O."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from assist.errors import ConfigError, InputError
from assist.features.custom import check_columns, expression_names, indicator_values, load_catalog, read_table

BASE = {
    "name": "my-district",
    "version": "3",
    "indicators": [
        {"id": "income_ratio", "column": "income_ratio", "dimension": "income",
         "direction": -1, "cutoff": 1.0, "weight": 0.5, "cause": "income_loss",
         "name_en": "Income per capita vs minimum-living line", "name_zh": "人均收入比",
         "unit": "ratio"},
        {"id": "oop_ratio", "expr": "oop_cost / income", "dimension": "health",
         "direction": 1, "cutoff": 0.4, "weight": 0.25, "missing": "deprived"},
        {"id": "crowding", "column": "persons_per_room", "dimension": "housing",
         "direction": 1, "cutoff": 2, "weight": 0.25, "missing": 0},
    ],
}


def write(tmp_path, doc, name="catalog.yaml"):
    """Write ``doc`` as YAML (or raw text) and return the path."""
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True),
                    encoding="utf-8")
    return path


def test_load_valid_catalog(tmp_path):
    cat = load_catalog(write(tmp_path, BASE))
    assert (cat.name, cat.version, cat.ids) == ("my-district", "3",
                                               ["income_ratio", "oop_ratio", "crowding"])
    income, oop, crowding = cat.indicators
    assert (income.direction, income.cutoff, income.weight, income.cause) == (
        -1, 1.0, 0.5, "income_loss")
    assert (income.column, income.expr, income.compute) == ("income_ratio", None, None)
    assert (income.name_zh, income.unit) == ("人均收入比", "ratio")
    assert (oop.column, oop.expr) == (None, "oop_cost / income")
    assert oop.name_en == "oop_ratio" and oop.cause is None
    assert [i.missing.strategy for i in cat] == ["not_deprived", "deprived", "fill"]
    assert crowding.missing.value == 0.0
    assert cat.dimensions == ["income", "health", "housing"]


def test_name_and_version_default_to_file_stem_and_1(tmp_path):
    doc = {"indicators": BASE["indicators"]}
    cat = load_catalog(write(tmp_path, doc, "east-lake.yaml"))
    assert (cat.name, cat.version) == ("east-lake", "1")


def mutate(change):
    """A copy of BASE with ``change(doc)`` applied."""
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def _set(i, key, value):
    def change(doc):
        doc["indicators"][i][key] = value
    return change


def _drop(i, key):
    def change(doc):
        del doc["indicators"][i][key]
    return change


@pytest.mark.parametrize(("change", "fragments"), [
    pytest.param(_set(0, "colour", "red"),
                 ["'income_ratio' (#1)", "field 'colour'", "not a known field"], id="unknown"),
    pytest.param(_drop(1, "dimension"),
                 ["'oop_ratio' (#2)", "field 'dimension'", "required"], id="missing"),
    pytest.param(_drop(0, "id"), ["indicator #1", "field 'id'", "required"], id="missing-id"),
    pytest.param(_set(0, "id", "IncomeRatio"),
                 ["'IncomeRatio' (#1)", "field 'id'", "not snake_case"], id="camel-id"),
    pytest.param(_set(0, "id", "income__ratio"), ["field 'id'", "not snake_case"],
                 id="double-underscore"),
    pytest.param(_set(2, "id", "income_ratio"),
                 ["'income_ratio' (#3)", "field 'id'", "duplicate of indicator #1"],
                 id="duplicate"),
    pytest.param(_set(0, "direction", 0), ["'income_ratio' (#1)", "field 'direction'", "got 0"],
                 id="direction-0"),
    pytest.param(_set(0, "direction", "-1"), ["'income_ratio' (#1)", "field 'direction'"],
                 id="direction-text"),
    pytest.param(_set(0, "direction", True), ["'income_ratio' (#1)", "field 'direction'"],
                 id="direction-bool"),
    pytest.param(_set(1, "weight", 0.3), ["field 'weight'", "sums to 1.05", "not 1"],
                 id="weights-sum"),
    pytest.param(_set(1, "weight", -0.25), ["'oop_ratio' (#2)", "field 'weight'"],
                 id="negative-weight"),
    pytest.param(_set(1, "column", "oop"),
                 ["'oop_ratio' (#2)", "'column' and 'expr'", "not both"], id="both"),
    pytest.param(_drop(0, "column"),
                 ["'income_ratio' (#1)", "'column' and 'expr'", "not neither"], id="neither"),
    pytest.param(_set(0, "cause", "poverty"),
                 ["'income_ratio' (#1)", "field 'cause'", "'poverty'", "income_loss"],
                 id="cause"),
    pytest.param(_set(2, "missing", "skip"),
                 ["'crowding' (#3)", "field 'missing'", "'skip'"], id="missing-rule"),
    pytest.param(_set(2, "cutoff", float("inf")),
                 ["'crowding' (#3)", "field 'cutoff'", "finite"], id="cutoff-inf"),
    pytest.param(_set(2, "cutoff", "two"), ["'crowding' (#3)", "field 'cutoff'"],
                 id="cutoff-text"),
    pytest.param(_set(1, "expr", "ratio = oop_cost / income"),
                 ["'oop_ratio' (#2)", "field 'expr'", "not a single expression"],
                 id="expr-assignment"),
    pytest.param(_set(1, "expr", "income.__class__"),
                 ["'oop_ratio' (#2)", "field 'expr'", "Attribute"], id="expr-attribute"),
    pytest.param(_set(1, "expr", "income[0]"),
                 ["'oop_ratio' (#2)", "field 'expr'", "Subscript"], id="expr-subscript"),
    pytest.param(_set(1, "expr", "income.sum()"),
                 ["'oop_ratio' (#2)", "field 'expr'", "calls something other"], id="expr-call"),
    pytest.param(lambda doc: doc.update(indicators=[]), ["field 'indicators'"], id="empty"),
    pytest.param(lambda doc: doc.update(nmae="x"), ["field 'nmae'", "not a known field"],
                 id="top-level-unknown"),
    pytest.param(lambda doc: doc.update(version=1.5), ["field 'version'"], id="version"),
])
def test_invalid_catalogs_name_file_indicator_and_field(tmp_path, change, fragments):
    path = write(tmp_path, mutate(change))
    with pytest.raises(ConfigError) as exc:
        load_catalog(path)
    message = str(exc.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


DIMENSIONS = [{"id": "income", "name_zh": "收入", "name_en": "Income"},
              {"id": "housing", "name_en": "Housing", "order": 9},
              {"id": "health", "name_zh": "健康", "order": 2}]


def _dimensions(dims):
    def change(doc):
        doc["dimensions"] = copy.deepcopy(dims)
    return change


def test_declared_dimensions_name_and_order_the_dimensions(tmp_path):
    cat = load_catalog(write(tmp_path, mutate(_dimensions(DIMENSIONS))))
    got = [(d.id, d.name_zh, d.name_en, d.order) for d in cat.dimension_entries]
    assert got == [("income", "收入", "Income", 1), ("health", "健康", "健康", 2),
                   ("housing", "Housing", "Housing", 9)]
    assert cat.dimensions == ["income", "health", "housing"]
    assert cat.dimension("health").label.text("en") == "健康"  # falls back to the other name


def test_without_a_dimensions_section_each_id_is_its_own_name(tmp_path):
    cat = load_catalog(write(tmp_path, BASE))
    assert [(d.id, d.name_zh, d.name_en) for d in cat.dimension_entries] == [
        ("income", "income", "income"), ("health", "health", "health"),
        ("housing", "housing", "housing")]


@pytest.mark.parametrize(("change", "fragments"), [
    pytest.param(_dimensions(DIMENSIONS[:2]),
                 ["indicator 'oop_ratio'", "field 'dimension'", "'health'",
                  "not a declared dimension", "declared: income, housing"], id="unknown-id"),
    pytest.param(_dimensions([*DIMENSIONS, {"id": "care", "name_zh": "照护"}]),
                 ["dimension 'care'", "no indicator belongs to it"], id="unused"),
    pytest.param(_dimensions([*DIMENSIONS, {"id": "income"}]),
                 ["dimension 'income'", "field 'id'", "duplicate"], id="duplicate"),
    pytest.param(_dimensions([DIMENSIONS[0], DIMENSIONS[1], {**DIMENSIONS[2], "order": 1}]),
                 ["dimension 'health'", "field 'order' 1", "dimension 'income'"], id="order"),
    pytest.param(_dimensions([{**DIMENSIONS[0], "colour": "red"}, *DIMENSIONS[1:]]),
                 ["dimension 'income' (#1)", "field 'colour'", "not a known field"],
                 id="unknown-field"),
    pytest.param(_dimensions([{"name_zh": "收入"}, *DIMENSIONS[1:]]),
                 ["dimension #1", "field 'id'", "required"], id="missing-id"),
    pytest.param(_dimensions([{**DIMENSIONS[0], "order": "1"}, *DIMENSIONS[1:]]),
                 ["dimension 'income' (#1)", "field 'order'"], id="order-text"),
    pytest.param(_dimensions([]), ["field 'dimensions'"], id="empty"),
])
def test_invalid_dimensions_name_file_dimension_or_indicator(tmp_path, change, fragments):
    path = write(tmp_path, mutate(change))
    with pytest.raises(ConfigError) as exc:
        load_catalog(path)
    message = str(exc.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(("text", "fragment"), [
    ("indicators: [", "not valid YAML"),
    ("- a\n- b\n", "expected a mapping"),
    ("", "expected a mapping"),
])
def test_unreadable_catalogs(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=fragment) as exc:
        load_catalog(path)
    assert str(path) in str(exc.value)


def test_missing_catalog_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_catalog(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("expr", "names"), [
    ("income / members", {"income", "members"}),
    ("(a + b) * 2 > c", {"a", "b", "c"}),
    ("log(x) + abs(y - 1)", {"x", "y"}),
    ("(tenure == 'public_rental') | (rooms in [0, 1])", {"tenure", "rooms"}),
    ("`月收入` / `家庭 人口`", {"月收入", "家庭 人口"}),
    ("3.5", set()),
])
def test_expression_names(expr, names):
    assert expression_names(expr) == names


@pytest.fixture
def catalog(tmp_path):
    return load_catalog(write(tmp_path, BASE))


@pytest.mark.parametrize(("columns", "fragments"), [
    (["oop_cost", "income", "persons_per_room"],
     ["indicator 'income_ratio'", "field 'column'", "'income_ratio' is not a column"]),
    (["income_ratio", "oop_cost", "persons_per_room"],
     ["indicator 'oop_ratio'", "field 'expr'", "'income' is not a column"]),
    (["income_ratio", "persons_per_room"],
     ["indicator 'oop_ratio'", "field 'expr'", "'income', 'oop_cost' are not columns"]),
])
def test_check_columns_names_indicator_and_column(catalog, columns, fragments):
    with pytest.raises(ConfigError) as exc:
        check_columns(catalog, columns, table="flat.csv")
    for fragment in [*fragments, "flat.csv"]:
        assert fragment in str(exc.value)


def test_indicator_values_reads_columns_and_expressions(catalog):
    table = pd.DataFrame(
        {"income_ratio": [0.5, 2.0, None, 1.0], "oop_cost": [100, 0, 50, 0],
         "income": [400, 1000, 0, 0], "persons_per_room": [1, 3, None, 2],
         "other": ["x", "y", "z", "w"]},
        index=pd.Index([11, 12, 13, 14], name="household_id"))
    values = indicator_values(table, catalog)
    assert list(values.columns) == catalog.ids
    assert values.index.equals(table.index)
    assert (values.dtypes == float).all()  # noqa: E721 - a pandas Series of dtypes
    assert values["oop_ratio"].tolist()[:3] == [0.25, 0.0, np.inf]
    assert np.isnan(values["oop_ratio"].iloc[3])  # 0 / 0: missing, then the missing rule
    assert values["crowding"].isna().tolist() == [False, False, True, False]


def test_indicator_values_turn_conditions_into_0_and_1(tmp_path):
    doc = {"indicators": [{"id": "public_rental", "expr": "tenure == 'public_rental'",
                           "dimension": "housing", "direction": 1, "cutoff": 0.5, "weight": 1}]}
    cat = load_catalog(write(tmp_path, doc))
    table = pd.DataFrame({"tenure": ["owned", "public_rental", None]})
    assert indicator_values(table, cat)["public_rental"].tolist() == [0.0, 1.0, 0.0]


def test_indicator_values_rejects_text_in_a_numeric_column(catalog):
    table = pd.DataFrame({"income_ratio": ["0.5", "n/a"], "oop_cost": [1, 1], "income": [2, 2],
                          "persons_per_room": [1, 1]})
    with pytest.raises(InputError, match="'n/a' at data row 2"):
        indicator_values(table, catalog)


def test_indicator_values_reports_an_expression_that_fails(tmp_path):
    doc = copy.deepcopy(BASE)
    doc["indicators"][1]["expr"] = "arctan2(income)"  # allowed function, wrong arity
    cat = load_catalog(write(tmp_path, doc))
    table = pd.DataFrame({"income_ratio": [1.0], "income": [1.0], "persons_per_room": [1.0]})
    with pytest.raises(ConfigError, match="indicator 'oop_ratio', field 'expr'"):
        indicator_values(table, cat)


FRAME = pd.DataFrame({"household_id": ["h1", "h2"], "income_ratio": [0.5, 1.5],
                      "street": ["东湖街道", "西林街道"]})


@pytest.mark.parametrize(("name", "writer"), [
    ("t.csv", lambda f, p: f.to_csv(p, index=False)),
    ("t.csv", lambda f, p: f.to_csv(p, index=False, encoding="utf-8-sig")),
    ("t.csv", lambda f, p: f.to_csv(p, index=False, encoding="gb18030")),
    ("t.parquet", lambda f, p: f.to_parquet(p, index=False)),
], ids=["utf-8", "utf-8-bom", "gb18030", "parquet"])
def test_read_table(tmp_path, name, writer):
    path = tmp_path / name
    writer(FRAME, path)
    table = read_table(path)
    assert list(table.columns) == list(FRAME.columns)
    assert table["street"].tolist() == FRAME["street"].tolist()
    assert table["income_ratio"].tolist() == [0.5, 1.5]


@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("missing.csv", None, "does not exist"),
    ("t.xlsx", b"whatever", "unsupported table format '.xlsx'"),
    ("t.parquet", b"not a parquet file", "cannot read table"),
    ("t.csv", b"", "cannot read table"),
])
def test_read_table_errors_name_the_file(tmp_path, name, content, fragment):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=fragment) as exc:
        read_table(path)
    assert str(path) in str(exc.value)
