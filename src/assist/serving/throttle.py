"""Sign-in throttle, shared by ``POST /api/v1/auth/token`` and ``POST /login``.

Declared in the settings: after ``login_max_failures`` wrong attempts for one username, or
``login_max_failures_per_address`` from one client address, within ``login_window_seconds``,
that username (or address) is locked out for ``login_lockout_seconds``: every attempt gets a
429 with ``Retry-After`` before any password is checked (a right password included). A
successful sign-in clears the username's failures.

The store is in process memory (one per app), which is right for one API worker. Several
workers each count on their own, so a determined client gets up to workers x the limit:
deploy them behind a shared store (Redis, with the same keys and expiries) or one worker.
The client address is the socket peer; behind a reverse proxy run uvicorn with
``--proxy-headers`` and a trusted ``--forwarded-allow-ips`` so it is the real client.

Logs name the lock-out by keyed digest only, never the username or the password.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache
from fastapi import Request
from sqlalchemy.orm import Session

from assist.serving.errors import ApiError
from assist.serving.models import User
from assist.serving.services.users import authenticate

log = logging.getLogger("assist.serving.throttle")
#: most usernames and addresses remembered at once (the least recently used are dropped)
MAX_KEYS = 100_000


class LoginThrottle:
    """Failures per username and per address in a sliding window, and lock-outs."""

    def __init__(self, *, key_secret: str, max_failures: int, max_failures_per_address: int,
                 window_seconds: float, lockout_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.max_per_address = max_failures, max_failures_per_address
        self.window, self.lockout, self.clock = window_seconds, lockout_seconds, clock
        self._secret = key_secret.encode()
        ttl = window_seconds + lockout_seconds
        self._failures: TTLCache[str, list[float]] = TTLCache(MAX_KEYS, ttl,
                                                               timer=lambda: self.clock())
        self._locked: TTLCache[str, float] = TTLCache(MAX_KEYS, ttl, timer=lambda: self.clock())
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        def digest(kind: str, value: str) -> str:
            mac = hmac.new(self._secret, f"{kind}:{value}".encode("utf-8", "replace"),
                           hashlib.sha256)
            return f"{kind}:{mac.hexdigest()[:16]}"
        return digest("user", username.casefold()), digest("addr", address)

    def retry_after(self, *, username: str, address: str) -> int:
        """Seconds until this username and address may try again (0: now)."""
        now = self.clock()
        with self._lock:
            until = max(self._locked.get(k, 0.0) for k in self._keys(username, address))
        return max(0, math.ceil(until - now))

    def failed(self, *, username: str, address: str) -> None:
        """Count a wrong attempt; lock the username or address out when over its limit."""
        now = self.clock()
        user_key, addr_key = self._keys(username, address)
        with self._lock:
            for key, limit in ((user_key, self.max_failures), (addr_key, self.max_per_address)):
                recent = [t for t in self._failures.get(key, []) if t > now - self.window]
                recent.append(now)
                self._failures[key] = recent
                if len(recent) >= limit:
                    self._locked[key] = now + self.lockout
                    self._failures.pop(key, None)
                    log.warning("sign-in locked out for %ds: %s after %d failures in %ds",
                                self.lockout, key, len(recent), self.window)

    def succeeded(self, *, username: str, address: str) -> None:
        """A right password: forget the username's failures (the address keeps its count)."""
        with self._lock:
            self._failures.pop(self._keys(username, address)[0], None)

    def clear(self) -> None:
        """Forget every failure and lock-out."""
        with self._lock:
            self._failures.clear()
            self._locked.clear()


def refuse_if_locked(throttle: LoginThrottle, *, username: str, address: str) -> None:
    """429 ``too_many_attempts`` with ``Retry-After`` while the username or address is locked."""
    wait = throttle.retry_after(username=username, address=address)
    if wait > 0:
        raise ApiError(429, "too_many_attempts",
                       f"too many failed sign-ins: try again in {wait} seconds",
                       headers={"Retry-After": str(wait)}, retry_after=wait)


def sign_in(request: Request, session: Session, *, username: str, password: str) -> User | None:
    """The active user with these credentials, else None — through the app's throttle: 429
    while locked out (before the password is checked), failures counted, success clears."""
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    refuse_if_locked(throttle, username=username, address=address)
    user = authenticate(session, username=username, password=password)
    if user is None:
        throttle.failed(username=username, address=address)
    else:
        throttle.succeeded(username=username, address=address)
    return user
