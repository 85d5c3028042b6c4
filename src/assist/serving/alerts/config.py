"""The water-meter rules (``experiments/meters.yaml``), validated so an error names the key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assist.errors import ConfigError
from assist.yamlfile import read_yaml

#: household profiles, most watched first (a household takes the first that fits)
PROFILES = ("lone_elderly_75", "severe_disability", "lone_elderly_60", "vulnerable", "other")
#: where the documented rules live, relative to the project (working) folder
DEFAULT_RULES = Path("experiments") / "meters.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicSection(_Section):
    """Topic layout: readings on ``<prefix>/<meter_id>/reading``."""

    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")] = "meters"
    qos: Annotated[int, Field(ge=1, le=1)] = 1

    def reading(self, meter_id: str) -> str:
        """The topic a meter publishes its readings on."""
        return f"{self.prefix}/{meter_id}/reading"

    @property
    def subscription(self) -> str:
        """The listener's subscription (every meter's readings)."""
        return f"{self.prefix}/+/reading"


class ProfileRule(_Section):
    """The silence span of one household profile."""

    silence_hours: Annotated[float, Field(gt=0, le=72)]


class LearningSection(_Section):
    """How the household's own pattern widens its span."""

    min_days: Annotated[int, Field(ge=1, le=60)] = 3
    gap_margin: Annotated[float, Field(ge=1, le=3)] = 1.25
    max_silence_hours: Annotated[float, Field(gt=0, le=72)] = 20
    smoothing: Annotated[float, Field(gt=0, le=1)] = 0.2


class FlowSection(_Section):
    """Abnormal continuous flow: every reading at least the rate, for the hours."""

    min_litres_per_hour: Annotated[float, Field(gt=0)] = 30
    hours: Annotated[float, Field(gt=0, le=24)] = 3


class WebhookSection(_Section):
    """The street's duty phone system (``url`` null: off)."""

    url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5


def _default_profiles() -> dict[str, ProfileRule]:
    hours = {"lone_elderly_75": 12, "lone_elderly_60": 14, "severe_disability": 12,
             "vulnerable": 16, "other": 24}
    return {k: ProfileRule(silence_hours=v) for k, v in hours.items()}


class MeterRules(_Section):
    """The water-meter rules (``experiments/meters.yaml``)."""

    config_version: int = 1
    topic: TopicSection = TopicSection()
    reading_minutes: Annotated[float, Field(gt=0, le=1440)] = 15
    profiles: dict[str, ProfileRule] = Field(default_factory=_default_profiles)
    learning: LearningSection = LearningSection()
    continuous_flow: FlowSection = FlowSection()
    escalation_minutes: Annotated[float, Field(gt=0, le=10_080)] = 60
    webhook: WebhookSection = WebhookSection()

    def silence_hours(self, profile: str) -> float:
        """The declared span of ``profile`` (``other`` when it has none)."""
        rule = self.profiles.get(profile) or self.profiles["other"]
        return rule.silence_hours


def load_rules(path: Path | None) -> MeterRules:
    """Read and validate the rules (None: the built-in ones, equal to the shipped file); a bad
    file is a :class:`ConfigError` naming the key."""
    if path is None:
        return MeterRules()
    data = read_yaml(path, what="meter rules") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"meter rules {path}: the file must hold a mapping of sections")
    try:
        rules = MeterRules.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        # an unknown (misspelt) key explains a missing one: name it first
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"meter rules {path}: key {where!r}: {first['msg']}") from None
    unknown = sorted(set(rules.profiles) - set(PROFILES))
    if unknown:
        raise ConfigError(f"meter rules {path}: key 'profiles.{unknown[0]}': unknown profile "
                          f"(known: {', '.join(PROFILES)})")
    if "other" not in rules.profiles:
        raise ConfigError(f"meter rules {path}: key 'profiles.other': required (the span of "
                          "households without a watched profile)")
    return rules
