"""The scoring config (``experiments/scoring.yaml``): need bands, deprivation cutoff, explanations,
programme rules, allocation capacities, early-warning thresholds and evaluation, validated so
an error names its section and field; :func:`config_digest` is its hash in the snapshot."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assist.errors import ConfigError
from assist.models import matching
from assist.models.allocation import Capacities, ProgrammeCapacity, StreetCapacity
from assist.models.carry import CarryRules
from assist.models.visits import VisitsSection
from assist.models.warning import WarningConfig
from assist.yamlfile import read_yaml


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bands(_Section):
    """Cut points of the need bands on the calibrated probability."""

    medium: Annotated[float, Field(gt=0, lt=1)] = 0.2
    high: Annotated[float, Field(gt=0, le=1)] = 0.5


class StreetEntry(_Section):
    """Visits per month and floor of one street (or ``default``)."""

    visits: Annotated[int, Field(ge=0)]
    floor: Annotated[int, Field(ge=0)] = 0


class ProgrammeEntry(_Section):
    """Places, budget, cost per place and optional value of one programme."""

    places: Annotated[int, Field(ge=0)] | None = None
    budget: Annotated[float, Field(ge=0)] | None = None
    cost: Annotated[float, Field(ge=0)] = 0.0
    value: Annotated[float, Field(ge=0)] = 0.0


#: places (or budget and cost per place, CNY) of each programme per month: the documented
#: ``experiments/scoring.yaml`` (a test checks the built-in config equals the file)
PROGRAMME_PLACES: dict[str, ProgrammeEntry] = {
    "tekun": ProgrammeEntry(places=10), "dibao": ProgrammeEntry(places=80),
    "low_income": ProgrammeEntry(places=80), "expenditure": ProgrammeEntry(places=30),
    "medical": ProgrammeEntry(budget=300_000, cost=5_000),
    "education": ProgrammeEntry(places=40), "employment": ProgrammeEntry(places=100),
    "housing": ProgrammeEntry(places=20), "temporary": ProgrammeEntry(budget=150_000, cost=3_000),
    "charity": ProgrammeEntry(budget=100_000, cost=2_000)}


class AllocationSection(_Section):
    """Capacities of the month."""

    district_visits: Annotated[int, Field(ge=0)] | None = None
    candidates_per_street: Annotated[int, Field(ge=1)] | None = None
    time_limit_s: Annotated[float, Field(gt=0)] = 60.0
    streets: dict[str, StreetEntry] = Field(default_factory=lambda: {"default": StreetEntry(visits=40, floor=5)})
    programmes: dict[str, ProgrammeEntry] = Field(default_factory=lambda: dict(PROGRAMME_PLACES))
    #: what ranks households for visits: the model's probability (the product), the
    #: Alkire-Foster deprivation score (a transparent baseline), or a seeded random order
    rank_by: Literal["probability", "deprivation_score", "random"] = "probability"


class ExplorationSection(_Section):
    """Share of each street's visits given to a band-stratified random sample of households the
    ranking did not choose (:mod:`assist.models.exploration`); 0 turns exploration off."""

    share: Annotated[float, Field(ge=0, le=0.5)] = 0.05


class FairnessSection(_Section):
    """Recall parity as a remedy in allocation (:mod:`assist.models.parity`)."""

    recall_parity: bool = False
    attributes: list[str] = Field(default_factory=lambda: ["head_sex", "head_age_band",
                                                           "head_hukou", "has_disability"])
    min_ratio: Annotated[float, Field(gt=0, le=1)] = 0.8
    max_ratio: Annotated[float, Field(ge=1)] = 1.25
    min_expected: Annotated[float, Field(gt=0)] = 5.0


class WarningSection(_Section):
    """Early-warning thresholds (see :class:`assist.models.warning.WarningConfig`)."""

    jump: Annotated[float, Field(gt=0, le=1)] = 0.15
    jump_relative: Annotated[float, Field(ge=0)] = 1.0
    band_margin: Annotated[float, Field(ge=0, lt=1)] = 0.05
    confirm_deprivation_rise: Annotated[float, Field(gt=0, le=1)] = 0.1
    event_other_dimensions: Annotated[int, Field(ge=1, le=6)] = 3
    income_drop: Annotated[float, Field(gt=0, le=1)] = 0.3
    water_silent_days: Annotated[float, Field(gt=0)] = 5.0


class CarryForwardSection(_Section):
    """Decisions carried forward (see :mod:`assist.models.carry` and the YAML's comments)."""

    quiet_months: Annotated[int, Field(ge=0, le=60)] = 6
    review_months: Annotated[int, Field(ge=1, le=60)] = 6
    retry_limit: Annotated[int, Field(ge=0, le=12)] = 2
    retry_priority: Literal["ranked", "pinned"] = "ranked"
    pending_months: Annotated[int, Field(ge=0, le=12)] = 2
    reopen_after_months: Annotated[int, Field(ge=0, le=60)] = 3

    def rules(self) -> CarryRules:
        """The rules as :func:`assist.models.carry.carry_forward` takes them."""
        return CarryRules(**self.model_dump())


class EvaluationSection(_Section):
    """Top k of the precision against the hidden truth (None: the visit total)."""

    top_k: Annotated[int, Field(ge=1)] | None = None


class ScoringConfig(_Section):
    """The scoring config (``experiments/scoring.yaml``)."""

    config_version: int = 1
    bands: Bands = Bands()
    deprivation_k: Annotated[float, Field(gt=0, le=1)] = 0.3333
    explain_top: Annotated[int, Field(ge=0, le=22)] = 3
    programmes: str | None = None
    allocation: AllocationSection = AllocationSection()
    warning: WarningSection = WarningSection()
    carry_forward: CarryForwardSection = CarryForwardSection()
    exploration: ExplorationSection = ExplorationSection()
    fairness: FairnessSection = FairnessSection()
    evaluation: EvaluationSection = EvaluationSection()
    #: due dates of assigned visits (the case store reads it; it does not change scoring)
    visits: VisitsSection = VisitsSection()

    def rule_table(self) -> matching.RuleTable:
        """The programme rule table the config names (default: the built-in one)."""
        return matching.load_rules(self.programmes)

    def capacities(self) -> Capacities:
        """Allocation capacities."""
        a = self.allocation
        return Capacities(
            streets={k: StreetCapacity(v.visits, v.floor) for k, v in a.streets.items()},
            programmes={k: ProgrammeCapacity(v.places, v.budget, v.cost, v.value)
                        for k, v in a.programmes.items()},
            district_visits=a.district_visits, candidates_per_street=a.candidates_per_street)

    def warning_config(self) -> WarningConfig:
        """Early-warning thresholds."""
        return WarningConfig(**self.warning.model_dump())


#: where the documented scoring config lives, relative to the project (working) folder
DEFAULT_CONFIG = Path("experiments") / "scoring.yaml"


def default_config_path(workspace: Path | None = None) -> Path | None:
    """``experiments/scoring.yaml`` of the working folder, else of the workspace or the folder
    holding it; None when there is none (the built-in config equals the shipped file)."""
    roots = [Path.cwd()]
    if workspace is not None:
        roots += [Path(workspace), Path(workspace).resolve().parent]
    return next((r / DEFAULT_CONFIG for r in roots if (r / DEFAULT_CONFIG).is_file()), None)


def load_scoring_config(path: Path | None) -> ScoringConfig:
    """Read and validate a scoring config; errors name the section and field."""
    if path is None:
        return ScoringConfig()
    data = read_yaml(path, what="scoring config") or {}
    try:
        cfg = ScoringConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"scoring config {path}: field {where!r}: {first['msg']}") from None
    if cfg.bands.medium >= cfg.bands.high:
        raise ConfigError(f"scoring config {path}: field 'bands': medium must be below high")
    unknown = sorted(set(cfg.allocation.programmes) - set(matching.PROGRAMMES))
    if unknown:
        raise ConfigError(f"scoring config {path}: field 'allocation.programmes': unknown "
                          f"programme(s) {unknown}")
    if cfg.programmes is not None and not Path(cfg.programmes).is_absolute():
        cfg = cfg.model_copy(update={"programmes": str(Path(path).parent / cfg.programmes)})
    cfg.rule_table()  # validates the rule table too
    return cfg


def config_digest(config: ScoringConfig) -> str:
    """SHA-256 of the scoring config (without `visits`: due dates do not change a score) and
    the rule table it uses."""
    text = json.dumps({"config": config.model_dump(mode="json", exclude={"visits"}),
                       "rules": config.rule_table().digest()}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
