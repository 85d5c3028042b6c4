"""Alkire–Foster index: the 2011 worked example, cutoff edge cases, weights, decompositions."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assist.features.catalog import Catalog, Dimension, Indicator, MissingRule
from assist.models.deprivation import MISSING_GROUP, alkire_foster, deprivation_matrix


def make_catalog(cutoffs, *, directions=None, weights=None, dimensions=None, missing=None,
                 ids=None) -> Catalog:
    """A hand-made catalog: one indicator per cutoff, equal weights unless given."""
    d = len(cutoffs)
    ids = ids or [f"x{j}" for j in range(d)]
    directions = directions or [-1] * d
    weights = weights or [1 / d] * d
    dimensions = dimensions or [f"dim{j}" for j in range(d)]
    missing = missing or [MissingRule("not_deprived", "test")] * d
    return Catalog("test", "1", tuple(
        Indicator(id=ids[j], name_zh=ids[j], name_en=ids[j], dimension=dimensions[j], unit="",
                  direction=directions[j], cutoff=cutoffs[j], weight=weights[j],
                  description=ids[j], missing=missing[j])
        for j in range(d)))


# Alkire & Foster (2011), J. Public Econ. 95(7-8): income, years of schooling, caloric (here
# a 1-5 scale), health insurance; deprived when below the cutoffs (13, 12, 3, 1).
AF_DATA = [[13.1, 14, 4, 1], [15.2, 7, 5, 0], [12.5, 10, 1, 0], [20, 11, 3, 1]]
AF_IDS = ["income", "schooling", "nutrition", "insurance"]
AF_DIMS = ["living", "education", "health", "health"]


@pytest.fixture
def af():
    """The worked example as (values, catalog)."""
    catalog = make_catalog([13, 12, 3, 1], ids=AF_IDS, dimensions=AF_DIMS)
    return pd.DataFrame(AF_DATA, columns=AF_IDS), catalog


def test_deprivation_matrix_of_the_worked_example(af):
    values, catalog = af
    expected = pd.DataFrame([[False, False, False, False], [False, True, False, True],
                             [True, True, True, True], [False, True, False, False]],
                            columns=AF_IDS)
    pd.testing.assert_frame_equal(deprivation_matrix(values, catalog), expected)


def test_worked_example_k_half(af):
    values, catalog = af
    r = alkire_foster(values, catalog, k=0.5)
    assert (r.n, r.H, r.A, r.M0, r.k) == (4, 0.5, 0.75, 0.375, 0.5)
    assert r.scores.tolist() == [0.0, 0.5, 1.0, 0.25]
    assert r.poor.tolist() == [False, True, True, False]
    ind = r.indicators
    assert ind["uncensored"].tolist() == [0.25, 0.75, 0.25, 0.5]
    assert ind["censored"].tolist() == [0.25, 0.5, 0.25, 0.5]
    # w_j * censored_j / M0 = 0.25 * (0.25, 0.5, 0.25, 0.5) / 0.375
    assert ind["contribution"].tolist() == pytest.approx([1 / 6, 1 / 3, 1 / 6, 1 / 3])
    assert r.dimensions["contribution"].to_dict() == pytest.approx(
        {"living": 1 / 6, "education": 1 / 3, "health": 1 / 2})
    assert list(r.dimensions.index) == ["living", "education", "health"]


@pytest.mark.parametrize(("k", "H", "A", "M0", "censored"), [
    # scores are (0, 0.5, 1, 0.25)
    (0.25, 0.75, (0.5 + 1 + 0.25) / 3, 0.4375, [0.25, 0.75, 0.25, 0.5]),
    (0.5, 0.5, 0.75, 0.375, [0.25, 0.5, 0.25, 0.5]),
    (0.75, 0.25, 1.0, 0.25, [0.25, 0.25, 0.25, 0.25]),
    (1.0, 0.25, 1.0, 0.25, [0.25, 0.25, 0.25, 0.25]),
])
def test_worked_example_over_k(af, k, H, A, M0, censored):  # noqa: N803
    values, catalog = af
    r = alkire_foster(values, catalog, k=k)
    assert (r.H, r.A, r.M0) == pytest.approx((H, A, M0))
    assert r.indicators["censored"].tolist() == pytest.approx(censored)
    assert r.indicators["contribution"].sum() == pytest.approx(1.0)


def test_to_dict_shape_and_json(af):
    values, catalog = af
    d = alkire_foster(values, catalog, k=0.5, by=pd.Series(["a", "a", "b", "b"])).to_dict()
    assert list(d) == ["n", "H", "A", "M0", "k", "indicators", "dimensions", "groups"]
    assert list(d["indicators"]) == AF_IDS
    assert all(list(v) == ["uncensored", "censored", "contribution"]
               for v in d["indicators"].values())
    assert {k: v["contribution"] for k, v in d["dimensions"].items()} == pytest.approx(
        {"living": 1 / 6, "education": 1 / 3, "health": 1 / 2})
    assert all(list(v) == ["contribution"] for v in d["dimensions"].values())
    # group a: scores (0, 0.5) -> H 0.5, A 0.5, M0 0.25; group b: (1, 0.25) -> 0.5, 1, 0.5
    assert d["groups"] == {"a": {"n": 2, "population_share": 0.5, "H": 0.5, "A": 0.5, "M0": 0.25},
                           "b": {"n": 2, "population_share": 0.5, "H": 0.5, "A": 1.0, "M0": 0.5}}
    assert type(d["n"]) is int and type(d["M0"]) is float
    assert json.loads(json.dumps(d)) == d
    assert alkire_foster(values, catalog, k=0.5).to_dict()["groups"] == {}


def test_index_is_preserved(af):
    values, catalog = af
    values.index = pd.Index([40, 10, 30, 20], name="household_id")
    r = alkire_foster(values, catalog, k=0.5, by=pd.Series(list("bbaa"), index=[20, 30, 10, 40]))
    assert r.scores.to_dict() == {40: 0.0, 10: 0.5, 30: 1.0, 20: 0.25}
    assert r.groups["M0"].to_dict() == {"a": 0.25, "b": 0.5}  # a: ids 10, 40; b: ids 20, 30


def test_one_third_weights_and_k_one_third_count_one_deprivation_as_poor():
    catalog = make_catalog([0.5] * 3, directions=[1] * 3)
    values = pd.DataFrame([[1, 0, 0], [0, 0, 0], [1, 1, 0]], columns=catalog.ids)
    r = alkire_foster(values, catalog, k=1 / 3)
    assert r.poor.tolist() == [True, False, True]
    assert (r.H, r.M0) == pytest.approx((2 / 3, (1 / 3 + 2 / 3) / 3))


def test_float_sum_a_hair_below_k_still_counts_as_poor():
    assert sum([0.1] * 8) < 0.8  # the reason for the tolerance
    catalog = make_catalog([0.5] * 10, directions=[1] * 10, weights=[0.1] * 10)
    values = pd.DataFrame([[1] * 8 + [0] * 2, [1] * 7 + [0] * 3], columns=catalog.ids)
    r = alkire_foster(values, catalog, k=0.8)
    assert r.poor.tolist() == [True, False]


def test_nobody_poor_gives_zeros_without_warnings(af):
    values, catalog = af
    values.iloc[2, 0] = 99.0  # household 3 no longer deprived on everything
    r = alkire_foster(values, catalog, k=1.0, by=pd.Series(["a", "a", "b", "b"]))
    assert (r.H, r.A, r.M0) == (0.0, 0.0, 0.0)
    assert r.indicators["censored"].tolist() == [0.0] * 4
    assert r.indicators["contribution"].tolist() == [0.0] * 4
    assert r.dimensions["contribution"].tolist() == [0.0] * 3
    assert r.groups[["H", "A", "M0", "contribution"]].to_numpy().tolist() == [[0.0] * 4] * 2
    assert r.indicators["uncensored"].tolist() == [0.0, 0.75, 0.25, 0.5]


def test_everybody_poor():
    catalog = make_catalog([5, 5], weights=[0.25, 0.75])
    values = pd.DataFrame([[1, 1], [1, 9], [9, 1]], columns=catalog.ids)
    r = alkire_foster(values, catalog, k=0.25)
    assert r.H == 1.0
    assert r.M0 == pytest.approx((1 + 0.25 + 0.75) / 3)
    assert r.A == pytest.approx(r.M0)
    assert r.indicators["censored"].tolist() == r.indicators["uncensored"].tolist()
    assert r.indicators["contribution"].tolist() == pytest.approx([0.25 * 2 / 3 / r.M0,
                                                                   0.75 * 2 / 3 / r.M0])


def test_sampling_weights_equal_duplicated_rows(af):
    values, catalog = af
    counts = [2, 1, 3, 0]
    groups = pd.Series(["a", "b", "a", "b"])
    weighted = alkire_foster(values, catalog, k=0.5, weights=pd.Series(counts, dtype=float),
                             by=groups).to_dict()
    rows = np.repeat(np.arange(4), counts)
    duplicated = alkire_foster(values.iloc[rows].reset_index(drop=True), catalog, k=0.5,
                               by=groups.iloc[rows].reset_index(drop=True)).to_dict()
    assert weighted["n"] == 4 and duplicated["n"] == 6  # n counts rows, not weights
    for d in (weighted, duplicated):
        d.pop("n")
        for g in d["groups"].values():
            g.pop("n")
    assert _close(weighted, duplicated)
    assert weighted["H"] == pytest.approx(4 / 6)  # rows 2 (x1) and 3 (x3) are poor


def _close(a, b) -> bool:
    """Nested dicts of floats equal within 1e-12."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[x], b[x]) for x in a)
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-12)


@pytest.mark.parametrize(("rule", "deprived"), [
    (MissingRule("not_deprived", "t"), [True, False, False]),
    (MissingRule("deprived", "t"), [True, False, True]),
    (MissingRule("fill", "t", 0.0), [True, False, True]),
    (MissingRule("fill", "t", 5.0), [True, False, False]),
])
def test_missing_rules(rule, deprived):
    catalog = make_catalog([1.0, 1.0], missing=[rule, MissingRule("not_deprived", "t")])
    values = pd.DataFrame({"x0": [0.5, 2.0, np.nan], "x1": [2.0, np.nan, np.nan]})
    assert deprivation_matrix(values, catalog)["x0"].tolist() == deprived
    assert not deprivation_matrix(values, catalog)["x1"].any()
    r = alkire_foster(values, catalog, k=0.5)
    assert r.H == pytest.approx(sum(deprived) / 3)


def test_missing_group_labels_form_their_own_group(af):
    values, catalog = af
    r = alkire_foster(values, catalog, k=0.5, by=pd.Series(["a", None, "a", None]))
    assert list(r.groups.index) == ["a", MISSING_GROUP]
    assert r.groups["n"].tolist() == [2, 2]
    assert r.groups.loc[MISSING_GROUP, "M0"] == 0.25  # households 2 and 4: scores 0.5, 0.25


@pytest.mark.parametrize("kwargs", [
    {"k": 0.0}, {"k": 1.5}, {"k": float("nan")},
    {"k": 0.5, "weights": pd.Series([1.0, -1.0, 1.0, 1.0])},
    {"k": 0.5, "weights": pd.Series([1.0, np.inf, 1.0, 1.0])},
    {"k": 0.5, "weights": pd.Series([0.0, 0.0, 0.0, 0.0])},
    {"k": 0.5, "weights": pd.Series([1.0, 1.0, 1.0, 1.0], index=[5, 6, 7, 8])},
    {"k": 0.5, "by": pd.Series(["a", "b"])},
])
def test_invalid_arguments_raise(af, kwargs):
    values, catalog = af
    with pytest.raises(ValueError):
        alkire_foster(values, catalog, **kwargs)


def test_missing_indicator_column_raises(af):
    values, catalog = af
    with pytest.raises(ValueError, match="nutrition"):
        deprivation_matrix(values.drop(columns="nutrition"), catalog)


@settings(deadline=None, max_examples=60)
@given(data=st.data(), n=st.integers(1, 25), d=st.integers(1, 5))
def test_decompositions_add_up(data, n, d):
    flags = data.draw(st.lists(st.lists(st.booleans(), min_size=d, max_size=d),
                               min_size=n, max_size=n))
    raw_w = data.draw(st.lists(st.integers(1, 9), min_size=d, max_size=d))
    labels = data.draw(st.lists(st.sampled_from("abc"), min_size=n, max_size=n))
    sampling = data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n).filter(any))
    k = data.draw(st.floats(0.01, 1.0))
    catalog = make_catalog([0.5] * d, directions=[1] * d,
                           weights=[w / sum(raw_w) for w in raw_w],
                           dimensions=[f"dim{j % 2}" for j in range(d)])
    values = pd.DataFrame(np.array(flags, dtype=float), columns=catalog.ids)
    r = alkire_foster(values, catalog, k=k, weights=pd.Series(sampling, dtype=float),
                      by=pd.Series(labels))
    g = r.groups
    assert g["n"].sum() == n
    assert g["population_share"].sum() == pytest.approx(1.0)
    assert (g["population_share"] * g["M0"]).sum() == pytest.approx(r.M0, abs=1e-12)
    assert (g["population_share"] * g["H"]).sum() == pytest.approx(r.H, abs=1e-12)
    assert r.M0 == pytest.approx(r.H * r.A, abs=1e-12)
    assert (r.indicators["weight"] * r.indicators["censored"]).sum() == pytest.approx(
        r.M0, abs=1e-12)
    assert (r.indicators["censored"] <= r.indicators["uncensored"] + 1e-12).all()
    if r.M0 > 0:
        assert r.indicators["contribution"].sum() == pytest.approx(1.0)
        assert r.dimensions["contribution"].sum() == pytest.approx(1.0)
        assert g["contribution"].sum() == pytest.approx(1.0)
    assert 0 <= r.M0 <= r.H + 1e-12 and r.H <= 1 + 1e-12 and r.A <= 1 + 1e-12


@pytest.mark.slow
def test_a_million_households_in_well_under_the_time_of_a_loop():
    rng = np.random.default_rng(0)
    catalog = make_catalog(list(rng.random(22)), directions=list(rng.choice([-1, 1], 22)),
                           dimensions=[f"dim{j % 7}" for j in range(22)])
    values = pd.DataFrame(rng.random((1_000_000, 22)), columns=catalog.ids)
    by = pd.Series(rng.integers(0, 13, 1_000_000))
    start = time.perf_counter()
    r = alkire_foster(values, catalog, k=0.33, by=by, weights=pd.Series(rng.random(1_000_000)))
    assert time.perf_counter() - start < 10  # ~0.5 s here; a per-household loop takes minutes
    assert r.n == 1_000_000


def test_dimension_decomposition_follows_the_declared_dimension_order():
    base = make_catalog([1.0, 1.0, 1.0], dimensions=["a", "b", "a"])
    declared = Catalog("test", "1", base.indicators, dimension_entries=(
        Dimension("a", "甲", "A", 2), Dimension("b", "乙", "B", 1)))
    values = pd.DataFrame({"x0": [0.0, 2.0], "x1": [0.0, 0.0], "x2": [2.0, 2.0]})
    plain, ordered = (alkire_foster(values, c, k=0.3) for c in (base, declared))
    assert list(plain.dimensions.index) == ["a", "b"]
    assert list(ordered.dimensions.index) == ["b", "a"]
    pd.testing.assert_frame_equal(ordered.dimensions.loc[["a", "b"]], plain.dimensions)
    assert ordered.M0 == plain.M0
