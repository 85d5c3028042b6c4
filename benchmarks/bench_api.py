"""Bounded load test of the API on 127.0.0.1: ``/health`` (the no-work ceiling), the referral
list (page of 50) and the household detail, each with 32 concurrent clients, a fixed number of
requests and a time limit; req/s, p50, p99, errors, and the server's CPU time per request (the
whole process tree: every uvicorn worker) beside its ratio to ``/health`` in the same run — the
ratio holds on a busy machine, where CPU per request and latency both drift.

    .venv/bin/python benchmarks/bench_api.py --workspace var [--database-url URL]
        [--requests 2000] [--clients 32] [--time-limit 60] [--workers 1 2] [--rounds 2]
        [--baseline-src DIR --baseline-database-url URL] [--client raw|httpx]

The workspace needs a scoring snapshot (``assist score`` or ``make demo``). The store is
migrated and the snapshot loaded first; a benchmark user is added. The server is ``assist serve
--workers N`` in a subprocess (no access log), once per ``--workers`` value and round.

With ``--baseline-src`` (a ``src`` folder of an older version, e.g. from
``git archive <commit> src | tar -x -C /tmp/base``) the same load also runs against that code
on its own store, alternating baseline and current each round, and ratios are printed
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
HEALTH, LIST, DETAIL = "health", "referrals page of 50", "household detail"
ROUTES = (HEALTH, LIST, DETAIL)
#: the ``assist`` command in this interpreter (PYTHONPATH picks the code: current or baseline)
ASSIST = [sys.executable, "-c", "import sys; from assist.cli import main; sys.argv[0] = 'assist'; "
          "main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_cpu_seconds(root: int) -> float | None:
    """User + system CPU seconds of process ``root`` and its live descendants (Linux /proc:
    the CLI, uvicorn's supervisor and every worker), else None."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    if root not in cpu:
        return None
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(p for p, pp in parent.items() if pp == pid)
    return total


def prepare(env: dict[str, str]) -> None:
    """Migrate, load the current snapshot, add the benchmark user (idempotent)."""
    subprocess.run([*ASSIST, "casebook", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([*ASSIST, "casebook", "load"], env=env, check=True, capture_output=True)
    subprocess.run([*ASSIST, "users", "add", "bench", "--role", "manager", "--password", PASSWORD],
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
                except (TimeoutError, httpx.HTTPError, OSError, ValueError,
                        asyncio.IncompleteReadError):
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


def _start(env: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    """``assist serve --workers N`` on a free loopback port, once it answers ready."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*ASSIST, "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", str(workers), "--no-load"], env=env,
                              stdout=subprocess.DEVNULL)
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError(f"assist serve exited with status {server.returncode}")
        try:
            if httpx.get(f"{base}/api/v1/ready").status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.terminate()
    raise RuntimeError("assist serve did not become ready in 60 s")


def _paths(base: str, token: str) -> dict[str, list[str]]:
    """The requests of each route: /health; up to 20 pages of 50; 200 listed households."""
    h = {"Authorization": f"Bearer {token}"}
    first = httpx.get(f"{base}/api/v1/referrals", params={"page_size": 200}, headers=h).json()
    pages = max(1, min(20, first["total"] // 50))
    return {HEALTH: ["/api/v1/health"],
            LIST: [f"/api/v1/referrals?page_size=50&page={p}" for p in range(1, pages + 1)],
            DETAIL: [f"/api/v1/households/{i['household_id']}" for i in first["items"]]}


def run(env: dict[str, str], label: str, workers: int,
        a: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Prepare the store, start a server with ``env`` and load each route; one line each."""
    prepare(env)
    server, base = _start(env, workers)
    out: dict[str, dict[str, float]] = {}
    try:
        token = httpx.post(f"{base}/api/v1/auth/token",
                           json={"username": "bench", "password": PASSWORD}).json()["access_token"]
        for name, paths in _paths(base, token).items():
            asyncio.run(_load(base, token, paths[:5], requests=64 * workers, clients=8,
                              time_limit=10, client=a.client))
            cpu0 = _tree_cpu_seconds(server.pid)
            r = asyncio.run(_load(base, token, paths, requests=a.requests, clients=a.clients,
                                  time_limit=a.time_limit, client=a.client))
            cpu1 = _tree_cpu_seconds(server.pid)
            r["cpu_ms"] = ((cpu1 - cpu0) * 1e3 / r["requests"]
                           if cpu0 is not None and cpu1 is not None else float("nan"))
            r["x_health"] = r["cpu_ms"] / out[HEALTH]["cpu_ms"] if name != HEALTH else 1.0
            out[name] = r
            print(f"{label:18} w{workers} {name:21} {r['requests']:6d} req {r['rps']:7.1f} req/s  "
                  f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                  f"cpu {r['cpu_ms']:5.2f} ms/req = {r['x_health']:4.1f}x /health  "
                  f"errors {r['errors']}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


def _summary(results: dict[tuple[str, int], list[dict[str, dict[str, float]]]]) -> None:
    """Medians over rounds per version, worker count and route; current/baseline ratios."""
    print("medians over rounds:")
    for (who, workers), rounds in results.items():
        for name in ROUTES:
            med = {k: statistics.median(r[name][k] for r in rounds)
                   for k in ("cpu_ms", "x_health", "p99_ms", "rps")}
            print(f"  {who:18} w{workers} {name:21} cpu {med['cpu_ms']:5.2f} ms/req "
                  f"({med['x_health']:4.1f}x /health)  p99 {med['p99_ms']:6.1f} ms  "
                  f"{med['rps']:7.1f} req/s")
    for (who, workers), rounds in results.items():
        base = results.get(("baseline", workers))
        if who != "current" or base is None:
            continue
        for name in ROUTES[1:]:
            def ratio(key: str, name: str = name, cur: list = rounds, old: list = base) -> float:
                return (statistics.median(r[name][key] for r in cur)
                        / statistics.median(r[name][key] for r in old))
            print(f"  current/baseline w{workers} {name:21} cpu/req x{ratio('cpu_ms'):.2f}  "
                  f"x/health x{ratio('x_health'):.2f}  p99 x{ratio('p99_ms'):.2f}  "
                  f"req/s x{ratio('rps'):.2f}")


def main() -> None:
    """Run the benchmark (and the baseline, if given) and print one line per route."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=Path("var"))
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1],
                    help="server worker processes, one run each (e.g. 1 2)")
    ap.add_argument("--baseline-src", type=Path, default=None,
                    help="src folder of the version to compare against")
    ap.add_argument("--baseline-database-url", default=None,
                    help="the baseline's own store (its schema may differ)")
    ap.add_argument("--rounds", type=int, default=1, help="repetitions (alternating versions)")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw",
                    help="load generator: raw asyncio HTTP/1.1 (cheap) or httpx")
    a = ap.parse_args()
    if a.baseline_src is not None and not a.baseline_database_url:
        ap.error("--baseline-src needs --baseline-database-url (a store of its own)")
    env = {**os.environ, "ASSIST_ENV": os.environ.get("ASSIST_ENV", "dev"),
           "ASSIST_WORKSPACE": str(a.workspace.resolve())}
    if a.database_url:
        env["ASSIST_DATABASE_URL"] = a.database_url
    backend = (a.database_url or "sqlite").split(":")[0].split("+")[0]
    versions = {"current": env}
    if a.baseline_src is not None:
        versions = {"baseline": {**env, "ASSIST_DATABASE_URL": a.baseline_database_url,
                                 "PYTHONPATH": os.pathsep.join(
                                     [str(a.baseline_src.resolve()),
                                      *filter(None, [env.get("PYTHONPATH")])])}, **versions}
    results: dict[tuple[str, int], list[dict[str, dict[str, float]]]] = {}
    for _ in range(a.rounds):
        for workers in a.workers:
            for who, e in versions.items():
                results.setdefault((who, workers), []).append(
                    run(e, f"{backend} {who}", workers, a))
    _summary(results)


if __name__ == "__main__":
    main()
