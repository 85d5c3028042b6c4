"""Benchmark: simulate + ingest a district at 100k and 1M households x 12 months.

Prints wall time, rows/s and peak memory per stage, and the ratio of ingest to a plain read
of the same extracts (the I/O floor, measured in the same run). ``--workers 1 2`` measures
ingest once per worker count (default: ingest's own choice); ``--source`` reuses extracts
already simulated (``<folder>/source``) instead of simulating. After the full ingest, the
incremental figure: the last month re-exported (same rows, other bytes, so it is "changed"),
ingested again into the same store — one month validated, the others carried over — and
then once more with nothing changed.

    ASSIST_ENV=dev .venv/bin/python benchmarks/bench_ingest.py [households ...] [--months 12]
        [--workers N ...] [--source FOLDER --keep OUT]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _measure import measure
from assist.settings import DEV_PSEUDONYM_KEY


def _simulate(households: int, months: int, root: Path) -> dict:
    from assist.simulate import simulate

    s = simulate(households=households, months=months, seed=11, out=root / "source",
                 truth_out=root / "truth")
    d = s.to_dict()
    return {"rows": int(sum(sum(v.values()) for v in d["rows"].values()))}


def _read_all(source: Path) -> dict:
    import pandas as pd

    rows = 0
    for f in sorted(source.rglob("*.parquet")):
        rows += len(pd.read_parquet(f))
    return {"rows": rows}


def _ingest(source: Path, store: Path, workers: int | None) -> dict:
    from assist.ingest.run import ingest

    options = {} if workers is None else {"workers": workers}
    s = ingest(source=source, out=store, key=DEV_PSEUDONYM_KEY, **options)
    return {"quarantined": s.quarantined}


def _next_source(source: Path, root: Path) -> Path:
    """``source`` with its last month re-exported (same rows, gzip instead of the original
    compression): other bytes, so an incremental ingest validates that month only. The other
    files are hard links (copies where links are impossible) into ``root/next``."""
    import pandas as pd

    from assist.storage.store import link_or_copy

    files = sorted(p for p in source.rglob("*.parquet"))
    last = max(p.stem for p in files)
    target = root / "next"
    for path in files:
        dst = target / path.relative_to(source)
        if path.stem == last:
            dst.parent.mkdir(parents=True, exist_ok=True)
            pd.read_parquet(path).to_parquet(dst, index=False, compression="gzip")
        else:
            link_or_copy(path, dst)
    return target


def _ingest_again(source: Path, store: Path) -> dict:
    from assist.ingest.run import ingest

    s = ingest(source=source, out=store, key=DEV_PSEUDONYM_KEY)
    assert s.changes is not None
    return {"validated": s.changes.validated, "rows": sum(
        t.by_snapshot[max(t.by_snapshot)]["rows_read"] for t in s.tables.values())}


def _incremental(source: Path, root: Path, full_seconds: float) -> None:
    """Print the incremental figures against the full ingest's ``full_seconds``."""
    nxt = _next_source(source, root)
    inc = measure("ingest, incremental (1 month)", lambda: _ingest_again(nxt, root / "store"))
    print(inc.line(inc.result["rows"]) + f"  ({inc.result['validated']} files validated)")
    print(f"{'full / incremental':<34} {full_seconds / inc.seconds:>9.1f} x")
    same = measure("ingest, incremental (nothing new)", lambda: _ingest_again(nxt, root / "store"))
    print(same.line() + f"  ({same.result['validated']} files validated)")


def main() -> None:
    """Run the benchmark for each requested size and print a table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("households", nargs="*", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--keep", type=Path, default=None, help="keep the generated data here")
    ap.add_argument("--workers", type=int, nargs="*", default=[None],
                    help="ingest worker processes (one ingest run per value)")
    ap.add_argument("--source", type=Path, default=None,
                    help="existing extracts to ingest (skips simulating; needs --keep)")
    args = ap.parse_args()
    if args.source is not None and (args.keep is None or len(args.households) != 1):
        ap.error("--source needs --keep (where the store goes) and one households figure")
    for n in args.households:
        root = args.keep or Path(tempfile.mkdtemp(prefix=f"bench-ingest-{n}-"))
        try:
            print(f"\n== {n:,} households x {args.months} months ==")
            source = args.source or root / "source"
            if args.source is None:
                sim = measure("simulate", lambda n=n, root=root: _simulate(n, args.months, root))
                print(sim.line(sim.result["rows"]))
            base = measure("baseline: read extracts (pandas)", lambda source=source: _read_all(source))
            rows = base.result["rows"]
            print(base.line(rows))
            for workers in args.workers:
                label = "ingest" if workers is None else f"ingest, {workers} worker(s)"
                ing = measure(label, lambda w=workers, source=source, root=root: _ingest(source, root / "store", w))
                print(ing.line(rows))
                print(f"{label + ' / plain read':<34} {ing.seconds / base.seconds:>9.1f} x")
            _incremental(source, root, ing.seconds)
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
