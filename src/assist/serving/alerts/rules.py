"""The per-meter rule engine: pure functions over a meter's state and one reading.

* **Silence**: no water used for the span of the household's profile (declared in
  ``experiments/meters.yaml``), widened — never narrowed — by the household's own usual longest
  daily pause once :attr:`~.config.LearningSection.min_days` days are learned. Readings marked
  ``away`` (the household set the meter's away mode) restart the clock instead of counting.
* **Continuous flow**: every reading at least ``min_litres_per_hour`` for ``hours`` on end
  (a tap left running: possible fall).

Time is the readings' own (event time, UTC): a compressed simulation or a replayed file gives
the same alerts as the live stream. A reading at or before the meter's last one is a duplicate
(QoS 1 redelivery) or late, and changes nothing. Each episode (the silence's last use, the
flow's start) raises at most one alert; the case store's unique key enforces it again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from assist.serving.alerts.config import MeterRules

DISTRICT_TZ = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Reading:
    """One validated meter message (``meter_id`` already pseudonymised)."""

    meter_id: str
    ts: dt.datetime
    litres: float
    away: bool = False


@dataclass
class State:
    """A meter's durable state (the ``meter_states`` row)."""

    meter_id: str
    last_ts: dt.datetime | None = None
    last_litres: float | None = None
    last_use_at: dt.datetime | None = None
    flow_since: dt.datetime | None = None
    readings: int = 0
    #: learned pattern (``hourly``, ``gap_hours``, ``days``), the current day's tallies, and the
    #: episodes already alerted per rule
    usual: dict[str, Any] = field(default_factory=dict)
    #: not stored: the learned pattern or the alerted episodes changed since the last write
    #: (a day closed, an alert raised); the day's running tallies alone do not set it
    usual_changed: bool = False


@dataclass(frozen=True)
class Finding:
    """An alert the reading raised (written by the processor, once per episode)."""

    rule: str
    episode: str
    span_hours: float
    detected_at: dt.datetime
    last_reading_at: dt.datetime
    last_litres: float
    usual_zh: str
    usual_en: str


def span_hours(state: State, profile: str, rules: MeterRules) -> float:
    """The silence span of this meter: the profile's, widened by its learned usual pause."""
    declared = rules.silence_hours(profile)
    learn = rules.learning
    if state.usual.get("days", 0) < learn.min_days:
        return declared
    learned = min(state.usual.get("gap_hours", 0.0) * learn.gap_margin, learn.max_silence_hours)
    return max(declared, learned)


@lru_cache(maxsize=4096)
def _local(ts: dt.datetime) -> tuple[str, int]:
    """District day and hour of a reading time (meters share the 15-minute grid: cached)."""
    local = ts.astimezone(DISTRICT_TZ)
    return local.date().isoformat(), local.hour


def _learn(state: State, r: Reading, rules: MeterRules) -> None:
    """Fold the reading into the current day; a new local day closes the previous one."""
    u = state.usual
    day, hour = _local(r.ts)
    if u.get("day") != day:
        if u.get("day") is not None and u.get("day_readings", 0) and not u.get("day_away"):
            w = rules.learning.smoothing if u.get("days", 0) else 1.0
            gap = min(u.get("day_gap", 0.0), rules.learning.max_silence_hours)
            u["gap_hours"] = (1 - w) * u.get("gap_hours", 0.0) + w * gap
            old = u.get("hourly") or [0.0] * 24
            u["hourly"] = [round((1 - w) * o + w * n, 2) for o, n in zip(old, u["day_hourly"],
                                                                          strict=True)]
            u["days"] = u.get("days", 0) + 1
        state.usual_changed = True
        u.update(day=day, day_gap=0.0, day_readings=0, day_away=False, day_hourly=[0.0] * 24)
    u["day_readings"] += 1
    u["day_away"] = u["day_away"] or r.away
    if r.litres > 0:
        u["day_hourly"][hour] += r.litres
        if state.last_use_at is not None:
            u["day_gap"] = max(u["day_gap"], (r.ts - state.last_use_at) / HOUR)


def usual_words(state: State) -> tuple[str, str]:
    """The household's usual pattern in words, Chinese and English."""
    u = state.usual
    hourly = u.get("hourly")
    if not hourly or u.get("days", 0) < 1 or sum(hourly) <= 0:
        n = u.get("days", 0)
        return (f"尚未学得用水规律（已有 {n} 天读数）", f"usual pattern not learned yet "
                f"({n} day{'s' if n != 1 else ''} of readings)")
    total = sum(hourly)
    active = [h for h, v in enumerate(hourly) if v >= 0.02 * total]
    first, last = active[0], active[-1] + 1
    gap = u.get("gap_hours", 0.0)
    return (f"通常 {first:02d}:00–{last:02d}:00 用水，日均约 {total:.0f} 升，"
            f"最长停用约 {gap:.0f} 小时",
            f"usually uses water {first:02d}:00–{last:02d}:00, about {total:.0f} L a day; "
            f"longest usual pause about {gap:.0f} h")


def apply(state: State, r: Reading, profile: str, rules: MeterRules) -> list[Finding] | None:
    """Fold reading ``r`` into ``state``; the alerts it raises (None: a duplicate or late
    reading, ignored)."""
    if state.last_ts is not None and r.ts <= state.last_ts:
        return None
    _learn(state, r, rules)
    minutes = (r.ts - state.last_ts) / dt.timedelta(minutes=1) if state.last_ts else \
        rules.reading_minutes
    rate = r.litres * 60 / max(minutes, 1e-9)
    flow = rules.continuous_flow
    if rate >= flow.min_litres_per_hour and not r.away:
        if state.flow_since is None:
            state.flow_since = state.last_ts or r.ts - dt.timedelta(minutes=minutes)
    else:
        state.flow_since = None
    if r.litres > 0 or r.away or state.last_use_at is None:
        state.last_use_at = r.ts
    state.last_ts, state.last_litres = r.ts, r.litres
    state.readings += 1
    found = []
    span = span_hours(state, profile, rules)
    if (r.ts - state.last_use_at) / HOUR >= span:
        found.append(_finding(state, "silence", state.last_use_at, span, r))
    if state.flow_since is not None and (r.ts - state.flow_since) / HOUR >= flow.hours:
        found.append(_finding(state, "continuous_flow", state.flow_since, flow.hours, r))
    return [f for f in found if f is not None]


def _finding(state: State, rule: str, start: dt.datetime, span: float,
             r: Reading) -> Finding | None:
    """The alert of this episode, unless it was raised already."""
    episode = start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    alerted = state.usual.setdefault("alerted", {})
    if alerted.get(rule) == episode:
        return None
    alerted[rule] = episode
    state.usual_changed = True
    zh, en = usual_words(state)
    return Finding(rule=rule, episode=episode, span_hours=round(span, 2), detected_at=r.ts,
                   last_reading_at=r.ts, last_litres=r.litres, usual_zh=zh, usual_en=en)
