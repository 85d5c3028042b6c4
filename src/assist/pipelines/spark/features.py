"""``assist features --engine spark``: the household features of a month, built per bucket.

Each bucket of households (all their rows of every table; read by its own task from a store
laid out by bucket, see :mod:`assist.pipelines.spark.layout`, else gathered by a shuffle)
goes through the unchanged pandas path — :func:`assist.features.build`, :func:`assist.features.dimension_profile` and
:func:`assist.features.attributes.household_attributes` — inside ``applyInPandas``; the
catalog travels to the executors as a broadcast variable. The month's folder holds the same
three tables as the pandas engine's, as Parquet datasets (``features.parquet/`` etc., a
``household_id`` column instead of the index) plus ``meta.json``; it replaces the previous
folder only once complete.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from assist.features import CATALOG, build, dimension_profile
from assist.features.attributes import household_attributes
from assist.features.catalog import Catalog
from assist.pipelines.featurize import FeatureRun
from assist.pipelines.spark import pandas3_warning_filtered
from assist.pipelines.spark.layout import bucket_ids, by_bucket, laid_out
from assist.pipelines.spark.storeio import (
    BUCKET_COL,
    bucket_tables,
    delete,
    feature_windows,
    join,
    local_path,
    read_tables,
    replace_folder,
    store_snapshots,
    temporary_sibling,
    uri,
    write_text,
)
from assist.storage.store import TABLES_DIR

HOUSEHOLDS_PER_BUCKET = 20_000
PARTS = {"features": "f__", "profile": "p__", "attributes": "a__"}
#: Spark types of :func:`household_attributes`' columns (a test checks them against pandas)
ATTRIBUTE_TYPES = {
    "street_code": "string", "community_code": "string", "registration_type": "string",
    "address_class": "string", "head_sex": "string", "head_hukou": "string",
    "head_age": "double", "head_age_band": "string", "size": "double",
    "has_disability": "boolean", "has_elderly": "boolean",
}


def output_schema(catalog: Catalog = CATALOG) -> str:
    """DDL schema of one bucket's output: household id, features, profile, attributes."""
    cols = ["household_id string"]
    cols += [f"{PARTS['features']}{i} double" for i in catalog.ids]
    cols += [f"{PARTS['profile']}{d} double" for d in catalog.by_dimension()]
    cols += [f"{PARTS['attributes']}{a} {t}" for a, t in ATTRIBUTE_TYPES.items()]
    return ", ".join(f"`{c.split(' ')[0]}` {c.split(' ')[1]}" for c in cols)


def household_tables(tables: dict[str, pd.DataFrame], as_of: str,
                     catalog: Catalog = CATALOG) -> pd.DataFrame:
    """Features, dimension profile and attributes of the households in ``tables``, side by side
    (prefixed ``f__`` / ``p__`` / ``a__``, ``household_id`` as a column)."""
    values = build(tables, as_of, catalog)
    attrs = household_attributes(tables, as_of)
    unexpected = sorted(set(attrs.columns) ^ set(ATTRIBUTE_TYPES))
    if unexpected:
        raise ValueError(f"household attributes changed ({unexpected}): update ATTRIBUTE_TYPES "
                         "in assist.pipelines.spark.features")
    out = pd.concat([values.add_prefix(PARTS["features"]),
                     dimension_profile(values, catalog).add_prefix(PARTS["profile"]),
                     attrs[list(ATTRIBUTE_TYPES)].add_prefix(PARTS["attributes"])], axis=1)
    out.index.name = "household_id"
    return out.reset_index()


def bucket_features(snapshots: dict[str, list[str]], as_of: str,
                    catalog: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:  # noqa: ANN401
    """The applyInPandas body: one bucket's rows -> its households' features (runs on the
    executors; ``catalog`` is a broadcast :class:`Catalog`)."""

    def features_of_bucket(rows: pd.DataFrame) -> pd.DataFrame:
        tables = bucket_tables(rows, snapshots)
        if tables["households"].empty:  # only rows of households not in the registry
            return pd.DataFrame(columns=["household_id"])
        return household_tables(tables, as_of, catalog.value)

    return features_of_bucket


def deprived_counts(catalog: Any) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:  # noqa: ANN401
    """The mapInPandas body: per batch, households and households deprived on each indicator."""

    def counts_of_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        cat = catalog.value
        for part in batches:
            values = part[[f"{PARTS['features']}{i}" for i in cat.ids]]
            values.columns = cat.ids
            counts = cat.deprivation(values).sum()
            yield pd.DataFrame({"n": [len(part)], **{i: [int(counts[i])] for i in cat.ids}})

    return counts_of_batches


def choose_buckets(spark: Any, store: str, as_of: str,  # noqa: ANN401
                   households_per_bucket: int = HOUSEHOLDS_PER_BUCKET) -> int:
    """Enough buckets for about ``households_per_bucket`` households each, and at least one
    per core of the cluster."""
    registry = spark.read.parquet(join(store, TABLES_DIR, "households", f"{as_of}.parquet"))
    n = registry.count()
    return max(spark.sparkContext.defaultParallelism, math.ceil(n / households_per_bucket))


def feature_frame(spark: Any, *, store: str | Path, as_of: str,  # noqa: ANN401
                  catalog: Catalog = CATALOG, buckets: int | None = None) -> Any:  # noqa: ANN401
    """The Spark frame of every household's features, profile and attributes (lazy)."""
    store_uri = uri(store)
    snapshots = feature_windows(as_of, store_snapshots(spark, store_uri))
    laid = laid_out(store_uri, buckets)
    if laid is not None:  # each task reads its own bucket of the store: no shuffle
        cat = spark.sparkContext.broadcast(catalog)

        def features_of(tables: dict[str, pd.DataFrame], bucket: int) -> pd.DataFrame | None:
            return (None if tables["households"].empty
                    else household_tables(tables, as_of, cat.value))
        body = by_bucket(Path(local_path(store_uri)), snapshots, laid, features_of)
        return bucket_ids(spark, laid).mapInPandas(body, schema=output_schema(catalog))
    n = buckets or choose_buckets(spark, store_uri, as_of)
    rows = read_tables(spark, store_uri, snapshots, buckets=n)
    body = bucket_features(snapshots, as_of, spark.sparkContext.broadcast(catalog))
    return rows.groupBy(BUCKET_COL).applyInPandas(body, schema=output_schema(catalog))


def build_features_spark(spark: Any, *, store: str | Path, as_of: str, out: str | Path,  # noqa: ANN401
                         catalog: Catalog = CATALOG, buckets: int | None = None) -> FeatureRun:
    """Build and write the household features of ``as_of`` with Spark (see the module docstring)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812

    target = join(uri(out), as_of)
    with pandas3_warning_filtered():
        frame = feature_frame(spark, store=store, as_of=as_of, catalog=catalog, buckets=buckets)
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        tmp = temporary_sibling(target)
        try:
            for name, prefix in PARTS.items():
                cols = [F.col(c).alias(c[len(prefix):]) for c in frame.columns if c.startswith(prefix)]
                frame.select("household_id", *cols).write.parquet(join(tmp, f"{name}.parquet"))
            schema = ", ".join(["n long", *[f"`{i}` long" for i in catalog.ids]])
            # collect(), not toPandas(): PySpark 4.3's Arrow toPandas uses a keyword pandas 3 deprecates
            rows = frame.mapInPandas(deprived_counts(spark.sparkContext.broadcast(catalog)),
                                     schema=schema).collect()
            counts = {k: sum(int(r[k]) for r in rows) for k in ["n", *catalog.ids]}
            households = int(counts["n"])
            run = FeatureRun(as_of=as_of, households=households, indicators=len(catalog),
                             catalog_version=catalog.version, folder=target,
                             deprived_share={i: round(float(counts[i]) / max(households, 1), 6)
                                             for i in catalog.ids})
            meta = {**run.to_dict(), "catalog": catalog.name, "indicator_ids": catalog.ids,
                    "engine": "spark", "layout": "parquet datasets with a household_id column"}
            write_text(spark, join(tmp, "meta.json"), json.dumps(meta, indent=2, sort_keys=True))
            replace_folder(spark, tmp, target)
        finally:
            delete(spark, tmp)
            frame.unpersist()
    return run


def load_spark_features(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read a Spark engine's month folder (local) as the pandas engine's frames: features,
    profile and attributes indexed by sorted ``household_id``."""
    def read(name: str) -> pd.DataFrame:
        df = pd.read_parquet(Path(folder) / f"{name}.parquet")
        return df.set_index("household_id").sort_index()
    return read("features"), read("profile"), read("attributes")
