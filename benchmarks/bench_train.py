"""Benchmark: need-model training time on 1M households, labelled or not.

Each stage runs in a forked child (wall time and that child's peak memory):

- ``fit (n threads)``: ``NeedModel.fit`` on the labelled households (trees on 80 %,
  calibration on 20 %), with 1 LightGBM thread and with all cores;
- ``logistic baseline``: the logistic-regression pipeline on the same rows;
- ``score all``: calibrated probabilities and the deprivation index for every household;
- ``run_training``: the whole training run (stratified 5-fold, baselines, metrics, per-group
  metrics, TreeSHAP sample, refit; no MLflow) on a flat table of all households with a YAML
  catalog of the 22 indicators;
- ``run_training (store)``: with ``--store DIR``, the run on an ingested store, features
  built from the source tables (e.g. a district kept by ``bench_ingest.py --keep``);
- ``dataset, ...``: with ``--dataset-store DIR``, only the examples of every feature month
  (``store_dataset``), the store read once per month (span 1, the former way) and once per
  ``--span`` months; the ratio is per month / one read.

Households are synthetic: 22 indicators with missing values and a monotone signal in the
catalog's directions; ``--labelled`` is the share with a verified outcome.

    ASSIST_ENV=dev .venv/bin/python benchmarks/bench_train.py [households ...] \
        [--labelled 0.1] [--store DIR] [--dataset-store DIR [--span 12]]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from _measure import measure


def synthetic(n: int, labelled: float, seed: int = 0) -> pd.DataFrame:
    """n households x 22 indicators (NaN 10 %), a group column and a 0/1/NaN label."""
    from assist.features import CATALOG

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(CATALOG))).astype(float)
    direction = np.array(CATALOG.monotone_constraints, dtype=float)
    logit = -3.0 + x @ (direction * np.linspace(1.0, 0.1, len(CATALOG)))
    x[rng.random(x.shape) < 0.1] = np.nan
    df = pd.DataFrame(x, columns=CATALOG.ids)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    y[rng.random(n) >= labelled] = np.nan
    df["label"] = y
    df["street"] = rng.choice([f"S{i:02d}" for i in range(1, 14)], n)
    df.insert(0, "household_id", [f"H{i:07d}" for i in range(n)])
    return df


def _fit(df: pd.DataFrame, threads: int) -> dict:
    from assist.features import CATALOG
    from assist.models.need import NeedModel

    lab = df.loc[df["label"].notna()]
    cut = int(0.8 * len(lab))
    X, y = lab[CATALOG.ids], lab["label"].to_numpy()  # noqa: N806
    NeedModel(CATALOG, num_threads=threads, min_child_samples=20).fit(
        X.iloc[:cut], y[:cut], X_cal=X.iloc[cut:], y_cal=y[cut:])
    return {"rows": len(lab)}


def _logistic(df: pd.DataFrame) -> dict:
    from assist.features import CATALOG
    from assist.pipelines.baselines import fit_logistic

    lab = df.loc[df["label"].notna()]
    fit_logistic(lab[CATALOG.ids], lab["label"].to_numpy(), c=1.0)
    return {"rows": len(lab)}


def _score(df: pd.DataFrame) -> dict:
    from assist.features import CATALOG
    from assist.models.need import NeedModel
    from assist.pipelines.baselines import deprivation_score

    lab = df.loc[df["label"].notna()]
    model = NeedModel(CATALOG, num_threads=1, n_estimators=200).fit(
        lab[CATALOG.ids], lab["label"].to_numpy())
    X = df[CATALOG.ids]  # noqa: N806
    import time

    t0 = time.perf_counter()
    model.predict_proba(X)
    t1 = time.perf_counter()
    deprivation_score(X, CATALOG, k=1 / 3)
    return {"predict_s": t1 - t0, "deprivation_s": time.perf_counter() - t1}


def _catalog_yaml(path: Path) -> Path:
    from assist.features import CATALOG

    path.write_text(yaml.safe_dump({"name": "bench", "version": "1", "indicators": [
        {"id": i.id, "column": i.id, "dimension": i.dimension, "direction": i.direction,
         "cutoff": 0.0, "weight": i.weight} for i in CATALOG]}), encoding="utf-8")
    return path


def _run(table: Path, catalog: Path) -> dict:
    from assist.experiments.config import parse_config
    from assist.pipelines.train import run_training
    from assist.settings import DEV_PSEUDONYM_KEY, Settings

    cfg = parse_config({"config_version": 1, "data": {
        "source": "table", "table": str(table), "catalog": str(catalog), "label": "label",
        "id_column": "household_id", "group_columns": ["street"]},
        "gate": {"attributes": ["street"]}})
    settings = Settings(env="dev", workspace=table.parent, pseudonym_key=DEV_PSEUDONYM_KEY)
    r = run_training(config=cfg, base_dir=table.parent, settings=settings, track=False).report
    return {"p_at_k": r["pooled"]["verified"]["model"]["precision_at_k"]}


def _run_store(store: Path) -> dict:
    from assist.experiments.config import parse_config
    from assist.pipelines.train import run_training
    from assist.settings import get_settings

    cfg = parse_config({"config_version": 1, "data": {"store": str(store), "truth": "off"}})
    r = run_training(config=cfg, base_dir=Path("."), settings=get_settings(), track=False).report
    return {"households": r["capacity"]["households"],
            "p_at_k": r["pooled"]["verified"]["model"]["precision_at_k"]}


def _dataset(store: Path, span: int) -> dict:
    from assist.pipelines.dataset import store_dataset

    ds = store_dataset(store=store, groups=["head_sex"], span=span)
    return {"months": len(ds.months), "households": len(ds.months[-1].X),
            "labelled": int(sum(m.y.notna().sum() for m in ds.months))}


def bench_dataset(store: Path, span: int) -> None:
    """Time the examples of every feature month, per-month reads against one read per span."""
    one = measure(f"dataset, one read per {span} months", lambda: _dataset(store, span))
    print(f"{one.line()}  {one.result['months']} months")
    each = measure("dataset, one read per month", lambda: _dataset(store, 1))
    print(f"{each.line()}  {each.result['months']} months")
    assert each.result == one.result, (each.result, one.result)
    print(f"{'  speed-up (per month / one read)':<34} {each.seconds / one.seconds:>9.2f} x  "
          f"memory {one.peak_mib / each.peak_mib:.2f} x")


def main() -> None:
    """Run the benchmark for each requested size and print a table."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("households", nargs="*", type=int, default=[1_000_000])
    ap.add_argument("--labelled", type=float, default=0.1,
                    help="share of households with a verified outcome (default 0.1)")
    ap.add_argument("--store", type=Path, default=None, help="also train on this store")
    ap.add_argument("--dataset-store", type=Path, default=None,
                    help="only time building the examples from this store, then stop")
    ap.add_argument("--span", type=int, default=12,
                    help="feature months per read of the store (default 12)")
    args = ap.parse_args()
    # imported once here, so the forked stages time the work, not the imports
    import assist.models.need  # noqa: F401
    import assist.pipelines.train  # noqa: F401

    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    if args.dataset_store is not None:
        bench_dataset(args.dataset_store, args.span)
        return
    for n in args.households:
        root = Path(tempfile.mkdtemp(prefix=f"bench-train-{n}-"))
        try:
            df = synthetic(n, args.labelled)
            table = root / "households.parquet"
            df.to_parquet(table, index=False)
            catalog = _catalog_yaml(root / "catalog.yaml")
            labelled = int(df["label"].notna().sum())
            print(f"\n== {n:,} households, {labelled:,} labelled ==")
            for threads in (1, 0):
                m = measure(f"fit ({threads or 'all'} threads)", lambda t=threads, df=df: _fit(df, t))
                print(m.line(labelled, "labelled rows"))
            print(measure("logistic baseline", lambda df=df: _logistic(df)).line(labelled,
                                                                           "labelled rows"))
            s = measure("score all (fit + predict)", lambda df=df: _score(df))
            print(s.line())
            print(f"{'  predict_proba':<34} {s.result['predict_s']:>9.2f} s  "
                  f"{n / s.result['predict_s']:>24,.0f} households/s")
            print(f"{'  deprivation index':<34} {s.result['deprivation_s']:>9.2f} s  "
                  f"{n / s.result['deprivation_s']:>24,.0f} households/s")
            print(measure("run_training (flat table)", lambda table=table, catalog=catalog: _run(table, catalog)).line(
                n, "households"))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if args.store is not None:
        m = measure("run_training (store)", lambda: _run_store(args.store))
        print(m.line(m.result["households"], "households"))


if __name__ == "__main__":
    main()
