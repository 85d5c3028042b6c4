"""Simulated smart water meters (水管家) of a simulated district, published to MQTT.

Each registered meter (the ``meter_id`` column of the district's water readings) reports every
``step_minutes`` the litres used since its last report, on ``<prefix>/<meter_id>/reading``
with a JSON payload ``{"meter_id", "ts", "litres"[, "away"]}``. Life follows a daily rhythm
(wake and bed times per person, district time UTC+8), a few uses an hour while awake, rare use
at night, outings of a few hours, and holidays (absences) during which the household has set
the meter's away mode (``"away": true``). Meters fail: they go offline for hours and then
report the litres of the whole gap; a few messages are malformed, some are sent twice (QoS 1
redelivery). Planted emergencies have known start times: ``silence`` (no water at all from
then on: a fall, an illness) and ``continuous_flow`` (a tap left running). Everything that
was planted is in :meth:`MeterFleet.truth`, so detection delay and false alerts are measured.

Deterministic by seed. Time can be compressed (``speed``): simulated time runs ``speed``
times faster than the wall clock. With ``warmup_hours`` the fleet lives that long before
``start`` without publishing; :meth:`MeterFleet.state_at_start` is then what a listener that
had been running would know (last report, last use, start of a continuous flow).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from assist.features.schemas import RAW_ID_PATTERN

DISTRICT_OFFSET = dt.timedelta(hours=8)
#: most published messages waiting for their acknowledgement (MQTT message ids are 16-bit)
MAX_OUTSTANDING = 20_000


def district_meters(source: Path) -> pd.DataFrame:
    """The registered meters of a simulated district's latest extract: ``meter_id``,
    ``household_id``, ``street_code`` (raw ids, as a meter platform knows them)."""
    folder = Path(source) / "water_readings"
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no water readings under {folder}: run `assist simulate` first")
    water = pd.read_parquet(files[-1], columns=["meter_id", "household_id"]).dropna()
    water = water[water.meter_id.astype(str).str.fullmatch(RAW_ID_PATTERN)]  # no planted junk
    homes = pd.read_parquet(Path(source) / "households" / files[-1].name,
                            columns=["household_id", "street_code"])
    meters = water.drop_duplicates("meter_id").merge(homes.drop_duplicates("household_id"),
                                                     on="household_id", how="inner")
    return meters.sort_values("meter_id").reset_index(drop=True).astype(str)


def synthetic_meters(n: int, *, streets: int = 10) -> pd.DataFrame:
    """``n`` made-up registered meters (for benchmarks): ids ``WM`` + 10 digits."""
    i = np.arange(n)
    return pd.DataFrame({"meter_id": [f"WM{k:010d}" for k in i],
                         "household_id": [f"HH{k:010d}" for k in i],
                         "street_code": [f"S{1 + k % streets:02d}" for k in i]})


@dataclass(frozen=True)
class Rates:
    """How often things happen (per meter)."""

    emergencies: float = 0.02     # share of meters with a planted emergency
    flow_share: float = 0.3       # of those, a tap left running (else silence)
    absence_per_day: float = 0.01  # holiday starts per meter-day (away mode set)
    fault_per_day: float = 0.02   # offline episodes per meter-day (1-6 h)
    bad_message: float = 0.0005   # malformed payloads per message
    duplicate: float = 0.002      # messages sent twice


class MeterFleet:
    """The simulated meters between ``start - warmup_hours`` and ``start + hours``."""

    def __init__(self, meters: pd.DataFrame, *, start: dt.datetime, hours: float, seed: int = 7,
                 step_minutes: int = 15, warmup_hours: float = 0.0, rates: Rates = Rates(),
                 emergency_window: tuple[float, float] | None = None,
                 flow_window: tuple[float, float] | None = None,
                 flow_litres_per_hour: float = 30.0) -> None:
        if start.tzinfo is None:
            raise ValueError("start needs a time zone")
        self.meters, self.n = meters.reset_index(drop=True), len(meters)
        self.step = dt.timedelta(minutes=step_minutes)
        self.start, self.hours, self.warmup = start.astimezone(dt.UTC), hours, warmup_hours
        self.seed, self.rates, self.flow_rate = seed, rates, flow_litres_per_hour
        self.rng = np.random.default_rng(seed)
        r, n = self.rng, self.n
        self.wake = r.uniform(5.5, 7.5, n)
        self.bed = r.uniform(21.0, 23.0, n)
        self.daily = r.uniform(80, 220, n)
        self.p_use = r.uniform(0.15, 0.3, n)
        self.first = self.start - dt.timedelta(hours=warmup_hours)
        self.last = self.start + dt.timedelta(hours=hours)
        window = emergency_window or (-warmup_hours, max(hours - 13.0, 0.5))
        self._plan(window, flow_window or window)
        self.planted_bad = self.planted_duplicates = 0

    def _plan(self, window: tuple[float, float], flow_window: tuple[float, float]) -> None:
        """Emergencies (silences start in ``window``, running taps in ``flow_window``),
        absences and faults, as start/end times in hours after ``start``."""
        r, n, span = self.rng, self.n, self.warmup + self.hours
        k = int(round(self.rates.emergencies * n))
        who = r.choice(n, size=k, replace=False) if k else np.array([], dtype=int)
        self.e_kind = np.full(n, "", dtype=object)
        self.e_kind[who] = np.where(r.random(k) < self.rates.flow_share, "continuous_flow",
                                    "silence")
        self.e_start = np.full(n, np.inf)
        lo, hi = np.array([window, flow_window])[(self.e_kind[who] == "continuous_flow")
                                                 .astype(int)].T
        self.e_start[who] = np.round(r.uniform(lo, hi) * 4) / 4
        self.e_rate = r.uniform(60, 240, n)  # litres per hour of a running tap
        days = span / 24
        self.a_start, self.a_end = self._intervals(self.rates.absence_per_day * days, 24, 96)
        self.f_start, self.f_end = self._intervals(self.rates.fault_per_day * days, 1, 6)
        # no holiday over an emergency: the truth stays unambiguous
        clash = (self.a_start < self.e_start + 24) & (self.a_end > self.e_start - 24)
        self.a_start[clash], self.a_end[clash] = np.inf, np.inf

    def _intervals(self, expected: float, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        """At most one interval per meter, starting with probability ``expected``."""
        r, n = self.rng, self.n
        on = r.random(n) < min(expected, 1.0)
        start = np.where(on, r.uniform(-self.warmup, self.hours, n), np.inf)
        return start, start + r.uniform(lo, hi, n)

    def _litres(self, h: float, when: dt.datetime) -> tuple[np.ndarray, np.ndarray]:
        """Litres used in the step ending ``h`` hours after ``start``, and the away flags."""
        r, n = self.rng, self.n
        local = (when + DISTRICT_OFFSET)
        clock = local.hour + local.minute / 60
        awake = (clock >= self.wake) & (clock < self.bed)
        # an outing of 1-4 h on about a third of days: no use while out
        day = (local - dt.timedelta(hours=clock)).toordinal()
        day_rng = np.random.default_rng([day, 11])
        out_start = day_rng.uniform(9, 16, n)
        out = (day_rng.random(n) < 0.35) & (clock >= out_start) & \
            (clock < out_start + day_rng.uniform(1, 4, n))
        p = np.where(awake & ~out, self.p_use, 0.03)
        # the morning and the evening wash are part of every ordinary day
        routine = ((clock >= self.wake) & (clock < self.wake + 0.5)) | \
            ((clock >= self.bed - 0.5) & (clock < self.bed))
        used = routine | (r.random(n) < p)
        per_use = self.daily / (self.p_use * 64)
        litres = np.where(used, per_use * r.gamma(2.0, 0.5, n), 0.0)
        away = (h > self.a_start) & (h <= self.a_end)
        litres[away] = 0.0
        hit = h > self.e_start
        litres[hit & (self.e_kind == "silence")] = 0.0
        flow = hit & (self.e_kind == "continuous_flow")
        litres[flow] += self.e_rate[flow] * self.step.total_seconds() / 3600
        return np.round(litres, 1), away

    def steps(self) -> Iterator[tuple[dt.datetime, bool, np.ndarray, np.ndarray, np.ndarray]]:
        """``(ts, published, reporting mask, litres, away)`` per step (litres of an offline
        meter accumulate and arrive with its next report)."""
        pending = np.zeros(self.n)
        when = self.first + self.step
        while when <= self.last:
            h = (when - self.start) / dt.timedelta(hours=1)
            litres, away = self._litres(h, when)
            pending += litres
            offline = (h > self.f_start) & (h <= self.f_end)
            report = ~offline
            out = np.where(report, pending, 0.0)
            pending[report] = 0.0
            yield when, when > self.start, report, np.round(out, 1), away
            when += self.step

    def truth(self) -> dict:
        """What was planted (raw ids, times UTC ISO): emergencies, absences, faults."""
        def rows(mask: np.ndarray, **cols: np.ndarray) -> list[dict]:
            idx = np.flatnonzero(mask)
            return [{"meter_id": self.meters.meter_id[i], "household_id":
                     self.meters.household_id[i], "street_code": self.meters.street_code[i],
                     **{k: v[i] for k, v in cols.items()}} for i in idx]
        at = np.vectorize(lambda h: (self.start + dt.timedelta(hours=float(h))).isoformat(),
                          otypes=[object])
        e = np.isfinite(self.e_start)
        return {"start": self.start.isoformat(), "end": self.last.isoformat(),
                "meters": self.n, "step_minutes": self.step.total_seconds() / 60,
                "meter_days": round(self.n * self.hours / 24, 2),
                "emergencies": rows(e, kind=self.e_kind, start=at(np.where(e, self.e_start, 0))),
                "absences": len(rows(np.isfinite(self.a_start))),
                "faults": len(rows(np.isfinite(self.f_start))),
                "bad_messages": self.planted_bad, "duplicates": self.planted_duplicates}

    def batches(self, prefix: str = "meters") -> Iterator[tuple[dt.datetime, list[tuple[str, bytes]]]]:
        """``(ts, messages)`` per published step, each message ``(topic, payload)``; warm-up
        steps only update :meth:`state_at_start`. Every pass yields the same messages."""
        ids = self.meters.meter_id.to_numpy(dtype=object)
        # every pass lives the same life (the warm-up's state matches the published window)
        self.rng = np.random.default_rng([self.seed, 1])
        self.planted_bad = self.planted_duplicates = 0
        self._state = {"last_ts": np.full(self.n, None, dtype=object),
                       "last_litres": np.full(self.n, np.nan), "last_use_at": np.full(
                           self.n, None, dtype=object), "flow_since": np.full(self.n, None,
                                                                              dtype=object)}
        for when, published, report, litres, away in self.steps():
            if not published:
                self._fold(when, report, litres, away)
                continue
            yield when, self._messages(prefix, ids, when, report, litres, away)

    def _fold(self, when: dt.datetime, report: np.ndarray, litres: np.ndarray,
              away: np.ndarray) -> None:
        st = self._state
        minutes = np.array([(when - t).total_seconds() / 60 if t is not None else
                            self.step.total_seconds() / 60 for t in st["last_ts"]])
        rate = litres * 60 / np.maximum(minutes, 1e-9)
        flowing = report & (rate >= self.flow_rate) & ~away
        start = np.where(st["last_ts"] == None, when - self.step, st["last_ts"])  # noqa: E711
        keep = flowing & (st["flow_since"] != None)  # noqa: E711
        st["flow_since"] = np.where(flowing, np.where(keep, st["flow_since"], start),
                                    np.where(report, None, st["flow_since"]))
        use = report & ((litres > 0) | away | (st["last_use_at"] == None))  # noqa: E711
        st["last_use_at"] = np.where(use, when, st["last_use_at"])
        st["last_ts"] = np.where(report, when, st["last_ts"])
        st["last_litres"] = np.where(report, litres, st["last_litres"])

    def state_at_start(self) -> pd.DataFrame:
        """Per meter (raw id): ``last_ts``, ``last_litres``, ``last_use_at``, ``flow_since``
        at ``start``, as a listener that had been running would hold them (after
        :meth:`batches` passed the warm-up)."""
        return pd.DataFrame({"meter_id": self.meters.meter_id, **self._state})

    def _messages(self, prefix: str, ids: np.ndarray, when: dt.datetime, report: np.ndarray,
                  litres: np.ndarray, away: np.ndarray) -> list[tuple[str, bytes]]:
        ts = when.isoformat()
        out = []
        r = self.rng
        bad = r.random(self.n) < self.rates.bad_message
        twice = r.random(self.n) < self.rates.duplicate
        for i in np.flatnonzero(report):
            m = ids[i]
            body = f'{{"meter_id":"{m}","ts":"{ts}","litres":{litres[i]:.1f}' + \
                (',"away":true}' if away[i] else "}")
            if bad[i]:  # a corrupted message instead of the reading: the reading is lost
                body = f'{{"meter_id":"{m}","ts":"{ts}","litres":"n/a"}}'
                self.planted_bad += 1
            msg = (f"{prefix}/{m}/reading", body.encode())
            out.append(msg)
            if twice[i]:
                out.append(msg)
                self.planted_duplicates += 1
        return out


def write_messages(fleet: MeterFleet, path: Path, *, prefix: str = "meters") -> int:
    """Write every published message as JSON lines ``{"topic", "payload"}`` (the listener's
    ``replay`` input, for a laptop without a broker); how many."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for _, batch in fleet.batches(prefix):
            for topic, payload in batch:
                f.write(json.dumps({"topic": topic, "payload": payload.decode()}) + "\n")
                n += 1
    return n


def publish(fleet: MeterFleet, *, host: str, port: int, client_id: str, speed: float,
            prefix: str = "meters",
            on_step: Callable[[dt.datetime, int], None] | None = None) -> int:
    """Publish every step's messages with QoS 1, one step each ``step / speed`` seconds of
    wall time (``speed`` 0: as fast as the broker takes them); how many were published."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(200)  # paho scans its in-flight list per ack: keep it short
    c.max_queued_messages_set(0)
    c.connect(host, port, keepalive=30)
    c.loop_start()
    sent, t0, pause = 0, None, fleet.step.total_seconds() / speed if speed else 0
    pending: deque = deque()
    try:
        for k, (when, batch) in enumerate(fleet.batches(prefix)):
            t0 = t0 or time.monotonic()  # after the warm-up
            for j, (topic, payload) in enumerate(batch):
                if pause and j % 500 == 0:  # spread each step evenly over its wall time
                    time.sleep(max(0.0, t0 + (k + j / len(batch)) * pause - time.monotonic()))
                pending.append(c.publish(topic, payload, qos=1))
                if len(pending) > MAX_OUTSTANDING:  # message ids are 16-bit: bound the backlog
                    pending.popleft().wait_for_publish(timeout=120)
            sent += len(batch)
            if on_step:
                on_step(when, sent)
        while pending:
            pending.popleft().wait_for_publish(timeout=120)
    finally:
        c.disconnect()
        c.loop_stop()
    return sent
