"""The API on every back end: authorisation matrix (role x endpoint x jurisdiction), referral
filters, household detail, decisions with optimistic concurrency, audit, errors, metrics."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assist.serving.models import AuditEntry
from tests.serving.conftest import AS_OF, referral_id

API = "/api/v1"
ROLES = ["cw1", "mgr", "ds", "adm", None]
IN, OUT, NONE = "hS01a", "hS02a", "hNOPE0"  # in cw1's streets, outside them, nonexistent


def _decision(rid: int, **kw) -> dict:
    return {"referral_id": rid, "outcome": "confirmed", "programmes_granted": ["medical"],
            "note": "kitchen shared with neighbours", "rating": "good", **kw}


# --- authorisation matrix ------------------------------------------------------------------
# (user, household) -> expected status of GET /households/{id}
READ = {("cw1", IN): 200, ("cw1", OUT): 404, ("cw1", NONE): 404,
        **{(u, h): 200 for u in ("mgr", "ds", "adm") for h in (IN, OUT)},
        **{(u, NONE): 404 for u in ("mgr", "ds", "adm")},
        **{(None, h): 401 for h in (IN, OUT, NONE)}}
# (user, household) -> expected status of POST /decisions on the household's referral
WRITE = {("cw1", IN): 201, ("cw1", OUT): 404, ("mgr", IN): 201, ("mgr", OUT): 201,
         ("ds", IN): 403, ("ds", OUT): 403, ("adm", IN): 403, ("adm", OUT): 403,
         (None, IN): 401, (None, OUT): 401}
# (user, household) -> expected status of GET and PUT /decisions/{id} (decision made by mgr)
DREAD = {("cw1", IN): 200, ("cw1", OUT): 404, ("mgr", IN): 200, ("mgr", OUT): 200,
         ("ds", IN): 403, ("ds", OUT): 403, ("adm", IN): 200, ("adm", OUT): 200,
         (None, IN): 401, (None, OUT): 401}
DWRITE = {**DREAD, ("adm", IN): 403, ("adm", OUT): 403}
SIMPLE = {"referrals": {"cw1": 200, "mgr": 200, "ds": 200, "adm": 200, None: 401},
          "models": {"cw1": 200, "mgr": 200, "ds": 200, "adm": 200, None: 401}}


@pytest.mark.parametrize(("user", "household"), sorted(READ, key=str))
def test_matrix_household_read(client, auth, user, household):
    r = client.get(f"{API}/households/{household}", headers=auth(user))
    assert r.status_code == READ[(user, household)], r.text
    if r.status_code == 404:  # outside the streets looks exactly like nonexistent
        assert r.json() == {"error": {"code": "not_found", "message": "household not found"}}


@pytest.mark.parametrize(("user", "household"), sorted(WRITE, key=str))
def test_matrix_decision_create(client, auth, sessions, user, household):
    r = client.post(f"{API}/decisions", json=_decision(referral_id(sessions, household)),
                    headers=auth(user))
    assert r.status_code == WRITE[(user, household)], r.text


@pytest.mark.parametrize(("user", "household"), sorted(DREAD, key=str))
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_matrix_decision_read_update(client, auth, sessions, user, household, method):
    made = client.post(f"{API}/decisions", json=_decision(referral_id(sessions, household)),
                       headers=auth("mgr")).json()
    if method == "GET":
        r = client.get(f"{API}/decisions/{made['id']}", headers=auth(user))
        assert r.status_code == DREAD[(user, household)], r.text
    else:
        body = {"outcome": "declined", "version": made["version"]}
        r = client.put(f"{API}/decisions/{made['id']}", json=body, headers=auth(user))
        assert r.status_code == DWRITE[(user, household)], r.text


@pytest.mark.parametrize(("endpoint", "user"),
                         [(e, u) for e, m in SIMPLE.items() for u in m])
def test_matrix_lists_and_models(client, auth, endpoint, user):
    path = {"referrals": "/referrals", "models": "/models/current"}[endpoint]
    r = client.get(API + path, headers=auth(user))
    assert r.status_code == SIMPLE[endpoint][user], r.text


@pytest.mark.parametrize(("user", "streets"), [("cw1", {"S01"}), ("cw2", {"S02"}),
                                               ("mgr", {"S01", "S02", "S03"}),
                                               ("ds", {"S01", "S02", "S03"})])
def test_referral_list_is_scoped_to_jurisdiction(client, auth, user, streets):
    r = client.get(f"{API}/referrals", headers=auth(user))
    body = r.json()
    assert body["as_of"] == AS_OF
    assert {i["street_code"] for i in body["items"]} == streets
    out_of_scope = client.get(f"{API}/referrals", params={"street": "S03"}, headers=auth(user))
    if "S03" in streets:
        assert out_of_scope.json()["total"] == 1
    else:  # a caseworker asking for another street is told so, not given an empty list
        assert out_of_scope.status_code == 403
        assert out_of_scope.json()["error"]["code"] == "outside_streets"


def test_disabled_user_and_bad_tokens_are_refused(app, client, auth, sessions, tokens,
                                                  monkeypatch):
    """A disabled user's token stops working within the principal cache's TTL (documented
    bound), not necessarily at once; forged tokens and wrong passwords never work."""
    from assist.serving.deps import PRINCIPAL_TTL_SECONDS
    from assist.serving.services.users import add_user, disable_user
    cache = app.state.principals
    now = [cache.clock()]
    monkeypatch.setattr(cache, "clock", lambda: now[0])
    with sessions() as s:
        add_user(s, username="gone", password="password-123", role="manager")
    tok = client.post(f"{API}/auth/token", json={"username": "gone", "password": "password-123"}
                      ).json()["access_token"]
    gone = {"Authorization": f"Bearer {tok}"}
    assert client.get(f"{API}/referrals", headers=gone).status_code == 200
    with sessions() as s:
        disable_user(s, username="gone")
    now[0] += PRINCIPAL_TTL_SECONDS  # the bound has passed
    r = client.get(f"{API}/referrals", headers=gone)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    cache.forget()
    forged = tokens["cw1"][:-2] + ("AA" if not tokens["cw1"].endswith("AA") else "BB")
    assert client.get(f"{API}/referrals", headers={"Authorization": f"Bearer {forged}"}
                      ).status_code == 401
    bad = client.post(f"{API}/auth/token", json={"username": "mgr", "password": "nope-nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_credentials"


def test_expired_token_is_refused():
    from assist.serving.auth import issue_token, read_token
    from assist.serving.errors import ApiError
    tok = issue_token(user_id=1, secret="s" * 40, ttl_seconds=60, now=1000.0)
    assert read_token(tok, secret="s" * 40, now=1059.0) == 1
    with pytest.raises(ApiError):
        read_token(tok, secret="s" * 40, now=1061.0)
    with pytest.raises(ApiError):
        read_token(tok, secret="t" * 40, now=1000.0)


# --- referrals -----------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "expected"), [
    ({}, ["hS01a", "hS02a", "hS03a"]),
    ({"band": "high"}, ["hS01a", "hS02a"]),
    ({"cause": "unemployment"}, ["hS02a"]),
    ({"programme": "dibao"}, ["hS01a"]),
    ({"programme": "medical"}, ["hS01a"]),
    ({"flag": "income_drop"}, ["hS03a"]),
    ({"community": "S02C001"}, ["hS02a"]),
    ({"allocated": "false"}, ["hS03a"]),
    ({"sort": "probability"}, ["hS03a", "hS02a", "hS01a"]),
    ({"sort": "-probability", "page_size": 2, "page": 2}, ["hS03a"]),
    ({"status": "confirmed"}, []),
])
def test_referral_filters_sort_paginate(client, auth, params, expected):
    r = client.get(f"{API}/referrals", params=params, headers=auth("mgr"))
    assert r.status_code == 200, r.text
    assert [i["household_id"] for i in r.json()["items"]] == expected


def test_referral_item_fields(client, auth):
    item = client.get(f"{API}/referrals", params={"street": "S01"}, headers=auth("cw1")
                      ).json()["items"][0]
    assert item["programmes"] == ["medical", "dibao"]
    assert item["allocated_programmes"] == ["medical"]
    assert item["top_factors_zh"] == ["收入低", "医疗支出高"]
    assert item["band"] == "high" and item["rank_street"] == 1 and item["status"] == "open"


# --- households ----------------------------------------------------------------------------
def test_household_detail(client, auth, sessions):
    client.post(f"{API}/decisions", json=_decision(referral_id(sessions, IN)), headers=auth("cw1"))
    d = client.get(f"{API}/households/{IN}", headers=auth("cw1")).json()
    assert d["as_of"] == AS_OF and d["band"] == "high"
    assert len(d["indicators"]) == 22 and all(i["name_zh"] and i["name_en"] for i in d["indicators"])
    assert len(d["dimensions"]) == 7
    assert [h["as_of"] for h in d["history"]] == [AS_OF, "2026-09"]
    assert d["explanation_en"] == ["income is low", "medical costs are high"]
    assert d["decisions"][0]["note"] == "kitchen shared with neighbours"
    ds = client.get(f"{API}/households/{IN}", headers=auth("ds")).json()
    assert ds["decisions"][0]["note"] is None  # data scientists see no free text


def test_household_without_referral_has_history_only(client, auth):
    d = client.get(f"{API}/households/hS01b", headers=auth("cw1")).json()
    assert d["referral"] is None and d["band"] == "low" and len(d["history"]) == 2


# --- decisions -----------------------------------------------------------------------------
def test_decision_optimistic_concurrency(client, auth, sessions):
    rid = referral_id(sessions, IN)
    made = client.post(f"{API}/decisions", json=_decision(rid), headers=auth("cw1"))
    assert made.status_code == 201 and made.json()["version"] == 1
    again = client.post(f"{API}/decisions", json=_decision(rid), headers=auth("mgr"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "decision_exists"
    did = made.json()["id"]
    first = client.put(f"{API}/decisions/{did}", json={"outcome": "declined", "version": 1},
                       headers=auth("cw1"))
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = client.put(f"{API}/decisions/{did}", json={"outcome": "unreachable", "version": 1},
                       headers=auth("mgr"))
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["current_version"] == 2
    kept = client.get(f"{API}/decisions/{did}", headers=auth("mgr")).json()
    assert kept["outcome"] == "declined" and kept["version"] == 2  # no lost update
    listed = client.get(f"{API}/referrals", params={"status": "declined"}, headers=auth("mgr"))
    assert [i["household_id"] for i in listed.json()["items"]] == [IN]


def test_concurrent_updates_one_wins(sessions, client, auth):
    """Two sessions read version 1 and both write: the second flush is refused (409)."""
    from assist.serving.auth import Principal
    from assist.serving.errors import ApiError
    from assist.serving.schemas import DecisionUpdate
    from assist.serving.services.decisions import update_decision
    made = client.post(f"{API}/decisions", json=_decision(referral_id(sessions, IN)),
                       headers=auth("mgr")).json()
    who = Principal(user_id=made["recorded_by"], username="mgr", role="manager", streets=None)
    with sessions() as a, sessions() as b:
        from assist.serving.models import Decision
        a.get(Decision, made["id"]), b.get(Decision, made["id"])  # both read version 1
        update_decision(a, who=who, decision_id=made["id"], endpoint="t",
                        body=DecisionUpdate(outcome="declined", version=1))
        with pytest.raises(ApiError) as err:
            update_decision(b, who=who, decision_id=made["id"], endpoint="t",
                            body=DecisionUpdate(outcome="unreachable", version=1))
        assert err.value.status == 409


@pytest.mark.parametrize(("household", "outcome", "reason", "status", "override"), [
    (IN, "not_in_need", None, 422, None),          # high band, no need found: reason required
    (IN, "not_in_need", "pension arrived", 201, True),
    (IN, "confirmed", None, 201, False),
    ("hS03a", "not_in_need", None, 201, False),    # medium band: no override
])
def test_override_reason(client, auth, sessions, household, outcome, reason, status, override):
    body = _decision(referral_id(sessions, household), outcome=outcome, override_reason=reason)
    r = client.post(f"{API}/decisions", json=body, headers=auth("mgr"))
    assert r.status_code == status, r.text
    if status == 422:
        assert r.json()["error"]["field"] == "body.override_reason"
    else:
        assert r.json()["override"] is override


# --- audit ---------------------------------------------------------------------------------
def test_reads_and_decisions_are_audited(client, auth, sessions):
    client.get(f"{API}/households/{IN}", headers=auth("cw1"))
    client.get(f"{API}/households/{OUT}", headers=auth("cw1"))  # 404: a probe, recorded
    client.get(f"{API}/referrals", headers=auth("ds"))
    client.post(f"{API}/decisions", json=_decision(referral_id(sessions, IN)), headers=auth("cw1"))
    with sessions() as s:
        log = [(e.username, e.action, e.endpoint, e.household_id)
               for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert log == [("cw1", "household.read", "GET /api/v1/households/{household_id}", IN),
                   ("cw1", "household.denied", "GET /api/v1/households/{household_id}", OUT),
                   ("ds", "referrals.list", "GET /api/v1/referrals", None),
                   ("cw1", "decision.create", "POST /api/v1/decisions", IN)]


# --- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "kw", "status", "code", "field"), [
    ("post", "/decisions", {"content": b"{not json", "headers": {"content-type": "application/json"}},
     422, "malformed_body", None),
    ("post", "/decisions", {"json": {"referral_id": 1, "outcome": "confirmed", "colour": "red"}},
     422, "validation_error", "body.colour"),
    ("post", "/decisions", {"json": {"referral_id": "x", "outcome": "confirmed"}},
     422, "validation_error", "body.referral_id"),
    ("post", "/decisions", {"json": {"referral_id": 1, "outcome": "happy"}},
     422, "validation_error", "body.outcome"),
    ("post", "/decisions", {"json": {"referral_id": 1, "outcome": "confirmed", "note": "x" * 5000}},
     413, "payload_too_large", None),
    ("get", "/decisions/abc", {}, 422, "validation_error", "path.decision_id"),
    ("get", "/decisions/999999", {}, 404, "not_found", None),
    ("get", "/households/bad%20id!", {}, 422, "validation_error", "path.household_id"),
    ("get", "/referrals?page=0", {}, 422, "validation_error", "query.page"),
    ("get", "/referrals?band=purple", {}, 422, "validation_error", "query.band"),
    ("get", "/nowhere", {}, 404, "not_found", None),
    ("delete", "/referrals", {}, 405, "method_not_allowed", None),
])
def test_errors_are_json_with_code_and_field(client, auth, method, path, kw, status, code, field):
    kw = dict(kw)
    headers = {**auth("mgr"), **kw.pop("headers", {})}
    r = client.request(method.upper(), API + path, headers=headers, **kw)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    if field:
        assert err["field"] == field


def test_health_ready_metrics_models(client, auth):
    assert client.get(f"{API}/health").json()["status"] == "ok"
    ready = client.get(f"{API}/ready").json()
    assert ready["status"] == "ok" and ready["checks"]["snapshot"] == AS_OF
    m = client.get(f"{API}/models/current", headers=auth("ds")).json()
    assert m["model_version"] == "assist-need-model/7" and m["bands"]["high"] == 2
    client.get(f"{API}/households/{IN}", headers=auth("mgr"))
    text = client.get("/metrics").text
    assert 'route="/api/v1/households/{household_id}"' in text
    assert IN not in text  # no household id in metrics labels
