"""Bounded load test of the API on 127.0.0.1: referral list (page of 50) and household detail,
32 concurrent clients, a fixed number of requests and a time limit; req/s, p50, p99, errors.

    .venv/bin/python benchmarks/bench_api.py --workspace var [--database-url URL]
        [--requests 2000] [--clients 32] [--time-limit 60]

The workspace needs a scoring snapshot (``assist score`` or ``make demo``). The store is
migrated and the snapshot loaded first; a benchmark user is added. The server runs in a
subprocess (uvicorn, one worker, no access log).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

PASSWORD = "bench-password-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict[str, str]) -> None:
    """Migrate, load the current snapshot, add the benchmark user (idempotent)."""
    cmd = [sys.executable, "-m", "assist.pipelines.cli"]
    subprocess.run([*cmd, "casebook", "load"], env=env, check=True)
    subprocess.run([*cmd, "users", "add", "bench", "--role", "manager", "--password", PASSWORD],
                   env=env, check=False, capture_output=True)


async def _load(base: str, token: str, paths: list[str], *, requests: int, clients: int,
                time_limit: float) -> dict[str, float]:
    lat: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + time_limit
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                 limits=limits, timeout=30) as c:
        async def worker() -> None:
            nonlocal errors, issued
            while issued < requests and time.perf_counter() < deadline:
                path = paths[issued % len(paths)]
                issued += 1
                t0 = time.perf_counter()
                try:
                    r = await c.get(path)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat.append(time.perf_counter() - t0)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    return {"requests": len(lat), "rps": len(lat) / wall, "p50_ms": q[49] * 1e3,
            "p99_ms": q[98] * 1e3, "errors": errors}


def main() -> None:
    """Run the benchmark and print one line per endpoint."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=Path("var"))
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--time-limit", type=float, default=60.0)
    a = ap.parse_args()
    env = {**os.environ, "ASSIST_ENV": os.environ.get("ASSIST_ENV", "dev"),
           "ASSIST_WORKSPACE": str(a.workspace)}
    if a.database_url:
        env["ASSIST_DATABASE_URL"] = a.database_url
    prepare(env)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "assist.serving.app:from_environment", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env)
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/v1/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        token = httpx.post(f"{base}/api/v1/auth/token",
                           json={"username": "bench", "password": PASSWORD}).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        first = httpx.get(f"{base}/api/v1/referrals", params={"page_size": 200}, headers=h).json()
        pages = max(1, min(20, first["total"] // 50))
        ids = [i["household_id"] for i in first["items"]]
        backend = (a.database_url or "sqlite").split(":")[0]
        for name, paths in (
            ("referrals page of 50", [f"/api/v1/referrals?page_size=50&page={p}"
                                      for p in range(1, pages + 1)]),
            ("household detail", [f"/api/v1/households/{i}" for i in ids]),
        ):
            asyncio.run(_load(base, token, paths[:5], requests=64, clients=8, time_limit=10))
            r = asyncio.run(_load(base, token, paths, requests=a.requests, clients=a.clients,
                                  time_limit=a.time_limit))
            print(f"{backend:10} {name:22} {r['requests']:6d} req {r['rps']:8.1f} req/s  "
                  f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}",
                  flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
