"""Cost of a full monthly scoring: scores, ranks, deprivation index, programme matching,
capacity allocation (MILP), early warning and explanations of referral candidates.

Synthetic households (22 indicators in catalog order, 13 streets, ~300 communities, a known
monotone signal, ~2 % with a grant) stand in for the store, so the figures are those of the
scoring stages alone (feature building is measured by ``bench_features.py``).

    .venv/bin/python benchmarks/bench_score.py                        # 1,000,000 households
    BENCH_HOUSEHOLDS=200000 .venv/bin/python benchmarks/bench_score.py

Prints per-stage wall time, total households/s and the process's peak resident memory. Other
processes on the machine change the figures: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import pandas as pd

from assist.features.codes import COMMUNITIES_PER_STREET, PROGRAMMES, community_codes
from assist.features.indicators import CATALOG
from assist.models import matching
from assist.models.allocation import allocate
from assist.models.need import NeedModel
from assist.models.warning import early_warning, need_band
from assist.pipelines.score import ScoringConfig, StreetEntry, explain_columns, score_frame


def options(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options, defaulting to ``BENCH_*`` environment variables."""
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--households", type=int, default=int(env("BENCH_HOUSEHOLDS", 1_000_000)))
    p.add_argument("--visits", type=int, default=int(env("BENCH_VISITS", 400)),
                   help="visits per street per month")
    p.add_argument("--threads", type=int, default=int(env("BENCH_THREADS", 0)))
    p.add_argument("--seed", type=int, default=int(env("BENCH_SEED", 0)))
    return p.parse_args(argv)


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Indicator values, attributes and a need label of ``n`` synthetic households."""
    rng = np.random.default_rng(seed)
    idx = pd.Index([f"h{i:09d}" for i in range(n)], name="household_id")
    cols = {}
    for ind in CATALOG:
        z = rng.normal(-1.2, 0.8, n)  # ~7 % deprived per indicator
        base = max(abs(ind.cutoff), 1.0)
        v = ind.cutoff + ind.direction * z * base
        v = np.maximum(v, 0.0)
        v[rng.uniform(size=n) < 0.05] = np.nan
        cols[ind.id] = v
    X = pd.DataFrame(cols, index=idx)  # noqa: N806
    deprived = CATALOG.deprivation(X).to_numpy().sum(axis=1)
    y = pd.Series((rng.uniform(size=n) < 1 / (1 + np.exp(-(deprived - 4.0)))).astype(float),
                  index=idx)
    comm = np.array(community_codes())
    c = rng.integers(0, len(comm), n)
    attrs = pd.DataFrame({"street_code": pd.array([s[:3] for s in comm[c]], dtype="string"),
                          "community_code": pd.array(comm[c], dtype="string"),
                          "size": rng.integers(1, 6, n).astype(float),
                          "head_age": rng.integers(20, 95, n).astype(float)}, index=idx)
    return X, attrs, y


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    o = options(argv)
    print(f"load average before: {os.getloadavg()}")
    X, attrs, y = synthetic(o.households, o.seed)  # noqa: N806
    train = min(50_000, o.households)
    model = NeedModel(num_threads=o.threads, min_child_samples=20).fit(
        X.iloc[:train], y.iloc[:train], X_cal=X.iloc[train:2 * train] if o.households > train
        else X.iloc[:train], y_cal=y.iloc[train:2 * train] if o.households > train
        else y.iloc[:train])
    rng = np.random.default_rng(o.seed + 1)
    held = rng.uniform(size=o.households) < 0.02
    assistance = pd.DataFrame({
        "household_id": X.index[held], "snapshot": "2026-10",
        "programme": rng.choice(list(PROGRAMMES), int(held.sum())),
        "end_date": pd.NaT})
    cfg = ScoringConfig()
    cfg = cfg.model_copy(update={"allocation": cfg.allocation.model_copy(update={
        "streets": {"default": StreetEntry(visits=o.visits, floor=o.visits // 8)}})})
    prev = X.copy()
    times: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str, start: float) -> float:
        now = time.perf_counter()
        times[name] = now - start
        return now

    t = t0
    scores = score_frame(model=model, values=X, attributes=attrs, config=cfg)
    t = lap("scores + deprivation index + ranks", t)
    table = matching.load_rules()
    m = matching.match(matching.facts_frame(X, attrs), table,
                       received=matching.receiving(assistance, X.index, as_of="2026-10",
                                                   codes=table.codes))
    t = lap("programme matching", t)
    alloc = allocate(probability=scores["probability"], street=scores["street_code"],
                     referable=m.referable, capacities=cfg.capacities())
    t = lap("allocation (MILP + greedy)", t)
    prev["probability"] = np.clip(scores["probability"] - rng.normal(0, 0.03, o.households), 0, 1)
    prev["band"] = need_band(prev["probability"], cfg.bands.model_dump())
    prev["deprivation_score"] = scores["deprivation_score"] - rng.normal(0, 0.05, o.households)
    cur = pd.concat([X, scores[["probability", "band", "deprivation_score", "deprivation_poor"]]],
                    axis=1)
    flags = early_warning(current=cur, previous=prev, config=cfg.warning_config(),
                          cuts=cfg.bands.model_dump())
    t = lap("early warning", t)
    listed = alloc.visit.index.union(flags.index[flags["warning"].to_numpy()])
    explain_columns(model=model, values=X.loc[listed], probability=scores["probability"],
                    top=cfg.explain_top)
    t = lap(f"explanations ({len(listed):,} households)", t)
    total = t - t0
    for name, s in times.items():
        print(f"{name:<42} {s:>8.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    a = alloc.to_dict()
    print(f"{'total':<42} {total:>8.2f} s  {o.households / total:>12,.0f} households/s")
    print(f"candidates {a['candidates']:,}, visits {a['visits']:,}, objective {a['objective']:.1f} "
          f"vs greedy {a['greedy']['objective']:.1f}; MILP {a['seconds']:.2f} s; "
          f"flagged {int(flags['warning'].sum()):,}")
    print(f"peak memory {peak:,.0f} MiB (process, incl. data generation and training)")
    print(f"load average after: {os.getloadavg()}; streets {len(COMMUNITIES_PER_STREET)}")


if __name__ == "__main__":
    main()
