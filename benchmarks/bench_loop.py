"""Benchmark of the closed loop: ``assist simulate-loop`` on 20,000 households x 12 months,
all five policies (model, model with recall parity, deprivation, status quo,
random), retraining every 3 months (issue targets: the model policy's 12 months
within 10 minutes on this 2-core machine).

    ASSIST_ENV=dev python benchmarks/bench_loop.py [HOUSEHOLDS] [MONTHS]

Prints the CLI's tables (per month and policy: visits, confirmed, repeat share, precision
against the truth, population ECE, recall ratios, need reached within 3 months; the whole
run: need reached, seconds and peak memory per policy), then the wall time, and leaves the
JSON and the chart in ``benchmarks/results/loop/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    households = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    months = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    out = ROOT / "benchmarks" / "results" / "loop"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "ASSIST_ENV": os.environ.get("ASSIST_ENV", "dev"),
           "ASSIST_WORKSPACE": str(out / "workspace")}
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "assist"), "simulate-loop",
                    "--households", str(households), "--months", str(months), "--seed", "7",
                    "--retrain-every", "3", "--policies",
                    "model,model-parity,deprivation,status-quo,random",
                    "--out", str(out / "runs"), "--json", str(out / "loop.json"),
                    "--chart", str(out / "reached.png")], env=env, cwd=ROOT, check=True)
    print(f"wall time, all policies: {time.perf_counter() - t0:,.0f} s "
          f"({households:,} households x {months} months); figures: {out / 'loop.json'}")


if __name__ == "__main__":
    main()
