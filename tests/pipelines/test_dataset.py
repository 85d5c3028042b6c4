"""The training examples built from one read of the store equal those built month by month.

A small district (600 households x 7 months) is simulated and ingested once for the module.
The reference builds each feature month as ``assist features`` does: its own load of the store
(:func:`~assist.pipelines.featurize.load_for_features`), then ``features.build``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from assist.features import build
from assist.features.attributes import household_attributes
from assist.features.schemas import TABLE_ORDER
from assist.ingest.run import ingest
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
