"""Benchmark: one new month of a district with 12 months already in the workspace.

Set-up (not timed): simulate ``households`` x 13 months; ingest the first 12 into a workspace;
train a need model on a small district of the same simulator (the catalog is the same, so it
scores any district) and promote it in the workspace's registry. Then the 13th month's extracts
arrive, and the same month is done twice, each stage in its own process (wall time and peak
resident memory of that stage):

- ``assist month`` stages: incremental ingest, features, decisions snapshot, score (with the
  month's reports), load into the case store;
- today's way, in a copy of the same workspace: full re-ingest of all 13 months, features,
  score (the way the month was run before ``assist month``).

    ASSIST_ENV=dev .venv/bin/python benchmarks/bench_month.py [households] [--keep DIR]

Target (issue "Month after month"): <= 90 s and <= 4 GB peak for the new month at 500 k
households on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from _measure import Measurement, measure

END, FIRST_12_END = "2026-11", "2026-10"


def _settings(workspace: Path):  # noqa: ANN202 - assist.settings.Settings
    from assist.settings import get_settings

    os.environ["ASSIST_WORKSPACE"] = str(workspace)
    return get_settings(workspace=workspace)


def _copy_months(src: Path, dst: Path, months: set[str]) -> int:
    """Copy the extracts of ``months`` (``<table>/<YYYY-MM>.parquet``) from src to dst."""
    n = 0
    for f in sorted(src.rglob("*.parquet")):
        if f.stem in months:
            target = dst / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
            n += 1
    return n


def _model(ws: Path) -> None:
    """Train a need model on a small district and promote it in ``ws``'s registry."""
    from assist.experiments import registry, tracking
    from assist.experiments.config import load_config
    from assist.ingest.run import ingest
    from assist.pipelines.train import run_training
    from assist.simulate import simulate

    small = ws / "small"
    simulate(households=5_000, months=12, seed=3, end_month=FIRST_12_END, out=small / "source",
             truth_out=small / "truth")
    s = _settings(ws)
    ingest(source=small / "source", out=small / "store", key=s.pseudonym_key.get_secret_value())
    cfg, base = load_config(Path("experiments/default.yaml"))
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(
        update={"store": small / "store", "truth": small / "truth"})})
    trained = run_training(config=cfg, base_dir=base, settings=s, register=True)
    registry.promote(tracking.client(s.mlflow_uri), name=cfg.tracking.registered_model,
                     version=trained.version, force=True, user="bench",
                     reason="benchmark: a model trained on a small district")


def _setup(root: Path, households: int) -> Path:
    """The workspace with 12 months ingested and a production model; returns it."""
    from assist.ingest.run import ingest
    from assist.simulate import simulate

    ws = root / "ws"
    simulate(households=households, months=13, seed=7, end_month=END, out=root / "all",
             truth_out=ws / "truth")
    months = {f.stem for f in (root / "all").rglob("*.parquet")} - {END}
    _copy_months(root / "all", ws / "source", months)
    s = _settings(ws)
    ingest(source=ws / "source", out=ws / "store", key=s.pseudonym_key.get_secret_value())
    measure("model", lambda: _model(ws))
    return ws


def _month_stage(ws: Path, name: str) -> dict:
    from assist.cli import month as cli_month
    from assist.pipelines import month as cycle

    s = _settings(ws)
    record = cycle.load_record(ws, END)
    stage = {"ingest": cli_month._ingest, "features": cli_month._features,
             "decisions": cli_month._decisions, "load": cli_month._load,
             "score": lambda s_, r: cli_month._score(s_, r, model="production", config=None)}[name]
    result = stage(s, record)
    record.stages[name] = result
    cycle.save_record(ws, record)
    return {"status": result.status, "detail": result.detail}


def _today(ws: Path, name: str) -> dict:
    s = _settings(ws)
    if name == "full ingest":
        from assist.ingest.run import ingest

        shutil.rmtree(s.store_dir)
        ingest(source=s.source_dir, out=s.store_dir, key=s.pseudonym_key.get_secret_value())
    elif name == "features":
        from assist.pipelines.featurize import build_features

        build_features(store=s.store_dir, as_of=END, out=s.features_dir)
    else:
        from assist.cli.score import score_month

        score_month(s, as_of=END, model="production", config=None, log_mlflow=False)
    return {}


def _table(title: str, rows: list[Measurement]) -> float:
    print(f"\n{title}")
    for m in rows:
        print(m.line())
    total = sum(m.seconds for m in rows)
    print(f"{'total':<34} {total:>9.2f} s  {max(m.peak_mib for m in rows):>9,.0f} MiB peak")
    return total


def main() -> None:
    """Set up, then time the new month both ways and print the ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("households", nargs="?", type=int, default=500_000)
    ap.add_argument("--keep", type=Path, default=None, help="keep the generated data here")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-month-"))
    try:
        print(f"== {args.households:,} households: 12 months in the workspace, {END} arrives ==")
        ws = _setup(root, args.households)
        _copy_months(root / "all", ws / "source", {END})
        today_ws = root / "today"
        shutil.copytree(ws, today_ws, symlinks=True)
        month = [measure(f"month: {n}", lambda n=n: _month_stage(ws, n), tree=True)
                 for n in ("ingest", "features", "decisions", "score", "load")]
        new = _table("assist month (incremental)", month)
        today = [measure(f"today: {n}", lambda n=n: _today(today_ws, n), tree=True)
                 for n in ("full ingest", "features", "score")]
        old = _table("today's way (full re-ingest + features + score)", today)
        print(f"\nassist month / today's way: {new / old:.2f} x wall time")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
