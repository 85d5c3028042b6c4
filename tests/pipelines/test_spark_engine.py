"""The Spark engine (``--engine spark``) against the pandas engine on a small simulated district.

One Spark session (``local[2]``) serves the whole module, so pytest-xdist's ``--dist loadfile``
gives it to one worker. Without PySpark or Java the Spark tests skip — unless
``ASSIST_TEST_SPARK`` is set (CI sets it in ``.ci/run``), where they fail instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assist.cli.app import app
from assist.features import CATALOG, build
from assist.features.attributes import household_attributes
from assist.ingest.run import ingest
from assist.models.need import NeedModel
from assist.pipelines.dataset import TRUTH_FILE, true_need
from assist.pipelines.featurize import build_features, load_features, load_for_features
from assist.pipelines.score import config_digest, load_scoring_config, run_scoring
from assist.settings import DEV_PSEUDONYM_KEY
from assist.simulate import simulate

pytestmark = pytest.mark.slow
AS_OF = "2026-10"
REQUIRED = bool(os.environ.get("ASSIST_TEST_SPARK"))


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install '.[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed"
    return None


@pytest.fixture(scope="module")
def spark():
    missing = _spark_missing()
    if missing:
        if REQUIRED:
            pytest.fail(f"ASSIST_TEST_SPARK is set but {missing}")
        pytest.skip(missing)
    from assist.pipelines.spark.session import spark_session

    session = spark_session("local[2]", app_name="assist-tests",
                            conf={"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    """A simulated district of 800 households x 4 months, ingested."""
    ws = tmp_path_factory.mktemp("spark")
    simulate(households=800, months=4, seed=5, out=ws / "source", truth_out=ws / "truth")
    ingest(source=ws / "source", out=ws / "store", key=DEV_PSEUDONYM_KEY)
    return ws


@pytest.fixture(scope="module")
def both_features(spark, district):
    """The month's features written by each engine; Spark through the CLI, 5 buckets."""
    pandas_run = build_features(store=district / "store", as_of=AS_OF, out=district / "f_pandas")
    res = CliRunner().invoke(app, ["features", "--as-of", AS_OF, "--engine", "spark",
                                   "--master", "local[2]", "--buckets", "5",
                                   "--out", str(district / "f_spark")], env=_env(district))
    assert res.exit_code == 0, res.output
    assert "households as of 2026-10" in res.output
    return pandas_run, district / "f_spark" / AS_OF


def _env(ws: Path) -> dict[str, str]:
    return {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws), "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY}


# -- without the extra ---------------------------------------------------------------------------
def test_spark_engine_without_pyspark_names_the_extra(district, monkeypatch):
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    res = CliRunner().invoke(app, ["features", "--as-of", AS_OF, "--engine", "spark",
                                   "--out", str(district / "never")], env=_env(district))
    assert res.exit_code == 2, res.output
    assert "pip install '.[spark]'" in res.output and "Traceback" not in res.output
    assert not (district / "never").exists()


def test_unknown_engine_is_refused(district):
    res = CliRunner().invoke(app, ["features", "--as-of", AS_OF, "--engine", "dask"],
                             env=_env(district))
    assert res.exit_code == 2 and "dask" in res.output


def test_attribute_types_declared_for_spark_match_the_pandas_attributes(district):
    from assist.pipelines.spark.features import ATTRIBUTE_TYPES

    attrs = household_attributes(load_for_features(district / "store", AS_OF), AS_OF)
    assert list(attrs.columns) == list(ATTRIBUTE_TYPES)
    kinds = {"string": "string", "double": "float64", "boolean": "bool"}
    for col, kind in ATTRIBUTE_TYPES.items():
        got = "string" if pd.api.types.is_string_dtype(attrs[col]) else str(attrs[col].dtype)
        assert got == kinds[kind], col


# -- features ------------------------------------------------------------------------------------
def test_spark_features_equal_pandas_features(both_features):
    from assist.pipelines.spark.features import load_spark_features

    pandas_run, spark_folder = both_features
    values, profile, attrs = load_spark_features(spark_folder)
    p_values, p_attrs = load_features(Path(pandas_run.folder).parent, AS_OF)
    p_profile = pd.read_parquet(Path(pandas_run.folder) / "profile.parquet")
    assert pandas_run.households == len(values) > 700
    assert values.index.tolist() == p_values.index.tolist()  # the very same households
    assert list(values.columns) == CATALOG.ids
    pd.testing.assert_frame_equal(values, p_values, check_index_type=False, rtol=1e-12, atol=0)
    pd.testing.assert_frame_equal(profile, p_profile, check_index_type=False, rtol=1e-12)
    assert list(attrs.columns) == list(p_attrs.columns)
    for col in p_attrs.columns:  # strings may come back as another string dtype
        left, right = attrs[col], p_attrs[col]
        if pd.api.types.is_string_dtype(right):
            left, right = left.astype("string"), right.astype("string")
        pd.testing.assert_series_equal(left, right, check_dtype=False, check_index_type=False)
    meta = json.loads((spark_folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["deprived_share"] == pandas_run.deprived_share
    # the comparison can fail: NaNs are compared as values, and indicators vary
    assert values.notna().to_numpy().mean() > 0.5 and values.std().gt(0).sum() >= 15


def test_spark_month_folder_has_the_pandas_tables_and_meta(both_features):
    _, folder = both_features
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "attributes.parquet", "features.parquet", "meta.json", "profile.parquet"]
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["engine"] == "spark" and meta["households"] > 700
    assert meta["indicator_ids"] == CATALOG.ids
    assert [p.name for p in folder.parent.iterdir()] == [AS_OF]  # no temporary folder left


# -- scoring -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def both_scores(spark, district):
    """Two months scored by each engine: 2026-09 (last month scored afresh from the store) and
    2026-10 (last month read from the engine's own 2026-09 snapshot; Spark: a cogroup)."""
    from assist.pipelines.spark.score import run_scoring_spark

    X = build(load_for_features(district / "store", "2026-08"), "2026-08")  # noqa: N806
    y = true_need(district / "truth" / TRUTH_FILE, key=DEV_PSEUDONYM_KEY, month="2026-08")
    y = y.reindex(X.index).fillna(0.0)
    model_path = NeedModel(num_threads=1, n_estimators=40, min_child_samples=10).fit(
        X, y, X_cal=X, y_cal=y).save(district / "need_model.json")
    model = NeedModel.load(model_path, expected_features=CATALOG.ids,
                           expected_catalog_version=CATALOG.version, num_threads=1)
    cfg_file = district / "scoring.yaml"
    cfg_file.write_text("allocation:\n  streets:\n    default: {visits: 8, floor: 2}\n",
                        encoding="utf-8")
    cfg = load_scoring_config(cfg_file)
    common = dict(store=district / "store", model=model, model_version=f"file:{model_path.name}",
                  config=cfg, config_hash=config_digest(cfg), truth_dir=district / "truth",
                  key=DEV_PSEUDONYM_KEY)
    pandas_runs = [run_scoring(as_of=m, out=district / "s_pandas", **common)
                   for m in ("2026-09", AS_OF)]
    spark_first = run_scoring_spark(spark, as_of="2026-09", out=district / "s_spark",
                                    buckets=4, **common)
    res = CliRunner().invoke(app, ["score", "--as-of", AS_OF, "--model-path", str(model_path),
                                   "--config", str(cfg_file), "--engine", "spark",
                                   "--buckets", "3", "--out", str(district / "s_spark")],
                             env=_env(district))
    assert res.exit_code == 0, res.output
    assert "precision@" in res.output and "greedy" in res.output
    spark_summary = json.loads((district / "s_spark" / AS_OF / "summary.json").read_text("utf-8"))
    return pandas_runs, [spark_first.summary, spark_summary], district


@pytest.mark.parametrize("month", ["2026-09", AS_OF])
def test_spark_scores_ranks_and_referrals_equal_pandas(both_scores, month):
    _, _, ws = both_scores
    _assert_same_snapshot(ws / "s_pandas", ws / "s_spark", month)


def _assert_same_snapshot(pandas_out: Path, spark_out: Path, month: str) -> None:
    """The Spark engine's snapshot of ``month`` is the pandas engine's."""
    want = pd.read_parquet(pandas_out / month / "scores.parquet")
    got = pd.read_parquet(spark_out / month / "scores.parquet")
    got = got.set_index("household_id").sort_index()
    assert got.index.tolist() == want.index.tolist() and len(got) > 700
    assert list(got.columns) == list(want.columns)
    for col in want.columns:
        left, right = got[col], want[col]
        if col.startswith("rank_") or col in ("candidate", "allocated", "warning"):
            assert left.to_numpy().tolist() == right.to_numpy().tolist(), col  # exact
        elif pd.api.types.is_float_dtype(right):
            np.testing.assert_allclose(left.to_numpy(dtype=float), right.to_numpy(dtype=float),
                                       rtol=1e-9, atol=1e-12, err_msg=col)
        else:
            assert left.astype("string").fillna("<NA>").tolist() == \
                right.astype("string").fillna("<NA>").tolist(), col
    assert want["allocated"].sum() > 0 and want["primary_cause"].notna().sum() > 0
    want_ref = pd.read_parquet(pandas_out / month / "referrals.parquet")
    got_ref = pd.read_parquet(spark_out / month / "referrals.parquet")
    pd.testing.assert_frame_equal(got_ref, want_ref, check_dtype=False, rtol=1e-9)
    streets = sorted(p.name for p in (spark_out / month / "referrals").iterdir())
    assert streets == sorted(p.name for p in (pandas_out / month / "referrals").iterdir())
    # the readers every later stage uses (case store load, reports) see the same snapshot
    from assist.storage.casebook import read_snapshot

    snap_p, snap_s = read_snapshot(pandas_out, month), read_snapshot(spark_out, month)
    pd.testing.assert_frame_equal(snap_s.scores, snap_p.scores.sort_index(), check_dtype=False,
                                  rtol=1e-9)
    pd.testing.assert_frame_equal(snap_s.referrals, snap_p.referrals, check_dtype=False, rtol=1e-9)


@pytest.mark.parametrize("i", [0, 1])
def test_spark_summary_equals_pandas_summary(both_scores, i):
    pandas_runs, spark_summaries, _ = both_scores
    want, got = pandas_runs[i].summary, spark_summaries[i]
    assert got["engine"] == "spark"
    assert got["previous"].split()[0] == want["previous"].split()[0]  # snapshot / scored afresh
    for key in ("households_scored", "bands", "deprivation_poor", "coverage",
                "referrals_per_street", "flags", "explained", "truth", "model_version",
                "config_hash"):
        assert got[key] == want[key], key
    drop = ("seconds",)
    assert {k: v for k, v in got["allocation"].items() if k not in drop} == \
        {k: v for k, v in want["allocation"].items() if k not in drop}
    assert want["flags"] is not None and want["explained"] > 0


# -- a store laid out by household bucket: each task reads its bucket, no shuffle ---------------
def test_spark_reads_a_bucketed_store_without_a_shuffle(spark, both_scores):
    from assist.pipelines.spark.features import build_features_spark, feature_frame, load_spark_features
    from assist.pipelines.spark.score import run_scoring_spark

    _, _, ws = both_scores
    ingest(source=ws / "source", out=ws / "store3", key=DEV_PSEUDONYM_KEY, buckets=3)
    plan = feature_frame(spark, store=ws / "store3", as_of=AS_OF)._jdf.queryExecution() \
        .executedPlan().toString()
    assert "MapInPandas" in plan and "Exchange" not in plan
    build_features_spark(spark, store=ws / "store3", as_of=AS_OF, out=ws / "f3_spark")
    pandas_run = build_features(store=ws / "store3", as_of=AS_OF, out=ws / "f3_pandas")
    values, profile, _ = load_spark_features(ws / "f3_spark" / AS_OF)
    p_values, _ = load_features(Path(pandas_run.folder).parent, AS_OF)
    pd.testing.assert_frame_equal(values, p_values, check_index_type=False, rtol=1e-12, atol=0)
    model = NeedModel.load(ws / "need_model.json", expected_features=CATALOG.ids,
                           expected_catalog_version=CATALOG.version, num_threads=1)
    cfg = load_scoring_config(ws / "scoring.yaml")
    common = dict(store=ws / "store3", model=model, model_version="file:need_model.json",
                  config=cfg, config_hash=config_digest(cfg))
    for month in ("2026-09", AS_OF):  # last month scored afresh, then from the snapshot
        run = run_scoring_spark(spark, as_of=month, out=ws / "s3_spark", **common)
        run_scoring(as_of=month, out=ws / "s3_pandas", **common)
        assert run.summary["buckets"] == 3
        _assert_same_snapshot(ws / "s3_pandas", ws / "s3_spark", month)
    assert run.summary["previous"].startswith("snapshot") and run.summary["flags"]


# -- one bucket back to the store loader's frames (no Spark needed) -----------------------------
def test_bucket_tables_restores_dtypes_order_snapshots_and_missing_dates():
    from assist.pipelines.spark.storeio import NAT, TABLE_COL, bucket_tables

    day = pd.Timestamp("2026-09-30").value  # nanoseconds, as Spark hands them over
    rows = pd.DataFrame({
        TABLE_COL: ["income", "income", "income", "households"],
        "household_id": ["h2", "h1", "h1", "h1"],
        "snapshot": ["2026-10", "2026-10", "2026-09", "2026-10"],
        "as_of_date": [day, NAT, day, day],
        "monthly_income": [100.0, np.nan, 50.0, np.nan],
        "financial_assets": [np.nan] * 4,
        "arrears_months": [1.0, np.nan, 0.0, np.nan],  # Int64 with a null arrives as float
        "street_code": [None, None, None, "S01"],
        "community_code": [None, None, None, "S01C001"],
        "registration_type": [None, None, None, "local"],
        "address_class": [None, None, None, "old_lane"],
    })
    out = bucket_tables(rows, {"income": ["2026-09", "2026-10"], "households": ["2026-10"]})
    income = out["income"]
    # store order: by snapshot, then the table's key (household_id)
    assert income["household_id"].tolist() == ["h1", "h1", "h2"]
    assert income["snapshot"].tolist() == ["2026-09", "2026-10", "2026-10"]
    assert str(income["as_of_date"].dtype) == "datetime64[ns]"
    assert income["as_of_date"].iloc[0] == pd.Timestamp("2026-09-30")
    assert pd.isna(income["as_of_date"].iloc[1])  # the NAT sentinel is a missing date again
    assert str(income["arrears_months"].dtype) == "Int64"
    assert income["arrears_months"].isna().tolist() == [False, True, False]
    assert str(income["monthly_income"].dtype) == "Float64"
    assert out["households"]["street_code"].tolist() == ["S01"]
    only_october = bucket_tables(rows, {"income": ["2026-10"], "households": ["2026-10"]})
    assert only_october["income"]["household_id"].tolist() == ["h1", "h2"]


def test_feature_windows_are_the_store_loaders_windows():
    from assist.errors import InputError
    from assist.features.view import months_needed
    from assist.pipelines.spark.storeio import feature_windows

    held = ["2026-07", "2026-08", "2026-09", "2026-10"]
    w = feature_windows("2026-10", held)
    assert w["households"] == ["2026-10"]  # state table, current snapshot only
    assert w["income"] == held  # history table: 13 months wanted, 4 held
    assert w["water_readings"] == ["2026-09", "2026-10"] and months_needed("water_readings") == 2
    with pytest.raises(InputError, match="2026-11"):
        feature_windows("2026-11", held)
