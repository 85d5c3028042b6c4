"""Bounded load test of the API on 127.0.0.1: referral list (page of 50) and household detail,
32 concurrent clients, a fixed number of requests and a time limit; req/s, p50, p99, errors,
and the server's CPU time per request (load-independent on a busy machine).

    .venv/bin/python benchmarks/bench_api.py --workspace var [--database-url URL]
        [--requests 2000] [--clients 32] [--time-limit 60]
        [--baseline-src DIR --baseline-database-url URL] [--rounds 1] [--client raw|httpx]

The workspace needs a scoring snapshot (``assist score`` or ``make demo``). The store is
migrated and the snapshot loaded first; a benchmark user is added. The server runs in a
subprocess (uvicorn, one worker, no access log).

With ``--baseline-src`` (a ``src`` folder of an older version, e.g. from
``git archive <commit> src | tar -x -C /tmp/base``) the same load also runs against that code
on its own store, alternating baseline and current ``--rounds`` times, and ratios are printed
(current / baseline; medians over rounds).
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
ENDPOINTS = ("referrals page of 50", "household detail")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (Linux /proc), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare(env: dict[str, str]) -> None:
    """Migrate, load the current snapshot, add the benchmark user (idempotent)."""
    cmd = [sys.executable, "-m", "assist.cli.app"]
    subprocess.run([*cmd, "casebook", "load"], env=env, check=True, capture_output=True)
    subprocess.run([*cmd, "users", "add", "bench", "--role", "manager", "--password", PASSWORD],
                   env=env, check=False, capture_output=True)


class _RawConnection:
    """A minimal HTTP/1.1 keep-alive GET client on asyncio streams (~20x less client CPU per
    request than httpx, so a 2-core machine measures the server, not the load generator)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        """The status of ``GET path`` (the body is read and dropped)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\n".encode() + self.head)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.strip().lower(): v.strip()
                  for k, _, v in (h.partition(":") for h in lines[1:] if h)}
        await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status

    async def close(self) -> None:
        """Close the connection (reopened by the next request)."""
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def _load(base: str, token: str, paths: list[str], *, requests: int, clients: int,
                time_limit: float, client: str = "raw") -> dict[str, float]:
    lat: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + time_limit
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    host, port = base.removeprefix("http://").split(":")
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                 limits=limits, timeout=30) as c:
        async def worker() -> None:
            nonlocal errors, issued
            raw = _RawConnection(host, int(port), token) if client == "raw" else None
            while issued < requests and time.perf_counter() < deadline:
                path = paths[issued % len(paths)]
                issued += 1
                t0 = time.perf_counter()
                try:
                    if raw is not None:
                        ok = await asyncio.wait_for(raw.get(path), 30) == 200
                    else:
                        ok = (await c.get(path)).status_code == 200
                except (TimeoutError, httpx.HTTPError, OSError, ValueError, asyncio.IncompleteReadError):
                    ok = False
                    if raw is not None:
                        await raw.close()
                lat.append(time.perf_counter() - t0)
                errors += not ok
            if raw is not None:
                await raw.close()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    return {"requests": len(lat), "rps": len(lat) / wall, "p50_ms": q[49] * 1e3,
            "p99_ms": q[98] * 1e3, "errors": errors}


def run(env: dict[str, str], label: str, a: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Prepare the store, start a server with ``env`` and load both endpoints; one line each."""
    prepare(env)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "assist.serving.app:from_environment", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env)
    out: dict[str, dict[str, float]] = {}
    try:
        for _ in range(300):
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
        for name, paths in zip(ENDPOINTS, (
            [f"/api/v1/referrals?page_size=50&page={p}" for p in range(1, pages + 1)],
            [f"/api/v1/households/{i}" for i in ids],
        ), strict=True):
            asyncio.run(_load(base, token, paths[:5], requests=64, clients=8, time_limit=10,
                              client=a.client))
            cpu0 = _cpu_seconds(server.pid)
            r = asyncio.run(_load(base, token, paths, requests=a.requests, clients=a.clients,
                                  time_limit=a.time_limit, client=a.client))
            cpu1 = _cpu_seconds(server.pid)
            r["cpu_ms"] = (cpu1 - cpu0) * 1e3 / r["requests"] if cpu0 is not None else float("nan")
            out[name] = r
            print(f"{label:22} {name:22} {r['requests']:6d} req {r['rps']:8.1f} req/s  "
                  f"p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
                  f"server cpu {r['cpu_ms']:5.2f} ms/req  errors {r['errors']}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return out


def main() -> None:
    """Run the benchmark (and the baseline, if given) and print one line per endpoint."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=Path("var"))
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--baseline-src", type=Path, default=None,
                    help="src folder of the version to compare against")
    ap.add_argument("--baseline-database-url", default=None,
                    help="the baseline's own store (its schema may differ)")
    ap.add_argument("--rounds", type=int, default=1, help="alternations baseline/current")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw",
                    help="load generator: raw asyncio HTTP/1.1 (cheap) or httpx (as before)")
    a = ap.parse_args()
    if a.baseline_src is not None and not a.baseline_database_url:
        ap.error("--baseline-src needs --baseline-database-url (a store of its own)")
    env = {**os.environ, "ASSIST_ENV": os.environ.get("ASSIST_ENV", "dev"),
           "ASSIST_WORKSPACE": str(a.workspace)}
    if a.database_url:
        env["ASSIST_DATABASE_URL"] = a.database_url
    backend = (a.database_url or "sqlite").split(":")[0].split("+")[0]
    if a.baseline_src is None:
        run(env, backend, a)
        return
    base_env = {**env, "ASSIST_DATABASE_URL": a.baseline_database_url,
                "PYTHONPATH": os.pathsep.join(
                    [str(a.baseline_src.resolve()), *filter(None, [env.get("PYTHONPATH")])])}
    results: dict[str, list[dict[str, dict[str, float]]]] = {"baseline": [], "current": []}
    for _ in range(a.rounds):
        results["baseline"].append(run(base_env, f"{backend} baseline", a))
        results["current"].append(run(env, f"{backend} current", a))
    for name in ENDPOINTS:
        def ratio(key: str, name: str = name) -> float:
            cur, base = (statistics.median(r[name][key] for r in results[w])
                         for w in ("current", "baseline"))
            return cur / base
        print(f"{backend:10} {name:22} current/baseline: req/s x{ratio('rps'):.2f}  "
              f"p50 x{ratio('p50_ms'):.2f}  p99 x{ratio('p99_ms'):.2f}  "
              f"cpu/req x{ratio('cpu_ms'):.2f}", flush=True)

if __name__ == "__main__":
    main()
