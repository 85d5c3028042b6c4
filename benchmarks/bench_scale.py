"""Benchmark: a district's whole year at scale, the store in household buckets vs. one bucket.

Simulate ``households`` x ``months`` once; then every stage for each engine in turn (the
engines alternate stage by stage, so both meet the same load on a shared machine), each in
its own forked process (wall time, and peak resident memory of the stage's whole process tree, sampled from
/proc every 0.2 s, see ``_measure.py``):

- ``ingest``   the year's extracts into a store laid out in the engine's household buckets;
- ``features`` the last month's household features (``assist features``);
- ``train``    ``run_training`` with ``experiments/default.yaml`` on that store, logged and
               registered in the engine's own MLflow (``--no-train``: skipped, and the score
               stage uses a model fitted, untimed, on one bucket's hidden need);
- ``score``    the last month scored with that model (last month scored afresh from the store).

Engines: ``buckets`` — the store in ``--buckets`` household buckets (default: ~20,000
households each, as ``assist ingest`` chooses), every stage bucket by bucket; ``today`` — the
same code on a store in one bucket, which is the layout and the memory profile of the
engine before buckets (the whole district in memory at once). ``--engines buckets`` runs only
the first (a district too large for today's engine).

    ASSIST_ENV=dev .venv/bin/python benchmarks/bench_scale.py 100000 [--months 12] \
        [--buckets N] [--engines buckets,today] [--no-train] [--keep DIR]

Targets (issue 20): <= 4 GB peak per stage at 500 k; 2 M households scored within 16 GB;
the whole year at 500 k no slower than today's 559 s (goal <= 300 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from _measure import Measurement, measure

END = "2026-10"
ENGINES = ("buckets", "today")


def _settings(workspace: Path):  # noqa: ANN202 - assist.settings.Settings
    from assist.settings import get_settings

    os.environ["ASSIST_WORKSPACE"] = str(workspace)
    return get_settings(workspace=workspace)


def _ingest(root: Path, ws: Path, buckets: int | None) -> dict:
    from assist.ingest.run import ingest
    from assist.storage.store import store_buckets

    s = _settings(ws)
    ingest(source=root / "source", out=s.store_dir, key=s.pseudonym_key.get_secret_value(),
           buckets=buckets, horizon=END)
    return {"buckets": store_buckets(s.store_dir)}


def _features(ws: Path) -> dict:
    from assist.pipelines.featurize import build_features

    s = _settings(ws)
    run = build_features(store=s.store_dir, as_of=END, out=s.features_dir)
    return {"households": run.households}


def _train(root: Path, ws: Path) -> dict:
    from assist.experiments.config import load_config
    from assist.pipelines.train import run_training

    s = _settings(ws)
    cfg, base = load_config(Path("experiments/default.yaml"))
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(
        update={"store": s.store_dir, "truth": root / "truth"})})
    trained = run_training(config=cfg, base_dir=base, settings=s, register=True)
    (ws / "model_version.txt").write_text(str(trained.version), encoding="utf-8")
    return {"version": trained.version}


def _quick_model(root: Path, ws: Path) -> Path:
    """Without the train stage: a need model fitted on one bucket's hidden need (untimed)."""
    from assist.features import build
    from assist.models.need import NeedModel
    from assist.pipelines.dataset import TRUTH_FILE, true_need
    from assist.pipelines.featurize import load_for_features
    from assist.pipelines.previous import previous_month

    s = _settings(ws)
    month = previous_month(previous_month(END))
    X = build(load_for_features(s.store_dir, month, bucket=0), month)  # noqa: N806
    y = true_need(root / "truth" / TRUTH_FILE, key=s.pseudonym_key.get_secret_value(),
                  month=month).reindex(X.index).fillna(0.0)
    return NeedModel(num_threads=1).fit(X, y, X_cal=X, y_cal=y).save(ws / "need_model.json")


def _score(root: Path, ws: Path) -> dict:
    from assist.features import CATALOG
    from assist.models.need import NeedModel
    from assist.pipelines.score import (
        config_digest,
        load_scoring_config,
        resolve_model,
        run_scoring,
    )

    s = _settings(ws)
    if (ws / "need_model.json").is_file():
        model = NeedModel.load(ws / "need_model.json", expected_features=CATALOG.ids,
                               expected_catalog_version=CATALOG.version)
        version = "file:need_model.json"
    else:
        version_no = (ws / "model_version.txt").read_text(encoding="utf-8")
        model, version = resolve_model(model=version_no, tracking_uri=s.mlflow_uri)
    cfg = load_scoring_config(Path("experiments/scoring.yaml"))
    run = run_scoring(store=s.store_dir, as_of=END, out=s.workspace / "scores", model=model,
                      model_version=version, config=cfg, config_hash=config_digest(cfg),
                      truth_dir=root / "truth", key=s.pseudonym_key.get_secret_value())
    return {"scored": run.summary["households_scored"], "timings": run.summary["timings_s"]}


def _stages(root: Path, engines: list[str], buckets: int | None,
            train: bool) -> dict[str, list[Measurement]]:
    """Every stage, each engine in turn (so both meet the same load on a shared machine)."""
    rows: dict[str, list[Measurement]] = {name: [] for name in engines}
    stages = {
        "ingest": lambda name, ws: _ingest(root, ws, buckets if name == "buckets" else 1),
        "features": lambda name, ws: _features(ws),
        "train": lambda name, ws: _train(root, ws),
        "score": lambda name, ws: _score(root, ws),
    }
    for stage, run in stages.items():
        if stage == "train" and not train:
            for name in engines:
                measure("quick model (untimed)",
                        lambda name=name: {"path": str(_quick_model(root, root / name))})
            continue
        for name in engines:
            rows[name].append(measure(f"{name}: {stage}",
                                      lambda name=name, run=run: run(name, root / name),
                                      tree=True))
            print(rows[name][-1].line(), flush=True)  # as it comes: a long run shows progress
    return rows


def _table(title: str, rows: list[Measurement], simulate: Measurement) -> None:
    print(f"\n{title}")
    for m in [simulate, *rows]:
        extra = m.result.get("buckets", "")
        print(m.line() + (f"  ({extra} buckets)" if extra != "" else ""))
    total = simulate.seconds + sum(m.seconds for m in rows)
    peak = max(m.peak_mib for m in [simulate, *rows])
    print(f"{'whole year':<34} {total:>9.2f} s  {peak:>9,.0f} MiB peak (largest stage)")


def main() -> None:
    """Simulate once, then run each engine's stages and print them side by side."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("households", nargs="?", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--buckets", type=int, default=None,
                    help="household buckets of the bucketed store (default: as ingest chooses)")
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help="comma-separated: buckets, today (default: both)")
    ap.add_argument("--no-train", action="store_true", help="skip the train stage")
    ap.add_argument("--keep", type=Path, default=None, help="keep the generated data here")
    args = ap.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        ap.error(f"--engines: unknown {', '.join(unknown)} (known: {', '.join(ENGINES)})")
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        from assist.simulate import simulate

        print(f"== {args.households:,} households x {args.months} months, as of {END} ==",
              flush=True)
        sim = measure("simulate", lambda: simulate(
            households=args.households, months=args.months, seed=7, end_month=END,
            out=root / "source", truth_out=root / "truth") and {}, tree=True)
        print(sim.line(), flush=True)
        rows = _stages(root, engines, args.buckets, not args.no_train)
        for name in engines:
            _table(f"{name} ({'household buckets' if name == 'buckets' else 'one bucket'})",
                   rows[name], sim)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
