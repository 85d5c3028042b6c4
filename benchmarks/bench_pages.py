"""Server-side render time of each page (median over N requests, TestClient, no network).

A small district is built in a temporary SQLite store: ``--households`` households over 13
streets in two monthly snapshots, a third of them referred. Target: median < 100 ms per page.

    ASSIST_ENV=dev .venv/bin/python benchmarks/bench_pages.py --households 5000 -n 30
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from assist.features import CATALOG
from assist.features.codes import STREETS
from assist.serving.app import create_app
from assist.serving.db import make_engine, session_factory, upgrade
from assist.serving.services.snapshots import load_snapshot
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings

PASSWORD = "bench-password-123"
TARGET_MS = 100.0


def district(n: int, as_of: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Scores and referrals of ``n`` synthetic households (shaped like ``assist score``)."""
    rng = np.random.default_rng(seed)
    streets = np.array(list(STREETS))[rng.integers(0, len(STREETS), n)]
    p = rng.beta(1.2, 5, n)
    ids = pd.Index([f"h{i:06d}" for i in range(n)], name="household_id")
    s = pd.DataFrame({"street_code": pd.array(streets, dtype="string"),
                      "community_code": pd.array([f"{x}C{rng.integers(1, 20):03d}" for x in streets],
                                                 dtype="string"),
                      "probability": p, "band": np.where(p > .4, "high", np.where(p > .15, "medium", "low")),
                      "deprivation_score": p / 2}, index=ids)
    s["rank_district"] = s["probability"].rank(ascending=False, method="first").astype(int)
    s["rank_street"] = s.groupby("street_code")["probability"].rank(ascending=False, method="first").astype(int)
    s["rank_community"] = s.groupby("community_code")["probability"].rank(ascending=False, method="first").astype(int)
    for j, ind in enumerate(CATALOG.ids):
        s[ind] = rng.random(n) * 3
    ref = s.loc[s["rank_street"] <= n // len(STREETS) // 3, ["street_code", "community_code", "rank_street",
                                                            "rank_community", "rank_district", "probability",
                                                            "band", "deprivation_score"]].copy()
    k = len(ref)
    ref["raw_score"] = 0.0
    ref["allocated"] = (ref["rank_street"] <= 40).to_numpy()
    ref["primary_cause"] = pd.array(rng.choice(["illness", "unemployment", "income_loss"], k), dtype="string")
    ref["secondary_cause"] = pd.array([None] * k, dtype="string")
    ref["top_factors_en"] = "income is low; medical costs are high; out of work"
    ref["top_factors_zh"] = "收入低；医疗支出高；失业"
    ref["allocated_programmes"] = "medical"
    ref["programmes"] = "medical;dibao"
    ref["reasons_en"] = "Medical assistance: costs;Minimum living: income"
    ref["reasons_zh"] = "医疗救助：费用;低保：收入"
    ref["causes_addressed"] = "illness"
    ref["flags"] = np.where(rng.random(k) < .05, "income_drop", "")
    ref["changes_en"] = ref["changes_zh"] = ""
    summary = {"as_of": as_of, "model_version": "bench/1", "config_hash": "bench",
               "catalog_version": CATALOG.version, "households_scored": n,
               "bands": s["band"].value_counts().to_dict(), "explained": k, "truth": None}
    return s, ref, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=5000)
    ap.add_argument("-n", type=int, default=30, help="requests per page")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine)() as s:
            for i, month in enumerate(("2026-09", "2026-10")):
                scores, ref, summary = district(a.households, month, seed=i)
                load_snapshot(s, as_of=month, summary=summary, scores=scores, referrals=ref,
                              indicator_ids=CATALOG.ids)
            add_user(s, username="cw", password=PASSWORD, role="caseworker", streets=["S01", "S02"])
            add_user(s, username="mgr", password=PASSWORD, role="manager")
        app = create_app(Settings(env="dev", workspace=Path(tmp), database_url=url,
                                  pseudonym_key=DEV_PSEUDONYM_KEY), engine=engine)
        household = ref.index[ref["street_code"] == "S01"][0]
        pages = {"cw": ["/login", "/referrals", "/referrals?band=high&sort=-probability",
                        f"/households/{household}"],
                 "mgr": ["/referrals", "/coverage", "/model"]}
        print(f"{a.households} households, {a.n} requests per page (median, p90 in ms)")
        worst = 0.0
        for user, paths in pages.items():
            c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
            token = c.get("/login").text.split('name="csrf" value="')[1][:64]
            assert c.post("/login", data={"username": user, "password": PASSWORD,
                                          "csrf": token}).status_code == 303
            for path in paths:
                times = []
                for _ in range(a.n + 2):
                    t0 = time.perf_counter()
                    r = c.get(path)
                    times.append((time.perf_counter() - t0) * 1e3)
                    assert r.status_code == 200, (path, r.status_code)
                times = times[2:]  # warm-up
                med = statistics.median(times)
                worst = max(worst, med)
                p90 = sorted(times)[int(0.9 * len(times)) - 1]
                print(f"  {user:4s} {path:45s} {med:7.1f} {p90:7.1f}")
        engine.dispose()
        print(f"worst median {worst:.1f} ms: {'OK' if worst < TARGET_MS else 'ABOVE'} target {TARGET_MS:.0f} ms")


if __name__ == "__main__":
    main()
