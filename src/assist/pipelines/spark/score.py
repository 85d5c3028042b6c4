"""``assist score --engine spark``: the monthly scoring snapshot with per-household work on Spark.

Per bucket of households (``applyInPandas``; ``cogroup`` with last month's snapshot when there
is one), the pandas engine's own per-household stage,
:func:`~assist.pipelines.score.household_stage`: features, attributes, raw score, calibration,
band and deprivation index, programme matching and early warning against last month (scored
afresh by :func:`~assist.pipelines.score.previous_from_tables` when it has no snapshot). The
need model and the scoring config travel to the executors as broadcast variables.

On the driver, over the collected small columns, the global work with the same functions:
:func:`~assist.pipelines.score.add_ranks` (ties by household id), the MILP
:func:`~assist.models.allocation.allocate`, then — on the executors again, for the listed
households only — :func:`~assist.pipelines.score.explain_columns`, and the referral lists and
summary. The snapshot folder has the pandas engine's files; ``scores.parquet`` is a Parquet
dataset with a ``household_id`` column. It replaces the previous folder only once complete.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from assist.features import CATALOG
from assist.models import matching
from assist.models.allocation import allocate
from assist.models.need import NeedModel
from assist.models.warning import FLAGS, counts
from assist.pipelines.featurize import tables_as_of
from assist.pipelines.score import (CURRENT_FILE, SUMMARY_FILE, ScoreRun, ScoringConfig,
                                    _referrals, add_ranks, explain_columns, household_stage,
                                    previous_from_tables, previous_month, summarise)
from assist.pipelines.spark import pandas3_warning_filtered
from assist.pipelines.spark.features import choose_buckets
from assist.pipelines.spark.storeio import (BUCKET_COL, bucket_tables, delete, exists,
                                            feature_windows, join, read_tables, replace_folder,
                                            store_snapshots, temporary_sibling, uri, write_text)
from assist.pipelines.store import MANIFEST_FILE, file_sha256

RANKS = ("rank_district", "rank_street", "rank_community")
SCORE_TYPES = {"street_code": "string", "community_code": "string", "raw_score": "double",
               "probability": "double", "band": "string", "deprivation_score": "double",
               "deprivation_poor": "boolean", "referable_programmes": "long"}
FLAG_TYPES = {**dict.fromkeys(FLAGS, "boolean"), "warning": "boolean", "flags": "string",
              "changes_en": "string", "changes_zh": "string", "probability_change": "double",
              "previous_band": "string"}
#: per programme code: eligible, receiving, referable (bool) and the rule that matched (string)
MATCH_PARTS = {"e__": ("eligible", "boolean"), "c__": ("receiving", "boolean"),
               "r__": ("referable", "boolean"), "u__": ("rule", "string")}
PREVIOUS_COLUMNS = ("probability", "band", "deprivation_score", "deprivation_poor")


def stage_schema(codes: list[str], *, with_flags: bool) -> dict[str, str]:
    """Columns and Spark types of the per-household stage's output."""
    cols = {"household_id": "string", **{f"f__{i}": "double" for i in CATALOG.ids},
            **{f"s__{c}": t for c, t in SCORE_TYPES.items()}}
    for prefix, (_, kind) in MATCH_PARTS.items():
        cols.update({f"{prefix}{c}": kind for c in codes})
    if with_flags:
        cols.update({f"w__{c}": t for c, t in FLAG_TYPES.items()})
    return cols


def _ddl(cols: dict[str, str]) -> str:
    return ", ".join(f"`{c}` {t}" for c, t in cols.items())


def bucket_frame(both: dict[str, pd.DataFrame], as_of: str, *, model: NeedModel,
                 config: ScoringConfig, previous: pd.DataFrame | None,
                 previous_from_store: bool) -> pd.DataFrame:
    """One bucket's per-household stage (:func:`assist.pipelines.score.household_stage`, the
    pandas engine's own) as one flat frame; ``both``: its tables over this and last month."""
    if previous_from_store:  # no snapshot of last month: scored afresh, as the pandas engine
        previous = previous_from_tables(tables=both, as_of=as_of, model=model, config=config)
    stage = household_stage(tables=tables_as_of(both, as_of), as_of=as_of, model=model,
                            config=config, previous=previous)
    parts = [stage.values.add_prefix("f__"), stage.scores[list(SCORE_TYPES)].add_prefix("s__")]
    for prefix, (attr, _) in MATCH_PARTS.items():
        parts.append(getattr(stage.match, attr).add_prefix(prefix))
    if stage.flags is not None:
        parts.append(stage.flags[list(FLAG_TYPES)].add_prefix("w__"))
    out = pd.concat(parts, axis=1)
    out.index.name = "household_id"
    return out.reset_index()


def bucket_scores(snapshots: dict[str, list[str]], as_of: str, model: Any,  # noqa: ANN401
                  config: ScoringConfig, columns: list[str], mode: str) -> Callable:
    """The applyInPandas / cogroup body (``mode``: ``snapshot``, ``tables`` or ``none``:
    where last month comes from); ``model`` is a broadcast :class:`NeedModel`."""

    def run(rows: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
        both = bucket_tables(rows, snapshots)
        if tables_as_of(both, as_of)["households"].empty:
            return pd.DataFrame(columns=columns)
        prev = previous.set_index("household_id") if mode == "snapshot" else None
        return bucket_frame(both, as_of, model=model.value, config=config, previous=prev,
                            previous_from_store=mode == "tables")[columns]

    if mode == "snapshot":
        def scores_of_bucket_with_snapshot(rows: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
            return run(rows, previous)
        return scores_of_bucket_with_snapshot

    def scores_of_bucket(rows: pd.DataFrame) -> pd.DataFrame:
        return run(rows, None)
    return scores_of_bucket


def explainer(model: Any, top: int) -> Callable:  # noqa: ANN401
    """The mapInPandas body explaining the listed households of each batch."""

    def explain_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in batches:
            values = part.set_index("household_id")[[f"f__{i}" for i in CATALOG.ids]]
            values.columns = CATALOG.ids
            prob = part.set_index("household_id")["s__probability"]
            ex = explain_columns(model=model.value, values=values, probability=prob, top=top)
            yield ex.reset_index()

    return explain_batches


def _collect(frame: Any) -> pd.DataFrame:  # noqa: ANN401
    """A (small) Spark frame as pandas via Arrow, indexed by household id.

    ``toArrow``, not ``toPandas``: PySpark 4.3's toPandas passes a keyword pandas 3 deprecates.
    """
    df = frame.toArrow().to_pandas()
    return df.set_index("household_id").sort_index()


def _strip(df: pd.DataFrame, prefix: str) -> pd.DataFrame:
    cols = [c for c in df.columns if c.startswith(prefix)]
    return df[cols].rename(columns=lambda c: c[len(prefix):])


def run_scoring_spark(spark: Any, *, store: str | Path, as_of: str, out: str | Path,  # noqa: ANN401, C901
                      model: NeedModel, model_version: str, config: ScoringConfig,
                      config_hash: str, truth_dir: Path | None = None, key: str | None = None,
                      buckets: int | None = None) -> ScoreRun:
    """Score ``as_of`` on Spark and write its snapshot (see the module docstring)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812

    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    store_uri, out_uri = uri(store), uri(out)
    held = store_snapshots(spark, store_uri)
    prev = previous_month(as_of)
    prev_path = join(out_uri, prev, "scores.parquet")
    if exists(spark, prev_path):
        mode, previous_source = "snapshot", f"snapshot {join(out_uri, prev)}"
    elif prev in held:
        mode, previous_source = "tables", f"scored afresh from the store's {prev} with the same model"
    else:
        mode, previous_source = "none", f"no month {prev} in the store or the scores: no early warning"
    now = feature_windows(as_of, held)
    snapshots = dict(now)
    if mode == "tables":
        earlier = feature_windows(prev, held)
        snapshots = {t: sorted(set(now[t]) | set(earlier[t])) for t in now}
    table = config.rule_table()
    columns = stage_schema(table.codes, with_flags=mode != "none")
    sc = spark.sparkContext
    with pandas3_warning_filtered():
        n = buckets or choose_buckets(spark, store_uri, as_of)
        rows = read_tables(spark, store_uri, snapshots, buckets=n)
        body = bucket_scores(snapshots, as_of, sc.broadcast(model), config, list(columns), mode)
        if mode == "snapshot":
            last = spark.read.parquet(prev_path)
            keep = [c for c in ["household_id", *CATALOG.ids, *PREVIOUS_COLUMNS] if c in last.columns]
            last = last.select(*keep).withColumn(
                BUCKET_COL, F.pmod(F.xxhash64("household_id"), F.lit(n)))
            stage = rows.groupBy(BUCKET_COL).cogroup(last.groupBy(BUCKET_COL)).applyInPandas(
                body, schema=_ddl(columns))
        else:
            stage = rows.groupBy(BUCKET_COL).applyInPandas(body, schema=_ddl(columns))
        stage = stage.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            small = ["household_id", *[f"s__{c}" for c in SCORE_TYPES],
                     *[c for c in columns if c[:3] in ("e__", "c__", "r__")],
                     *[f"w__{f}" for f in (*FLAGS, "warning") if mode != "none"]]
            collected = _collect(stage.select(*small))
            lap("households")
            scores = add_ranks(_strip(collected, "s__"))
            eligible, receiving, referable = (_strip(collected, p) for p in ("e__", "c__", "r__"))
            lap("scores")
            capacities = config.capacities()
            alloc = allocate(probability=scores["probability"], street=scores["street_code"],
                             referable=referable, capacities=capacities,
                             time_limit=config.allocation.time_limit_s)
            lap("allocation")
            chosen = alloc.visit.index[alloc.visit.to_numpy()]
            flag_bools = _strip(collected, "w__") if mode != "none" else None
            flagged = (flag_bools.index[flag_bools["warning"].to_numpy(dtype=bool)]
                       if flag_bools is not None else pd.Index([]))
            listed = alloc.visit.index.union(flagged)
            ids = spark.createDataFrame([(h,) for h in listed], "household_id string")
            detail = stage.join(F.broadcast(ids), "household_id")
            explained = detail.select("household_id", *[f"f__{i}" for i in CATALOG.ids],
                                      "s__probability").mapInPandas(
                explainer(sc.broadcast(model), config.explain_top),
                schema="household_id string, primary_cause string, secondary_cause string, "
                       "top_factors_en string, top_factors_zh string")
            expl = _collect(explained).reindex(listed).astype("string")
            listed_rows = _collect(detail.select(
                "household_id", *[c for c in columns if c.startswith(("u__", "w__"))])).reindex(listed)
            lap("explanations")
            scores["candidate"] = scores.index.isin(alloc.visit.index)
            scores["allocated"] = scores.index.isin(chosen)
            scores["warning"] = (flag_bools["warning"].astype(bool) if flag_bools is not None
                                 else False)
            rule = _strip(listed_rows, "u__").reindex(columns=table.codes).fillna("")
            m = matching.Match(table=table, eligible=eligible.astype(bool), rule=rule,
                               receiving=receiving.astype(bool), referable=referable.astype(bool))
            flags = _strip(listed_rows, "w__") if mode != "none" else None
            listed_scores = scores.loc[listed].join(expl)
            referrals = _referrals(scores=listed_scores, listed=listed, match=m, alloc=alloc,
                                   flags=flags)
            summary = summarise(
                as_of=as_of, model_version=model_version, config=config,
                config_hash=config_hash, data_snapshot={
                    "store": store_uri, "manifest_sha256": _manifest_sha256(spark, store_uri),
                    "as_of": as_of},
                scores=scores, match=m, alloc=alloc, referrals=referrals,
                flag_counts=counts(flag_bools.astype(bool)) if flag_bools is not None else None,
                previous_source=previous_source, truth_dir=truth_dir, key=key, timings=timings)
            summary.update({"engine": "spark", "buckets": n})
            folder = join(out_uri, as_of)
            tmp = temporary_sibling(folder)
            try:
                _write_scores(spark, stage, scores, expl, join(tmp, "scores.parquet"))
                _write_referrals(spark, referrals, tmp)
                lap("write")
                summary["seconds"] = round(time.perf_counter() - t0, 3)
                write_text(spark, join(tmp, SUMMARY_FILE),
                           json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False,
                                      allow_nan=False) + "\n")
                replace_folder(spark, tmp, folder)
            finally:
                delete(spark, tmp)
            write_text(spark, join(out_uri, CURRENT_FILE), json.dumps(
                {"as_of": as_of, "folder": folder, "model_version": model_version,
                 "config_hash": config_hash}, indent=2, sort_keys=True) + "\n")
        finally:
            stage.unpersist()
    return ScoreRun(folder=Path(folder) if "://" not in folder else folder, summary=summary)


def _write_scores(spark: Any, stage: Any, scores: pd.DataFrame, expl: pd.DataFrame,  # noqa: ANN401
                  target: str) -> None:
    """Every household's scores, ranks, allocation, explanation and indicators (the pandas
    engine's ``scores.parquet`` columns, in its order, plus ``household_id``)."""
    import pyarrow as pa
    from pyspark.sql import functions as F  # noqa: N812

    glob = scores[[*RANKS, "candidate", "allocated", "warning"]].join(expl)
    glob = pa.Table.from_pandas(glob.reset_index(), preserve_index=False)
    joined = stage.join(spark.createDataFrame(glob), "household_id", "left")
    cols = [F.col("household_id")]
    cols += [F.col(f"s__{c}").alias(c) for c in list(SCORE_TYPES)[:-1]]
    cols += [F.col(c) for c in RANKS] + [F.col("s__referable_programmes").alias("referable_programmes")]
    cols += [F.col(c) for c in ("candidate", "allocated", "warning", *expl.columns)]
    cols += [F.col(f"f__{i}").alias(i) for i in CATALOG.ids]
    joined.select(*cols).write.parquet(target)


def _write_referrals(spark: Any, referrals: pd.DataFrame, tmp: str) -> None:  # noqa: ANN401
    """Referral lists: one file and one per street (CSV and Parquet), as the pandas engine."""
    if "://" in tmp and not tmp.startswith("file:"):  # a cluster file system: Spark writes
        import pyarrow as pa

        frame = spark.createDataFrame(pa.Table.from_pandas(referrals.reset_index(),
                                                           preserve_index=False))
        frame.write.parquet(join(tmp, "referrals.parquet"))
        frame.write.partitionBy("street_code").parquet(join(tmp, "referrals"))
        return
    base = Path(tmp.removeprefix("file:"))
    referrals.to_parquet(base / "referrals.parquet")
    (base / "referrals").mkdir()
    for street, part in referrals.groupby("street_code", sort=True):
        part.to_parquet(base / "referrals" / f"{street}.parquet")
        part.to_csv(base / "referrals" / f"{street}.csv", encoding="utf-8")


def _manifest_sha256(spark: Any, store: str) -> str:  # noqa: ANN401
    """SHA-256 of the store's manifest (the data snapshot scored)."""
    location = join(store, MANIFEST_FILE)
    if "://" not in store:
        return file_sha256(Path(location))
    content = spark.read.format("binaryFile").load(location).first()["content"]
    return hashlib.sha256(bytes(content)).hexdigest()
