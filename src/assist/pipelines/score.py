"""Stage ``score``: every household scored, ranked, explained where it matters, matched, allocated.

Writes the versioned scoring snapshot ``<out>/<as_of>/`` as a whole or not at all
(:mod:`assist.pipelines.atomic`): ``scores.parquet`` (every household), ``referrals.parquet``
and ``referrals/<street>.csv|parquet`` (allocated referrals first, then the waiting list and
flagged households), ``summary.json`` (model version, data snapshot, config hash, counts,
allocation vs greedy, flags, precision against the hidden truth on simulated data), and
``<out>/current.json`` naming the latest complete snapshot.

Features come from the one feature path (:mod:`assist.pipelines.featurize` and
:func:`assist.features.build`). Early warning compares with last month: its scores snapshot
when there is one, else last month scored afresh from the same single read of the store
(:func:`~assist.pipelines.featurize.load_for_months`). Explanations (TreeSHAP) are computed
only for the households listed — referral candidates (allocated and waiting list) and flagged
households; the rest are explained on demand.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assist.errors import ConfigError
from assist.features import CATALOG, build
from assist.features.attributes import household_attributes
from assist.features.catalog import Catalog
from assist.models import matching
from assist.models.allocation import Capacities, ProgrammeCapacity, StreetCapacity, allocate
from assist.models.deprivation import alkire_foster
from assist.models.explain import contributions, explanations_from
from assist.models.need import NeedModel
from assist.models.warning import WarningConfig, counts, early_warning, need_band
from assist.pipelines.atomic import replacing
from assist.pipelines.featurize import load_for_features, load_for_months, tables_as_of
from assist.pipelines.dataset import TRUTH_FILE, true_need
from assist.pipelines.store import (MANIFEST_FILE, file_sha256, list_snapshots, read_scores,
                                    write_json)
from assist.yamlfile import read_yaml

SUMMARY_FILE = "summary.json"
CURRENT_FILE = "current.json"


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


class AllocationSection(_Section):
    """Capacities of the month."""

    district_visits: Annotated[int, Field(ge=0)] | None = None
    candidates_per_street: Annotated[int, Field(ge=1)] | None = None
    time_limit_s: Annotated[float, Field(gt=0)] = 60.0
    streets: dict[str, StreetEntry] = Field(default_factory=lambda: {"default": StreetEntry(visits=40, floor=5)})
    programmes: dict[str, ProgrammeEntry] = Field(default_factory=dict)


class WarningSection(_Section):
    """Early-warning thresholds (see :class:`assist.models.warning.WarningConfig`)."""

    jump: Annotated[float, Field(gt=0, le=1)] = 0.15
    jump_relative: Annotated[float, Field(ge=0)] = 1.0
    band_margin: Annotated[float, Field(ge=0, lt=1)] = 0.05
    confirm_deprivation_rise: Annotated[float, Field(gt=0, le=1)] = 0.1
    event_other_dimensions: Annotated[int, Field(ge=1, le=6)] = 3
    income_drop: Annotated[float, Field(gt=0, le=1)] = 0.3
    water_silent_days: Annotated[float, Field(gt=0)] = 5.0


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
    evaluation: EvaluationSection = EvaluationSection()

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


@dataclass(frozen=True)
class ScoreRun:
    """What ``assist score`` produced."""

    folder: Path
    summary: dict[str, Any]


def score_frame(*, model: NeedModel, values: pd.DataFrame, attributes: pd.DataFrame,
                config: ScoringConfig, catalog: Catalog = CATALOG) -> pd.DataFrame:
    """Raw score, calibrated probability, band, deprivation index and ranks of every household."""
    raw = model.predict_raw(values[catalog.ids])
    af = alkire_foster(values[catalog.ids], catalog, k=config.deprivation_k)
    attrs = attributes.reindex(values.index)
    out = pd.DataFrame({"street_code": attrs["street_code"].astype("string"),
                        "community_code": attrs["community_code"].astype("string"),
                        "raw_score": raw, "probability": model.calibrate(raw)},
                       index=values.index)
    out["band"] = need_band(out["probability"], config.bands.model_dump())
    out["deprivation_score"] = af.scores.to_numpy()
    out["deprivation_poor"] = af.poor.to_numpy()
    return add_ranks(out)


def add_ranks(scores: pd.DataFrame) -> pd.DataFrame:
    """Rank (1 = most in need) within community, street and district by raw score; ties by id."""
    n = len(scores)
    # ties are broken by household id; a sorted unique index (what build returns) is id order
    ids = scores.index
    tie = (np.arange(n) if ids.is_monotonic_increasing and ids.is_unique
           else ids.to_numpy().astype(str))
    order = np.lexsort((tie, -scores["raw_score"].to_numpy(dtype=float)))
    out = scores.copy()
    ranks = {"rank_district": np.arange(1, n + 1)}
    for col, key in (("rank_street", "street_code"), ("rank_community", "community_code")):
        group = pd.factorize(scores[key].fillna(""))[0][order]
        ranks[col] = pd.Series(group).groupby(group, sort=False).cumcount().to_numpy() + 1
    for col, in_order in ranks.items():
        rank = np.empty(n, dtype="int64")
        rank[order] = in_order
        out[col] = rank
    return out


def explain_columns(*, model: NeedModel, values: pd.DataFrame, probability: pd.Series,
                    top: int, catalog: Catalog = CATALOG) -> pd.DataFrame:
    """Top factors (zh/en) and primary and secondary cause of the given households."""
    cols = ["primary_cause", "secondary_cause", "top_factors_en", "top_factors_zh"]
    if values.empty:
        return pd.DataFrame(columns=cols, index=values.index, dtype="string")
    X = values[catalog.ids]  # noqa: N806
    ex = explanations_from(contributions(model, X), X, catalog,
                           probability=probability.reindex(values.index).to_numpy(), top=top)
    rows = [(e.primary_cause.cause if e.primary_cause else None,
             e.secondary_cause.cause if e.secondary_cause else None,
             "; ".join(f.sentence_en for f in e.factors),
             "；".join(f.sentence_zh for f in e.factors)) for e in ex]
    return pd.DataFrame(rows, columns=cols, index=values.index).astype("string")


def previous_month(as_of: str) -> str:
    """The month before ``as_of``."""
    return str(pd.Period(as_of, freq="M") - 1)


def _previous(*, out: Path, store: Path, as_of: str, model: NeedModel, config: ScoringConfig,
              tables: dict[str, pd.DataFrame] | None) -> tuple[pd.DataFrame | None, str]:
    """Last month's probabilities, bands, deprivation index and indicators: its snapshot, else
    scored afresh from ``tables`` (loaded once for both months; None: the store has no month)."""
    prev = previous_month(as_of)
    path = out / prev / "scores.parquet"
    if path.exists():
        return read_scores(path), f"snapshot {path.parent}"
    if tables is None:
        return None, f"no month {prev} in the store or the scores: no early warning"
    return (previous_from_tables(tables=tables, as_of=as_of, model=model, config=config),
            f"scored afresh from the store's {prev} with the same model")


def previous_from_tables(*, tables: dict[str, pd.DataFrame], as_of: str, model: NeedModel,
                         config: ScoringConfig) -> pd.DataFrame:
    """Last month's indicators, probability, band and deprivation index, scored afresh from
    ``tables`` covering both months (any set of households: a district or one Spark bucket)."""
    prev = previous_month(as_of)
    values = build(tables_as_of(tables, prev), prev)
    raw = model.predict_raw(values[CATALOG.ids])
    af = alkire_foster(values[CATALOG.ids], CATALOG, k=config.deprivation_k)
    frame = values
    frame["probability"] = model.calibrate(raw)
    frame["band"] = need_band(frame["probability"], config.bands.model_dump())
    frame["deprivation_score"] = af.scores.to_numpy()
    frame["deprivation_poor"] = af.poor.to_numpy()
    return frame


@dataclass(frozen=True)
class HouseholdStage:
    """What is computed household by household (the part a Spark bucket can do alone)."""

    values: pd.DataFrame
    #: :func:`score_frame` plus ``referable_programmes`` (ranks are only valid over all households)
    scores: pd.DataFrame
    match: matching.Match
    flags: pd.DataFrame | None


def household_stage(*, tables: dict[str, pd.DataFrame], as_of: str, model: NeedModel,
                    config: ScoringConfig, previous: pd.DataFrame | None,
                    lap: Callable[[str], None] = lambda name: None) -> HouseholdStage:
    """Features, scores, programme matching and early warning of the households in ``tables``
    (``previous``: last month's frame, None for no early warning)."""
    values = build(tables, as_of)
    attrs = household_attributes(tables, as_of)
    lap("features")
    scores = score_frame(model=model, values=values, attributes=attrs, config=config)
    lap("scores")
    table = config.rule_table()
    m = matching.match(matching.facts_frame(values, attrs), table,
                       received=matching.receiving(tables["assistance"], values.index,
                                                   as_of=as_of, codes=table.codes))
    scores["referable_programmes"] = m.referable.sum(axis=1).astype("int64")
    lap("matching")
    current = pd.concat([values, scores[["probability", "band", "deprivation_score",
                                         "deprivation_poor"]]], axis=1)
    flags = (early_warning(current=current, previous=previous, config=config.warning_config(),
                           cuts=config.bands.model_dump())
             if previous is not None else None)
    lap("warning")
    return HouseholdStage(values=values, scores=scores, match=m, flags=flags)


def _load(store: Path, out: Path, as_of: str) -> tuple[dict[str, pd.DataFrame],
                                                         dict[str, pd.DataFrame] | None]:
    """The tables of ``as_of`` and, when last month must be scored afresh, tables covering both
    months (one read of the store)."""
    prev = previous_month(as_of)
    if (out / prev / "scores.parquet").exists() or prev not in list_snapshots(store):
        return load_for_features(store, as_of), None
    both = load_for_months(store, as_of, earlier=1)
    return tables_as_of(both, as_of), both


def truth_precision(*, truth_dir: Path | None, key: str | None, as_of: str, scores: pd.DataFrame,
                    allocated: pd.Index, k: int) -> dict[str, Any] | None:
    """Precision of the district top k and of the allocated referrals against the hidden truth."""
    path = None if truth_dir is None else Path(truth_dir) / TRUTH_FILE
    if path is None or key is None or not path.is_file():
        return None
    need = true_need(path, key=key, month=as_of).reindex(scores.index)
    if need.notna().mean() < 0.5:
        return {"note": f"hidden truth at {path} does not match these households (another key?)"}
    top = scores.index[scores["rank_district"].to_numpy() <= k]
    prevalence = float(need.mean())
    return {"source": str(path), "k": int(k), "prevalence": prevalence,
            "precision_at_k": float(need.reindex(top).mean()),
            "recall_at_k": float(need.reindex(top).sum() / max(need.sum(), 1.0)),
            "allocated": int(len(allocated)),
            "allocated_precision": float(need.reindex(allocated).mean()) if len(allocated) else None}


def run_scoring(*, store: Path, as_of: str, out: Path, model: NeedModel, model_version: str,
                config: ScoringConfig, config_hash: str, truth_dir: Path | None = None,
                key: str | None = None) -> ScoreRun:
    """Score ``as_of`` and write its snapshot atomically (see the module docstring)."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    store, out = Path(store), Path(out)
    tables, both = _load(store, out, as_of)
    previous, previous_source = _previous(out=out, store=store, as_of=as_of, model=model,
                                          config=config, tables=both)
    del both
    lap("previous")
    stage = household_stage(tables=tables, as_of=as_of, model=model, config=config,
                            previous=previous, lap=lap)
    del previous, tables
    values, scores, m, flags = stage.values, stage.scores, stage.match, stage.flags
    capacities = config.capacities()
    alloc = allocate(probability=scores["probability"], street=scores["street_code"],
                     referable=m.referable, capacities=capacities,
                     time_limit=config.allocation.time_limit_s)
    lap("allocation")
    chosen = alloc.visit.index[alloc.visit.to_numpy()]
    flagged = flags.index[flags["warning"].to_numpy()] if flags is not None else pd.Index([])
    listed = alloc.visit.index.union(flagged)
    expl = explain_columns(model=model, values=values.loc[listed],
                           probability=scores["probability"], top=config.explain_top)
    lap("explanations")
    scores["candidate"] = scores.index.isin(alloc.visit.index)
    scores["allocated"] = scores.index.isin(chosen)
    scores["warning"] = flags["warning"] if flags is not None else False
    scores = scores.join(expl).join(values)
    referrals = _referrals(scores=scores, listed=listed, match=m, alloc=alloc, flags=flags)
    summary = summarise(
        as_of=as_of, model_version=model_version, config=config, config_hash=config_hash,
        data_snapshot={"store": str(store), "manifest_sha256": file_sha256(store / MANIFEST_FILE),
                       "as_of": as_of},
        scores=scores, match=m, alloc=alloc, referrals=referrals,
        flag_counts=counts(flags) if flags is not None else None,
        previous_source=previous_source, truth_dir=truth_dir, key=key, timings=timings)
    folder = out / as_of
    with replacing(folder, marker=SUMMARY_FILE) as tmp:
        scores.to_parquet(tmp / "scores.parquet")
        referrals.to_parquet(tmp / "referrals.parquet")
        (tmp / "referrals").mkdir()
        for street, part in referrals.groupby("street_code", sort=True):
            part.to_parquet(tmp / "referrals" / f"{street}.parquet")
            part.to_csv(tmp / "referrals" / f"{street}.csv", encoding="utf-8")
        lap("write")
        summary["seconds"] = round(time.perf_counter() - t0, 3)
        write_json(summary, tmp / SUMMARY_FILE)
    pointer = out / f".{CURRENT_FILE}.tmp"
    write_json({"as_of": as_of, "folder": str(folder), "model_version": model_version,
                "config_hash": config_hash}, pointer)
    pointer.replace(out / CURRENT_FILE)
    return ScoreRun(folder=folder, summary=summary)


def summarise(*, as_of: str, model_version: str, config: ScoringConfig, config_hash: str,
              data_snapshot: dict[str, str], scores: pd.DataFrame, match: matching.Match,
              alloc: Any, referrals: pd.DataFrame, flag_counts: dict[str, int] | None,  # noqa: ANN401
              previous_source: str, truth_dir: Path | None, key: str | None,
              timings: dict[str, float]) -> dict[str, Any]:
    """The snapshot's ``summary.json`` (without the total seconds) from the month's results."""
    capacities = config.capacities()
    k = config.evaluation.top_k or (capacities.district_visits or int(sum(
        capacities.street(s).visits for s in scores["street_code"].dropna().unique())))
    chosen = alloc.visit.index[alloc.visit.to_numpy()]
    precision = truth_precision(truth_dir=truth_dir, key=key, as_of=as_of, scores=scores,
                                allocated=chosen, k=k)
    per_street = referrals.groupby("street_code")["allocated"].agg(["sum", "size"])
    return {
        "as_of": as_of, "model_version": model_version, "data_snapshot": data_snapshot,
        "config_hash": config_hash, "catalog_version": CATALOG.version,
        "households_scored": int(len(scores)),
        "bands": {b: int(n) for b, n in scores["band"].value_counts().items()},
        "deprivation_poor": int(scores["deprivation_poor"].sum()),
        "coverage": match.coverage(),
        "referrals_per_street": {str(s): {"allocated": int(r["sum"]), "listed": int(r["size"])}
                                 for s, r in per_street.iterrows()},
        "allocation": alloc.to_dict(),
        "flags": flag_counts,
        "previous": previous_source, "explained": int(len(referrals)),
        "truth": precision, "timings_s": timings,
    }


def _referrals(*, scores: pd.DataFrame, listed: pd.Index, match: matching.Match, alloc: Any,
               flags: pd.DataFrame | None) -> pd.DataFrame:
    """Candidates and flagged households with causes, programmes, allocation and flags."""
    keep = ["street_code", "community_code", "rank_street", "rank_community", "rank_district",
            "probability", "band", "raw_score", "deprivation_score", "allocated",
            "primary_cause", "secondary_cause", "top_factors_en", "top_factors_zh"]
    out = scores.loc[listed, keep].copy()
    offered = alloc.offers.reindex(listed, fill_value=False)
    out["allocated_programmes"] = matching.describe(match, listed, only=offered)["programmes"]
    out = out.join(matching.describe(match, listed))
    if flags is not None:
        out = out.join(flags.loc[listed, ["flags", "changes_en", "changes_zh"]])
    else:
        out[["flags", "changes_en", "changes_zh"]] = pd.NA
    out = out.sort_values(["street_code", "allocated", "rank_street"],
                          ascending=[True, False, True], kind="stable")
    out.index.name = "household_id"
    return out


def config_digest(config: ScoringConfig) -> str:
    """SHA-256 of the scoring config and the rule table it uses."""
    text = json.dumps({"config": config.model_dump(mode="json"),
                       "rules": config.rule_table().digest()}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve_model(*, model: str = "production", model_path: Path | None = None,
                  tracking_uri: str | None = None,
                  registered_model: str = "assist-need-model") -> tuple[NeedModel, str]:
    """The need model to score with and its version label: a saved JSON file, or a version
    (or the ``production`` alias) of the registered model."""
    from assist.errors import InputError

    if model_path is not None:
        nm = NeedModel.load(model_path, expected_features=CATALOG.ids,
                            expected_catalog_version=CATALOG.version)
        return nm, f"file:{Path(model_path).name}"
    from assist.experiments import registry, tracking
    from assist.pipelines.train import load_version

    c = tracking.client(tracking_uri)
    version = registry.production_version(c, registered_model) if model == "production" else model
    if version is None:
        raise InputError(f"registered model {registered_model!r} has no production version: "
                         "promote one (`assist models promote VERSION`) or pass --model-path")
    return load_version(c, name=registered_model, version=str(version), catalog=CATALOG), \
        f"{registered_model}/{version}"
