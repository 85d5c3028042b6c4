"""Sentences and values in words: hand-made cases for every wording rule, in both languages."""

from __future__ import annotations

import math

import pytest

from assist.features.catalog import Indicator
from assist.features.indicators import CATALOG
from assist.features.wording import UNITS, Phrases, cutoff_words, value_words

NAN = math.nan


@pytest.mark.parametrize(("indicator", "value", "zh", "en"), [
    # zero or missing income says so, never "0.0倍"
    ("income_per_capita_ratio", 0.0, "无申报收入", "no income declared"),
    ("income_per_capita_ratio", NAN, "无收入记录", "no income on record"),
    ("income_per_capita_ratio", None, "无收入记录", "no income on record"),
    # a small income is not rounded to zero
    ("income_per_capita_ratio", 0.04, "人均收入为低保标准的0.04倍",
     "income per member is 0.04× the minimum-living line"),
    ("income_per_capita_ratio", 1.5, "人均收入为低保标准的1.5倍",
     "income per member is 1.5× the minimum-living line"),
    # a ratio at the cap says what it is, not "1000%"
    ("education_cost_burden", 10.0, "教育支出超过收入的10倍", "schooling costs exceed 10× income"),
    ("education_cost_burden", 0.35, "教育支出占收入的35%", "schooling costs take 35% of income"),
    ("education_cost_burden", 0.0, "无教育支出", "no schooling costs"),
    ("essential_expenditure_burden", 10.0, "医疗、教育和房租支出超过收入的10倍",
     "medical, schooling and rent costs exceed 10× income"),
    ("rent_burden", 10.0, "房租超过收入的10倍", "rent exceeds 10× income"),
    ("rent_burden", NAN, "无房租或收入记录", "rent or income not on record"),
    ("oop_medical_ratio", 10.0, "自付医疗费用超过收入的10倍",
     "out-of-pocket medical cost exceeds 10× income"),
    ("financial_assets_months", 0.0, "无申报存款或金融资产", "no savings declared"),
    ("income_drop_12m", 0.0, "近一年收入未下降", "income did not fall in the past year"),
    # no special phrase: the template, and the generic "no record"
    ("hospital_stays_12m", 3.0, "近一年住院3次", "3 hospital stays in the past year"),
    ("dependency_ratio", NAN, "家庭抚养比：无记录", "Dependency ratio: no record"),
])
def test_sentences(indicator, value, zh, en):
    ind = CATALOG[indicator]
    assert (ind.sentence(value, "zh"), ind.sentence(value, "en")) == (zh, en)


def test_no_sentence_prints_a_capped_percentage_or_a_zero_multiple():
    for ind in (i for i in CATALOG if i.unit in ("× income", "× line")):
        for v in (0.0, 10.0, NAN):
            zh, en = ind.sentence(v, "zh"), ind.sentence(v, "en")
            assert "1000%" not in zh + en and "0.0倍" not in zh and "0.0×" not in en


def test_chinese_sentences_use_chinese_punctuation():
    for ind in CATALOG:
        for v in (0.0, 0.5, 3.0, 10.0, NAN):
            zh = ind.sentence(v, "zh")
            assert not any(p in zh for p in (", ", ": ", "; ", "(", ")")), (ind.id, zh)


@pytest.mark.parametrize(("indicator", "value", "zh", "en"), [
    ("essential_expenditure_burden", 10.0, "超过收入的1000%", "more than 1000% of income"),
    ("essential_expenditure_burden", 0.6, "收入的60%", "60% of income"),
    ("income_per_capita_ratio", 0.5, "低保标准的0.5倍", "0.5× the minimum-living line"),
    ("water_silent_days", 4.0, "4天", "4 days"),
    ("elderly_living_alone", 1.0, "是", "yes"),
    ("elderly_living_alone", 0.0, "否", "no"),
    ("floor_area_per_capita", 8.25, "8.2平方米", "8.2 m²"),
    ("members_major_or_chronic", 2.0, "2人", "2 persons"),
    ("housing_condition", 2.0, "2分（满分3分）", "2 of 3"),
    ("rent_burden", None, "无记录", "no record"),
])
def test_values_carry_units(indicator, value, zh, en):
    ind = CATALOG[indicator]
    assert (value_words(ind, value, "zh"), value_words(ind, value, "en")) == (zh, en)


@pytest.mark.parametrize(("indicator", "zh", "en"), [
    ("essential_expenditure_burden", "高于收入的50%", "above 50% of income"),
    ("income_per_capita_ratio", "低于低保标准的2倍", "below 2× the minimum-living line"),
    ("members_major_or_chronic", "至少1人", "at least 1 person"),
    ("water_silent_days", "至少3天", "at least 3 days"),
    ("financial_assets_months", "低于24个月", "below 24 months"),
    ("elderly_living_alone", "是", "yes"),
    ("income_drop_12m", "高于30%", "above 30%"),
])
def test_cutoffs_in_words(indicator, zh, en):
    ind = CATALOG[indicator]
    assert (cutoff_words(ind, "zh"), cutoff_words(ind, "en")) == (zh, en)


def test_every_builtin_unit_is_worded():
    assert {i.unit for i in CATALOG} - {"yes/no"} <= set(UNITS)


def test_a_foreign_unit_is_printed_as_declared():
    ind = Indicator(id="x", name_zh="甲", name_en="X", dimension="d", unit="kWh", direction=1,
                    cutoff=3.0, weight=1.0, description="x",
                    phrases=Phrases(cap=5.0, over_en="over {cap}", over_zh="超过{cap}"))
    assert value_words(ind, 2.0, "en") == "2 kWh"
    assert cutoff_words(ind, "zh") == "高于3 kWh"
    assert ind.sentence(7.0, "zh") == "超过5" and ind.sentence(2.0, "en") == "X: 2"
