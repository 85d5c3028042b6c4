"""Decisions with history: every change kept as a revision (who, when, each field before and
after), read back newest first through the API (audited, jurisdiction-checked); a stale edit
gets 409 with the stored decision, to merge with; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assist.serving.auth import Principal
from assist.serving.errors import ApiError
from assist.serving.models import AuditEntry, DecisionRevision, User
from assist.serving.schemas import DecisionCreate, DecisionUpdate
from assist.serving.services.decision_history import household_history
from assist.serving.services.decisions import create_decision, update_decision
from tests.serving.conftest import referral_id

API = "/api/v1"
IN, OUT, NONE = "hS01a", "hS02a", "hNOPE0"


def _who(sessions, name: str, role: str, streets) -> Principal:  # noqa: ANN001
    with sessions() as s:
        uid = s.scalar(select(User.id).where(User.username == name))
    return Principal(user_id=uid, username=name, role=role, streets=streets)


def test_every_change_is_a_revision_with_fields_before_and_after(sessions):
    cw1 = _who(sessions, "cw1", "caseworker", ("S01",))
    mgr = _who(sessions, "mgr", "manager", None)
    rid = referral_id(sessions, IN)
    with sessions() as s:
        made = create_decision(s, who=cw1, endpoint="t", body=DecisionCreate(
            referral_id=rid, outcome="confirmed", programmes_granted=["medical"],
            note="kitchen shared"))
    with sessions() as s:
        update_decision(s, who=mgr, decision_id=made.id, endpoint="t", body=DecisionUpdate(
            version=1, outcome="confirmed", programmes_granted=["medical", "dibao"],
            note="kitchen shared", rating="good"))
    with sessions() as s:
        update_decision(s, who=cw1, decision_id=made.id, endpoint="t", body=DecisionUpdate(
            version=2, outcome="declined", programmes_granted=[], note=None, rating="good"))
    with sessions() as s:
        h = household_history(s, who=cw1, household_id=IN, endpoint="t")
    assert [(r.revision, r.action, r.changed_by) for r in h.revisions] == [
        (3, "update", "cw1"), (2, "update", "mgr"), (1, "create", "cw1")]  # newest first
    changes = [{c.field: (c.before, c.after) for c in r.changes} for r in h.revisions]
    assert changes[0] == {"outcome": ("confirmed", "declined"),
                          "programmes_granted": (["dibao", "medical"], []),
                          "note": ("kitchen shared", None)}
    assert changes[1] == {"programmes_granted": (["medical"], ["dibao", "medical"]),
                          "rating": (None, "good")}
    assert changes[2]["outcome"] == (None, "confirmed")
    assert changes[2]["note"] == (None, "kitchen shared") and "rating" not in changes[2]
    assert h.revisions[0].changed_at >= h.revisions[2].changed_at


def test_a_refused_change_leaves_no_revision(sessions):
    cw1 = _who(sessions, "cw1", "caseworker", ("S01",))
    with sessions() as s:
        made = create_decision(s, who=cw1, endpoint="t", body=DecisionCreate(
            referral_id=referral_id(sessions, IN), outcome="confirmed"))
    with sessions() as s, pytest.raises(ApiError) as err:
        update_decision(s, who=cw1, decision_id=made.id, endpoint="t",
                        body=DecisionUpdate(version=1, outcome="not_in_need"))  # no reason
    assert err.value.status == 422
    with sessions() as s:
        assert s.scalars(select(DecisionRevision.revision)
                         .where(DecisionRevision.decision_id == made.id)).all() == [1]


def test_notes_are_left_out_for_roles_that_do_not_see_them(sessions):
    cw1 = _who(sessions, "cw1", "caseworker", ("S01",))
    with sessions() as s:
        create_decision(s, who=cw1, endpoint="t", body=DecisionCreate(
            referral_id=referral_id(sessions, IN), outcome="confirmed", note="private words",
            rating="bad", rating_reason="no need"))
    lead = Principal(user_id=cw1.user_id, username="lead", role="lead", streets=("S01",))
    with sessions() as s:
        (rev,) = household_history(s, who=lead, household_id=IN, endpoint="t").revisions
    assert {c.field for c in rev.changes} == {"outcome", "visit_date", "rating"}


def test_stale_edit_gets_the_stored_decision_to_merge(client, auth, sessions):
    rid = referral_id(sessions, IN)
    made = client.post(f"{API}/decisions", headers=auth("cw1"), json={
        "referral_id": rid, "outcome": "confirmed", "programmes_granted": ["medical"]}).json()
    first = client.put(f"{API}/decisions/{made['id']}", headers=auth("mgr"), json={
        "version": 1, "outcome": "confirmed", "programmes_granted": ["medical", "dibao"],
        "note": "first editor"})
    assert first.status_code == 200, first.text
    stale = client.put(f"{API}/decisions/{made['id']}", headers=auth("cw1"), json={
        "version": 1, "outcome": "confirmed", "programmes_granted": ["medical"],
        "note": "second editor"})
    err = stale.json()["error"]
    assert stale.status_code == 409 and err["code"] == "version_conflict"
    assert err["version"] == 2 and err["field"] == "body.version"
    assert err["current"]["note"] == "first editor"
    assert sorted(err["current"]["programmes_granted"]) == ["dibao", "medical"]
    merged = client.put(f"{API}/decisions/{made['id']}", headers=auth("cw1"), json={
        "version": err["version"], "outcome": "confirmed",
        "programmes_granted": ["medical", "dibao"], "note": "first editor; second editor"})
    assert merged.status_code == 200 and merged.json()["version"] == 3
    again = client.post(f"{API}/decisions", headers=auth("mgr"), json={
        "referral_id": rid, "outcome": "declined"})
    assert again.status_code == 409 and again.json()["error"]["current"]["version"] == 3


@pytest.mark.parametrize(("user", "household", "status"), [
    ("cw1", IN, 200), ("cw1", OUT, 404), ("cw1", NONE, 404), ("mgr", OUT, 200),
    ("adm", IN, 200), ("ds", IN, 403), (None, IN, 401)])
def test_history_api_is_jurisdiction_checked_and_audited(client, auth, sessions, user,
                                                         household, status):
    rid = referral_id(sessions, IN)
    made = client.post(f"{API}/decisions", headers=auth("cw1"), json={
        "referral_id": rid, "outcome": "confirmed", "note": "n"}).json()
    client.put(f"{API}/decisions/{made['id']}", headers=auth("cw1"), json={
        "version": 1, "outcome": "declined", "note": "n"})
    r = client.get(f"{API}/households/{household}/decisions/history", headers=auth(user))
    assert r.status_code == status, r.text
    with sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.endpoint.like("%history%"))).all()
    if status == 200:
        body = r.json()
        revisions = body["revisions"] if household == IN else []
        assert [x["revision"] for x in body["revisions"]] == [x["revision"] for x in revisions]
        if household == IN:
            assert [x["revision"] for x in revisions] == [2, 1]
            assert revisions[0]["changes"] == [
                {"field": "outcome", "before": "confirmed", "after": "declined"}]
        assert [(a.action, a.household_id) for a in rows] == [("decision.history", household)]
    elif status == 404:
        assert r.json()["error"]["code"] == "not_found"
        assert [(a.action, a.household_id) for a in rows] == [("household.denied", household)]
    else:
        assert rows == []


def test_history_route_is_documented(client):
    spec = client.get(f"{API}/openapi.json").json()
    op = spec["paths"][f"{API}/households/{{household_id}}/decisions/history"]["get"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "DecisionHistory")
