"""Cost of scoring and explaining: training, scoring, exact TreeSHAP, shap, per leaf count.

Synthetic households (22 indicators in catalog order, 10 % missing, a known monotone signal)
are split 80/10/10 into training, calibration and test rows. For each leaf count the script
prints training time, scoring throughput (calibrated probabilities), LightGBM ``pred_contrib``
throughput, ``shap.TreeExplainer`` throughput on a subset (and shap's own C++ TreeSHAP on
its own tree parse), building explanation objects, one-household latency with one thread,
test AUC, and at the end the peak resident memory.

    .venv/bin/python benchmarks/bench_explain.py                      # 1,000,000 households
    .venv/bin/python benchmarks/bench_explain.py --households 20000 --shap 2000 --explain 5000
    BENCH_HOUSEHOLDS=20000 BENCH_LEAVES=15 .venv/bin/python benchmarks/bench_explain.py

Every option has an environment variable (``BENCH_<OPTION>``). Other processes on the machine
change the figures: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import pandas as pd

from assist.features.indicators import CATALOG
from assist.models.explain import contributions, explain
from assist.models.metrics import evaluate
from assist.models.need import NeedModel


def options(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options, defaulting to ``BENCH_*`` environment variables."""
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--households", type=int, default=int(env("BENCH_HOUSEHOLDS", 1_000_000)))
    p.add_argument("--explain", type=int, default=int(env("BENCH_EXPLAIN", 100_000)),
                   help="rows explained with pred_contrib")
    p.add_argument("--shap", type=int, default=int(env("BENCH_SHAP", 50_000)),
                   help="rows explained with shap.TreeExplainer")
    p.add_argument("--objects", type=int, default=int(env("BENCH_OBJECTS", 50_000)),
                   help="rows turned into HouseholdExplanation objects")
    p.add_argument("--leaves", default=env("BENCH_LEAVES", "15,31"), help="comma-separated")
    p.add_argument("--trees", type=int, default=int(env("BENCH_TREES", 200)))
    p.add_argument("--threads", type=int, default=int(env("BENCH_THREADS", 0)),
                   help="LightGBM threads for batch work (0: all cores)")
    p.add_argument("--single", type=int, default=int(env("BENCH_SINGLE", 500)),
                   help="one-household explanations timed with one thread")
    p.add_argument("--seed", type=int, default=int(env("BENCH_SEED", 0)))
    return p.parse_args(argv)


def households(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic indicator matrix with a monotone signal (10 % missing) and outcomes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(CATALOG)))
    x[rng.random(x.shape) < 0.1] = np.nan
    w = np.linspace(1.0, 0.1, len(CATALOG)) * np.array(CATALOG.monotone_constraints)
    logit = -1.5 + np.nan_to_num(x) @ w
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    return pd.DataFrame(x, columns=CATALOG.ids), y


def timed(fn, *args, **kwargs):
    """(result, seconds) of one call."""
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(leaves: int, X: pd.DataFrame, y: np.ndarray, opt: argparse.Namespace,  # noqa: N803
            shap) -> dict[str, float]:
    """All measurements for one leaf count."""
    n = len(X)
    a, b = int(0.8 * n), int(0.9 * n)
    model = NeedModel(num_leaves=leaves, n_estimators=opt.trees, seed=opt.seed,
                      num_threads=opt.threads)
    _, t_fit = timed(model.fit, X.iloc[:a], y[:a], X_cal=X.iloc[a:b], y_cal=y[a:b])
    _, t_score = timed(model.predict_proba, X)
    test_p = model.predict_proba(X.iloc[b:])
    n_exp = min(opt.explain, n)
    contrib, t_contrib = timed(contributions, model, X.iloc[:n_exp])
    sub = X.iloc[:min(opt.shap, n)].to_numpy()
    explainer = shap.TreeExplainer(model.booster_)
    via, t_shap = timed(explainer, sub)
    own, t_own = timed(shap.TreeExplainer(explainer.model.trees), sub)
    diff = max(np.abs(via.values - contrib.iloc[:len(sub), :-1].to_numpy()).max(),
               np.abs(own.values - contrib.iloc[:len(sub), :-1].to_numpy()).max())
    n_obj = min(opt.objects, n_exp)
    _, t_obj = timed(explain, model, X.iloc[:n_obj], CATALOG, contrib=contrib.iloc[:n_obj])
    model.set_params(num_threads=1)
    lat = []
    for i in range(min(opt.single, n)):
        row = X.iloc[[i]]
        _, dt = timed(explain, model, row, CATALOG)
        lat.append(dt)
    depth = [_depth(t["tree_structure"]) for t in model.booster_.dump_model()["tree_info"]]
    return {
        "leaves": leaves, "mean depth": float(np.mean(depth)), "train s": t_fit,
        "train rows": a, "calibration": model.calibration_,
        "score /s": n / t_score, "pred_contrib /s": n_exp / t_contrib,
        "shap (LightGBM) /s": len(sub) / t_shap, "shap own C++ /s": len(sub) / t_own,
        "pred_contrib / shap": (n_exp / t_contrib) / (len(sub) / t_shap),
        "max |shap - pred_contrib|": float(diff),
        "explanation objects /s": n_obj / t_obj,
        "one household p50 ms": 1e3 * float(np.percentile(lat, 50)) if lat else float("nan"),
        "one household p99 ms": 1e3 * float(np.percentile(lat, 99)) if lat else float("nan"),
        "test roc_auc": evaluate(y[b:], test_p, k=max(1, (n - b) // 20))["roc_auc"],
    }


def _depth(node: dict) -> int:
    if "leaf_index" in node:
        return 0
    return 1 + max(_depth(node["left_child"]), _depth(node["right_child"]))


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one block of figures per leaf count."""
    opt = options(argv)
    import shap  # imported here: it is slow to import and only this benchmark needs it
    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    (X, y), t_gen = timed(households, opt.households, opt.seed)  # noqa: N806
    print(f"{len(X):,} households x {X.shape[1]} indicators generated in {t_gen:.1f} s; "
          f"{opt.trees} trees, threads={opt.threads or 'all'}")
    rows = []
    for leaves in (int(v) for v in opt.leaves.split(",")):
        r = run_one(leaves, X, y, opt, shap)
        rows.append(r)
        print(f"\n-- {leaves} leaves --")
        for k, v in r.items():
            print(f"  {k:28s} {v:>14,.4g}" if isinstance(v, float) else f"  {k:28s} {v!s:>14}")
    if len(rows) > 1:
        base = rows[0]
        for r in rows[1:]:
            print(f"\n{base['leaves']} vs {r['leaves']} leaves: pred_contrib "
                  f"{base['pred_contrib /s'] / r['pred_contrib /s']:.2f}x faster, scoring "
                  f"{base['score /s'] / r['score /s']:.2f}x, AUC "
                  f"{base['test roc_auc'] - r['test roc_auc']:+.4f}")
    print(f"\npeak memory: {peak_mb():,.0f} MB   load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
