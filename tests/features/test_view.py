"""SourceView helpers: household and person codes by Arrow lookup, row selections without copies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from assist.features.view import _where, positions

KEYS = pa.array(["a", "b", "c", "e"], type=pa.large_string())


@pytest.mark.parametrize("values, expected", [
    (["a", "a", "b", "c", "c", "e"], [0, 0, 1, 2, 2, 3]),          # sorted runs
    (["e", "a", "e", "e", "d", "b"], [3, 0, 3, 3, -1, 1]),         # unsorted, one unknown
    (["d", "d", None, None, "a"], [-1, -1, -1, -1, 0]),            # missing ids are not found
    ([], []),
])
def test_positions_match_pandas_get_indexer(values, expected):
    s = pd.Series(values, dtype="string")
    got = positions(s, KEYS)
    assert got.tolist() == expected
    assert got.dtype == np.int64
    assert got.tolist() == pd.Index(["a", "b", "c", "e"]).get_indexer(s).tolist()


def test_positions_accept_object_and_python_string_columns():
    assert positions(pd.Series(["c", "x"], dtype=object), KEYS).tolist() == [2, -1]
    assert positions(pd.Index(["b", "a"]), KEYS).tolist() == [1, 0]


def test_positions_on_many_random_ids_agree_with_get_indexer():
    rng = np.random.default_rng(0)
    keys = np.array([f"h{i:05d}" for i in range(2000)])
    values = pd.Series(rng.choice(np.r_[keys, ["zz", "yy"]], 20_000), dtype="string")
    values = pd.concat([values.sort_values(), values]).reset_index(drop=True)
    got = positions(values, pa.array(keys))
    assert (got == pd.Index(keys).get_indexer(values)).all()


def test_where_returns_the_frame_a_slice_or_a_selection():
    df = pd.DataFrame({"x": np.arange(6)})
    assert _where(df, np.ones(6, bool)) is df
    mid = _where(df, np.array([0, 1, 1, 1, 0, 0], bool))
    assert mid["x"].tolist() == [1, 2, 3] and mid.index.tolist() == [1, 2, 3]
    gaps = _where(df, np.array([1, 0, 1, 0, 0, 1], bool))
    assert gaps["x"].tolist() == [0, 2, 5] and gaps.index.tolist() == [0, 2, 5]
    assert _where(df, np.zeros(6, bool)).empty


def test_positions_of_a_multi_chunk_arrow_column():
    chunked = pa.chunked_array([pa.array(["a", "a"], pa.large_string()),
                                pa.array(["a", "c", "x"], pa.large_string()), pa.array([], pa.large_string())])
    s = pd.Series(pd.arrays.ArrowStringArray(chunked))
    assert positions(s, KEYS).tolist() == [0, 0, 0, 2, -1]


def test_a_view_and_its_tables_are_freed_without_the_cycle_collector():
    """A month's working frames (GBs at city scale) go as soon as the view goes."""
    import gc
    import weakref

    from assist.features.view import SourceView
    from tests.features.test_indicators import AS_OF, scenario

    gc.collect()
    gc.disable()
    try:
        view = SourceView(scenario(), AS_OF)
        view.state("income"), view.persons  # populate the lazily restricted tables
        gone = weakref.ref(view)
        del view
        assert gone() is None
    finally:
        gc.enable()
