"""The per-group metric engine: hand-worked values on tiny frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assist.models.groups import MISSING_GROUP, group_codes, group_metrics, string_labels


def recall(y_true: np.ndarray, selected: np.ndarray) -> dict[str, float]:
    """Positives, selected positives and their share."""
    yt, sel = np.asarray(y_true) == 1, np.asarray(selected, dtype=bool)
    pos, hit = int(yt.sum()), int((yt & sel).sum())
    return {"positives": pos, "hits": hit, "recall": hit / pos if pos else None}


#          rows: 0    1    2    3    4    5    6
Y = np.array([1, 1, 0, 1, 1, 0, 1])
SELECTED = np.array([1, 1, 0, 1, 0, 0, 0], dtype=bool)
GROUPS = pd.DataFrame({"sex": ["f", "f", "f", "m", "m", "m", "m"],
                       "age": [30, 5, 30, None, 5, 5, 30]},  # floats: labels "5.0", "30.0"
                      index=list("abcdefg"))


@pytest.mark.parametrize(("sex", "positives", "hits", "expected"), [
    ("f", 2, 2, 1.0),        # rows 0, 1 in need, both selected
    ("m", 3, 1, 1 / 3),      # rows 3, 4, 6 in need, only row 3 selected
])
def test_recall_per_group_hand_worked(sex, positives, hits, expected):
    out = group_metrics(Y, SELECTED, GROUPS[["sex"]], {"recall": recall})
    row = out.by_group.loc[sex]
    assert (row["positives"], row["hits"]) == (positives, hits)
    assert row["recall"] == pytest.approx(expected)
    assert out.overall == {"positives": 5, "hits": 3, "recall": 3 / 5}
    assert list(out.by_group.columns) == ["positives", "hits", "recall"]


def test_groups_ordered_by_value_missing_last():
    # age 5: rows 1, 4, 5 (positives 1, 4; row 1 selected); 30: rows 0, 2, 6; missing: row 3
    by = group_metrics(Y, SELECTED, GROUPS[["age"]], {"recall": recall}).by_group
    assert list(by.index) == ["5.0", "30.0", MISSING_GROUP]  # numbers as numbers, not as text
    assert by.index.name == "age"
    assert by["recall"].tolist() == [0.5, 0.5, 1.0]


def test_two_columns_give_observed_combinations_only():
    by = group_metrics(Y, SELECTED, GROUPS, {"recall": recall}).by_group
    # (f, missing) never occurs, so it is left out; (m, missing) is row 3 alone
    assert list(by.index) == [("f", "5.0"), ("f", "30.0"), ("m", "5.0"), ("m", "30.0"),
                              ("m", MISSING_GROUP)]
    assert by.index.names == ["sex", "age"]
    assert by["positives"].tolist() == [1, 1, 1, 1, 1]
    assert by["hits"].tolist() == [1, 1, 0, 0, 1]


def test_scalar_metrics_and_per_row_params_split_by_group():
    score = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    # every metric of the spec is handed every param
    spec = {"n": lambda y, p, **_: len(y), "score_sum": lambda y, p, score: float(np.sum(score))}
    out = group_metrics(Y, SELECTED, GROUPS[["sex"]], spec, params={"score": score})
    assert out.by_group["n"].to_dict() == {"f": 3, "m": 4}
    assert out.by_group["score_sum"].to_numpy() == pytest.approx([0.6, 2.2])
    assert out.overall["score_sum"] == pytest.approx(2.8)


def test_no_rows_and_no_columns():
    empty = group_metrics(Y[:0], SELECTED[:0], GROUPS.iloc[:0, :1], {"recall": recall})
    assert empty.by_group.empty and empty.overall == {"positives": 0, "hits": 0, "recall": None}
    whole = group_metrics(Y, SELECTED, GROUPS.iloc[:, :0], {"recall": recall})
    assert whole.by_group.empty and whole.overall["recall"] == 3 / 5


def test_lengths_must_match():
    with pytest.raises(ValueError, match="groups 6 rows"):
        group_metrics(Y, SELECTED, GROUPS.iloc[:6], {"recall": recall})
    with pytest.raises(ValueError, match="params"):
        group_metrics(Y, SELECTED, GROUPS, {"recall": recall}, params={"w": np.ones(3)})


def test_codes_and_string_labels():
    codes, labels = group_codes(pd.Series([10, None, 2, 10]))
    assert codes.tolist() == [1, 2, 0, 1] and labels == ["2.0", "10.0", MISSING_GROUP]
    text = string_labels(pd.DataFrame({"street": ["S2", None, "S10"]}, index=[7, 8, 9]))
    assert text["street"].tolist() == ["S2", MISSING_GROUP, "S10"] and list(text.index) == [0, 1, 2]
    _, as_text = group_codes(text["street"])
    assert as_text == [MISSING_GROUP, "S10", "S2"]  # ordered as text


def test_the_same_as_fairlearns_metric_frame_on_generated_groups():
    """The engine gives what fairlearn's MetricFrame gives (groups, their order, values), on
    generated rows with missing values, numbers and text, one column and two."""
    from fairlearn.metrics import MetricFrame

    rng = np.random.default_rng(3)
    n = 2_000
    y = (rng.random(n) < 0.2).astype(int)
    sel = rng.random(n) < 0.3
    groups = pd.DataFrame({
        "hukou": pd.Series(rng.choice(["local", "migrant", None], n), dtype="object"),
        "age": rng.choice([18.0, 45.0, 75.0, np.nan], n)})
    for cols in (["hukou"], ["age"], ["hukou", "age"]):
        ours = group_metrics(y, sel, groups[cols], {"recall": recall}).by_group
        # MetricFrame refuses missing values: give it the labels our engine reports
        labelled = pd.DataFrame({c: np.asarray(group_codes(groups[c])[1], dtype=object)[
            group_codes(groups[c])[0]] for c in cols})
        theirs = MetricFrame(metrics={"hits": lambda a, b: recall(a, b)["hits"],
                                      "positives": lambda a, b: recall(a, b)["positives"]},
                             y_true=y, y_pred=sel, sensitive_features=labelled).by_group
        theirs = theirs.loc[theirs["positives"].notna()]
        assert sorted(map(str, ours.index)) == sorted(map(str, theirs.index))
        for key in ours.index:
            assert ours.loc[key, "hits"] == theirs.loc[key, "hits"], (cols, key)
            assert ours.loc[key, "positives"] == theirs.loc[key, "positives"], (cols, key)
