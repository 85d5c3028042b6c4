"""What the fast paths must still guarantee, on every back end: every read is audited before it
is answered (also in a burst of concurrent reads, and never when the audit cannot be written);
concurrent reads share commits; a disabled user, a changed role or changed streets take effect
within the principal cache's TTL; the page total is right without a count query."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update

from assist.serving.audit import AuditWriter
from assist.serving.auth import Principal
from assist.serving.deps import PRINCIPAL_TTL_SECONDS
from assist.serving.errors import ApiError
from assist.serving.models import AuditEntry, User, UserJurisdiction

API = "/api/v1"
WHO = Principal(user_id=1, username="t", role="manager", streets=None)


def _log(sessions) -> list[tuple[str, str, str | None]]:
    with sessions() as s:
        return [(e.username, e.action, e.household_id)
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


# --- audit ---------------------------------------------------------------------------------
def test_burst_of_concurrent_reads_is_audited_one_entry_each(client, auth, sessions):
    paths = [f"{API}/households/hS01a", f"{API}/households/hS02a", f"{API}/referrals",
             f"{API}/households/hS03a"] * 15
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda p: client.get(p, headers=auth("mgr")).status_code, paths))
    assert statuses == [200] * len(paths)
    log = _log(sessions)
    assert len(log) == len(paths)
    assert Counter((a, h) for _, a, h in log) == {
        ("household.read", "hS01a"): 15, ("household.read", "hS02a"): 15,
        ("household.read", "hS03a"): 15, ("referrals.list", None): 15}


class _Store:
    """A stand-in sessionmaker: records committed batches; the first commit can be held."""

    def __init__(self, *, fail: bool = False) -> None:
        self.batches: list[list[dict]] = []
        self.hold, self.holding = threading.Event(), threading.Event()
        self.hold.set()
        self.fail = fail

    def __call__(self):
        store = self

        class _Session:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def execute(self, _stmt, rows):
                if store.fail:
                    raise RuntimeError("store down")
                self.rows = list(rows)

            def commit(self):
                store.holding.set()
                store.hold.wait(10)
                store.batches.append(self.rows)

        return _Session()


def test_audit_writer_shares_commits_and_returns_only_after_commit():
    store = _Store()
    store.hold.clear()  # the first commit waits until the others are queued
    writer = AuditWriter(store, timeout=10)
    done: list[int] = []

    def read(i: int) -> None:
        writer.write(who=WHO, action="household.read", endpoint="GET /x", household_id=f"h{i}")
        done.append(i)

    first = threading.Thread(target=read, args=(0,))
    first.start()
    assert store.holding.wait(5)
    others = [threading.Thread(target=read, args=(i,)) for i in range(1, 10)]
    for t in others:
        t.start()
    deadline = time.monotonic() + 5
    while writer._queue.qsize() < 9 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert done == []  # nobody answered before its entry was committed
    store.hold.set()
    for t in [first, *others]:
        t.join(5)
    assert sorted(done) == list(range(10))
    assert [len(b) for b in store.batches] == [1, 9] and writer.commits == 2
    assert sorted(r["household_id"] for b in store.batches for r in b) == \
        sorted(f"h{i}" for i in range(10))
    writer.close()


def test_audit_writer_failure_refuses_the_read():
    writer = AuditWriter(_Store(fail=True), timeout=5)
    with pytest.raises(ApiError) as err:
        writer.write(who=WHO, action="household.read", endpoint="GET /x", household_id="h1")
    assert err.value.status == 503 and err.value.code == "audit_unavailable"
    writer.close()


def test_unauditable_read_returns_no_data(app, client, auth):
    kept = app.state.audit  # (monkeypatch would delete a Starlette State attribute on undo)
    app.state.audit = AuditWriter(_Store(fail=True), timeout=5)
    try:
        for path in (f"{API}/households/hS01a", f"{API}/referrals"):
            r = client.get(path, headers=auth("mgr"))
            assert r.status_code == 503 and r.json()["error"]["code"] == "audit_unavailable"
            assert "hS01a" not in r.text
    finally:
        app.state.audit = kept


def test_audit_writer_close_commits_what_is_queued():
    store = _Store()
    store.hold.clear()
    writer = AuditWriter(store, timeout=10)
    threads = [threading.Thread(target=writer.write, kwargs={
        "who": WHO, "action": "referrals.list", "endpoint": "GET /x"}) for _ in range(5)]
    threads[0].start()
    assert store.holding.wait(5)
    for t in threads[1:]:
        t.start()
    while writer._queue.qsize() < 4:
        time.sleep(0.01)
    closer = threading.Thread(target=writer.close)
    closer.start()
    store.hold.set()
    closer.join(5)
    for t in threads:
        t.join(5)
    assert sum(len(b) for b in store.batches) == 5 and writer._thread is None


# --- principal cache -----------------------------------------------------------------------
@pytest.fixture
def clock(app, monkeypatch):
    """A settable clock for the principal cache; entries are forgotten afterwards."""
    cache = app.state.principals
    now = [cache.clock()]
    monkeypatch.setattr(cache, "clock", lambda: now[0])
    yield now
    cache.forget()


def test_changed_role_takes_effect_within_the_ttl(client, auth, sessions, clock):
    from assist.serving.services.users import add_user
    with sessions() as s:
        add_user(s, username="demoted", password="password-123", role="manager")
    tok = client.post(f"{API}/auth/token", json={"username": "demoted",
                                                   "password": "password-123"}).json()
    h = {"Authorization": f"Bearer {tok['access_token']}"}
    assert client.get(f"{API}/households/hS01a", headers=h).json()["decisions"] == []
    with sessions() as s:
        s.execute(update(User).where(User.username == "demoted").values(role="data_scientist"))
        s.commit()
    clock[0] += PRINCIPAL_TTL_SECONDS / 2  # within the bound the cached role still applies
    assert client.get(f"{API}/decisions/1", headers=h).status_code == 404  # manager: not found
    clock[0] += PRINCIPAL_TTL_SECONDS
    r = client.get(f"{API}/decisions/1", headers=h)
    assert r.status_code == 403 and "data_scientist" in r.json()["error"]["message"]
    assert _log(sessions)[-1][0] == "demoted"


def test_changed_streets_take_effect_within_the_ttl(client, auth, sessions, clock):
    assert client.get(f"{API}/households/hS02a", headers=auth("cw1")).status_code == 404
    with sessions() as s:
        uid = s.scalar(select(User.id).where(User.username == "cw1"))
        s.add(UserJurisdiction(user_id=uid, jurisdiction_code="S02"))
        s.commit()
    try:
        assert client.get(f"{API}/households/hS02a", headers=auth("cw1")).status_code == 404
        clock[0] += PRINCIPAL_TTL_SECONDS
        assert client.get(f"{API}/households/hS02a", headers=auth("cw1")).status_code == 200
    finally:
        with sessions() as s:
            s.delete(s.get(UserJurisdiction, (uid, "S02")))
            s.commit()


# --- pagination ----------------------------------------------------------------------------
@pytest.mark.parametrize(("page_size", "page", "returned"), [
    (2, 1, 2),   # full page: counted
    (2, 2, 1),   # last page: offset + rows
    (2, 3, 0),   # past the end: counted
    (3, 1, 3),   # exactly full: counted
    (5, 1, 3),   # short first page
])
def test_page_total_is_exact(client, auth, page_size, page, returned):
    body = client.get(f"{API}/referrals", params={"page_size": page_size, "page": page},
                      headers=auth("mgr")).json()
    assert body["total"] == 3 and len(body["items"]) == returned
    none = client.get(f"{API}/referrals", params={"street": "S02", "band": "low"},
                      headers=auth("mgr")).json()
    assert none["total"] == 0 and none["items"] == []
