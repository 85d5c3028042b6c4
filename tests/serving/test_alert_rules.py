"""The water-meter rule engine on hand-made readings: silence at the declared span and not a
reading before, away mode, duplicates, continuous flow, the learned span, one alert per
episode; the rules file's loader names the bad key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from assist.errors import ConfigError
from assist.serving.alerts.config import DEFAULT_RULES, MeterRules, load_rules
from assist.serving.alerts.rules import Reading, State, apply, span_hours, usual_words

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)  # 08:00 district time
RULES = MeterRules()
Q = dt.timedelta(minutes=15)


def feed(litres: list[float], *, profile: str = "lone_elderly_75", state: State | None = None,
         start: dt.datetime = T0, away: set[int] = frozenset()) -> tuple[State, list]:
    """Fold a reading every 15 min; (state, [(index, finding)])."""
    state = state or State("m" + "0" * 20)
    found = []
    for i, v in enumerate(litres):
        for f in apply(state, Reading(state.meter_id, start + i * Q, v, i in away), profile,
                       RULES) or []:
            found.append((i, f))
    return state, found


def test_the_shipped_rules_equal_the_built_in_ones():
    assert load_rules(ROOT / DEFAULT_RULES) == MeterRules()


@pytest.mark.parametrize("profile, hours", [("lone_elderly_75", 12), ("lone_elderly_60", 14),
                                            ("vulnerable", 16), ("unknown", 24)])
def test_silence_alert_exactly_at_the_profile_span(profile, hours):
    n = hours * 4  # readings after the last use
    _, found = feed([5.0] + [0.0] * (n + 8), profile=profile)
    assert [(i, f.rule, f.span_hours) for i, f in found] == [(n, "silence", hours)]
    assert found[0][1].episode == "2026-12-01T00:00:00Z"
    assert found[0][1].last_litres == 0.0


def test_one_use_restarts_the_clock_and_a_new_episode_alerts_again():
    litres = [5.0] + [0.0] * 47 + [2.0] + [0.0] * 49
    _, found = feed(litres)
    assert [i for i, _ in found] == [48 + 48]  # 12 h after the use at index 48
    _, found = feed([5.0] + [0.0] * 60 + [3.0] + [0.0] * 50)
    assert [i for i, _ in found] == [48, 61 + 48]
    assert found[0][1].episode != found[1][1].episode


def test_away_mode_holds_the_silence_off():
    litres = [5.0] + [0.0] * 120
    _, found = feed(litres, away=set(range(1, 60)))
    assert [i for i, _ in found] == [59 + 48]  # counted from the last away reading


def test_duplicates_and_late_readings_change_nothing():
    state, _ = feed([5.0, 0.0, 0.0])
    before = (state.last_ts, state.last_use_at, state.readings)
    assert apply(state, Reading(state.meter_id, T0 + 2 * Q, 9.0), "other", RULES) is None
    assert apply(state, Reading(state.meter_id, T0, 9.0), "other", RULES) is None
    assert (state.last_ts, state.last_use_at, state.readings) == before


def test_continuous_flow_after_the_declared_hours_once():
    steady = [RULES.continuous_flow.min_litres_per_hour / 4] * 20  # exactly the rate
    _, found = feed([0.0] + steady)
    assert [(i, f.rule, f.span_hours) for i, f in found] == [(12, "continuous_flow", 3.0)]
    _, found = feed([0.0] + [7.0] * 20)  # just below the rate: never
    assert found == []
    _, found = feed([0.0] + [40.0] * 6 + [0.0] + [40.0] * 12)  # a pause restarts it
    assert [i for i, _ in found] == [7 + 12]


def test_learned_pattern_widens_the_span_never_narrows_it():
    state = State("m" + "1" * 20, usual={"days": 5, "gap_hours": 14.0})
    assert span_hours(state, "lone_elderly_75", RULES) == 14.0 * 1.25
    state.usual["gap_hours"] = 30.0
    assert span_hours(state, "lone_elderly_75", RULES) == RULES.learning.max_silence_hours
    state.usual["gap_hours"] = 2.0
    assert span_hours(state, "lone_elderly_75", RULES) == 12
    state.usual["days"] = 2  # not learned yet
    state.usual["gap_hours"] = 16.0
    assert span_hours(state, "lone_elderly_75", RULES) == 12


def test_days_of_readings_teach_the_pattern_in_words():
    day = ([0.0] * 4 + [20.0, 10.0] + [0.0] * 10 + [5.0] * 2 + [0.0] * 14 + [8.0] + [0.0] * 63)
    assert len(day) == 96
    state, _ = feed(day * 4, start=dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC) - dt.timedelta(
        hours=8))  # midnight district time
    assert state.usual["days"] == 3
    zh, en = usual_words(state)
    assert "01:00–09:00" in en and "about 48 L a day" in en, en
    assert "01:00–09:00" in zh and "48 升" in zh
    # longest pause of day 1: 04:15 -> 08:00 (the first reading starts the clock); of days 2
    # and 3: 08:00 -> 01:00; smoothed with weight 0.2: 3.75 -> 6.4 -> 8.52
    assert state.usual["gap_hours"] == pytest.approx(0.8 * (0.8 * 3.75 + 0.2 * 17) + 0.2 * 17)


@pytest.mark.parametrize("text, key", [
    ("profiles: {lone_elderly_75: {silence_hour: 3}}", "profiles.lone_elderly_75.silence_hour"),
    ("profiles: {martian: {silence_hours: 3}, other: {silence_hours: 24}}", "profiles.martian"),
    ("profiles: {lone_elderly_75: {silence_hours: 3}}", "profiles.other"),
    ("continuous_flow: {hours: -1}", "continuous_flow.hours"),
    ("webhook: {url: ftp://x}", "webhook.url"),
    ("topic: {prefix: 'a/#'}", "topic.prefix"),
    ("escalation: 5", "escalation"),
])
def test_a_bad_rules_file_names_the_key(tmp_path, text, key):
    path = tmp_path / "meters.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_rules(path)
    assert f"'{key}'" in str(exc.value) and "\n" not in str(exc.value)
