"""Water-meter alerts in the case store, the API and the pages (SQLite and PostgreSQL):
a planted silence raises one alert for the right household and street; a restarted processor
raises none twice; bad messages are kept with their reason; caseworkers see and act on their
own streets' alerts only; acknowledge, resolve, escalate by version; every read and action is
audited; the webhook reaches a local receiver."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest
from sqlalchemy import delete, select

from assist.ingest.pseudonym import pseudonym
from assist.serving.alerts.config import MeterRules, WebhookSection
from assist.serving.alerts.process import Processor
from assist.serving.alerts.registry import register
from assist.serving.alerts.webhook import Webhook
from assist.serving.models import Alert, AuditEntry, MeterReject, MeterState
from assist.serving.services.alerts import escalate_due
from tests.serving.test_pages import browser, csrf_of  # noqa: F401 - the pages fixture

KEY = "test-meter-key-0123456789abcdef0123"
RULES = MeterRules()
T0 = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
METERS = {"WM00001": ("hS01a", "S01"), "WM00002": ("hS02a", "S02")}


def message(meter: str, i: int, litres: float) -> tuple[str, bytes]:
    ts = (T0 + dt.timedelta(minutes=15 * i)).isoformat()
    return (f"meters/{meter}/reading",
            json.dumps({"meter_id": meter, "ts": ts, "litres": litres}).encode())


@pytest.fixture
def processor(sessions):
    """Two registered meters (hS01a in S01, hS02a in S02), no state, no alert."""
    with sessions() as s:
        for table in (Alert, MeterState, MeterReject):
            s.execute(delete(table))
        s.commit()
        register(s, pd.DataFrame([{
            "meter_id": pseudonym(m, kind="meter", key=KEY), "household_id": h,
            "street_code": st, "community_code": f"{st}C001", "profile": "lone_elderly_75"}
            for m, (h, st) in METERS.items()]))
    yield Processor(sessions, RULES, key=KEY)
    with sessions() as s:
        for table in (Alert, MeterState, MeterReject):
            s.execute(delete(table))
        s.commit()


def silence_on_s01() -> list[tuple[str, bytes]]:
    """Meter 1 falls silent after one use; meter 2 keeps using water; 13 h of readings."""
    return [m for i in range(53) for m in (message("WM00001", i, 6.0 if i == 0 else 0.0),
                                           message("WM00002", i, 3.0))]


def alerts(sessions) -> list[Alert]:
    with sessions() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


def test_a_planted_silence_raises_one_alert_for_the_right_household(processor, sessions):
    out = processor.handle(silence_on_s01())
    assert out.readings == 106 and out.duplicates == 0 and not out.rejected
    [a] = alerts(sessions)
    assert (a.household_id, a.street_code, a.rule, a.span_hours) == ("hS01a", "S01", "silence", 12)
    assert a.meter_id == pseudonym("WM00001", kind="meter", key=KEY)
    assert a.episode == "2026-12-01T00:00:00Z" and a.status == "open"
    assert a.usual_en.startswith("usual pattern not learned yet")
    assert [e["alert_id"] for e in out.alerts] == [a.id]
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "alert.raise")).one()
    assert entry.household_id == "hS01a" and entry.detail["alert_id"] == a.id


def test_a_restart_mid_stream_loses_nothing_and_repeats_nothing(processor, sessions):
    stream = silence_on_s01()
    processor.handle(stream[:60])
    # crash before the next batch was acknowledged: a new processor gets the stream again,
    # overlapping what was committed (QoS 1 redelivery), and then the rest
    again = Processor(sessions, RULES, key=KEY)
    out = again.handle(stream[40:])
    assert out.duplicates == 20
    assert [a.household_id for a in alerts(sessions)] == ["hS01a"]
    assert Processor(sessions, RULES, key=KEY).handle(stream).alerts == []
    assert len(alerts(sessions)) == 1


def test_bad_messages_are_kept_with_their_reason(processor, sessions):
    good = message("WM00001", 0, 1.0)
    out = processor.handle([
        ("meters/WM00001/reading", b"{not json"),
        ("meters/WM00001/reading", b'{"meter_id": "WM00001", "ts": "2026-12-01T08:00:00", '
                                   b'"litres": 1}'),
        ("meters/WM00001/reading", b'{"meter_id": "WM00001", "ts": "2026-12-01T08:00:00Z", '
                                   b'"litres": -1}'),
        ("meters/WM00002/reading", good[1]),
        ("meters/WM09999/reading", message("WM09999", 0, 1.0)[1]),
        ("other/WM00001/reading", good[1]),
        ("meters/WM\x0001/reading", b"\x00\xff{"),  # NUL and bytes that are not UTF-8
        ("meters/WM00001/reading", b'{"meter_id": "WM00001", "ts": "\x00", "litres": 1}'),
        good, good,
    ])
    assert out.readings == 1 and out.duplicates == 1
    assert dict(out.rejected) == {"invalid_payload": 4, "meter_mismatch": 1,
                                  "unregistered_meter": 1, "bad_topic": 2}
    with sessions() as s:
        rows = s.scalars(select(MeterReject).order_by(MeterReject.id)).all()
    assert [r.reason for r in rows][:3] == ["invalid_payload"] * 3
    assert "time zone" in rows[1].detail and "litres" in rows[2].detail
    assert all("WM0" not in r.topic for r in rows)  # raw meter ids are pseudonymised


def test_continuous_flow_alert(processor, sessions):
    processor.handle([message("WM00002", i, 0.0 if i == 0 else 20.0) for i in range(14)])
    [a] = alerts(sessions)
    assert (a.household_id, a.rule, a.span_hours, a.last_litres) == ("hS02a", "continuous_flow",
                                                                     3.0, 20.0)


def _list(client, auth, user, **params):
    return client.get("/api/v1/alerts", headers=auth(user), params=params)


def test_caseworkers_see_and_act_on_their_own_streets_only(processor, sessions, client, auth):
    processor.handle(silence_on_s01())
    [a] = alerts(sessions)
    r = _list(client, auth, "cw1")
    assert r.status_code == 200 and [x["household_id"] for x in r.json()["items"]] == ["hS01a"]
    assert r.json()["unresolved"] == 1
    assert _list(client, auth, "cw2").json() == {"total": 0, "unresolved": 0, "items": []}
    assert _list(client, auth, "mgr").json()["total"] == 1
    assert _list(client, auth, "ds").status_code == 403
    assert _list(client, auth, None).status_code == 401
    url = f"/api/v1/alerts/{a.id}"
    assert client.post(f"{url}/acknowledge", json={"version": 1},
                       headers=auth("cw2")).status_code == 404
    r = client.post(f"{url}/acknowledge", json={"version": 1}, headers=auth("cw1"))
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert client.post(f"{url}/acknowledge", json={"version": 1},
                       headers=auth("cw1")).status_code == 409
    r = client.post(f"{url}/resolve", json={"version": 2, "outcome": "visited_help_needed",
                                            "note": "fell in the kitchen; ambulance called"},
                    headers=auth("cw1"))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["outcome"]) == ("resolved", "visited_help_needed")
    assert _list(client, auth, "cw1", unresolved=True).json()["items"] == []
    with sessions() as s:
        actions = [(e.action, e.username, e.household_id) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("alert%")).order_by(AuditEntry.id))]
    assert actions == [("alert.raise", "meters-listener", "hS01a"), ("alerts.list", "cw1", None),
                       ("alerts.list", "cw2", None), ("alerts.list", "mgr", None),
                       ("alert.acknowledge", "cw1", "hS01a"), ("alert.resolve", "cw1", "hS01a"),
                       ("alerts.list", "cw1", None)]


@pytest.mark.parametrize("body, status", [
    ({"version": 1, "outcome": "teleported"}, 422), ({"version": 1}, 422),
    ({"version": 0, "outcome": "visited_fine"}, 422),
    ({"version": 1, "outcome": "visited_fine", "note": "a\x00b"}, 422),
    ({"version": 1, "outcome": "visited_fine", "extra": 1}, 422),
    ({"version": 7, "outcome": "visited_fine"}, 409),
])
def test_bad_actions_are_one_line_errors(processor, sessions, client, auth, body, status):
    processor.handle(silence_on_s01())
    [a] = alerts(sessions)
    r = client.post(f"/api/v1/alerts/{a.id}/resolve", json=body, headers=auth("cw1"))
    assert r.status_code == status and "\n" not in r.json()["error"]["message"]


def test_unreachable_and_unacknowledged_alerts_escalate(processor, sessions, client, auth):
    processor.handle(silence_on_s01() + [message("WM00002", 60 + i, 20.0) for i in range(14)])
    first, second = alerts(sessions)
    r = client.post(f"/api/v1/alerts/{first.id}/resolve", headers=auth("cw1"),
                    json={"version": 1, "outcome": "unreachable"})
    assert r.json()["status"] == "escalated" and r.json()["resolved_at"] is None
    with sessions() as s:
        assert escalate_due(s, minutes=60) == []  # the other one is not due yet
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=61)
        [event] = escalate_due(s, minutes=60, now=later)
    assert event["alert_id"] == second.id and event["escalated_to"] == "street_lead"
    assert [a.status for a in alerts(sessions)] == ["escalated", "escalated"]
    body = _list(client, auth, "mgr").json()
    assert [x["status"] for x in body["items"]] == ["escalated", "escalated"]


def test_the_webhook_reaches_a_local_receiver(processor):
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:  # quiet
            return

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/duty"
        section = WebhookSection(url=url, timeout_seconds=5)
        hook = Webhook(section.url, timeout=section.timeout_seconds)
        hook.send(processor.handle(silence_on_s01()).alerts)
        hook.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert hook.sent == 1 and hook.failed == 0
    assert [(e["event"], e["street_code"], e["rule"]) for e in received] == [
        ("alert.raised", "S01", "silence")]


def test_pages_banner_queue_and_actions(processor, sessions, browser):  # noqa: F811
    processor.handle(silence_on_s01())
    [a] = alerts(sessions)
    cw1, cw2 = browser("cw1"), browser("cw2")
    page = cw1.get("/referrals").text
    assert "meter-banner" in page and "hS01a" in page.split("page-head")[0]
    assert "meter-banner" not in cw2.get("/referrals").text
    assert 'href="/alerts"' in page
    queue = cw1.get("/alerts")
    assert queue.status_code == 200 and f'id="alert-{a.id}"' in queue.text
    assert "紧急预警" in queue.text and "无用水" in queue.text
    assert f'id="alert-{a.id}"' not in cw2.get("/alerts").text
    assert browser("ds").get("/alerts").status_code == 403
    token = csrf_of(queue.text)
    assert cw2.post(f"/alerts/{a.id}/acknowledge", data={"csrf": csrf_of(cw2.get(
        "/alerts").text), "version": "1"}).status_code == 404
    assert cw1.post(f"/alerts/{a.id}/acknowledge",
                    data={"csrf": "0" * 64, "version": "1"}).status_code == 403
    r = cw1.post(f"/alerts/{a.id}/acknowledge", data={"csrf": token, "version": "1"})
    assert r.status_code == 303
    r = cw1.post(f"/alerts/{a.id}/resolve", data={"csrf": token, "version": "1",
                                                  "outcome": "visited_fine"})
    assert r.status_code == 409  # stale version: the page says so
    r = cw1.post(f"/alerts/{a.id}/resolve", data={"csrf": token, "version": "2",
                                                  "outcome": "visited_fine", "note": "all well"})
    assert r.status_code == 303
    assert [x.status for x in alerts(sessions)] == ["resolved"]
    assert "meter-banner" not in cw1.get("/referrals").text


def test_a_failing_webhook_is_counted_never_raised(caplog):
    hook = Webhook("http://127.0.0.1:9/unreachable", timeout=1)
    hook.send([{"event": "alert.raised", "alert_id": 1, "household_id": "hS01a"}])
    hook.close()
    assert (hook.sent, hook.failed) == (0, 1)
    assert "hS01a" not in caplog.text  # the log names the failure, never the payload
