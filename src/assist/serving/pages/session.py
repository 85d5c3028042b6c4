"""Page sessions: a signed, expiring cookie (the API's token format, signed with the same
secret), HttpOnly and SameSite=Lax; CSRF tokens derived from it by HMAC and checked on
every POST. Before sign-in, a random nonce cookie plays the session's part for the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

from assist.serving.auth import issue_token, read_token
from assist.serving.errors import ApiError

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


def start(response: Response, request: Request, *, user_id: int, ttl_seconds: int) -> None:
    """Set the session cookie of ``user_id`` on ``response`` (and drop the sign-in nonce)."""
    token = issue_token(user_id=user_id, secret=request.app.state.token_secret,
                        ttl_seconds=ttl_seconds)
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl_seconds, httponly=True,
                        samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(NONCE_COOKIE, path="/")


def end(response: Response) -> None:
    """Clear the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def user_id(request: Request) -> int | None:
    """The signed-in user's id, or None without a valid, unexpired session cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return read_token(token, secret=request.app.state.token_secret)
    except ApiError:
        return None


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
