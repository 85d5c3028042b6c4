"""Page sessions: server side (:mod:`assist.serving.services.sessions`). The cookie is a
random secret from the OS CSPRNG, new at every sign-in, HttpOnly and SameSite=Lax; the store
holds its hash and expiry, and deleting the row (sign-out, user disabled, password or role
changed) ends the session at once. The CSRF token is an HMAC of that per-login secret, so
two sign-ins never share one; it is checked on every POST. Before sign-in, a random nonce
cookie plays the session's part for the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from assist.serving.models import User
from assist.serving.services.sessions import end_session, session_user, start_session

SESSION_COOKIE = "assist_session"
NONCE_COOKIE = "assist_nonce"
LANG_COOKIE = "assist_lang"
FONT_COOKIE = "assist_font"
FONT_SIZES = ("normal", "large", "xlarge")
PREF_MAX_AGE = 365 * 24 * 3600


def _mac(secret: str, purpose: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start(response: Response, request: Request, session: Session, *, user_id: int,
          ttl_seconds: int) -> None:
    """Start a new server-side session of ``user_id``, set its cookie on ``response`` (and
    drop the sign-in nonce)."""
    secret = start_session(session, user_id=user_id, ttl_seconds=ttl_seconds)
    response.set_cookie(SESSION_COOKIE, secret, max_age=ttl_seconds, httponly=True,
                        samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(NONCE_COOKIE, path="/")


def end(response: Response, request: Request, session: Session) -> None:
    """End this request's session in the store and clear its cookie."""
    end_session(session, request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def signed_in(request: Request, session: Session) -> User | None:
    """The active user of this request's session, or None (no cookie, unknown, ended or
    expired session, disabled user)."""
    return session_user(session, request.cookies.get(SESSION_COOKIE))


def nonce(request: Request) -> tuple[str, bool]:
    """The sign-in nonce from the cookie, or a new one (second item: whether it is new)."""
    value = request.cookies.get(NONCE_COOKIE)
    if value and len(value) == 32:
        return value, False
    return secrets.token_hex(16), True


def set_nonce(response: Response, request: Request, value: str) -> None:
    """Remember the sign-in nonce for the sign-in form's CSRF token."""
    response.set_cookie(NONCE_COOKIE, value, max_age=3600, httponly=True, samesite="lax",
                        secure=_secure(request), path="/")


def csrf_token(request: Request, *, anonymous_nonce: str | None = None) -> str:
    """The CSRF token of this session (or of the sign-in nonce before sign-in)."""
    secret = request.app.state.token_secret
    if anonymous_nonce is not None:
        return _mac(secret, "csrf-login", anonymous_nonce)
    return _mac(secret, "csrf", request.cookies.get(SESSION_COOKIE, ""))


def csrf_ok(request: Request, submitted: str | None, *, anonymous: bool = False) -> bool:
    """Whether ``submitted`` is this session's CSRF token (constant-time)."""
    if not submitted:
        return False
    if anonymous:
        value = request.cookies.get(NONCE_COOKIE)
        if not value:
            return False
        expected = csrf_token(request, anonymous_nonce=value)
    else:
        if not request.cookies.get(SESSION_COOKIE):
            return False
        expected = csrf_token(request)
    return hmac.compare_digest(expected, submitted)
