"""Passwords (argon2), signed expiring bearer tokens, roles, jurisdictions and permissions.

Permissions are declared once (:data:`PERMISSIONS`) and each route names the one it needs
(``Depends(require("referrals:read"))``). Caseworkers and street leads (``lead``: assign the
visits of the streets they lead) are scoped to their streets; other roles see the district.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assist.serving.errors import ApiError

#: permission -> roles holding it
PERMISSIONS: dict[str, frozenset[str]] = {
    "referrals:read": frozenset({"caseworker", "lead", "manager", "data_scientist", "admin"}),
    "households:read": frozenset({"caseworker", "lead", "manager", "data_scientist", "admin"}),
    "decisions:read": frozenset({"caseworker", "lead", "manager", "admin"}),
    "decisions:write": frozenset({"caseworker", "manager"}),
    "models:read": frozenset({"caseworker", "lead", "manager", "data_scientist", "admin"}),
    "audit:read": frozenset({"admin"}),
    #: the notice to a visited household (PIPL art. 24): its street's caseworkers, managers
    "notice:read": frozenset({"caseworker", "manager", "admin"}),
    #: record a contest: the caseworker on a visit, a manager or admin at the service window
    "contests:write": frozenset({"caseworker", "manager", "admin"}),
    #: the managers' contests queue, and deciding a contest
    "contests:read": frozenset({"manager", "admin"}),
    "contests:decide": frozenset({"manager"}),
    #: assigned visits and their due dates: a caseworker's own ("my visits"), a street lead's
    #: streets, the district for managers and admins
    "assignments:read": frozenset({"caseworker", "lead", "manager", "admin"}),
    #: assign allocated referrals to the street's caseworkers: street leads (their streets),
    #: managers (the district)
    "assignments:write": frozenset({"lead", "manager"}),
    #: water-meter alerts (水管家): the urgent queue, acknowledge and resolve; escalated alerts
    #: go to the street lead
    "alerts:read": frozenset({"caseworker", "lead", "manager", "admin"}),
    "alerts:write": frozenset({"caseworker", "lead", "manager"}),
}
#: roles that see free-text notes (data scientists get pseudonymous, note-free data)
SEES_NOTES = frozenset({"caseworker", "manager", "admin"})

_hasher = PasswordHasher()
#: largest user id a token may name (the users table's INTEGER key)
MAX_USER_ID = 2**31 - 1
#: a token's expiry may lie at most this far ahead of now (a year): a bounded, finite number
MAX_TOKEN_LIFETIME_SECONDS = 366 * 24 * 3600


def hash_password(password: str) -> str:
    """Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: int
    username: str
    role: str
    #: street codes the caller may see; None: the whole district
    streets: tuple[str, ...] | None

    def can(self, permission: str) -> bool:
        """Whether the caller's role holds ``permission``."""
        return self.role in PERMISSIONS[permission]

    def sees_street(self, street: str) -> bool:
        """Whether ``street`` is in the caller's jurisdiction."""
        return self.streets is None or street in self.streets


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(*, user_id: int, secret: str, ttl_seconds: int, now: float | None = None) -> str:
    """A signed token ``payload.signature`` naming the user and its expiry."""
    now = time.time() if now is None else now
    payload = _b64(json.dumps({"sub": user_id, "iat": int(now), "exp": int(now + ttl_seconds)},
                              separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(sig)}"


def _claims(claims: object, now: float) -> int | None:
    """The user id of well-formed, unexpired claims, else None: ``sub`` an integer (not a
    string, not a bool) in 1..MAX_USER_ID; ``exp`` a finite number after ``now`` and at most
    :data:`MAX_TOKEN_LIFETIME_SECONDS` ahead of it."""
    if not isinstance(claims, dict):
        return None
    sub, exp = claims.get("sub"), claims.get("exp")
    if type(sub) is not int or not 1 <= sub <= MAX_USER_ID:
        return None
    if type(exp) not in (int, float) or not math.isfinite(exp):
        return None
    if not now < exp <= now + MAX_TOKEN_LIFETIME_SECONDS:
        return None
    return sub


def read_token(token: str, *, secret: str, now: float | None = None) -> int:
    """The user id of a valid, unexpired token with well-formed claims; 401 otherwise."""
    bad = ApiError(401, "invalid_token", "invalid or expired token",
                   headers={"WWW-Authenticate": "Bearer"})
    try:
        payload, sig = token.split(".")
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            raise bad
        claims = json.loads(_unb64(payload))
    except (ValueError, TypeError, UnicodeError, RecursionError):
        raise bad from None
    user_id = _claims(claims, time.time() if now is None else now)
    if user_id is None:
        raise bad
    return user_id
