"""The store laid out by household bucket, and the pandas engine run bucket by bucket.

One small district (1,200 households x 4 months) is ingested twice: in one bucket (the layout
from before buckets) and in five. Features and monthly scores (last month scored afresh from
the store, then from its snapshot) must be the same, bit for bit, from both stores.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from assist.features import CATALOG
from assist.features.schemas import TABLE_ORDER, TABLES
from assist.ingest.run import ingest
from assist.models.need import NeedModel
from assist.pipelines.featurize import build_features
from assist.pipelines.score import ScoringConfig, StreetEntry, config_digest, load_scoring_config, run_scoring
from assist.settings import DEV_PSEUDONYM_KEY
from assist.simulate import simulate
from assist.storage import store as st
from assist.storage.buckets import HASH_NAME, bucket_of, count_for, xxhash64
from tests.serving.generated_district import fitted_on

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BUCKETS = 5


@pytest.mark.parametrize(("text", "spark_xxhash64", "pmod37"), [
    # Spark SQL: SELECT xxhash64(s), pmod(xxhash64(s), 37)  (PySpark 4.3, checked by hand)
    ("", -7444071767201028348, 21),
    ("a", -8582455328737087284, 35),
    ("h0123456789abcdef0123", 1605128134331696128, 25),
    ("z" * 33, -8411362631970189001, 18),
])
def test_hash_is_sparks_xxhash64(text, spark_xxhash64, pmod37):
    assert int(xxhash64([text])[0]) == spark_xxhash64
    assert int(bucket_of([text], 37)[0]) == pmod37


def test_bucket_count_from_size():
    assert [count_for(n) for n in (0, 1, 20_000, 20_001, 500_000)] == [1, 1, 1, 2, 25]


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Workspace with source and truth, the store in one bucket and in five, and a model."""
    ws = tmp_path_factory.mktemp("buckets")
    simulate(households=1200, months=4, seed=5, out=ws / "source", truth_out=ws / "truth")
    ingest(source=ws / "source", out=ws / "one", key=DEV_PSEUDONYM_KEY, horizon="2026-12")
    ingest(source=ws / "source", out=ws / "five", key=DEV_PSEUDONYM_KEY, horizon="2026-12",
           buckets=BUCKETS)
    model = fitted_on(ws / "one", ws / "truth", "2026-08", n_estimators=30)
    return ws, ws / "one", model.save(ws / "need_model.json")


def test_layout_one_row_group_per_bucket(stores):
    ws, _, _ = stores
    manifest = st.read_manifest(ws / "five")
    assert (manifest["buckets"], manifest["bucket_hash"]) == (BUCKETS, HASH_NAME)
    assert st.read_manifest(ws / "one")["buckets"] == 1  # 1,200 households: one bucket
    for table in TABLE_ORDER:
        f = pq.ParquetFile(st.table_path(ws / "five", table, "2026-10"))
        assert f.num_row_groups == BUCKETS
        for b in range(BUCKETS):
            ids = f.read_row_group(b, columns=["household_id"])["household_id"]
            assert (bucket_of(ids, BUCKETS) == b).all(), (table, b)


def test_buckets_partition_every_table(stores):
    ws, one, _ = stores
    whole = st.load_tables(one, as_of="2026-10", months=3)
    parts = [st.load_tables(ws / "five", as_of="2026-10", months=3, bucket=b)
             for b in range(BUCKETS)]
    for table, frame in whole.items():
        key = list(TABLES[table].key)
        joined = pd.concat([p[table] for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(frame.sort_values(key).reset_index(drop=True),
                                      joined.sort_values(key).reset_index(drop=True))
    with pytest.raises(ValueError, match="bucket 5"):
        st.load_tables(ws / "five", as_of="2026-10", months=1, bucket=BUCKETS)


def test_store_without_buckets_reads_as_one_and_is_rebuilt(stores, tmp_path, caplog):
    _, one, _ = stores
    legacy = tmp_path / "legacy"
    shutil.copytree(one, legacy)
    manifest = json.loads((legacy / st.MANIFEST_FILE).read_text(encoding="utf-8"))
    del manifest["buckets"], manifest["bucket_hash"]
    st.write_json(manifest, legacy / st.MANIFEST_FILE)
    assert st.store_buckets(legacy) == 1
    t = st.load_tables(legacy, as_of="2026-10", months=1, tables=["households"], bucket=0)
    assert len(t["households"]) == len(st.load_tables(one, as_of="2026-10", months=1,
                                                      tables=["households"])["households"])
    source = one.parent / "source"
    summary = ingest(source=source, out=legacy, key=DEV_PSEUDONYM_KEY, horizon="2026-12")
    assert summary.changes.mode == "full"
    assert "not laid out by household bucket" in summary.changes.reason
    summary = ingest(source=source, out=legacy, key=DEV_PSEUDONYM_KEY, horizon="2026-12",
                     buckets=3)
    assert "laid out in 1 household buckets, this run writes 3" in summary.changes.reason
    assert st.store_buckets(legacy) == 3
    again = ingest(source=source, out=legacy, key=DEV_PSEUDONYM_KEY, horizon="2026-12")
    assert again.changes.mode == "incremental" and st.store_buckets(legacy) == 3


def test_a_file_in_other_buckets_is_refused(stores, tmp_path):
    ws, one, _ = stores
    broken = tmp_path / "broken"
    shutil.copytree(ws / "five", broken)
    shutil.copyfile(st.table_path(one, "persons", "2026-10"),
                    st.table_path(broken, "persons", "2026-10"))
    with pytest.raises(Exception, match="assist ingest --full"):
        st.load_tables(broken, as_of="2026-10", months=1, tables=["persons"], bucket=1)


def test_features_bit_identical(stores, tmp_path):
    ws, one, _ = stores
    for name, store in (("one", one), ("five", ws / "five")):
        build_features(store=store, as_of="2026-10", out=tmp_path / name)
    for part in ("features", "profile", "attributes"):
        a = pd.read_parquet(tmp_path / "one" / "2026-10" / f"{part}.parquet")
        b = pd.read_parquet(tmp_path / "five" / "2026-10" / f"{part}.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert a.index.is_monotonic_increasing
    meta = [json.loads((tmp_path / n / "2026-10" / "meta.json").read_text()) for n in ("one", "five")]
    assert meta[0]["deprived_share"] == meta[1]["deprived_share"]


def _config() -> ScoringConfig:
    cfg = load_scoring_config(ROOT / "experiments" / "scoring.yaml")
    streets = {"default": StreetEntry(visits=8, floor=2)}
    return cfg.model_copy(update={"allocation": cfg.allocation.model_copy(
        update={"streets": streets})})


def _score(store: Path, out: Path, model_path: Path, as_of: str):
    cfg = _config()
    model = NeedModel.load(model_path, expected_features=CATALOG.ids,
                           expected_catalog_version=CATALOG.version, num_threads=1)
    return run_scoring(store=store, as_of=as_of, out=out, model=model, model_version="t-1",
                       config=cfg, config_hash=config_digest(cfg))


@pytest.mark.parametrize("months", [("2026-09",), ("2026-09", "2026-10")],
                         ids=["previous-from-tables", "previous-from-snapshot"])
def test_scores_identical(stores, tmp_path, months):
    ws, one, model_path = stores
    runs = {}
    for name, store in (("one", one), ("five", ws / "five")):
        for month in months:
            runs[name] = _score(store, tmp_path / name, model_path, month)
    a, b = (runs[n].folder for n in ("one", "five"))
    scores = [pd.read_parquet(f / "scores.parquet") for f in (a, b)]
    pd.testing.assert_frame_equal(*scores, check_exact=True)
    assert scores[0]["allocated"].sum() > 0
    assert np.array_equal(np.sort(scores[0]["rank_district"]), np.arange(1, len(scores[0]) + 1))
    if months[-1] == "2026-10":
        assert scores[0]["warning"].any()  # early warning compared with a snapshot
    pd.testing.assert_frame_equal(*(pd.read_parquet(f / "referrals.parquet") for f in (a, b)),
                                  check_exact=True)
    for street in sorted(p.name for p in (a / "referrals").iterdir()):
        assert (a / "referrals" / street).read_bytes() == (b / "referrals" / street).read_bytes()
    summaries = [json.loads((f / "summary.json").read_text()) for f in (a, b)]
    for s in summaries:
        assert s.pop("previous").startswith("snapshot" if len(months) == 2 else "scored afresh")
        del s["timings_s"], s["seconds"], s["data_snapshot"], s["allocation"]["seconds"]
    assert summaries[0] == summaries[1]


def _extra_labels(store: Path) -> pd.DataFrame:
    """Case-store labels: some households of 2026-08 and of the store's last month (a
    training-only month), one outside the store."""
    ids = st.load_tables(store, as_of="2026-10", months=1, tables=["households"])
    ids = sorted(ids["households"]["household_id"].astype(str))
    return pd.DataFrame({
        "household_id": [*ids[:40:3], *ids[5:60:7], "h-not-in-store"],
        "referral_month": ["2026-08"] * len(ids[:40:3]) + ["2026-10"] * len(ids[5:60:7])
        + ["2026-08"],
        "month": ["2026-09"] * len(ids[:40:3]) + ["2026-11"] * len(ids[5:60:7]) + ["2026-09"],
        "outcome": (["confirmed", "not_in_need"] * 40)[:len(ids[:40:3]) + len(ids[5:60:7]) + 1],
    })


def test_training_examples_identical(stores):
    from assist.pipelines.dataset import store_dataset

    ws, one, _ = stores
    groups = ["head_sex", "street_code"]
    kw = {"groups": groups, "complete_months": 1, "extra_labels": _extra_labels(one)}
    a, b = (store_dataset(store=s, **kw) for s in (one, ws / "five"))
    assert [m.month for m in a.months] == [m.month for m in b.months] == ["2026-08", "2026-09"]
    assert [m.month for m in a.casebook_only] == [m.month for m in b.casebook_only] == ["2026-10"]
    assert a.casebook == b.casebook and a.casebook["dropped"]["not_in_store"] == 1
    assert a.label_counts() == b.label_counts()
    for x, y in zip((*a.months, *a.casebook_only), (*b.months, *b.casebook_only), strict=True):
        pd.testing.assert_frame_equal(x.X, y.X, check_exact=True)
        pd.testing.assert_series_equal(x.y, y.y, check_exact=True)
        pd.testing.assert_frame_equal(x.groups, y.groups)
        pd.testing.assert_series_equal(x.casebook, y.casebook)
        assert x.complete == y.complete
    assert not a.months[0].complete and a.months[1].complete  # only the last month is whole
    assert a.months[0].from_casebook.sum() > 0
