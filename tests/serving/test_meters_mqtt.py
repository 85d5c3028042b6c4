"""水管家 end to end through the local Mosquitto (``ASSIST_TEST_MQTT_URL``; required when
CI=true): simulated meters publish with QoS 1, ``assist meters listen`` runs as its own
process, is killed (SIGKILL) mid-stream and restarted; every planted emergency raises exactly
one alert for the right household and street, no other alert is raised; a caseworker of that
street (and no other) sees it on the pages, acknowledges and resolves it. On SQLite and
PostgreSQL. Topic prefixes and client ids are unique per run, so parallel runs never collide.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from assist.ingest.pseudonym import pseudonym
from assist.serving.alerts.listener import broker_address
from assist.serving.alerts.registry import register
from assist.serving.models import Alert, MeterReject, MeterState
from assist.simulate.meters import MeterFleet, Rates, publish, synthetic_meters
from tests.serving.test_pages import browser, csrf_of  # noqa: F401 - the pages fixture

MQTT_ENV = "ASSIST_TEST_MQTT_URL"
KEY = "test-meter-key-0123456789abcdef0123"
ASSIST = Path(sys.executable).with_name("assist")
START = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
#: 1,536 readings over 20 s: what queues at the broker while the listener is down stays below
#: Mosquitto's default ``max_queued_messages`` (1,000 per offline session; more are dropped)
HOURS, WALL_SECONDS = 16, 20.0
STREET_OF_CW = {"S01": "cw1", "S02": "cw2"}


def _broker() -> str:
    url = os.environ.get(MQTT_ENV)
    ci = os.environ.get("CI", "").lower() == "true"
    if not url:
        if ci:
            pytest.fail(f"CI=true but {MQTT_ENV} is not set: the Mosquitto run is required in CI")
        pytest.skip(f"{MQTT_ENV} not set")
    host, port, _, _ = broker_address(url)
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError:
        if ci:
            pytest.fail(f"CI=true but no MQTT broker answers at {host}:{port}")
        pytest.skip(f"no MQTT broker at {host}:{port}")
    return url


class Listener:
    """``assist meters listen`` in its own process; its output is read line by line."""

    def __init__(self, env: dict[str, str], rules: Path, client_id: str, *args: str) -> None:
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.proc = subprocess.Popen(
            [str(ASSIST), "meters", "listen", "--rules", str(rules), "--client-id", client_id,
             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        self.output: list[str] = []

    def _read(self) -> None:
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.output.append(line)
            if text in line:
                return
        pytest.fail(f"listener never printed {text!r}: {''.join(self.output)}")

    def finish(self, timeout: float = 90.0) -> str:
        self.proc.wait(timeout=timeout)
        while True:
            try:
                self.output.append(self.lines.get(timeout=0.5))
            except queue.Empty:
                return "".join(self.output)


@pytest.fixture
def district(sessions):
    """24 registered meters of synthetic households in S01-S03; no state, no alert."""
    meters = synthetic_meters(24, streets=3)
    with sessions() as s:
        for table in (Alert, MeterState, MeterReject):
            s.execute(delete(table))
        s.commit()
        register(s, pd.DataFrame({
            "meter_id": [pseudonym(m, kind="meter", key=KEY) for m in meters.meter_id],
            "household_id": [pseudonym(h, kind="household", key=KEY) for h in meters.household_id],
            "street_code": meters.street_code, "community_code": meters.street_code + "C001",
            "profile": "lone_elderly_75"}))
    yield meters
    with sessions() as s:
        for table in (Alert, MeterState, MeterReject):
            s.execute(delete(table))
        s.commit()


def test_kill_and_restart_mid_stream_loses_no_alert_and_repeats_none(
        settings, sessions, district, browser, tmp_path):  # noqa: F811
    url = _broker()
    run = uuid.uuid4().hex[:10]
    prefix = f"test-{run}/meters"
    rules = tmp_path / "meters.yaml"
    rules.write_text(f"topic: {{prefix: {prefix}}}\n", encoding="utf-8")
    env = {**os.environ, "ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path / "ws"),
           "ASSIST_DATABASE_URL": settings.db_url, "ASSIST_MQTT_URL": url,
           "ASSIST_PSEUDONYM_KEY": KEY}
    fleet = MeterFleet(district, start=START, hours=HOURS, seed=11, emergency_window=(0.5, 3.0),
                       rates=Rates(emergencies=0.25, flow_share=0.34, absence_per_day=0.1,
                                   fault_per_day=0.2, bad_message=0.003, duplicate=0.02))
    first = Listener(env, rules, f"listener-{run}")
    first.wait_for("subscribed")
    host, port, _, _ = broker_address(url)
    sent: list[int] = []
    publisher = threading.Thread(target=lambda: sent.append(publish(
        fleet, host=host, port=port, client_id=f"sim-{run}", prefix=prefix,
        speed=HOURS * 3600 / WALL_SECONDS)))
    publisher.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # mid-stream: some readings are committed
        with sessions() as s:
            if s.scalar(select(func.count()).select_from(MeterState)):
                break
        time.sleep(0.2)
    time.sleep(1.0)
    first.proc.kill()
    first.finish(timeout=10)
    assert publisher.is_alive(), "the stream ended before the kill: slow the publisher down"
    time.sleep(1.0)  # readings published meanwhile wait at the broker (persistent session)
    second = Listener(env, rules, f"listener-{run}", "--idle-exit", "5")
    publisher.join(timeout=120)
    assert not publisher.is_alive()
    report = second.finish()
    assert second.proc.returncode == 0, report

    truth = fleet.truth()
    planted = sorted((pseudonym(e["household_id"], kind="household", key=KEY), e["street_code"],
                      e["kind"]) for e in truth["emergencies"])
    with sessions() as s:
        raised = sorted((a.household_id, a.street_code, a.rule) for a in s.scalars(select(Alert)))
        rejects = s.scalar(select(func.count()).select_from(MeterReject))
    assert len(planted) == 6 and {k for *_, k in planted} == {"silence", "continuous_flow"}
    assert raised == planted, report  # each planted emergency once, nothing else
    assert rejects >= truth["bad_messages"] > 0  # bad ones kept (again after a redelivery)
    assert sent and sent[0] > 1000  # 24 meters x 64 readings, less offline ones, plus repeats
    assert "subscribed" in report

    _caseworkers_see_their_own_street_only(sessions, browser)


def _caseworkers_see_their_own_street_only(sessions, browser) -> None:  # noqa: F811
    with sessions() as s:
        a = s.scalars(select(Alert).where(Alert.street_code.in_(STREET_OF_CW))
                      .order_by(Alert.id)).first()
    assert a is not None
    mine = browser(STREET_OF_CW[a.street_code])
    other = browser(next(u for st, u in STREET_OF_CW.items() if st != a.street_code))
    assert a.household_id in mine.get("/referrals").text.split("page-head")[0]
    queue_page = mine.get("/alerts").text
    assert f'id="alert-{a.id}"' in queue_page
    assert f'id="alert-{a.id}"' not in other.get("/alerts").text
    token = csrf_of(queue_page)
    assert mine.post(f"/alerts/{a.id}/acknowledge",
                     data={"csrf": token, "version": "1"}).status_code == 303
    assert mine.post(f"/alerts/{a.id}/resolve", data={
        "csrf": token, "version": "2", "outcome": "visited_fine"}).status_code == 303
    with sessions() as s:
        assert s.get(Alert, a.id).status == "resolved"
