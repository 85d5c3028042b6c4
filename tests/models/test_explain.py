"""Explanations: exact TreeSHAP checks against shap, aggregations, local and global summaries."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from assist.features.catalog import Catalog, Indicator
from assist.features.codes import CAUSES
from assist.features.indicators import CATALOG
from assist.models.explain import (
    BIAS,
    NO_CAUSE,
    HouseholdExplanation,
    by_cause,
    by_dimension,
    contributions,
    explain,
    explanations_from,
    global_summary,
)
from assist.models.need import NeedModel

from .test_need import ONE, synthetic


def import_shap():
    """Import shap (pinned with matplotlib < 3.11, it imports without any warning)."""
    import shap

    return shap


@pytest.fixture(scope="module")
def fitted():
    X, y = synthetic(5000, seed=0)
    model = NeedModel(num_threads=ONE).fit(X.iloc[:3500], y[:3500], X_cal=X.iloc[3500:],
                                           y_cal=y[3500:])
    test = X.iloc[3500:4500]
    return model, test, contributions(model, test)


def test_contributions_sum_to_the_raw_score(fitted):
    model, X, contrib = fitted
    assert list(contrib.columns) == [*CATALOG.ids, BIAS]
    assert contrib.index.equals(X.index)
    np.testing.assert_allclose(contrib.sum(axis=1), model.predict_raw(X), rtol=0, atol=1e-6)
    assert contrib[BIAS].nunique() == 1


def test_contributions_match_shap_tree_explainer(fitted):
    shap = import_shap()
    model, X, contrib = fitted
    arr = X.to_numpy()
    explainer = shap.TreeExplainer(model.booster_)
    via_lightgbm = explainer(arr)  # shap delegates to LightGBM's own TreeSHAP here
    np.testing.assert_allclose(via_lightgbm.values, contrib[CATALOG.ids], rtol=0, atol=1e-6)
    # shap's own tree parser and C++ TreeSHAP, an independent implementation
    own = shap.TreeExplainer(explainer.model.trees)(arr)
    np.testing.assert_allclose(own.values, contrib[CATALOG.ids], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.ravel(own.base_values), contrib[BIAS], rtol=0, atol=1e-6)


def test_dimension_and_cause_sums_add_up(fitted):
    _, _, contrib = fitted
    total = contrib.drop(columns=BIAS).sum(axis=1)
    dims, causes = by_dimension(contrib, CATALOG), by_cause(contrib, CATALOG)
    assert list(dims.columns) == CATALOG.dimensions
    assert set(causes.columns) <= set(CAUSES)
    np.testing.assert_allclose(dims.sum(axis=1), total, atol=1e-9)
    np.testing.assert_allclose(causes.sum(axis=1), total, atol=1e-9)
    illness = [i.id for i in CATALOG if i.cause == "illness"]
    np.testing.assert_allclose(causes["illness"], contrib[illness].sum(axis=1), atol=1e-12)


def test_explanations_follow_the_model(fitted):
    model, X, contrib = fitted
    out = explain(model, X, CATALOG, top=3)
    assert [e.household_id for e in out] == list(X.index)
    np.testing.assert_allclose([e.probability for e in out], model.predict_proba(X), atol=1e-9)
    np.testing.assert_allclose([e.raw_score for e in out], model.predict_raw(X), atol=1e-6)
    for e in out:
        cs = [f.contribution for f in e.factors]
        assert len(cs) <= 3 and all(c > 0 for c in cs) and cs == sorted(cs, reverse=True)
        for f in e.factors:
            ind = CATALOG[f.indicator]
            value = X.at[e.household_id, f.indicator]
            assert f.contribution == contrib.at[e.household_id, f.indicator]
            assert f.sentence_en == ind.sentence(value, "en")
            assert f.sentence_zh == ind.sentence(value, "zh")
            assert (f.name_zh, f.dimension, f.cause) == (ind.name_zh, ind.dimension, ind.cause)
    # missing values can push toward need, but a missing record is never a reason given
    missing = X.isna()
    assert (contrib[CATALOG.ids].where(missing) > 0).any(axis=None)
    assert all(f.value is not None for e in out for f in e.factors)


def test_primary_cause_by_hand(fitted):
    model, X, contrib = fitted
    hid = X.index[7]
    sums: dict[str, float] = {}
    reasons: dict[str, float] = {}  # what a cause may rest on: recorded values, "yes" of yes/no
    for ind in CATALOG:
        c, v = contrib.at[hid, ind.id], X.at[hid, ind.id]
        sums[ind.cause] = sums.get(ind.cause, 0.0) + c
        said = not np.isnan(v) and not (ind.unit == "yes/no" and v < 0.5)
        reasons[ind.cause] = reasons.get(ind.cause, 0.0) + (c if said else 0.0)
    ranked = sorted((s, c) for c, s in reasons.items() if s > 0)[::-1]
    (e,) = explain(model, X.loc[[hid]], CATALOG)
    assert e.primary_cause.cause == ranked[0][1]
    assert e.primary_cause.contribution == pytest.approx(ranked[0][0], abs=1e-12)
    assert e.primary_cause.name_zh == CAUSES[ranked[0][1]].zh
    assert e.secondary_cause.cause == ranked[1][1]
    assert e.causes == pytest.approx(sums, abs=1e-12)


def test_explanations_serialise(fitted):
    model, X, contrib = fitted
    out = explain(model, X.iloc[:50], CATALOG, contrib=contrib.iloc[:50])
    adapter = TypeAdapter(HouseholdExplanation)
    for e in out:
        d = e.to_dict()
        text = json.dumps(d, allow_nan=False, ensure_ascii=False)
        assert adapter.validate_python(json.loads(text)) == e
    assert isinstance(d["factors"], list) and set(d["dimensions"]) == set(CATALOG.dimensions)


def test_explain_refuses_another_catalog(fitted):
    model, X, _ = fitted
    with pytest.raises(ValueError, match="differ"):
        explain(model, X, HAND)
    with pytest.raises(ValueError, match="same index"):
        explain(model, X, CATALOG, contrib=contributions(model, X.iloc[::-1]))


# -- hand-made catalog and contributions -------------------------------------------------

def _ind(id_, dim, cause):
    return Indicator(id=id_, name_zh=f"{id_}指标", name_en=id_.upper(), dimension=dim, unit="",
                     direction=1, cutoff=0.0, weight=0.25, description=id_, cause=cause,
                     sentence_en=f"{id_} is {{value:.0f}}", sentence_zh=f"{id_}为{{value:.0f}}")


HAND = Catalog("hand", "1", (_ind("a", "d1", "illness"), _ind("b", "d1", "housing"),
                             _ind("c", "d2", "illness"), _ind("d", "d2", None)))
HAND_CONTRIB = pd.DataFrame(
    [[0.5, 0.2, 0.4, 0.9, -1.0],
     [-0.1, -0.2, -0.3, -0.4, -1.0],
     [0.3, 0.3, -0.5, 0.0, -1.0],
     [0.1, 0.0, 0.0, 0.0, -1.0]],
    index=pd.Index(["h1", "h2", "h3", "h4"], name="household_id"),
    columns=["a", "b", "c", "d", BIAS])
HAND_X = pd.DataFrame(
    [[2.0, 1.0, 3.0, 5.0], [0.0, 0.0, 0.0, 0.0], [4.0, np.nan, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
    index=HAND_CONTRIB.index, columns=["a", "b", "c", "d"])


@pytest.mark.parametrize(("row", "factors", "primary", "secondary", "dims"), [
    # largest first; d has no cause; illness = a + c
    ("h1", ["d", "a", "c"], ("illness", 0.9), ("housing", 0.2), {"d1": 0.7, "d2": 1.3}),
    # nothing pushes toward need: no factor, no cause
    ("h2", [], None, None, {"d1": -0.3, "d2": -0.7}),
    # b is missing: never a factor nor a cause (its housing 0.3 is not a reason);
    # illness sums to -0.2, so no cause at all
    ("h3", ["a"], None, None, {"d1": 0.6, "d2": -0.5}),
    # zero is not a push toward need
    ("h4", ["a"], ("illness", 0.1), None, {"d1": 0.1, "d2": 0.0}),
])
def test_hand_made_explanations(row, factors, primary, secondary, dims):
    prob = np.array([0.9, 0.1, 0.5, 0.3])
    out = {e.household_id: e for e in explanations_from(HAND_CONTRIB, HAND_X, HAND,
                                                        probability=prob, top=3)}
    e = out[row]
    assert [f.indicator for f in e.factors] == factors
    got_primary = e.primary_cause and (e.primary_cause.cause, e.primary_cause.contribution)
    got_secondary = e.secondary_cause and (e.secondary_cause.cause,
                                           e.secondary_cause.contribution)
    assert got_primary == (pytest.approx(primary) if primary else None)
    assert got_secondary == (pytest.approx(secondary) if secondary else None)
    assert e.dimensions == pytest.approx(dims)
    assert e.raw_score == pytest.approx(HAND_CONTRIB.loc[row].sum())
    assert e.bias == -1.0


def test_hand_made_sentences_and_missing_values():
    out = explanations_from(HAND_CONTRIB, HAND_X, HAND, probability=np.zeros(4), top=2)
    h1, h3 = out[0], out[2]
    assert [(f.sentence_en, f.sentence_zh) for f in h1.factors] == [("d is 5", "d为5"),
                                                                    ("a is 2", "a为2")]
    assert [f.indicator for f in h3.factors] == ["a"]  # b (missing) is no reason
    assert (HAND["b"].sentence(np.nan, "en"), HAND["b"].sentence(np.nan, "zh")) == (
        "B: no record", "b指标：无记录")
    assert h1.causes == pytest.approx({"illness": 0.9, "housing": 0.2, NO_CAUSE: 0.9})


def test_hand_made_global_summary():
    g = global_summary(HAND_CONTRIB, HAND_X, HAND)
    ind = {r.indicator: r for r in g.indicators}
    assert g.n == 4 and g.bias == -1.0
    assert ind["a"].mean_abs_contribution == pytest.approx((0.5 + 0.1 + 0.3 + 0.1) / 4)
    assert ind["c"].mean_contribution == pytest.approx((0.4 - 0.3 - 0.5) / 4)
    # largest positive factor: h1 d, h3 a (tie with b: first), h4 a; h2 none
    assert (ind["a"].top_factor_share, ind["b"].top_factor_share,
            ind["d"].top_factor_share) == (0.5, 0.0, 0.25)
    assert ind["b"].missing_share == 0.25
    causes = {r.key: r for r in g.causes}
    assert causes["illness"].primary_share == 0.5 and causes["housing"].primary_share == 0.25
    assert causes[NO_CAUSE].primary_share is None
    assert g.no_primary_cause_share == 0.25
    assert causes["illness"].name_en == CAUSES["illness"].en
    dims = {r.key: r for r in g.dimensions}
    assert dims["d2"].mean_abs_contribution == pytest.approx((1.3 + 0.7 + 0.5 + 0.0) / 4)
    means = [r.mean_abs_contribution for r in g.indicators]
    assert means == sorted(means, reverse=True)
    assert set(g.frames()) == {"indicators", "dimensions", "causes"}
    json.dumps(g.to_dict(), allow_nan=False)


def test_global_summary_on_the_model(fitted):
    _, X, contrib = fitted
    g = global_summary(contrib, X, CATALOG)
    shares = sum(r.primary_share for r in g.causes) + g.no_primary_cause_share
    assert math.isclose(shares, 1.0)
    assert {r.indicator for r in g.indicators} == set(CATALOG.ids)
    top = {r.indicator: r for r in g.indicators}
    # the synthetic signal weighs the first catalog indicators most
    assert top[CATALOG.ids[0]].mean_abs_contribution > top[CATALOG.ids[-1]].mean_abs_contribution
    assert top[CATALOG.ids[0]].mean_abs_contribution == pytest.approx(
        contrib[CATALOG.ids[0]].abs().mean())


@pytest.mark.parametrize("bad", [
    HAND_CONTRIB.drop(columns=BIAS),
    HAND_CONTRIB[["b", "a", "c", "d", BIAS]],
])
def test_aggregations_refuse_foreign_contributions(bad):
    with pytest.raises(ValueError, match="do not match catalog 'hand'"):
        by_dimension(bad, HAND)


@pytest.mark.parametrize(("x", "factors", "primary"), [
    # recorded "yes" on a yes/no indicator: a reason; its cause counts
    ({"a": 1.0, "b": 2.0}, ["a", "b"], "lack_of_care"),
    # "no" would read "an elderly person living alone": never a reason, nor its cause
    ({"a": 0.0, "b": 2.0}, ["b"], "housing"),
    # a missing record: never a reason, nor its cause
    ({"a": np.nan, "b": 2.0}, ["b"], "housing"),
    ({"a": 1.0, "b": np.nan}, ["a"], "lack_of_care"),
])
def test_only_recorded_hardship_is_a_reason(x, factors, primary):
    alone = Indicator(id="a", name_zh="独居老人", name_en="Alone", dimension="d1", unit="yes/no",
                      direction=1, cutoff=0.5, weight=0.75, description="a", cause="lack_of_care",
                      sentence_en="lives alone", sentence_zh="独居老人")
    cat = Catalog("yn", "1", (alone, _ind("b", "d2", "housing")))
    contrib = pd.DataFrame([[0.6, 0.4, -1.0]], index=pd.Index(["h"], name="household_id"),
                           columns=["a", "b", BIAS])
    X = pd.DataFrame([x], index=contrib.index, columns=["a", "b"])  # noqa: N806
    (e,) = explanations_from(contrib, X, cat, probability=np.array([0.5]), top=3)
    assert [f.indicator for f in e.factors] == factors
    assert e.primary_cause.cause == primary
    assert e.causes == pytest.approx({"lack_of_care": 0.6, "housing": 0.4})  # the score's parts
