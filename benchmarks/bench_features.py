"""Benchmark: household features (22 indicators) for 1M households (~2.4M persons).

Builds a store once (simulate + ingest, reused with --keep), then measures in separate
processes: loading the 13-month window, building the features, the household codes of every
loaded row by the view's Arrow lookup against pandas ``get_indexer`` on the string ids (the
earlier path) and — as a baseline in the same run — a per-household Python aggregation of
household size over a sample, scaled up, to show what the vectorised path avoids.

    ASSIST_ENV=dev .venv/bin/python benchmarks/bench_features.py [households] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _measure import measure
from assist.settings import DEV_PSEUDONYM_KEY

END_MONTH = "2026-10"


def _prepare(households: int, months: int, root: Path) -> None:
    from assist.ingest.run import ingest
    from assist.simulate import simulate

    if (root / "store" / "manifest.json").exists():
        return
    simulate(households=households, months=months, seed=5, out=root / "source", truth_out=root / "truth")
    ingest(source=root / "source", out=root / "store", key=DEV_PSEUDONYM_KEY)


def _load(root: Path) -> dict:
    from assist.pipelines.featurize import load_for_features

    t = load_for_features(root / "store", END_MONTH)
    return {"rows": int(sum(len(v) for v in t.values()))}


def _build(root: Path) -> dict:
    from assist.features import build
    from assist.pipelines.featurize import load_for_features

    t = load_for_features(root / "store", END_MONTH)
    t0 = time.perf_counter()
    f = build(t, END_MONTH)
    return {"households": len(f), "persons": int((t["persons"]["snapshot"] == END_MONTH).sum()),
            "build_seconds": time.perf_counter() - t0}


def _codes(root: Path) -> dict:
    """Household codes of every loaded row: pandas ``get_indexer`` on the string ids (how the
    view looked them up before) against the view's Arrow lookup, timed in one process."""
    import pyarrow as pa

    from assist.features.view import SourceView, positions_many
    from assist.pipelines.featurize import load_for_features

    t = load_for_features(root / "store", END_MONTH)
    households = SourceView(t, END_MONTH).households
    cols = [df["household_id"] for df in t.values()]
    t0 = time.perf_counter()
    fast = positions_many(cols, pa.array(households.to_numpy(dtype=object), type=pa.large_string()))
    t1 = time.perf_counter()
    slow = [households.get_indexer(c) for c in cols]
    t2 = time.perf_counter()
    if not all((a == b).all() for a, b in zip(fast, slow, strict=True)):
        raise AssertionError("Arrow lookup and get_indexer disagree")
    return {"rows": int(sum(len(c) for c in cols)), "arrow_s": t1 - t0, "get_indexer_s": t2 - t1}


def _per_household_baseline(root: Path, sample: int) -> dict:
    import pandas as pd

    from assist.storage.store import load_tables

    p = load_tables(root / "store", as_of=END_MONTH, months=1, tables=["persons"])["persons"]
    ids = p["household_id"].drop_duplicates().iloc[:sample]
    part = p.loc[p["household_id"].isin(ids)]
    t0 = time.perf_counter()
    part.groupby("household_id").apply(lambda g: pd.Series({"size": len(g), "old": (g["age"] >= 60).sum()}))
    per = (time.perf_counter() - t0) / len(ids)
    return {"apply_s_per_household": per}


def main() -> None:
    """Prepare the store, then measure load, build and the per-household baseline."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("households", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=13)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-features-"))
    try:
        prep = measure("prepare (simulate + ingest)", lambda: _prepare(args.households, args.months, root))
        print(prep.line())
        load = measure("load what features need", lambda: _load(root))
        print(load.line(load.result["rows"]))
        build = measure("load + build 22 indicators", lambda: _build(root))
        hh = build.result["households"]
        print(build.line(hh, "households"))
        print(f"{'  of which build':<34} {build.result['build_seconds']:>9.2f} s  "
              f"({hh:,} households, {build.result['persons']:,} persons)")
        codes = measure("household codes: arrow vs pandas", lambda: _codes(root))
        c = codes.result
        print(f"{'  of which arrow lookup':<34} {c['arrow_s']:>9.2f} s  ({c['rows']:,} rows; "
              f"pandas get_indexer {c['get_indexer_s']:.2f} s, "
              f"{c['get_indexer_s'] / c['arrow_s']:.1f}x slower, same codes)")
        base = measure("baseline: groupby.apply per household", lambda: _per_household_baseline(root, 20_000))
        per = base.result["apply_s_per_household"] * hh
        print(f"{'  per-household apply, scaled':<34} {per:>9.1f} s for 2 aggregates over {hh:,} households"
              f"  ({per / build.result['build_seconds']:.0f}x the whole 22-indicator build)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
