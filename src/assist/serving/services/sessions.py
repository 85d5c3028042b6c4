"""Server-side page sessions: start one per sign-in, look it up per request, end it.

The cookie's value is ``secrets.token_urlsafe(32)`` (256 bits from the OS CSPRNG), new at
every sign-in; the store keeps its SHA-256 only. A session ends when its row is deleted:
sign-out, the user disabled, a new password, a new role (:func:`end_user_sessions`, called by
:mod:`assist.serving.services.users`) — the next request with the old cookie signs in again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assist.serving.models import User, UserSession, utcnow

#: cookie values are this many random bytes, URL-safe base64 (43 characters)
SESSION_BYTES = 32
#: longest cookie value looked up (anything longer is not one of ours)
MAX_COOKIE_LENGTH = 64


def _key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def start_session(session: Session, *, user_id: int, ttl_seconds: int) -> str:
    """Record a new session of ``user_id`` and return the cookie's secret (commits).
    Expired sessions of the user are dropped on the way."""
    now = utcnow()
    session.execute(delete(UserSession).where(UserSession.user_id == user_id,
                                              UserSession.expires_at <= now))
    secret = secrets.token_urlsafe(SESSION_BYTES)
    session.add(UserSession(id=_key(secret), user_id=user_id, created_at=now,
                            expires_at=now + dt.timedelta(seconds=ttl_seconds)))
    session.commit()
    return secret


def session_user(session: Session, secret: str | None) -> User | None:
    """The active user of an unexpired session with this cookie secret, else None."""
    if not secret or len(secret) > MAX_COOKIE_LENGTH:
        return None
    row = session.scalars(select(UserSession).where(UserSession.id == _key(secret))).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    if expires <= utcnow():
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def end_session(session: Session, secret: str | None) -> None:
    """End the session with this cookie secret (commits; no-op when unknown)."""
    if secret and len(secret) <= MAX_COOKIE_LENGTH:
        session.execute(delete(UserSession).where(UserSession.id == _key(secret)))
        session.commit()


def end_user_sessions(session: Session, *, user_id: int) -> int:
    """End every session of a user (not committed: the caller commits with its change);
    returns how many were ended."""
    result = session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return int(result.rowcount or 0)
