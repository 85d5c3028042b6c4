"""``assist serve --workers N``: several API processes over one PostgreSQL store answer the same
list and audit every read; on SQLite (single-writer) the command says so before it starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from assist.features import CATALOG
from assist.serving.db import make_engine, session_factory
from assist.serving.models import AuditEntry
from assist.serving.services.snapshots import load_snapshot
from assist.serving.services.users import add_user
from tests.serving.conftest import AS_OF, PASSWORD, tiny_snapshot
from tests.serving.generated_district import fresh_store

ASSIST = [sys.executable, "-c", "from assist.cli import main; main()"]
#: the Prometheus counter of answered list reads, as ``/metrics`` prints it
LIST_COUNTER = 'assist_http_requests_total{method="GET",route="/api/v1/referrals",status="200"}'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers(server: int) -> list[int]:
    """Pids of the uvicorn worker processes below ``server`` (multiprocessing spawn children)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == server and b"spawn_main" in cmd:
            found.append(int(entry))
    return sorted(found)


def _lists_served(base: str) -> float:
    """How many list reads the worker answering this (fresh) connection served: each worker
    keeps its own Prometheus counters."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(LIST_COUNTER))


@pytest.fixture
def pg_store(tmp_path) -> str:
    """A PostgreSQL store (skipped without ``ASSIST_TEST_POSTGRES_URL``) holding the tiny
    snapshot and a manager."""
    with fresh_store("postgresql", tmp_path) as url:
        engine = make_engine(url)
        with session_factory(engine)() as s:
            scores, ref, summary = tiny_snapshot()
            load_snapshot(s, as_of=AS_OF, summary=summary, scores=scores, referrals=ref,
                          indicator_ids=CATALOG.ids)
            add_user(s, username="mgr", password=PASSWORD, role="manager")
        engine.dispose()
        yield url


def _serve(tmp_path: Path, url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path),
           "ASSIST_DATABASE_URL": url}
    with (tmp_path / "serve.log").open("wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen([*ASSIST, "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", "2", "--no-load"], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)


def _ready(server: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            if httpx.get(f"{base}/api/v1/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("assist serve --workers 2 was not ready within 60 s")


def test_two_workers_serve_the_same_list_and_audit_every_read(tmp_path, pg_store):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(tmp_path, pg_store, port)
    try:
        _ready(server, base, tmp_path / "serve.log")
        workers = _workers(server.pid)
        assert len(workers) == 2
        token = httpx.post(f"{base}/api/v1/auth/token", timeout=10, json={
            "username": "mgr", "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def read(_: int) -> httpx.Response:  # a fresh connection each: any worker may take it
            return httpx.get(f"{base}/api/v1/referrals", headers=headers, timeout=30)

        answers: list[httpx.Response] = []
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(4) as pool:  # few store connections: the test run holds many
            # a worker that served some of the reads but not all proves the other served the rest
            while not any(0 < _lists_served(base) < len(answers) for _ in range(4)):
                assert time.monotonic() < deadline, "one worker never answered a list read"
                answers += pool.map(read, range(8))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    failed = [(r.status_code, r.text[:300]) for r in answers if r.status_code != 200]
    assert not failed, failed[:3]
    bodies = {r.content for r in answers}
    assert len(bodies) == 1  # both workers answer the same page
    assert [i["household_id"] for i in answers[0].json()["items"]] == ["hS01a", "hS02a", "hS03a"]
    engine = make_engine(pg_store)
    with session_factory(engine)() as s:
        audited = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "referrals.list"))
    engine.dispose()
    assert audited == len(answers)


def test_several_workers_on_sqlite_are_warned_single_writer(tmp_path, monkeypatch):
    import uvicorn

    from assist.cli.app import app

    ran: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: ran.update(kw, target=target))
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path), "ASSIST_DATABASE_URL": ""}
    r = CliRunner().invoke(app, ["serve", "--workers", "2", "--no-load"], env=env)
    assert r.exit_code == 0, r.output
    assert "SQLite is single-writer" in r.output and "PostgreSQL" in r.output
    assert ran["workers"] == 2 and ran["target"] == "assist.serving.app:from_environment"
    ran.clear()
    r = CliRunner().invoke(app, ["serve", "--no-load"], env=env)
    assert r.exit_code == 0 and "single-writer" not in r.output and ran["workers"] == 1
    assert CliRunner().invoke(app, ["serve", "--workers", "0"], env=env).exit_code == 2
