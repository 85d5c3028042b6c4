"""Tokens and sessions on every back end: token claims, server-side page sessions ended at
once by sign-out, disable, new password and new role, per-login random cookies and CSRF
tokens, and the sign-in throttle (API and pages) with its declared lock-out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assist.serving.auth import MAX_TOKEN_LIFETIME_SECONDS, read_token
from assist.serving.errors import ApiError
from assist.serving.models import User, UserSession
from assist.serving.pages import session as cookies
from assist.serving.services.users import add_user, disable_user, set_password, set_role
from assist.serving.throttle import LoginThrottle
from tests.serving.conftest import PASSWORD

API = "/api/v1"
SECRET = "s" * 40
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(claims: object, secret: str = SECRET) -> str:
    payload = _b64(json.dumps(claims).encode())
    return f"{payload}.{_b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())}"


# --- token claims ----------------------------------------------------------------------------
@pytest.mark.parametrize("claims", [
    {"sub": "1", "exp": 2000.0},                 # a string id
    {"sub": 2**63, "exp": 2000.0},               # beyond the users' integer key
    {"sub": 2**31, "exp": 2000.0},
    {"sub": 0, "exp": 2000.0}, {"sub": -1, "exp": 2000.0},
    {"sub": True, "exp": 2000.0},                # a bool is not an id
    {"sub": 1.0, "exp": 2000.0},
    {"sub": 1, "exp": 1e308},                    # never expires
    {"sub": 1, "exp": float("inf")}, {"sub": 1, "exp": float("nan")},
    {"sub": 1, "exp": "2000"}, {"sub": 1}, {"exp": 2000.0},
    {"sub": 1, "exp": 1000.0 + MAX_TOKEN_LIFETIME_SECONDS + 1},
    [1, 2000.0], "sub", None,
])
def test_malformed_claims_are_refused(claims):
    with pytest.raises(ApiError) as err:
        read_token(_signed(claims), secret=SECRET, now=1000.0)
    assert err.value.status == 401


def test_wellformed_claims_are_read():
    assert read_token(_signed({"sub": 7, "exp": 2000}), secret=SECRET, now=1000.0) == 7
    assert read_token(_signed({"sub": 2**31 - 1, "exp": 1999.5}), secret=SECRET, now=1000.0)


@pytest.mark.parametrize("claims", [{"sub": 2**63, "exp": 4e9}, {"sub": "1", "exp": 4e9},
                                    {"sub": 1, "exp": 1e308}])
def test_bad_claims_are_401_through_the_api(app, client, claims):
    token = _signed(claims, app.state.token_secret)
    r = client.get(f"{API}/referrals", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


# --- server-side sessions ------------------------------------------------------------------
@pytest.fixture
def browser(app):
    app.state.login_throttle.clear()

    def make(user: str | None = None, password: str = PASSWORD) -> TestClient:
        c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
        if user:
            r = c.post("/login", data={"username": user, "password": password,
                                       "csrf": CSRF.search(c.get("/login").text).group(1)})
            assert r.status_code == 303, r.text
        return c
    yield make
    app.state.login_throttle.clear()


def test_replayed_cookie_after_sign_out_is_refused_at_once(browser):
    c = browser("cw1")
    cookie = c.cookies.get(cookies.SESSION_COOKIE)
    r = c.post("/logout", data={"csrf": CSRF.search(c.get("/referrals").text).group(1)})
    assert r.status_code == 303
    replay = TestClient(c.app, base_url="http://127.0.0.1", follow_redirects=False)
    replay.cookies.set(cookies.SESSION_COOKIE, cookie)
    r = replay.get("/referrals")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_two_sign_ins_get_different_cookies_and_csrf_tokens(browser, sessions):
    a, b = browser("cw1"), browser("cw1")  # same user, same second
    ca, cb = a.cookies.get(cookies.SESSION_COOKIE), b.cookies.get(cookies.SESSION_COOKIE)
    assert ca and cb and ca != cb and len(ca) >= 43
    ta = CSRF.search(a.get("/referrals").text).group(1)
    tb = CSRF.search(b.get("/referrals").text).group(1)
    assert ta != tb
    with sessions() as s:  # the store keeps hashes, never the cookie itself
        ids = set(s.scalars(select(UserSession.id)))
    assert ca not in ids and hashlib.sha256(ca.encode()).hexdigest() in ids
    # each session's CSRF token is its own: b's token does not sign a's form
    assert a.post("/logout", data={"csrf": tb}).status_code == 403


@pytest.mark.parametrize("change", ["disable", "password", "role"])
def test_trust_changes_end_sessions_at_once(browser, sessions, change):
    name = f"sess_{change}"
    with sessions() as s:
        add_user(s, username=name, password=PASSWORD, role="manager")
    c = browser(name)
    assert c.get("/coverage").status_code == 200
    with sessions() as s:
        {"disable": lambda: disable_user(s, username=name),
         "password": lambda: set_password(s, username=name, password="another-password-1"),
         "role": lambda: set_role(s, username=name, role="data_scientist")}[change]()
    r = c.get("/coverage")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with sessions() as s:
        uid = s.scalar(select(User.id).where(User.username == name))
        left = s.scalar(select(func.count()).select_from(UserSession)
                        .where(UserSession.user_id == uid))
    assert left == 0


# --- sign-in throttle ------------------------------------------------------------------------
def test_api_sign_in_is_throttled_per_user(app, client, caplog):
    app.state.login_throttle.clear()
    limit = app.state.settings.login_max_failures
    caplog.set_level(logging.INFO)
    try:
        codes = [client.post(f"{API}/auth/token", json={"username": "cw2",
                                                        "password": f"wrong-{i}"}).status_code
                 for i in range(limit)]
        assert codes == [401] * limit
        locked = client.post(f"{API}/auth/token", json={"username": "cw2", "password": PASSWORD})
        assert locked.status_code == 429  # even the right password, while locked out
        body = locked.json()["error"]
        assert body["code"] == "too_many_attempts" and "seconds" in body["message"]
        wait = int(locked.headers["retry-after"])
        assert 0 < wait <= app.state.settings.login_lockout_seconds
        other = client.post(f"{API}/auth/token", json={"username": "cw1", "password": PASSWORD})
        assert other.status_code == 200  # another user from the same address still signs in
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "locked out" in text and "cw2" not in text and "wrong-" not in text
    finally:
        app.state.login_throttle.clear()


def test_page_sign_in_is_throttled(app, browser):
    c = browser()
    limit = app.state.settings.login_max_failures
    csrf = CSRF.search(c.get("/login").text).group(1)
    codes = [c.post("/login", data={"username": "mgr", "password": "nope-nope", "csrf": csrf}
                    ).status_code for _ in range(limit + 1)]
    assert codes == [401] * limit + [429]
    r = c.post("/login", data={"username": "mgr", "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "登录尝试次数过多" in r.text or "Too many sign-in attempts" in r.text
    assert cookies.SESSION_COOKIE not in r.cookies
    # the API token endpoint shares the lock-out
    assert c.post(f"{API}/auth/token", json={"username": "mgr", "password": PASSWORD}
                  ).status_code == 429


def test_throttle_per_address_window_and_lockout_expiry():
    now = [0.0]
    t = LoginThrottle(key_secret="k" * 32, max_failures=5, max_failures_per_address=3,
                      window_seconds=300, lockout_seconds=300, clock=lambda: now[0])
    for i in range(3):  # three usernames from one address
        assert t.retry_after(username=f"u{i}", address="10.0.0.1") == 0
        t.failed(username=f"u{i}", address="10.0.0.1")
    assert t.retry_after(username="fresh", address="10.0.0.1") == 300
    assert t.retry_after(username="fresh", address="10.0.0.2") == 0
    now[0] = 301.0
    assert t.retry_after(username="fresh", address="10.0.0.1") == 0
    # failures older than the window do not count
    for _ in range(4):
        t.failed(username="slow", address=f"10.0.1.{_}")
    now[0] += 301.0
    t.failed(username="slow", address="10.0.2.1")
    assert t.retry_after(username="slow", address="10.0.2.2") == 0
    # a success clears the username's failures
    for _ in range(4):
        t.failed(username="ok", address="10.0.3.1")
    t.succeeded(username="ok", address="10.0.3.1")
    t.failed(username="ok", address="10.0.4.1")
    assert t.retry_after(username="ok", address="10.0.4.2") == 0
