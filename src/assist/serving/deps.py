"""FastAPI dependencies: settings, a session per request, the caller, permissions.

They are ``async`` and do no I/O on the event loop in the common case, so a request crosses to
the thread pool once (for its sync route) instead of once per dependency. The caller is read
from a :class:`PrincipalCache`: a disabled user, a changed role or changed streets take effect
within :data:`PRINCIPAL_TTL_SECONDS` (5 s) of the change, in every API worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from assist.serving import audit
from assist.serving.auth import PERMISSIONS, Principal, read_token
from assist.serving.errors import ApiError
from assist.serving.models import User
from assist.serving.services.users import principal
from assist.settings import Settings

_bearer = HTTPBearer(auto_error=False)
#: how long a looked-up caller is trusted before the users table is read again
PRINCIPAL_TTL_SECONDS = 5.0
#: most callers remembered at once (ids come from signed tokens: only real users)
PRINCIPAL_MAX_ENTRIES = 10_000
_ABSENT = object()


class PrincipalCache:
    """User id -> the caller (or None: unknown or disabled), re-read from the store after
    ``ttl`` seconds (a :class:`cachetools.TTLCache` timed by ``clock``). Thread-safe; holds one
    entry per user who called recently, at most ``maxsize`` (least recently used dropped)."""

    def __init__(self, sessions: sessionmaker[Session], *, ttl: float = PRINCIPAL_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 maxsize: int = PRINCIPAL_MAX_ENTRIES) -> None:
        self.sessions, self.ttl, self.clock = sessions, ttl, clock
        # the timer reads ``self.clock`` on every call, so a clock set later (tests) applies
        self._entries: TTLCache[int, Principal | None] = TTLCache(maxsize, ttl,
                                                                  timer=lambda: self.clock())
        self._lock = threading.Lock()  # a TTLCache is not thread-safe, even to read

    def cached(self, user_id: int) -> tuple[bool, Principal | None]:
        """``(fresh, principal)`` from memory; ``fresh`` is False when the store must be read."""
        with self._lock:
            who = self._entries.get(user_id, _ABSENT)
        if who is _ABSENT:
            return False, None
        return True, who

    def load(self, user_id: int) -> Principal | None:
        """Read the user from the store (blocking) and remember the answer for ``ttl``."""
        with self.sessions() as session:
            user = session.get(User, user_id)
            who = principal(user) if user is not None and user.active else None
        with self._lock:
            self._entries[user_id] = who
        return who

    def get(self, user_id: int) -> Principal | None:
        """The active user's principal, else None (blocking on a miss)."""
        fresh, who = self.cached(user_id)
        return who if fresh else self.load(user_id)

    def forget(self, user_id: int | None = None) -> None:
        """Drop one user's entry (or all): the next request reads the store."""
        with self._lock:
            if user_id is None:
                self._entries.clear()
            else:
                self._entries.pop(user_id, None)


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for this request, closed afterwards (a still-open transaction is rolled back
    on a worker thread, never on the event loop)."""
    session: Session = request.app.state.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()  # no connection held: nothing to send to the store


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


async def current_principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal:
    """The caller of a bearer token; 401 without a valid token or for a disabled user."""
    if credentials is None:
        raise ApiError(401, "not_authenticated", "bearer token required",
                       headers={"WWW-Authenticate": "Bearer"})
    user_id = read_token(credentials.credentials, secret=request.app.state.token_secret)
    cache: PrincipalCache = request.app.state.principals
    fresh, who = cache.cached(user_id)
    if not fresh:
        who = await run_in_threadpool(cache.load, user_id)
    if who is None:
        raise ApiError(401, "invalid_token", "invalid or expired token",
                       headers={"WWW-Authenticate": "Bearer"})
    return who


def require(permission: str) -> Callable[..., Principal]:
    """A dependency that admits callers whose role holds ``permission`` (else 403)."""
    if permission not in PERMISSIONS:
        raise KeyError(permission)

    async def check(who: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not who.can(permission):
            raise ApiError(403, "forbidden", f"role {who.role!r} may not {permission}")
        return who

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check


def route_template(scope: dict) -> str:
    """The matched route's template, e.g. ``/api/v1/households/{household_id}``: the request
    path with path parameters put back as names (the raw path may carry ids)."""
    if "route" not in scope:
        return "unmatched"
    values = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    parts = [f"{{{values[p]}}}" if p in values else p for p in scope["path"].split("/")]
    return "/".join(parts)


def endpoint(request: Request) -> str:
    """Method and route template of this request, for the audit log."""
    return f"{request.method} {route_template(request.scope)}"


@contextmanager
def probe_audited(request: Request, session: Session, *, who: Principal,
                  household_id: str) -> Iterator[None]:
    """Run a household route's service: a 404 (a household unknown or outside the caller's
    streets) rolls the session back and is audited as a denied probe, then raised."""
    try:
        yield
    except ApiError as exc:
        if exc.status == 404:
            session.rollback()
            request.app.state.audit.write(who=who, action=audit.DENIED,
                                          endpoint=endpoint(request), household_id=household_id)
        raise
