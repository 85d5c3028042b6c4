"""``assist score --engine spark``: the monthly scoring snapshot with per-household work on Spark.

Per bucket of households (``applyInPandas``; ``cogroup`` with last month's snapshot when there
is one), the pandas engine's own per-household stage,
:func:`~assist.pipelines.score.household_stage`: features, attributes, raw score, calibration,
band and deprivation index, programme matching and early warning against last month (scored
afresh by :func:`~assist.pipelines.previous.previous_from_tables` when it has no snapshot). The
need model and the scoring config travel to the executors as broadcast variables.

On the driver, over the collected small columns, the global work with the same functions:
:func:`~assist.pipelines.score.add_ranks` (ties by household id), the MILP
:func:`~assist.models.allocation.allocate`, then — on the executors again, for the listed
households only — :func:`~assist.pipelines.score.explain_columns`, and the referral lists and
summary. The snapshot has the pandas engine's format (:mod:`assist.storage.snapshot`: file
names, list columns, summary and pointer texts); ``scores.parquet`` is a Parquet dataset with a
``household_id`` column. It replaces the previous folder only once complete.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from assist.features import CATALOG
from assist.models import matching
from assist.models.need import NeedModel
from assist.models.warning import FLAGS, counts
from assist.pipelines import previous as last_month
from assist.pipelines.featurize import tables_as_of
from assist.pipelines.previous import previous_from_tables, previous_month
from assist.pipelines.score import (
    CARRY_COLUMNS,
    ScoreRun,
    ScoringConfig,
    _referrals,
    add_ranks,
    allocate_carried,
    calibration_summary,
    carry_columns,
    explain_columns,
    household_stage,
    read_carried_decisions,
    summarise,
)
from assist.pipelines.spark import pandas3_warning_filtered
from assist.pipelines.spark.features import choose_buckets
from assist.pipelines.spark.layout import bucket_ids, by_bucket, laid_out, previous_by_bucket, previous_of
from assist.pipelines.spark.storeio import (
    BUCKET_COL,
    bucket_tables,
    exists,
    feature_windows,
    join,
    local_path,
    read_tables,
    replacing_folder,
    store_snapshots,
    uri,
    write_text,
)
from assist.storage import snapshot
from assist.storage.store import MANIFEST_FILE, file_sha256

RANKS = ("rank_district", "rank_street", "rank_community")
SCORE_TYPES = {"street_code": "string", "community_code": "string", "raw_score": "double",
               "probability": "double", "band": "string", "deprivation_score": "double",
               "deprivation_poor": "boolean", "head_sex": "string", "head_age_band": "string",
               "head_hukou": "string", "has_disability": "string", "referable_programmes": "long"}
FLAG_TYPES = {**dict.fromkeys(FLAGS, "boolean"), "warning": "boolean", "flags": "string",
              "changes_en": "string", "changes_zh": "string", "probability_change": "double",
              "previous_band": "string"}
#: per programme code: eligible, receiving, referable (bool) and the rule that matched (string)
MATCH_PARTS = {"e__": ("eligible", "boolean"), "c__": ("receiving", "boolean"),
               "r__": ("referable", "boolean"), "u__": ("rule", "string")}
PREVIOUS_COLUMNS = ("probability", "band", "deprivation_score", "deprivation_poor")
CAUSE_COLUMNS = ("primary_cause", "secondary_cause")
#: the explanation columns (top factors are lists, as in the snapshot)
EXPLAIN_DDL = ("household_id string, primary_cause string, secondary_cause string, "
               "top_factors_en array<string>, top_factors_zh array<string>")


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
                  config: ScoringConfig, columns: list[str], mode: str, *, laid: bool = False,
                  previous_path: Path | None = None) -> Callable:
    """The applyInPandas / cogroup body (``mode``: ``snapshot``, ``tables`` or ``none``:
    where last month comes from); ``model`` is a broadcast :class:`NeedModel`. ``laid``: the
    per-bucket work of :func:`assist.pipelines.spark.layout.by_bucket` instead, last month's
    snapshot read from ``previous_path`` (:func:`~assist.pipelines.spark.layout.previous_by_bucket`)."""

    def run(rows: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
        prev = previous.set_index("household_id") if mode == "snapshot" else None
        return scored(bucket_tables(rows, snapshots), prev)

    def scored(both: dict[str, pd.DataFrame], prev: pd.DataFrame | None) -> pd.DataFrame:
        if tables_as_of(both, as_of)["households"].empty:
            return pd.DataFrame(columns=columns)
        return bucket_frame(both, as_of, model=model.value, config=config, previous=prev,
                            previous_from_store=mode == "tables")[columns]

    if previous_path is not None or laid:  # tasks read their own bucket: no shuffle
        def scores_of_laid_out_bucket(both: dict[str, pd.DataFrame], bucket: int) -> pd.DataFrame:
            return scored(both, previous_of(previous_path, bucket) if previous_path else None)
        return scores_of_laid_out_bucket

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


@dataclass(frozen=True)
class _Plan:
    """Where last month comes from and which snapshots of the store to read."""

    mode: str  # snapshot | tables | none (see assist.pipelines.previous.source)
    previous_source: str
    previous_scores: str
    snapshots: dict[str, list[str]]


def _plan(spark: Any, store_uri: str, out_uri: str, as_of: str) -> _Plan:  # noqa: ANN401
    held = store_snapshots(spark, store_uri)
    prev = previous_month(as_of)
    prev_path = join(out_uri, prev, snapshot.SCORES_FILE)
    mode = last_month.source(has_snapshot=exists(spark, prev_path), in_store=prev in held)
    now = feature_windows(as_of, held)
    snapshots = dict(now)
    if mode == "tables":
        earlier = feature_windows(prev, held)
        snapshots = {t: sorted(set(now[t]) | set(earlier[t])) for t in now}
    return _Plan(mode, last_month.describe(mode, month=prev, folder=join(out_uri, prev)),
                 prev_path, snapshots)


def _stage(spark: Any, plan: _Plan, *, store_uri: str, as_of: str, model: NeedModel,  # noqa: ANN401
           config: ScoringConfig, columns: dict[str, str], n: int,
           scratch: Path) -> Any:  # noqa: ANN401
    """The per-household stage of every bucket (a persisted Spark frame of ``columns``;
    ``scratch``: a folder for last month's scores by bucket, kept while the stage is)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812

    last = spark.read.parquet(plan.previous_scores) if plan.mode == "snapshot" else None
    if last is not None:
        last = last.select(*[c for c in ["household_id", *CATALOG.ids, *PREVIOUS_COLUMNS]
                             if c in last.columns])
    laid = laid_out(store_uri, n)
    if laid is not None:  # each task reads its own bucket of the store: no shuffle
        previous = None if last is None else previous_by_bucket(
            last.toArrow().to_pandas(), laid, scratch / "previous.parquet")
        body = bucket_scores(plan.snapshots, as_of, spark.sparkContext.broadcast(model), config,
                             list(columns), plan.mode, laid=True, previous_path=previous)
        stage = bucket_ids(spark, laid).mapInPandas(
            by_bucket(Path(local_path(store_uri)), plan.snapshots, laid, body),
            schema=_ddl(columns))
        return stage.persist(StorageLevel.MEMORY_AND_DISK)
    rows = read_tables(spark, store_uri, plan.snapshots, buckets=n)
    body = bucket_scores(plan.snapshots, as_of, spark.sparkContext.broadcast(model), config,
                         list(columns), plan.mode)
    if last is not None:
        last = last.withColumn(BUCKET_COL, F.pmod(F.xxhash64("household_id"), F.lit(n)))
        stage = rows.groupBy(BUCKET_COL).cogroup(last.groupBy(BUCKET_COL)).applyInPandas(
            body, schema=_ddl(columns))
    else:
        stage = rows.groupBy(BUCKET_COL).applyInPandas(body, schema=_ddl(columns))
    return stage.persist(StorageLevel.MEMORY_AND_DISK)


@dataclass(frozen=True)
class _Month:
    """The month's global results on the driver (small columns only)."""

    scores: pd.DataFrame
    match: matching.Match
    alloc: Any
    flags: pd.DataFrame | None  # the listed households' flag columns
    flag_bools: pd.DataFrame | None  # every household's flag booleans
    listed: pd.Index
    expl: pd.DataFrame
    carry: pd.DataFrame  # every household's carried-forward columns
    carry_summary: dict[str, Any]


def _month(spark: Any, stage: Any, *, columns: dict[str, str], mode: str, model: NeedModel,  # noqa: ANN401
           config: ScoringConfig, lap: Callable[[str], None], as_of: str,
           decisions: tuple[pd.DataFrame, str]) -> _Month:
    """Ranks and, with decisions carried forward, allocation over the collected small columns;
    explanations, rules and flags of the listed households (on the executors)."""
    from pyspark.sql import functions as F  # noqa: N812

    small = ["household_id", *[f"s__{c}" for c in SCORE_TYPES],
             *[c for c in columns if c[:3] in ("e__", "c__", "r__")],
             *[f"w__{f}" for f in (*FLAGS, "warning", "previous_band") if mode != "none"]]
    collected = _collect(stage.select(*small))
    lap("households")
    scores = add_ranks(_strip(collected, "s__"))
    eligible, receiving, referable = (_strip(collected, p) for p in ("e__", "c__", "r__"))
    lap("scores")
    flag_bools = (_strip(collected, "w__").drop(columns="previous_band").astype(bool)
                  if mode != "none" else None)
    table = config.rule_table()
    first = matching.Match(table=table, eligible=eligible.astype(bool),
                           rule=pd.DataFrame("", index=scores.index, columns=table.codes),
                           receiving=receiving.astype(bool), referable=referable.astype(bool))
    change = (flag_bools[["warning"]].assign(previous_band=collected["w__previous_band"])
              if flag_bools is not None else None)
    carried = allocate_carried(scores=scores, match=first, flags=change, decisions=decisions[0],
                               as_of=as_of, config=config, source=decisions[1])
    alloc = carried.alloc
    lap("allocation")
    listed = carried.listing(flag_bools)
    ids = spark.createDataFrame([(h,) for h in listed], "household_id string")
    detail = stage.join(F.broadcast(ids), "household_id")
    explained = detail.select("household_id", *[f"f__{i}" for i in CATALOG.ids],
                              "s__probability").mapInPandas(
        explainer(spark.sparkContext.broadcast(model), config.explain_top), schema=EXPLAIN_DDL)
    expl = _collect(explained).reindex(listed)
    expl[list(CAUSE_COLUMNS)] = expl[list(CAUSE_COLUMNS)].astype("string")
    listed_rows = _collect(detail.select(
        "household_id", *[c for c in columns if c.startswith(("u__", "w__"))])).reindex(listed)
    lap("explanations")
    rule = _strip(listed_rows, "u__").reindex(columns=table.codes).fillna("")
    m = matching.Match(table=table, eligible=eligible.astype(bool), rule=rule,
                       receiving=receiving.astype(bool), referable=carried.match.referable)
    return _Month(scores=scores, match=m, alloc=alloc, listed=listed, expl=expl,
                  flags=_strip(listed_rows, "w__") if mode != "none" else None,
                  flag_bools=flag_bools, carry=carry_columns(carried),
                  carry_summary=carried.summary)


def run_scoring_spark(spark: Any, *, store: str | Path, as_of: str, out: str | Path,  # noqa: ANN401
                      model: NeedModel, model_version: str, config: ScoringConfig,
                      config_hash: str, truth_dir: Path | None = None, key: str | None = None,
                      buckets: int | None = None, decisions: Path | None = None) -> ScoreRun:
    """Score ``as_of`` on Spark and write its snapshot (see the module docstring);
    ``decisions``: the case store's decisions snapshot carried forward (none: no decisions)."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    store_uri, out_uri = uri(store), uri(out)
    plan = _plan(spark, store_uri, out_uri, as_of)
    columns = stage_schema(config.rule_table().codes, with_flags=plan.mode != "none")
    with pandas3_warning_filtered(), tempfile.TemporaryDirectory(prefix="assist-spark-") as tmp:
        n = laid_out(store_uri, buckets) or buckets or choose_buckets(spark, store_uri, as_of)
        stage = _stage(spark, plan, store_uri=store_uri, as_of=as_of, model=model,
                       config=config, columns=columns, n=n, scratch=Path(tmp))
        try:
            mo = _month(spark, stage, columns=columns, mode=plan.mode, model=model,
                        config=config, lap=lap, as_of=as_of,
                        decisions=read_carried_decisions(decisions))
            scores = mo.scores
            scores["candidate"] = scores.index.isin(mo.alloc.visit.index)
            scores["allocated"] = scores.index.isin(mo.alloc.visit.index[mo.alloc.visit.to_numpy()])
            scores["warning"] = mo.flag_bools["warning"] if mo.flag_bools is not None else False
            scores = scores.join(mo.carry)
            referrals = _referrals(scores=scores.loc[mo.listed].join(mo.expl), listed=mo.listed,
                                   match=mo.match, alloc=mo.alloc, flags=mo.flags)
            summary = summarise(
                as_of=as_of, model_version=model_version, config=config,
                config_hash=config_hash, data_snapshot={
                    "store": store_uri, "manifest_sha256": _manifest_sha256(spark, store_uri),
                    "as_of": as_of},
                scores=scores, match=mo.match, alloc=mo.alloc, referrals=referrals,
                flag_counts=counts(mo.flag_bools) if mo.flag_bools is not None else None,
                previous_source=plan.previous_source, truth_dir=truth_dir, key=key,
                timings=timings)
            summary.update({"carry_forward": mo.carry_summary, "engine": "spark", "buckets": n,
                            "calibration": calibration_summary(model)})
            folder = join(out_uri, as_of)
            with replacing_folder(spark, folder, marker=snapshot.SUMMARY_FILE) as tmp:
                _write_scores(spark, stage, scores, mo.expl, join(tmp, snapshot.SCORES_FILE))
                _write_referrals(spark, referrals, tmp)
                lap("write")
                summary["seconds"] = round(time.perf_counter() - t0, 3)
                write_text(spark, join(tmp, snapshot.SUMMARY_FILE), snapshot.summary_text(summary))
            write_text(spark, join(out_uri, snapshot.CURRENT_FILE), snapshot.pointer_text(
                as_of=as_of, folder=folder, model_version=model_version, config_hash=config_hash))
        finally:
            stage.unpersist()
    return ScoreRun(folder=Path(folder) if "://" not in folder else folder, summary=summary)


def _write_scores(spark: Any, stage: Any, scores: pd.DataFrame, expl: pd.DataFrame,  # noqa: ANN401
                  target: str) -> None:
    """Every household's scores, ranks, allocation, explanation and indicators (the pandas
    engine's ``scores.parquet`` columns, in its order, plus ``household_id``)."""
    from pyspark.sql import functions as F  # noqa: N812

    glob = scores[[*RANKS, "candidate", "allocated", "warning", *CARRY_COLUMNS]].join(expl)
    glob = snapshot.arrow_table(glob.reset_index(), preserve_index=False)
    joined = stage.join(spark.createDataFrame(glob), "household_id", "left")
    cols = [F.col("household_id")]
    cols += [F.col(f"s__{c}").alias(c) for c in list(SCORE_TYPES)[:-1]]
    cols += [F.col(c) for c in RANKS] + [F.col("s__referable_programmes").alias("referable_programmes")]
    cols += [F.col(c) for c in ("candidate", "allocated", "warning", *CARRY_COLUMNS,
                                *expl.columns)]
    cols += [F.col(f"f__{i}").alias(i) for i in CATALOG.ids]
    joined.select(*cols).write.parquet(target)


def _write_referrals(spark: Any, referrals: pd.DataFrame, tmp: str) -> None:  # noqa: ANN401
    """Referral lists: one file and one per street (CSV and Parquet), as the pandas engine."""
    base = local_path(tmp)
    if base is not None:
        snapshot.write_referrals(referrals, base)
        return
    # a cluster file system: Spark writes (no per-street CSV)
    frame = spark.createDataFrame(snapshot.arrow_table(referrals.reset_index(),
                                                       preserve_index=False))
    frame.write.parquet(join(tmp, snapshot.REFERRALS_FILE))
    frame.write.partitionBy("street_code").parquet(join(tmp, snapshot.REFERRALS_DIR))


def _manifest_sha256(spark: Any, store: str) -> str:  # noqa: ANN401
    """SHA-256 of the store's manifest (the data snapshot scored)."""
    location = join(store, MANIFEST_FILE)
    if "://" not in store:
        return file_sha256(Path(location))
    content = spark.read.format("binaryFile").load(location).first()["content"]
    return hashlib.sha256(bytes(content)).hexdigest()
