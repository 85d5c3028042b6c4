"""Dimensions are catalog entries (id, names, order); bilingual names are :class:`Label`s."""

from __future__ import annotations

import re

import pytest

from assist.errors import ConfigError
from assist.features import CATALOG
from assist.features.bilingual import Label
from assist.features.catalog import Catalog, Dimension, Indicator
from assist.features.codes import CAUSES, cause_label
from assist.features.docs import indicator_table

BUILTIN = [("income", "收入", "Income"), ("living", "生活", "Living conditions"),
           ("housing", "居住", "Housing"), ("health", "健康", "Health"),
           ("employment", "就业", "Employment"), ("education", "教育", "Education"),
           ("care", "家庭照护", "Family care")]
HAN = re.compile(r"[\u4e00-\u9fff]")


def _ind(id_: str, dimension: str, weight: float) -> Indicator:
    return Indicator(id=id_, name_zh=id_, name_en=id_, dimension=dimension, unit="",
                     direction=1, cutoff=0.0, weight=weight, description=id_)


def _catalog(*dims: Dimension, indicators=None) -> Catalog:
    inds = indicators or (_ind("a", "x", 0.5), _ind("b", "y", 0.25), _ind("c", "x", 0.25))
    return Catalog("test", "1", tuple(inds), dimension_entries=dims)


def test_builtin_catalog_declares_its_seven_dimensions():
    got = [(d.id, d.name_zh, d.name_en) for d in CATALOG.dimension_entries]
    assert got == BUILTIN
    assert [d.order for d in CATALOG.dimension_entries] == list(range(1, 8))
    assert CATALOG.dimensions == [d for d, _, _ in BUILTIN] == list(CATALOG.by_dimension())
    assert CATALOG.dimension("care").label == Label(zh="家庭照护", en="Family care")


def test_readme_table_names_dimensions_from_the_catalog():
    rows = [r for r in indicator_table().splitlines() if r.startswith("| ") and "`" in r]
    assert rows[0].startswith("| Income 收入 | `income_per_capita_ratio`")
    assert rows[-1].startswith("| Family care 家庭照护 |")


def test_undeclared_dimensions_are_named_by_their_id_in_order_of_appearance():
    cat = _catalog()
    assert cat.dimension_entries == (Dimension("x", "x", "x", 1), Dimension("y", "y", "y", 2))
    assert cat.dimensions == ["x", "y"]
    assert {d: [i.id for i in inds] for d, inds in cat.by_dimension().items()} == {
        "x": ["a", "c"], "y": ["b"]}


def test_declared_order_orders_dimensions_and_groups():
    cat = _catalog(Dimension("x", "甲", "Ex", 2), Dimension("y", "乙", "Why", 1))
    assert cat.dimensions == ["y", "x"] and list(cat.by_dimension()) == ["y", "x"]
    assert cat.ids == ["a", "b", "c"]  # feature order stays the indicators' order
    assert cat.dimension("x").label.text("zh") == "甲"
    with pytest.raises(KeyError, match="no dimension 'z'"):
        cat.dimension("z")


@pytest.mark.parametrize(("dims", "fragments"), [
    ((Dimension("x", "甲", "Ex", 1),), ["indicator 'b'", "field 'dimension'", "'y'",
                                       "not a declared dimension", "declared: x"]),
    ((Dimension("x", "甲", "Ex", 1), Dimension("x", "乙", "Why", 2)),
     ["dimension 'x'", "field 'id'", "duplicate"]),
    ((Dimension("x", "甲", "Ex", 1), Dimension("y", "乙", "Why", 1)),
     ["dimension 'y'", "field 'order' 1", "dimension 'x'"]),
    ((Dimension("x", "甲", "Ex", 1), Dimension("y", "乙", "Why", 2), Dimension("z", "丙", "Zed", 3)),
     ["dimension 'z'", "no indicator belongs to it"]),
])
def test_invalid_dimensions_are_named(dims, fragments):
    with pytest.raises(ConfigError) as exc:
        _catalog(*dims)
    for fragment in fragments:
        assert fragment in str(exc.value)


def test_label_names_a_thing_in_both_languages():
    label = Label(zh="因病", en="illness")
    assert (label.zh, label.en, label.text("zh"), label.text("en")) == (
        "因病", "illness", "因病", "illness")
    assert Label.same("x") == Label("x", "x")
    with pytest.raises(TypeError):
        zh, en = label  # a label is not a pair: no positional unpacking


def test_causes_are_labels_with_chinese_and_english_names():
    for code, label in CAUSES.items():
        assert isinstance(label, Label), code
        assert HAN.search(label.zh) and not HAN.search(label.en), code
    assert cause_label("illness") == CAUSES["illness"]
    assert cause_label("unknown_cause") == Label("unknown_cause", "unknown_cause")
