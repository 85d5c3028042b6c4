"""The training examples built from one read of the store equal those built month by month.

A small district (600 households x 7 months) is simulated and ingested once for the module.
The reference builds each feature month as ``assist features`` does: its own load of the store
(:func:`~assist.pipelines.featurize.load_for_features`), then ``features.build``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assist.features import build
from assist.features.attributes import household_attributes
from assist.features.schemas import TABLE_ORDER
from assist.ingest.run import ingest
from assist.pipelines import casebook_labels as cl
from assist.pipelines.dataset import next_month, outcomes_in_month, store_dataset
from assist.pipelines.featurize import load_for_features, tables_by_month
from assist.settings import DEV_PSEUDONYM_KEY
from assist.simulate import simulate
from assist.storage.store import list_snapshots, load_tables

pytestmark = pytest.mark.slow
GROUPS = ["head_sex", "street_code"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A simulated, ingested district."""
    ws = tmp_path_factory.mktemp("district")
    simulate(households=600, months=7, seed=11, out=ws / "source", truth_out=ws / "truth")
    ingest(source=ws / "source", out=ws / "store", key=DEV_PSEUDONYM_KEY)
    return ws / "store"


def per_month(store: Path, month: str) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Features, labels and groups of one month from its own load of the store."""
    tables = load_for_features(store, month)
    X = build(tables, month)  # noqa: N806
    label_month = next_month(month)
    held = list_snapshots(store)
    as_of = next_month(label_month) if next_month(label_month) in held else label_month
    visits = load_tables(store, as_of=as_of, months=2 if as_of != label_month else 1,
                         tables=["verifications"])
    y = outcomes_in_month(visits, label_month).reindex(X.index)
    return X, y, household_attributes(tables, month).reindex(X.index)[GROUPS]


@pytest.mark.parametrize("span", [1, 2, 3, 12])
def test_tables_by_month_equal_each_months_own_load(store, span):
    months = list_snapshots(store)[1:]
    seen = []
    for month, tables in tables_by_month(store, months, span=span):
        seen.append(month)
        alone = load_for_features(store, month)
        assert sorted(tables) == sorted(TABLE_ORDER) == sorted(alone)
        for name in alone:
            pd.testing.assert_frame_equal(tables[name], alone[name], check_exact=True,
                                          obj=f"{month} {name}")
    assert seen == months


def test_tables_by_month_refuses_an_empty_span(store):
    with pytest.raises(ValueError, match="span"):
        next(tables_by_month(store, list_snapshots(store), span=0))


@pytest.mark.parametrize("span", [2, 12])
def test_dataset_from_one_load_equals_the_per_month_build(store, span):
    ds = store_dataset(store=store, groups=GROUPS, complete_months=2, span=span)
    months = list_snapshots(store)[1:-1]
    assert [m.month for m in ds.months] == months
    for i, data in enumerate(ds.months):
        X, y, groups = per_month(store, data.month)  # noqa: N806
        if i < len(months) - 2:  # earlier months keep the labelled households only
            keep = y.notna().to_numpy()
            X, y, groups = X.loc[keep], y.loc[keep], groups.loc[keep]  # noqa: N806
        assert data.complete == (i >= len(months) - 2)
        assert len(data.X) and y.notna().any()
        pd.testing.assert_frame_equal(data.X, X, check_exact=True)
        pd.testing.assert_series_equal(data.y, y, check_exact=True)
        pd.testing.assert_frame_equal(data.groups, groups, check_exact=True)


# -- case-store labels (assist.pipelines.casebook_labels) ------------------------------------
def _extra(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["household_id", "month", "outcome", "date",
                                       "referral_month", "updated_at"])


@pytest.mark.parametrize("rows, labels, dropped", [
    # a decision on October's referral labels October's features, whatever its visit date
    ([("a", "2026-11", "confirmed", "2026-10-20", "2026-10", "2026-10-21T02:00Z")],
     {("a", "2026-10"): 1.0}, {}),
    # an old file without referral_month: the label month's previous month
    ([("a", "2026-11", "not_in_need", "2026-11-03", None, None)], {("a", "2026-10"): 0.0}, {}),
    # repeated decisions: the latest update wins, whatever the row order or visit date
    ([("a", "2026-11", "confirmed", "2026-11-20", "2026-10", "2026-11-21T01:00Z"),
      ("a", "2026-11", "not_in_need", "2026-11-02", "2026-10", "2026-11-30T01:00Z")],
     {("a", "2026-10"): 0.0}, {"duplicates": 1}),
    # no update time: the later visit, then the later row
    ([("a", "2026-11", "not_in_need", "2026-11-20", "2026-10", None),
      ("a", "2026-11", "confirmed", "2026-11-02", "2026-10", None),
      ("b", "2026-11", "confirmed", "2026-11-02", "2026-10", None),
      ("b", "2026-11", "not_in_need", "2026-11-02", "2026-10", None)],
     {("a", "2026-10"): 0.0, ("b", "2026-10"): 0.0}, {"duplicates": 2}),
    # the latest update says nothing: no label (the earlier one is a duplicate)
    ([("a", "2026-11", "confirmed", "2026-11-02", "2026-10", "2026-11-02T01:00Z"),
      ("a", "2026-11", "unreachable", "2026-11-09", "2026-10", "2026-11-09T01:00Z"),
      ("c", "2026-11", "pending", "2026-11-09", "2026-10", None),
      ("d", "2026-11", "bogus", "2026-11-09", "2026-10", None)],
     {}, {"duplicates": 1, "unlabelled": 3}),
    # two referral months of one household are two labels
    ([("a", "2026-10", "confirmed", "2026-10-02", "2026-09", None),
      ("a", "2026-11", "not_in_need", "2026-11-02", "2026-10", None)],
     {("a", "2026-09"): 1.0, ("a", "2026-10"): 0.0}, {}),
])
def test_casebook_labels_prepare(rows, labels, dropped):
    got, counts = cl.prepare(_extra(rows))
    assert {(h, m): v for h, m, v in got.itertuples(index=False)} == labels
    assert counts["rows"] == len(rows)
    assert counts["dropped"] == {**dict.fromkeys(cl.DROP_REASONS, 0), **dropped}


def test_casebook_labels_merge_outside_and_not_in_store():
    got, counts = cl.prepare(_extra([
        ("a", "2026-11", "not_in_need", None, "2026-10", None),   # replaces a verification
        ("b", "2026-11", "confirmed", None, "2026-10", None),     # new label
        ("zz", "2026-11", "confirmed", None, "2026-10", None),    # not in the store
        ("a", "2026-03", "confirmed", None, "2026-02", None),     # outside the months
        ("a", "garbage", "confirmed", None, None, None)]))        # no month at all
    y = pd.Series([1.0, np.nan, 0.0], index=pd.Index(["a", "b", "c"], name="household_id"))
    merged, mask = cl.merge(y, got, "2026-10", counts)
    assert merged.to_dict() == {"a": 0.0, "b": 1.0, "c": 0.0}
    assert mask.tolist() == [True, True, False] and y["a"] == 1.0  # the input is not changed
    cl.count_outside(got, {"2026-09", "2026-10"}, counts)
    assert counts["used"] == 2 and counts["replaced_verification"] == 1
    assert counts["by_month"] == {"2026-10": 2}
    assert counts["dropped"] == {"duplicates": 0, "unlabelled": 0, "outside_months": 2,
                                 "not_in_store": 1}
    line = cl.summary(counts)
    assert "2 of 5 row(s) used" in line and "2 outside the store's example months" in line
    assert "1 households not in the store" in line
    assert cl.summary(None).startswith("case-store labels: none given")


def test_store_dataset_puts_casebook_labels_on_the_referral_month(store):
    snaps = list_snapshots(store)
    plain = store_dataset(store=store, groups=GROUPS, complete_months=2)
    test_month, last = plain.months[-1], snaps[-1]
    labelled = test_month.y.dropna()
    flip = labelled.index[0]  # a household the department's records label
    fresh = test_month.y.index[test_month.y.isna().to_numpy()][:3]
    in_last = plain.months[-1].X.index[:4]
    rows = [(flip, next_month(test_month.month), "not_in_need" if labelled[flip] else "confirmed",
             None, test_month.month, None)]
    rows += [(h, next_month(test_month.month), "confirmed", None, test_month.month,
              "2026-11-05T00:00Z") for h in fresh]
    rows += [(h, next_month(last), "not_in_need", None, last, None) for h in in_last]
    rows += [("nobody", next_month(last), "confirmed", None, last, None),
             (flip, "1999-01", "confirmed", None, None, None),
             (fresh[0], next_month(test_month.month), "declined", None, test_month.month,
              "1999-01-01T00:00Z")]  # an older update of a decision: a duplicate
    ds = store_dataset(store=store, groups=GROUPS, complete_months=2, extra_labels=_extra(rows))
    got = ds.month(test_month.month)
    assert got.y[flip] == 1.0 - labelled[flip]  # the case store wins
    assert (got.y[fresh] == 1.0).all() and got.from_casebook.sum() == 4
    other = got.y.drop([flip, *fresh])
    pd.testing.assert_series_equal(other, test_month.y.drop([flip, *fresh]))
    # the store's last month has no following month: its case-store labels form a
    # training-only month, which no fold tests on
    assert [m.month for m in ds.months] == [m.month for m in plain.months]
    (only,) = ds.casebook_only
    assert only.month == last and not only.complete and only.from_casebook.all()
    assert sorted(only.X.index) == sorted(in_last) and (only.y == 0.0).all()
    c = ds.casebook
    assert (c["rows"], c["used"], c["replaced_verification"]) == (11, 8, 1)
    assert c["dropped"] == {"duplicates": 1, "unlabelled": 0, "outside_months": 1,
                            "not_in_store": 1}
    assert ds.label_counts()[last] == {"households": -1, "labelled": 4, "positives": 0,
                                       "casebook": 4}
