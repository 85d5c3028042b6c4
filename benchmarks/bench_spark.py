"""Benchmark: features (and scoring) of one month, pandas engine vs Spark ``local[2]``.

Each engine runs in a forked child process; the parent samples the resident memory of the
child's whole process tree (for Spark: the Python driver, the JVM and the Python workers)
from ``/proc`` every 0.2 s and reports the peak of the sum. The Spark run's per-bucket cost
(busy core-seconds per bucket of households) gives an estimate for a city of 10M households.
``--score`` also measures the monthly scoring with a need model trained on a small simulated
district (the model's quality is not what is measured).

    ASSIST_ENV=dev .venv/bin/python benchmarks/bench_spark.py --store DIR [--as-of 2026-10]
        [--buckets N] [--cores 2] [--skip-pandas] [--score [--skip-features]]

``--store`` is an ingested store (e.g. the 1M-household one `bench_ingest.py --keep` leaves).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from _measure import measure

CITY = 10_000_000


def measure_tree(stage: str, fn) -> dict:  # noqa: ANN001
    """Wall time, peak RSS of the stage's whole process tree and of its largest Python worker,
    and the stage's result (see :func:`_measure.measure`)."""
    m = measure(stage, fn, tree=True)
    return {"stage": stage, "seconds": m.seconds, "peak_mib": m.peak_mib,
            "worker_mib": m.worker_mib, **m.result}


def _pandas(store: Path, as_of: str, out: Path) -> dict:
    from assist.pipelines.featurize import build_features

    run = build_features(store=store, as_of=as_of, out=out)
    return {"households": run.households}


def _spark(store: Path, as_of: str, out: Path, buckets: int | None, cores: int) -> dict:
    from assist.pipelines.spark.features import build_features_spark, choose_buckets
    from assist.pipelines.spark.session import session

    t0 = time.perf_counter()
    with session(f"local[{cores}]", app_name="bench-spark",
                 conf={"spark.driver.memory": "6g",
                       "spark.sql.shuffle.partitions": str(max(2 * cores, 8))}) as spark:
        started = time.perf_counter() - t0
        n = buckets or choose_buckets(spark, str(store), as_of)
        t1 = time.perf_counter()
        run = build_features_spark(spark, store=store, as_of=as_of, out=out, buckets=n)
        work = time.perf_counter() - t1
    return {"households": run.households, "buckets": n, "session_s": started, "work_s": work}


def _small_model(root: Path) -> Path:
    """A need model trained on a small simulated district (scoring needs one; its quality is
    not what is measured)."""
    from assist.features import build
    from assist.ingest.run import ingest
    from assist.models.need import NeedModel
    from assist.pipelines.dataset import TRUTH_FILE, true_need
    from assist.pipelines.featurize import load_for_features
    from assist.settings import DEV_PSEUDONYM_KEY
    from assist.simulate import simulate

    simulate(households=3000, months=3, seed=11, out=root / "source", truth_out=root / "truth")
    ingest(source=root / "source", out=root / "store", key=DEV_PSEUDONYM_KEY)
    X = build(load_for_features(root / "store", "2026-09"), "2026-09")  # noqa: N806
    y = true_need(root / "truth" / TRUTH_FILE, key=DEV_PSEUDONYM_KEY,
                  month="2026-09").reindex(X.index).fillna(0.0)
    model = NeedModel(n_estimators=100).fit(X, y, X_cal=X, y_cal=y)
    return model.save(root / "need_model.json")


def _scoring(engine: str, store: Path, as_of: str, out: Path, model_path: Path,
             buckets: int | None, cores: int) -> dict:
    from assist.features import CATALOG
    from assist.models.need import NeedModel
    from assist.pipelines.score import config_digest, load_scoring_config, run_scoring

    cfg = load_scoring_config(Path(__file__).resolve().parents[1] / "experiments" / "scoring.yaml")
    model = NeedModel.load(model_path, expected_features=CATALOG.ids,
                           expected_catalog_version=CATALOG.version)
    kw = dict(store=store, as_of=as_of, out=out, model=model, model_version="bench",
              config=cfg, config_hash=config_digest(cfg))
    if engine == "pandas":
        run = run_scoring(**kw)
        return {"households": run.summary["households_scored"]}
    from assist.pipelines.spark.features import choose_buckets
    from assist.pipelines.spark.score import run_scoring_spark
    from assist.pipelines.spark.session import session

    t0 = time.perf_counter()
    with session(f"local[{cores}]", app_name="bench-spark-score",
                 conf={"spark.driver.memory": "6g",
                       "spark.sql.shuffle.partitions": str(max(2 * cores, 8))}) as spark:
        started = time.perf_counter() - t0
        n = buckets or choose_buckets(spark, str(store), as_of)
        t1 = time.perf_counter()
        run = run_scoring_spark(spark, buckets=n, **kw)
        work = time.perf_counter() - t1
    return {"households": run.summary["households_scored"], "buckets": n, "session_s": started,
            "work_s": work, "timings": run.summary["timings_s"]}


def _report(rows: list[dict], cores: int) -> None:
    for r in rows:
        print(f"{r['stage']:<28} {r['households']:>10,} households {r['seconds']:>9.1f} s wall "
              f"{r['peak_mib']:>9,.0f} MiB peak (process tree) "
              f"{r['households'] / r['seconds']:>9,.0f} households/s")
    sp = rows[-1]
    print(f"spark: largest Python worker {sp['worker_mib']:,.0f} MiB (one bucket of "
          f"~{sp['households'] / sp['buckets']:,.0f} households)")
    if len(rows) == 2:
        print(f"spark / pandas: wall x{sp['seconds'] / rows[0]['seconds']:.2f}, "
              f"peak memory x{sp['peak_mib'] / rows[0]['peak_mib']:.2f}")
    if "timings" in sp:
        print(f"spark scoring stages (s): {sp['timings']}")
    per_bucket = sp["work_s"] * cores / sp["buckets"]
    per_household = per_bucket * sp["buckets"] / sp["households"]
    city_buckets = math.ceil(CITY / (sp["households"] / sp["buckets"]))
    print(f"spark: session start {sp['session_s']:.1f} s; {sp['buckets']} buckets of "
          f"~{sp['households'] / sp['buckets']:,.0f} households; measured per-bucket cost "
          f"{per_bucket:.1f} core-s ({per_household * 1e6:.0f} core-us per household)")
    for c in (cores, 16, 64, 200):
        est = city_buckets * per_bucket / c + sp["session_s"]
        print(f"estimate for {CITY:,} households ({city_buckets} buckets) on {c:>3} "
              f"executor cores: {est / 60:6.1f} min (linear in buckets / cores)")


def main() -> None:
    """Run both engines on the store and print wall, peak memory and the 10M estimate."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--as-of", default="2026-10")
    ap.add_argument("--buckets", type=int, default=None)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument("--score", action="store_true", help="also the monthly scoring")
    ap.add_argument("--skip-features", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        load = os.getloadavg()
        print(f"store {args.store}, as of {args.as_of}; load average {load[0]:.1f} "
              f"on {os.cpu_count()} cores")
        rows = []
        if not args.skip_pandas and not args.skip_features:
            rows.append(measure_tree("pandas features", lambda: _pandas(args.store, args.as_of,
                                                                      tmp / "pandas")))
        if not args.skip_features:
            rows.append(measure_tree(f"spark local[{args.cores}] features",
                                     lambda: _spark(args.store, args.as_of, tmp / "spark",
                                                    args.buckets, args.cores)))
            _report(rows, args.cores)
        if args.score:
            # trained in a child: the parent must not fork after LightGBM started its threads
            model_path = Path(measure_tree("train a small need model", lambda: {
                "path": str(_small_model(tmp / "small")), "households": 3000})["path"])
            rows = []
            if not args.skip_pandas:
                rows.append(measure_tree("pandas scoring", lambda: _scoring(
                    "pandas", args.store, args.as_of, tmp / "scores_pandas", model_path,
                    args.buckets, args.cores)))
            rows.append(measure_tree(f"spark local[{args.cores}] scoring", lambda: _scoring(
                "spark", args.store, args.as_of, tmp / "scores_spark", model_path, args.buckets,
                args.cores)))
            _report(rows, args.cores)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
