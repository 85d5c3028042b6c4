"""The audit log: every read of household-level data and every decision, who/when/what/where.

Two ways to write an entry, both durable before the caller answers:

* :func:`record` adds it to the caller's own transaction (decisions: the entry and the change
  commit together, or neither does);
* :class:`AuditWriter` (API reads) commits the entries of many concurrent requests in one
  transaction (group commit): each request waits until its own entry is committed and only then
  sends its response, so one fsync serves many reads instead of one each. A request whose entry
  cannot be committed gets 503 and no data. A crash loses only entries whose responses were
  never sent; shutdown drains the queue.

"Who saw household X" is answered by :func:`entries` with ``household``: entries about X
itself (reads, decisions, and denied probes: ``household.denied``, a 404 for a household
unknown or outside the caller's streets) and list reads whose ``detail.household_ids`` (the
pseudonyms the list returned) hold X. Entries are kept :data:`RETENTION` long; :func:`prune`
deletes older ones (``assist audit-log prune``).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from sqlalchemy import Text, cast, delete, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from assist.serving.auth import Principal
from assist.serving.errors import ApiError
from assist.serving.models import AuditEntry, utcnow

log = logging.getLogger("assist.serving")

#: how long audit entries are kept (PIPL art. 56 keeps processing records three years at least)
RETENTION = dt.timedelta(days=3 * 366)
#: the action of a read of one household refused with 404 (unknown or outside the streets)
DENIED = "household.denied"


def entry(*, who: Principal, action: str, endpoint: str, household_id: str | None = None,
          detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The columns of one audit entry, stamped now."""
    return {"at": utcnow(), "user_id": who.user_id, "username": who.username, "role": who.role,
            "action": action, "endpoint": endpoint, "household_id": household_id,
            "detail": detail or {}}


def record(session: Session, *, who: Principal, action: str, endpoint: str,
           household_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Add an audit entry to ``session`` (committed with the caller's transaction)."""
    session.execute(insert(AuditEntry).values(**entry(
        who=who, action=action, endpoint=endpoint, household_id=household_id, detail=detail)))


class AuditWriter:
    """Group commit of audit entries on a background thread; :meth:`write` blocks until the
    caller's entry is committed (at most ``timeout`` seconds, then 503)."""

    def __init__(self, sessions: sessionmaker[Session], *, max_batch: int = 500,
                 timeout: float = 30.0) -> None:
        self.sessions, self.max_batch, self.timeout = sessions, max_batch, timeout
        self._queue: queue.SimpleQueue[tuple[dict[str, Any], Future[None]] | None] = \
            queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self.commits = 0  #: transactions committed (entries / commits = the sharing)

    def write(self, *, who: Principal, action: str, endpoint: str,
              household_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
        """Commit one entry (shared with concurrent callers); 503 if it cannot be."""
        done: Future[None] = Future()
        self._start()
        self._queue.put((entry(who=who, action=action, endpoint=endpoint,
                               household_id=household_id, detail=detail), done))
        try:
            done.result(timeout=self.timeout)
        except FutureTimeout:
            raise ApiError(503, "audit_unavailable", "the read could not be audited in time: "
                           "nothing was returned, try again") from None
        except Exception as exc:  # noqa: BLE001 - the store failed: refuse the read
            log.error("audit write failed: %s", type(exc).__name__)
            raise ApiError(503, "audit_unavailable", "the read could not be audited: nothing "
                           "was returned, try again") from None

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._guard:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-writer",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                with self.sessions() as session:  # a Core insert: no ORM bulk bookkeeping
                    session.execute(insert(AuditEntry.__table__), [row for row, _ in batch])
                    session.commit()
                self.commits += 1
            except Exception as exc:  # noqa: BLE001 - every waiting request gets a 503
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)

    def close(self) -> None:
        """Commit what is queued and stop the thread (app shutdown)."""
        with self._guard:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=self.timeout)


def listed(ids: Iterable[str]) -> list[str]:
    """The pseudonyms a list read returned, as its audit entry keeps them (in list order)."""
    return [str(h) for h in ids]


def entries(session: Session, *, since: dt.datetime | None = None,
            household: str | None = None) -> Iterator[dict[str, Any]]:
    """Audit entries in time order, from ``since`` on; with ``household``, only those about
    it: its own reads, decisions and denied probes, and the list reads that returned it."""
    q = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    if household is not None:  # the database narrows by text (any JSON), Python confirms
        q = q.where(or_(AuditEntry.household_id == household,
                        cast(AuditEntry.detail, Text).contains(f'"{household}"',
                                                               autoescape=True)))
    for e in session.scalars(q).yield_per(1000):
        if household is not None and e.household_id != household and household not in (
                (e.detail or {}).get("household_ids") or ()):
            continue
        at = e.at if e.at.tzinfo else e.at.replace(tzinfo=dt.UTC)
        yield {"id": e.id, "at": at.isoformat(), "user_id": e.user_id, "username": e.username,
               "role": e.role, "action": e.action, "endpoint": e.endpoint,
               "household_id": e.household_id, "detail": e.detail}


def prune(session: Session, *, before: dt.datetime) -> int:
    """Delete the entries older than ``before`` (committed); how many were deleted."""
    deleted = session.execute(delete(AuditEntry).where(AuditEntry.at < before))
    session.commit()
    return int(deleted.rowcount or 0)
