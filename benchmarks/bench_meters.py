"""水管家 benchmark: a district of 60,000 registered meters reporting every 15 minutes through
Mosquitto to ONE listener process (``assist meters listen``), compressed in time.

    .venv/bin/python benchmarks/bench_meters.py [--meters 60000] [--hours 1] [--publishers 2]
        [--mqtt-url mqtt://HOST:PORT] [--database-url URL] [--seed 7]

By default the benchmark starts its own Mosquitto on a free 127.0.0.1 port, configured as a
meter platform's broker must be (``max_queued_messages 0``: a persistent session's queue is
not cut at Mosquitto's default of 1,000 messages, beyond which it DROPS QoS 1 messages for a
listener that is down or behind); ``--mqtt-url`` uses another broker instead.

The fleet lives ``--warmup`` simulated hours before the measured window without publishing;
the listener starts from the state a listener that had been running would hold then (last
report, last use, flow start — :meth:`MeterFleet.state_at_start`), so a 12-hour silence is
detected inside a one-hour window. Planted emergencies start so that the rule's span ends
inside the window. Steps:

1. the listener subscribes once (its persistent session) and stops;
2. ``--publishers`` processes publish the window (QoS 1) as fast as the broker takes them:
   the time factor is whatever that gives (60,000 meters x 4 readings an hour);
3. the listener starts again and drains the session: messages/s one listener sustains,
   measured from its first message to its last commit (acknowledged only after commit).

Prints: messages/s, detection delay after the rule's span (event time, p50/p99), false
alerts per 1,000 meter-days, missed emergencies, messages lost at the broker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert, select

from assist.ingest.pseudonym import Pseudonymiser
from assist.serving.alerts.config import MeterRules
from assist.serving.alerts.listener import broker_address
from assist.serving.alerts.registry import register
from assist.serving.db import make_engine, session_factory, upgrade
from assist.serving.models import Alert, MeterState
from assist.simulate.meters import MeterFleet, Rates, publish, synthetic_meters

KEY = "bench-meter-key-0123456789abcdef0123"
START = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 district time
ASSIST = Path(sys.executable).with_name("assist")
MOSQUITTO = Path("/usr/sbin/mosquitto")


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meters", type=int, default=60_000)
    p.add_argument("--hours", type=float, default=1.0, help="simulated hours published")
    p.add_argument("--warmup", type=float, default=13.0, help="simulated hours lived before")
    p.add_argument("--publishers", type=int, default=2, help="publishing processes")
    p.add_argument("--emergencies", type=float, default=0.005, help="share of meters")
    p.add_argument("--mqtt-url", default=None, help="a broker (default: our own Mosquitto)")
    p.add_argument("--database-url", default=None, help="case store (default: a SQLite file)")
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args()


def _fleets(args: argparse.Namespace) -> list[MeterFleet]:
    """One fleet per publisher (a slice of the meters each); deterministic by seed."""
    meters = synthetic_meters(args.meters, streets=10)
    parts = np.array_split(np.arange(args.meters), args.publishers)
    return [MeterFleet(meters.iloc[idx], start=START, hours=args.hours, seed=args.seed + i,
                       warmup_hours=args.warmup, rates=Rates(emergencies=args.emergencies),
                       emergency_window=(args.hours - 12.0 - 1.0, args.hours - 12.0 - 0.5),
                       flow_window=(args.hours - 3.0 - 1.0, args.hours - 3.0 - 0.5))
            for i, idx in enumerate(parts)]


def _time(value: object) -> dt.datetime | None:
    """A state time as an aware datetime (None for a missing one)."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


def _prepare(fleets: list[MeterFleet], url: str, warmup: float) -> pd.DataFrame:
    """Register every meter; live the warm-up; store each meter's state at the window's start."""
    meters = pd.concat([f.meters for f in fleets], ignore_index=True)
    ids = Pseudonymiser(KEY)
    reg = pd.DataFrame({"meter_id": ids.column(meters.meter_id.astype("string"), "meter"),
                        "household_id": ids.column(meters.household_id.astype("string"),
                                                   "household"),
                        "street_code": meters.street_code, "community_code": "",
                        "profile": "lone_elderly_75"}).astype(str)
    states = []
    for f in fleets:
        next(f.batches())  # lives the warm-up
        states.append(f.state_at_start())
    state = pd.concat(states, ignore_index=True)
    rows = [{"meter_id": m, "last_ts": _time(r.last_ts), "last_use_at": _time(r.last_use_at),
             "flow_since": _time(r.flow_since), "readings": int(warmup * 4),
             "last_litres": None if pd.isna(r.last_litres) else float(r.last_litres),
             "usual": {}} for m, r in zip(reg["meter_id"], state.itertuples(), strict=True)]
    with session_factory(make_engine(url))() as s:
        register(s, reg)
        for i in range(0, len(rows), 5000):
            s.execute(insert(MeterState), rows[i:i + 5000])
        s.commit()
    return reg


def _own_broker(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 0\n", encoding="utf-8")
    proc = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):  # bounded: 10 s
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"mqtt://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("our Mosquitto did not start")


def _listener(env: dict[str, str], rules: Path, run: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([str(ASSIST), "meters", "listen", "--rules", str(rules),
                             "--client-id", f"bench-{run}", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # bounded: the listener exits (and the pipe closes) on error
        if "subscribed" in line:
            return proc
        print("  listener:", line.rstrip())
    raise SystemExit("the listener did not subscribe")


def _publish_part(args: argparse.Namespace, url: str, prefix: str, i: int) -> int:
    host, port, _, _ = broker_address(url)
    return publish(_fleets(args)[i], host=host, port=port, client_id=f"{prefix}-sim-{i}",
                   speed=0, prefix=f"{prefix}/meters")


def _figures(fleets: list[MeterFleet], reg: pd.DataFrame, url: str, sent: int,
             received: int) -> None:
    truths = [f.truth() for f in fleets]
    household = dict(zip(pd.concat([f.meters.household_id for f in fleets]), reg.household_id,
                         strict=True))
    planted = {household[e["household_id"]]: e for t in truths for e in t["emergencies"]}
    utc = lambda t: t if t.tzinfo else t.replace(tzinfo=dt.UTC)  # noqa: E731
    with session_factory(make_engine(url))() as s:
        alerts = list(s.scalars(select(Alert)))
        last = {m: utc(t) for m, t in s.execute(select(MeterState.meter_id, MeterState.last_ts))}
    hits = [a for a in alerts if a.household_id in planted
            and planted[a.household_id]["kind"] == a.rule]
    false, meter_days = len(alerts) - len(hits), sum(t["meter_days"] for t in truths)
    # due: the meter reported after the rule's span had passed (an offline meter cannot tell)
    rules, meter_of = MeterRules(), dict(zip(reg.household_id, reg.meter_id, strict=True))
    span = {"silence": rules.silence_hours("lone_elderly_75"),
            "continuous_flow": rules.continuous_flow.hours}
    due = {h for h, e in planted.items() if last[meter_of[h]] >= dt.datetime.fromisoformat(
        e["start"]) + dt.timedelta(hours=span[e["kind"]])}
    missed = len(due - {a.household_id for a in hits})
    after = [(utc(a.detected_at) - dt.datetime.fromisoformat(planted[a.household_id]["start"]))
             .total_seconds() / 60 - a.span_hours * 60 for a in hits]
    print(f"messages lost at broker   {sent - received:,} of {sent:,}")
    print(f"emergencies planted       {len(planted):,} "
          f"({sum(e['kind'] == 'silence' for e in planted.values())} silence); due in the "
          f"window {len(due):,} (others: the meter was offline after the span)")
    print(f"alerts                    {len(alerts):,}  missed {missed}  false {false} "
          f"({false / meter_days * 1000:.2f} per 1,000 meter-days over {meter_days:,.0f})")
    if after:
        print(f"delay after the span      p50 {np.percentile(after, 50):.1f} min  "
              f"p99 {np.percentile(after, 99):.1f} min  max {max(after):.1f} min (event time)")


def main() -> None:
    args = _args()
    run = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-meters-") as tmp:
        folder = Path(tmp)
        broker, url = (None, args.mqtt_url) if args.mqtt_url else _own_broker(folder)
        try:
            db = args.database_url or f"sqlite:///{folder / 'assist.db'}"
            upgrade(db)
            t = time.perf_counter()
            fleets = _fleets(args)
            reg = _prepare(fleets, db, args.warmup)
            print(f"{args.meters:,} meters registered, {args.warmup:g} h warm-up lived, state "
                  f"stored: {time.perf_counter() - t:.1f} s")
            rules = folder / "meters.yaml"
            rules.write_text(f"topic: {{prefix: {run}/meters}}\n", encoding="utf-8")
            env = {**os.environ, "ASSIST_ENV": "dev", "ASSIST_DATABASE_URL": db,
                   "ASSIST_MQTT_URL": url, "ASSIST_PSEUDONYM_KEY": KEY,
                   "ASSIST_WORKSPACE": str(folder)}
            first = _listener(env, rules, run)  # the persistent session, then stop
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=60)
            t = time.perf_counter()
            with mp.get_context("fork").Pool(args.publishers) as pool:
                sent = sum(pool.starmap(_publish_part, [(args, url, run, i)
                                                        for i in range(args.publishers)]))
            took = time.perf_counter() - t
            print(f"published {sent:,} messages in {took:.1f} s ({sent / took:,.0f}/s; time "
                  f"x{args.hours * 3600 / took:,.0f}) by {args.publishers} process(es)")
            second = _listener(env, rules, run, "--idle-exit", "5")
            report, _ = second.communicate(timeout=900)
            print("  listener: " + report.replace("\n", "\n  listener: ").rstrip())
            received = int(report.split("messages")[1].split("(")[0].replace(",", "").strip())
            _figures(fleets, reg, db, sent, received)
        finally:
            if broker is not None:
                broker.terminate()
                broker.wait(timeout=10)


if __name__ == "__main__":
    main()
