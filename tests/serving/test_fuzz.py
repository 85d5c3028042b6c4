"""Fuzzing on every back end (SQLite always, PostgreSQL with ``ASSIST_TEST_POSTGRES_URL``).

1. Schemathesis drives the OpenAPI schema against the app in process: no 5xx, every error is
   JSON with a code and a message, every 2xx matches its declared response model.
2. Hostile text on every text input, API and forms, sign-in included: NUL and other control
   characters, lone surrogates, RTL marks, 64-bit-overflowing integers — refused with a 422
   naming the field (free text keeps tab and line breaks; RTL marks are accepted), never 5xx.

Each test prints the requests it sent and the 5xx it got.
"""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.serving.conftest import PASSWORD, referral_id

pytestmark = pytest.mark.slow
API = "/api/v1"
#: refused in every text field
HOSTILE = ["adm\x00in", "a\x01b", "esc\x1b[31m", "del\x7f", "n\x85el", "v\x0bt", "lone\ud800",
           "\udfff"]
#: refused in one-line fields, kept in free text (notes and reasons)
LINE_BREAKS = ["two\nlines", "tab\there", "crlf\r\nend"]
#: accepted everywhere (format characters, not controls)
ACCEPTED = ["\u200fمرحبا", "rtl\u202eevil", "zero\u200bwidth", "中文备注"]
BIG = [2**31, 2**63, 2**64 + 1, -(2**63) - 1]
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


class Tally:
    """Requests sent and 5xx received by one test; printed at its end."""

    def __init__(self) -> None:
        self.sent = self.server_errors = 0
        self.where: list[str] = []

    def saw(self, status: int, where: str) -> None:
        self.sent += 1
        if status >= 500:
            self.server_errors += 1
            self.where.append(f"{where} -> {status}")


@pytest.fixture(scope="module")
def totals(request):
    """Requests and 5xx over the whole module (both back ends), printed at its end."""
    sum_ = Tally()
    yield sum_
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print(f"\n[fuzz] total: {sum_.sent} requests sent, {sum_.server_errors} 5xx")


@pytest.fixture
def tally(request, capsys, app, totals):
    t = Tally()
    app.state.login_throttle.clear()
    yield t
    app.state.login_throttle.clear()  # failed sign-ins here must not lock out later tests
    totals.sent += t.sent
    totals.server_errors += t.server_errors
    with capsys.disabled():
        print(f"\n[fuzz] {request.node.name}: {t.sent} requests sent, {t.server_errors} 5xx")
    assert t.where == []


@pytest.fixture(scope="module")
def schema(app):
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@pytest.mark.parametrize("user", ["mgr", "cw1"])
def test_no_server_errors(schema, auth, user, tally):
    headers = auth(user)
    for op in schema.get_all_operations():
        operation = op.ok()

        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(headers=headers)
            tally.saw(response.status_code, f"{case.method} {case.formatted_path}")
            if response.status_code >= 500:
                return
            if response.status_code >= 400:
                err = response.json().get("error", {})
                assert err.get("code") and err.get("message"), case.formatted_path
            else:
                case.validate_response(response, checks=(response_schema_conformance,))

        run()


def _refused(r, field: str) -> None:
    assert r.status_code == 422, (field, r.status_code, r.text[:200])
    err = r.json()["error"]
    assert err["code"] == "validation_error" and err["field"] == field, err
    assert "\x00" not in r.text  # the value is never echoed


def _decision(rid: int, **kw) -> dict:
    return {"referral_id": rid, "outcome": "confirmed", **kw}


def _send(client, method: str, path: str, body: dict, headers: dict | None = None):  # noqa: ANN001, ANN202
    """A JSON request encoded with ASCII escapes, so lone surrogates travel as ``\\udXXX``
    (a UTF-8 encoder would refuse them client-side)."""
    return client.request(method, API + path, content=json.dumps(body),
                          headers={"Content-Type": "application/json", **(headers or {})})


def _surrogate(value: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in value)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_is_refused_on_every_api_text_input(client, auth, sessions, value, tally):
    rid = referral_id(sessions, "hS01a")
    checks = [
        (_send(client, "POST", "/auth/token", {"username": value, "password": PASSWORD}),
         "body.username"),
        (_send(client, "POST", "/auth/token", {"username": "adm", "password": value + "pw"}),
         "body.password"),
        *[(_send(client, "POST", "/decisions", _decision(rid, **{f: value}), auth("cw1")),
           f"body.{f}") for f in ("note", "override_reason", "rating_reason")],
        (_send(client, "POST", "/decisions", _decision(rid, programmes_granted=[value]),
               auth("cw1")), "body.programmes_granted.0"),
        (_send(client, "PUT", "/decisions/1", {"outcome": "declined", "version": 1,
                                               "note": value}, auth("cw1")), "body.note"),
    ]
    if not _surrogate(value):  # a URL carries UTF-8 only: no lone surrogate can arrive there
        checks.append((client.get(f"{API}/referrals", params={"street": value},
                                  headers=auth("mgr")), "query.street"))
    for r, field in checks:
        tally.saw(r.status_code, field)
        _refused(r, field)


@pytest.mark.parametrize("path", ["/households/h%00S01a", "/reports/cov%00erage",
                                  "/households/h%1Bx"])
def test_hostile_path_is_refused(client, auth, path, tally):
    r = client.get(API + path, headers=auth("mgr"))
    tally.saw(r.status_code, path)
    _refused(r, "path")


@pytest.mark.parametrize("value", LINE_BREAKS + ACCEPTED)
def test_free_text_keeps_line_breaks_and_format_characters(client, auth, sessions, value,
                                                           tally):
    rid = referral_id(sessions, "hS01a")
    r = client.post(f"{API}/decisions", json=_decision(rid, note=value, rating="good",
                                                      rating_reason=value),
                    headers=auth("cw1"))
    tally.saw(r.status_code, "POST decisions")
    assert r.status_code == 201, r.text
    assert r.json()["note"] == value.strip()
    token = client.post(f"{API}/auth/token", json={"username": value, "password": PASSWORD})
    tally.saw(token.status_code, "POST auth/token")
    if value in LINE_BREAKS:
        _refused(token, "body.username")  # one-line fields refuse them
    else:
        assert token.status_code == 401


@pytest.mark.parametrize("big", BIG)
def test_overflowing_integers_are_refused(client, auth, big, tally):
    checks = [
        (client.post(f"{API}/decisions", json=_decision(big), headers=auth("cw1")),
         "body.referral_id"),
        (client.put(f"{API}/decisions/1", json={"outcome": "declined", "version": big},
                    headers=auth("cw1")), "body.version"),
        (client.get(f"{API}/decisions/{big}", headers=auth("mgr")), "path.decision_id"),
        (client.get(f"{API}/referrals", params={"page": big}, headers=auth("mgr")),
         "query.page"),
    ]
    for r, field in checks:
        tally.saw(r.status_code, field)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.text(st.characters(codec=None, categories=["Cc", "Cs", "Cf", "Zl", "Zp", "Lo"]),
               min_size=1, max_size=12))
def _any_text(run, value):  # noqa: ANN001 - hypothesis-wrapped helper
    run(value)


def test_generated_text_never_fails_the_store(client, auth, sessions, tally):
    """Hypothesis text drawn from controls, surrogates, format characters and CJK letters:
    every answer is 201 or a 422 naming the field, on each back end."""
    rid = referral_id(sessions, "hS02a")

    def run(value: str) -> None:
        r = _send(client, "POST", "/decisions", _decision(rid, note=value), auth("mgr"))
        tally.saw(r.status_code, "POST decisions")
        assert r.status_code in (201, 409, 422), r.text
        if r.status_code == 422:
            assert r.json()["error"]["field"] == "body.note"
        t = _send(client, "POST", "/auth/token", {"username": value, "password": "x" * 8})
        tally.saw(t.status_code, "POST auth/token")
        assert t.status_code in (401, 422, 429), t.text

    _any_text(run)


# --- pages -----------------------------------------------------------------------------------
@pytest.fixture
def browser(app):
    def make(user: str | None = None) -> TestClient:
        c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
        if user:
            r = c.post("/login", data={"username": user, "password": PASSWORD,
                                       "csrf": CSRF.search(c.get("/login").text).group(1)})
            assert r.status_code == 303, r.text
        return c
    return make


@pytest.mark.parametrize("value", [v for v in HOSTILE if not _surrogate(v)])
def test_hostile_text_is_refused_on_every_form(browser, sessions, value, tally):
    anon = browser()
    login = anon.post("/login", data={"username": value, "password": PASSWORD,
                                      "csrf": CSRF.search(anon.get("/login").text).group(1)})
    tally.saw(login.status_code, "POST /login")
    assert login.status_code == 422 and login.headers["x-invalid-field"] == "username"
    c = browser("cw1")
    csrf = CSRF.search(c.get("/referrals").text).group(1)
    rid = referral_id(sessions, "hS01a")
    for name in ("note", "override_reason", "rating_reason", "outcome", "visit_date"):
        data = {"csrf": csrf, "referral_id": rid, "outcome": "confirmed", name: value}
        r = c.post("/households/hS01a/decision", data=data)
        tally.saw(r.status_code, f"form {name}")
        assert r.status_code == 422 and r.headers["x-invalid-field"] == name, (name, r.text)
    r = c.get("/referrals", params={"street": value})
    tally.saw(r.status_code, "GET /referrals")
    assert r.status_code == 422


def test_form_free_text_keeps_line_breaks(browser, sessions, tally):
    c = browser("cw1")
    csrf = CSRF.search(c.get("/referrals").text).group(1)
    rid = referral_id(sessions, "hS01a")
    r = c.post("/households/hS01a/decision", data={
        "csrf": csrf, "referral_id": rid, "outcome": "confirmed",
        "note": "厨房共用\r\n需复访\t\u200f"})
    tally.saw(r.status_code, "form note")
    assert r.status_code == 303, r.text


def test_form_that_is_not_utf8_is_refused(browser, tally):
    """A lone surrogate can reach a form only as CESU bytes: raw, the body is not UTF-8 (400);
    percent-escaped, it decodes to U+FFFD like any invalid sequence (an unknown user, 401)."""
    anon = browser()
    csrf = CSRF.search(anon.get("/login").text).group(1)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    raw = anon.post("/login", content=f"csrf={csrf}&password=x&username=a".encode()
                    + b"\xed\xa0\x80", headers=form)
    escaped = anon.post("/login", content=f"csrf={csrf}&username=a%ED%A0%80&password=x",
                        headers=form)
    for r in (raw, escaped):
        tally.saw(r.status_code, "POST /login")
    assert (raw.status_code, escaped.status_code) == (400, 401)
