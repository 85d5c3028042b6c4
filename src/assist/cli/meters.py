"""``assist meters``: 水管家 water-meter alerts — register meters, listen to the broker, replay a
file (the laptop default without a broker), simulate a district's meters, escalate.

``assist meters simulate`` (not ``assist simulate meters``): ``assist simulate`` is the
district simulator's own command with options used everywhere (``--households``); the meter
simulator lives with the rest of the meter verbs instead of turning it into a group.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from assist.cli.common import load_settings, out, user_errors
from assist.errors import AssistError, InputError
from assist.settings import Settings

app = typer.Typer(help="水管家 water-meter alerts: register, listen, replay, simulate, escalate.",
                  no_args_is_help=True)
RulesOption = Annotated[Path | None, typer.Option(
    "--rules", help="Meter rules YAML (default: experiments/meters.yaml when present).")]
DEFAULT_START = "2026-12-01T00:00:00+08:00"


def _rules(path: Path | None):  # noqa: ANN202 - MeterRules
    from assist.serving.alerts.config import DEFAULT_RULES, load_rules

    return load_rules(path or (DEFAULT_RULES if DEFAULT_RULES.is_file() else None))


def _sessions(s: Settings):  # noqa: ANN202 - sessionmaker
    from assist.serving.db import make_engine, session_factory, upgrade

    upgrade(s.db_url)
    return session_factory(make_engine(s.db_url))


def _processor(s: Settings, rules_path: Path | None):  # noqa: ANN202 - Processor
    from assist.serving.alerts.process import Processor

    rules = _rules(rules_path)
    p = Processor(_sessions(s), rules, key=s.pseudonym_key.get_secret_value())
    if not p.registrations:
        raise AssistError("no meter is registered: run `assist meters register` first")
    return p


def _show(stats) -> None:  # noqa: ANN001 - Stats
    for what, value in stats.rows():
        out.print(f"{what:30} {value}")


@app.command()
@user_errors
def register(as_of: Annotated[str | None, typer.Option(
        help="Snapshot month of the store, YYYY-MM (default: the latest).")] = None) -> None:
    """Load the meter registration table (meter -> household, street, profile) from the
    ingested store into the case store."""
    from assist.serving.alerts.registry import from_store
    from assist.serving.alerts.registry import register as load

    s = load_settings()
    frame = from_store(s.store_dir, as_of)
    with _sessions(s)() as session:
        n = load(session, frame)
    out.print(f"{n:,} meters registered")
    for profile, count in frame["profile"].value_counts().sort_index().items():
        out.print(f"  {profile:20} {count:,}")


@app.command()
@user_errors
def listen(rules: RulesOption = None,
           client_id: Annotated[str, typer.Option(help="MQTT client id (the persistent "
                                                       "session's name).")] = "assist-meters",
           max_seconds: Annotated[float | None, typer.Option(min=0, help="Stop after this long.")] = None,
           idle_exit: Annotated[float | None, typer.Option(
               min=0, help="Stop after this many seconds without a message.")] = None) -> None:
    """Subscribe to the broker (ASSIST_MQTT_URL) and raise alerts until stopped (Ctrl-C)."""
    from assist.serving.alerts.listener import listen as run
    from assist.serving.alerts.webhook import Webhook

    s = load_settings()
    if not s.mqtt_url:
        raise AssistError("ASSIST_MQTT_URL is not set (e.g. mqtt://127.0.0.1:1883); without a "
                          "broker use `assist meters replay FILE`")
    p = _processor(s, rules)
    hook = Webhook(p.rules.webhook.url, timeout=p.rules.webhook.timeout_seconds)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    out.print(f"listening on {p.rules.topic.subscription} ({len(p.registrations):,} meters)")
    try:
        stats = run(p, url=s.mqtt_url, client_id=client_id, webhook=hook, stop=stop,
                    max_seconds=max_seconds, idle_exit=idle_exit,
                    on_ready=lambda: out.print("subscribed"))
    finally:
        hook.close()
    _show(stats)


@app.command()
@user_errors
def replay(file: Annotated[Path, typer.Argument(help="JSON lines {topic, payload} "
                                                     "(`assist meters simulate --out`).")],
           rules: RulesOption = None) -> None:
    """Fold a file of meter messages through the same rules and store (no broker needed)."""
    from assist.serving.alerts.listener import replay as run
    from assist.serving.alerts.webhook import Webhook

    s = load_settings()
    p = _processor(s, rules)
    hook = Webhook(p.rules.webhook.url, timeout=p.rules.webhook.timeout_seconds)
    try:
        stats = run(p, file, webhook=hook)
    finally:
        hook.close()
    _show(stats)


@app.command()
@user_errors
def escalate(rules: RulesOption = None) -> None:
    """Escalate alerts nobody acknowledged within the declared time to the street lead."""
    from assist.serving.services.alerts import escalate_due

    s = load_settings()
    with _sessions(s)() as session:
        events = escalate_due(session, minutes=_rules(rules).escalation_minutes,
                              actor="assist meters escalate")
    out.print(f"{len(events)} alert(s) escalated")


@app.command()
@user_errors
def simulate(
    households: Annotated[int | None, typer.Option(min=1, help="Meters to simulate (default: "
                                                   "every registered meter).")] = None,
    hours: Annotated[float, typer.Option(min=0.25, help="Simulated hours.")] = 24.0,
    speed: Annotated[float, typer.Option(min=0, help="Simulated seconds per wall second "
                                         "(0: as fast as possible).")] = 0.0,
    start: Annotated[str, typer.Option(help="Simulated start, ISO 8601 with zone.")] = DEFAULT_START,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    emergencies: Annotated[float, typer.Option(min=0, max=1, help="Share of meters with a "
                                               "planted emergency.")] = 0.02,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write JSON lines here "
                                                  "instead of publishing.")] = None,
    source: Annotated[Path | None, typer.Option(help="Simulated extracts (default: the "
                                                "workspace's).")] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id.")] = "assist-meter-sim",
    prefix: Annotated[str, typer.Option(help="Topic prefix.")] = "meters",
) -> None:
    """Publish a simulated district's meter readings (daily rhythm, absences, faults, planted
    emergencies) to ASSIST_MQTT_URL, or write them to a file; the truth goes to
    <workspace>/truth/meters.json."""
    from assist.simulate.meters import MeterFleet, Rates, district_meters, publish, write_messages

    s = load_settings()
    try:
        begin = dt.datetime.fromisoformat(start)
    except ValueError:
        raise InputError(f"--start {start!r} is not an ISO 8601 time") from None
    if begin.tzinfo is None:
        raise InputError("--start needs a time zone, e.g. 2026-12-01T00:00:00+08:00")
    try:
        meters = district_meters(source or s.source_dir)
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from None
    meters = meters.head(households) if households else meters
    fleet = MeterFleet(meters, start=begin, hours=hours, seed=seed,
                       rates=Rates(emergencies=emergencies))
    if out_file is not None:
        n = write_messages(fleet, out_file, prefix=prefix)
    else:
        if not s.mqtt_url:
            raise AssistError("ASSIST_MQTT_URL is not set: give --out FILE to write a file")
        from assist.serving.alerts.listener import broker_address

        host, port, _, _ = broker_address(s.mqtt_url)
        n = publish(fleet, host=host, port=port, client_id=client_id, speed=speed, prefix=prefix)
    truth = s.truth_dir / "meters.json"
    truth.parent.mkdir(parents=True, exist_ok=True)
    truth.write_text(json.dumps(fleet.truth(), indent=1, default=str), encoding="utf-8")
    out.print(f"{n:,} messages from {len(meters):,} meters over {hours:g} h "
              f"({'file ' + str(out_file) if out_file else 'published'}); truth: {truth}")


def run_demo(s: Settings, *, hours: float = 24.0, seed: int = 7) -> None:
    """The demo's 水管家 step: register the district's meters, simulate a day of readings, and
    fold them through the listener's rules — through the broker when ASSIST_MQTT_URL is set,
    else from a JSON-lines file (the embedded default: no broker on a laptop)."""
    from assist.serving.alerts.listener import broker_address, listen
    from assist.serving.alerts.listener import replay as fold_file
    from assist.serving.alerts.process import Processor
    from assist.serving.alerts.registry import from_store
    from assist.serving.alerts.registry import register as load
    from assist.serving.alerts.webhook import Webhook
    from assist.simulate.meters import MeterFleet, Rates, district_meters, publish, write_messages

    sessions = _sessions(s)
    with sessions() as session:
        n = load(session, from_store(s.store_dir))
    rules = _rules(None)
    p = Processor(sessions, rules, key=s.pseudonym_key.get_secret_value())
    fleet = MeterFleet(district_meters(s.source_dir), start=dt.datetime.fromisoformat(
        DEFAULT_START), hours=hours, seed=seed, rates=Rates(emergencies=0.02))
    hook = Webhook(rules.webhook.url, timeout=rules.webhook.timeout_seconds)
    if s.mqtt_url:
        ready, stop, result = threading.Event(), threading.Event(), []
        worker = threading.Thread(target=lambda: result.append(listen(
            p, url=s.mqtt_url, client_id="assist-demo", webhook=hook, stop=stop, idle_exit=5,
            on_ready=ready.set)))
        worker.start()
        if not ready.wait(30):
            stop.set()
            raise AssistError("the MQTT broker did not confirm the subscription in 30 s")
        host, port, _, _ = broker_address(s.mqtt_url)
        publish(fleet, host=host, port=port, client_id="assist-demo-sim", speed=0,
                prefix=rules.topic.prefix)
        worker.join(timeout=600)
        stats, how = result[0], f"through the broker {s.mqtt_url.split('@')[-1]}"
    else:
        path = s.workspace / "meters" / "messages.jsonl"
        write_messages(fleet, path, prefix=rules.topic.prefix)
        stats, how = fold_file(p, path, webhook=hook), f"replayed from {path} (no broker)"
    hook.close()
    truth = s.truth_dir / "meters.json"
    truth.write_text(json.dumps(fleet.truth(), indent=1, default=str), encoding="utf-8")
    out.print(f"{n:,} meters registered; {hours:g} simulated hours {how}")
    _show(stats)
