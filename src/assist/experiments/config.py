"""Experiment configs: versioned YAML, validated with pydantic, hashed for run tracking.

A config names its data (the ingested store, or a district's own flat household table with a
YAML catalog and a label column or rule), the validation scheme, caseworker capacity, the
need model's parameters, the baselines, the groups to report on, the promotion gate and where
runs are tracked. Unknown fields are refused; :func:`load_config` raises
:class:`~assist.errors.ConfigError` naming the file, section and field at fault.
:func:`config_hash` (sha256 of the canonical JSON, paths as written) tags every run.

Relative paths are read relative to the config file's folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from assist.errors import ConfigError
from assist.experiments.tracking import MODEL_NAME
from assist.yamlfile import read_yaml

CONFIG_VERSION = 1
#: group attributes of the built-in household attributes (assist.features.attributes)
DEFAULT_GROUPS = ("head_sex", "head_age_band", "head_hukou", "has_disability", "street_code")
Positive = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(gt=0, le=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    """Where examples come from: the ingested store, or a flat household table."""

    source: Literal["store", "table"] = "store"
    #: store source: the validated store (default: the workspace's store)
    store: Path | None = None
    #: store source: use only the most recent N snapshots (default: all)
    months: Annotated[int, Field(ge=3)] | None = None
    #: skip this many first feature months (their 12-month look-back is short)
    min_history_months: Annotated[int, Field(ge=0)] = 1
    #: simulator's hidden truth folder, read by evaluation only ("off": never)
    truth: Path | Literal["off"] | None = None
    #: case-store outcomes (CSV/Parquet: household_id, month, outcome[, date]) merged with
    #: the verification records
    extra_labels: Path | None = None
    #: table source: the household table (CSV/Parquet), its YAML catalog and the label
    table: Path | None = None
    catalog: Path | None = None
    #: a 0/1 column, or a rule (pandas expression, e.g. "Target <= 2") true for the positive class
    label: str | None = None
    id_column: str | None = None
    #: table source: month column; without one, validation is stratified k-fold
    snapshot_column: str | None = None
    #: table source: columns to report per-group metrics on
    group_columns: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _fields_of_source(self) -> DataConfig:
        store_only = ("store", "months", "extra_labels")
        table_only = ("table", "catalog", "label", "id_column", "snapshot_column")
        if self.source == "table":
            for name in ("table", "catalog", "label"):
                if getattr(self, name) is None:
                    raise _field_error(name, "is required when source is 'table'")
            for name in store_only:
                if getattr(self, name) is not None:
                    raise _field_error(name, "applies to source 'store' only")
        else:
            for name in (*table_only, "group_columns"):
                if getattr(self, name):
                    raise _field_error(name, "applies to source 'table' only")
        return self


class ValidationConfig(_Section):
    """Temporal folds (store or a table with months), else stratified k-fold."""

    #: the last N feature months are test folds, each trained on all earlier months
    test_folds: Annotated[int, Field(ge=1, le=24)] = 3
    #: the most recent training months held out for probability calibration
    calibration_months: Annotated[int, Field(ge=1, le=6)] = 1
    #: fewest months left to train the trees on
    min_train_months: Positive = 2
    #: folds of the stratified k-fold used when the data has no months
    kfold: Annotated[int, Field(ge=2, le=20)] = 5
    #: k-fold: share of each training part held out for calibration
    calibration_share: Annotated[float, Field(gt=0, lt=0.5)] = 0.2
    #: negative control: shuffle training labels within each month (the model must get worse)
    shuffle_labels: bool = False


class CapacityConfig(_Section):
    """Caseworker capacity per month: households that can be visited (the k of precision@k)."""

    k: Positive | None = None
    k_pct: Share | None = 0.02

    @model_validator(mode="after")
    def _one_of(self) -> CapacityConfig:
        if self.k is None and self.k_pct is None:
            raise _field_error("k", "or 'k_pct' is required: give k (households a month) or "
                               "k_pct (share of households), or both")
        return self


class ModelConfig(_Section):
    """Need-model (LightGBM) parameters; the seed is recorded with every run."""

    n_estimators: Annotated[int, Field(ge=1, le=10_000)] = 200
    num_leaves: Annotated[int, Field(ge=2, le=1024)] = 15
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    min_child_samples: Positive = 20
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto"
    seed: Annotated[int, Field(ge=0)] = 0
    #: LightGBM threads (0: all cores; OpenMP threads contend badly on a busy machine)
    num_threads: Annotated[int, Field(ge=0)] = 1
    #: registered model: the latest fold's (evaluated as is) or refit on all months
    final: Literal["latest_fold", "refit"] = "latest_fold"


class LabelsConfig(_Section):
    """How often a caseworker's finding is right, as quality-control re-visits (复核抽查) measure
    it: sensitivity = P(found in need | in need), specificity = P(found not in need | not in
    need), among visits with a finding. When both are given, population calibration maps the
    probability of a finding to the probability of need (Rogan–Gladen, 1978); otherwise the
    probabilities are those of a caseworker finding need."""

    sensitivity: Annotated[float, Field(gt=0.5, le=1)] | None = None
    specificity: Annotated[float, Field(gt=0.5, le=1)] | None = None


class BaselinesConfig(_Section):
    """Baselines trained and scored in the same run."""

    #: Alkire–Foster poverty cutoff k of the deprivation-index ranking
    deprivation_k: Share = 1 / 3
    #: inverse regularisation strength of the logistic regression
    logistic_c: Annotated[float, Field(gt=0)] = 1.0


class EvaluationConfig(_Section):
    """Groups reported on (household attributes, or the table's group columns)."""

    groups: tuple[str, ...] = DEFAULT_GROUPS


class GateConfig(_Section):
    """Promotion gate: no worse than production, and recall disparity within bounds."""

    attributes: tuple[str, ...] = ("head_sex", "head_age_band", "head_hukou", "has_disability")
    min_ratio: Share = 0.8
    max_ratio: Annotated[float, Field(ge=1)] = 1.25
    #: groups with fewer verified positives over the test folds are not judged
    min_positives: Positive = 20
    #: a candidate may trail production on precision@k by at most this much
    tolerance: Annotated[float, Field(ge=0, le=1)] = 0.0


class TrackingConfig(_Section):
    """MLflow experiment and registered model names."""

    experiment: Annotated[str, Field(min_length=1)] = MODEL_NAME
    registered_model: Annotated[str, Field(min_length=1)] = MODEL_NAME
    #: register every trained model (``assist train --no-register`` overrides)
    register_versions: bool = True


class ExperimentConfig(_Section):
    """One experiment: data, validation, capacity, model, baselines, groups, gate, tracking."""

    config_version: Literal[1]
    name: Annotated[str, Field(min_length=1)] = "need-model"
    description: str = ""
    data: DataConfig = DataConfig()
    validation: ValidationConfig = ValidationConfig()
    capacity: CapacityConfig = CapacityConfig()
    model: ModelConfig = ModelConfig()
    labels: LabelsConfig = LabelsConfig()
    baselines: BaselinesConfig = BaselinesConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gate: GateConfig = GateConfig()
    tracking: TrackingConfig = TrackingConfig()

    @model_validator(mode="after")
    def _gate_within_groups(self) -> ExperimentConfig:
        groups = self.data.group_columns if self.data.source == "table" else self.evaluation.groups
        missing = [a for a in self.gate.attributes if a not in groups]
        if missing and self.data.source == "store":
            raise PydanticCustomError(
                "gate_groups", "section 'gate', field 'attributes': {missing} not among the "
                "reported groups (section 'evaluation', field 'groups')", {"missing": missing})
        return self


def _field_error(field: str, message: str) -> PydanticCustomError:
    text = f"field {field!r} {message}".replace("{", "(").replace("}", ")")
    return PydanticCustomError("config_field", text)


def load_config(path: Path | str) -> tuple[ExperimentConfig, Path]:
    """Read and validate a config; returns it and the folder its relative paths start from."""
    path = Path(path)
    raw = read_yaml(path, what="config")
    return parse_config(raw, source=str(path)), path.resolve().parent


def parse_config(raw: Any, *, source: str = "config") -> ExperimentConfig:
    """Validate a config mapping; :class:`ConfigError` names the section and field at fault."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    version = raw.get("config_version")
    if version != CONFIG_VERSION:
        raise ConfigError(f"{source}: field 'config_version' must be {CONFIG_VERSION} (this "
                          f"code reads config version {CONFIG_VERSION}), got {version!r}")
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [describe_error(err) for err in exc.errors()]
        raise ConfigError(f"{source} is invalid:\n  - " + "\n  - ".join(problems)) from None


def describe_error(err: Any) -> str:
    """One pydantic error in words: ``section 'model', field 'num_leaves': ...``."""
    loc = [str(x) for x in err["loc"]]
    kind, msg = err["type"], err["msg"]
    if kind in ("config_field", "gate_groups"):  # our own messages name the field already
        return f"section {loc[0]!r}, {msg}" if loc else msg
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        noun = "section" if len(loc) == 1 else "field"
        msg = f" is not a known {noun} (known: {', '.join(owner.model_fields)})"
    elif kind == "missing":
        msg = " is required"
    else:
        msg = f": {msg}"
    if not loc:
        return msg.lstrip(": ")
    if len(loc) == 1:
        top = ExperimentConfig.model_fields[loc[0]] if loc[0] in ExperimentConfig.model_fields \
            else None
        is_section = top is None or _is_model(top.annotation)
        return f"{'section' if is_section else 'field'} {loc[0]!r}{msg}"
    return f"section {loc[0]!r}, field {'.'.join(loc[1:])!r}{msg}"


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _model_at(loc: list[str]) -> type[BaseModel]:
    model: type[BaseModel] = ExperimentConfig
    for part in loc:
        field = model.model_fields.get(part)
        ann = getattr(field, "annotation", None)
        if _is_model(ann):
            model = ann
    return model


def canonical_json(config: ExperimentConfig) -> str:
    """The config as canonical JSON: defaults filled in, keys sorted, paths as written."""
    return json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def config_hash(config: ExperimentConfig) -> str:
    """sha256 of the canonical JSON (a run tag: same hash, same experiment)."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


def resolve(path: Path | None, base: Path) -> Path | None:
    """A config path made absolute against the config file's folder."""
    if path is None:
        return None
    return path if path.is_absolute() else (base / path)


def flat_params(config: ExperimentConfig) -> dict[str, str]:
    """``section.field -> value`` strings for run parameters."""
    out: dict[str, str] = {}
    for section, values in config.model_dump(mode="json").items():
        if isinstance(values, dict):
            for k, v in values.items():
                out[f"{section}.{k}"] = json.dumps(v) if isinstance(v, list | dict) else str(v)
        else:
            out[section] = str(values)
    return out
