"""Stage ``score``: every household scored, ranked, explained where it matters, matched, allocated.

Writes the versioned scoring snapshot ``<out>/<as_of>/`` as a whole or not at all, in the
format of :mod:`assist.storage.snapshot`: ``scores.parquet`` (every household),
``referrals.parquet`` and ``referrals/<street>.csv|parquet`` (allocated referrals first, then
the waiting list and flagged households), ``summary.json`` (model version, data snapshot,
config hash, counts, allocation vs greedy, flags, precision against the hidden truth on
simulated data), and ``<out>/current.json`` naming the latest complete snapshot. Top factors,
programmes and reasons are lists.

Features come from the one feature path (:mod:`assist.pipelines.featurize` and
:func:`assist.features.build`). Early warning compares with last month
(:mod:`assist.pipelines.previous`). The per-household work (:func:`household_stage`) runs one
household bucket of the store at a time (:mod:`assist.pipelines.bucketed`); only its results
are kept across buckets, assembled in household order (:func:`join_stages`) before the ranks,
the allocation and the explanations, which are over the whole district. The config is :mod:`assist.pipelines.score_config`.
Explanations (TreeSHAP) are computed
only for the households listed — referral candidates (allocated and waiting list) and flagged
households; the rest are explained on demand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.experiments.tracking import MODEL_NAME
from assist.features import CATALOG, build
from assist.features.attributes import household_attributes
from assist.features.catalog import Catalog
from assist.models import matching
from assist.models.deprivation import alkire_foster
from assist.models.explain import contributions, explanations_from
from assist.models.need import NeedModel
from assist.models.warning import counts, early_warning, need_band
from assist.pipelines.bucketed import bucket_months
from assist.pipelines.carried import (  # noqa: F401  (also imported from here)
    CARRY_COLUMNS,
    Carried,
    allocate_carried,
    carry_columns,
    read_carried_decisions,
)
from assist.pipelines.dataset import TRUTH_FILE, true_need
from assist.pipelines.featurize import assemble
from assist.pipelines.score_config import (  # noqa: F401  (also imported from here)
    ScoringConfig,
    StreetEntry,
    config_digest,
    load_scoring_config,
)
from assist.storage import snapshot
from assist.storage.store import MANIFEST_FILE, file_sha256


@dataclass(frozen=True)
class ScoreRun:
    """What ``assist score`` produced."""

    folder: Path
    summary: dict[str, Any]


#: the household attributes the snapshot keeps, for fairness audits and recall parity
GROUP_COLUMNS = ("head_sex", "head_age_band", "head_hukou", "has_disability")


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
    for c in GROUP_COLUMNS:  # who the household is for fairness: audits, recall parity
        out[c] = (attrs[c] if c in attrs.columns else pd.Series(pd.NA, index=attrs.index)) \
            .astype("string")
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
    """Primary and secondary cause and top factors (lists of sentences, en/zh) of the given
    households."""
    ex = []
    if not values.empty:
        X = values[catalog.ids]  # noqa: N806
        ex = explanations_from(contributions(model, X), X, catalog,
                               probability=probability.reindex(values.index).to_numpy(), top=top)
    cause = lambda c: c.cause if c else None  # noqa: E731
    return pd.DataFrame({
        "primary_cause": pd.array([cause(e.primary_cause) for e in ex], dtype="string"),
        "secondary_cause": pd.array([cause(e.secondary_cause) for e in ex], dtype="string"),
        "top_factors_en": pd.Series([[f.sentence_en for f in e.factors] for e in ex], dtype=object),
        "top_factors_zh": pd.Series([[f.sentence_zh for f in e.factors] for e in ex], dtype=object),
    }).set_axis(values.index)


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


def bucketed_stage(*, store: Path, out: Path, as_of: str, model: NeedModel,
                   config: ScoringConfig,
                   lap: Callable[[str], None] = lambda name: None) -> tuple[HouseholdStage, str]:
    """:func:`household_stage` of every bucket of the store, joined (:func:`join_stages`), and
    where last month came from."""
    stages, text = [], ""
    for months in bucket_months(store=store, out=out, as_of=as_of, model=model, config=config):
        lap("previous")
        stages.append(household_stage(tables=months.tables, as_of=as_of, model=model,
                                      config=config, previous=months.previous, lap=lap))
        text = months.previous_source
        del months
    return join_stages(stages), text


def join_stages(stages: list[HouseholdStage]) -> HouseholdStage:
    """Per-bucket stages as one, in household order, ranked over all of them."""
    if len(stages) == 1:
        return stages[0]
    first = stages[0].match
    parts = {f: assemble([getattr(s.match, f) for s in stages])
             for f in ("eligible", "rule", "receiving", "referable")}
    flags = None if stages[0].flags is None else assemble([s.flags for s in stages])
    return HouseholdStage(values=assemble([s.values for s in stages]),
                          scores=add_ranks(assemble([s.scores for s in stages])),
                          match=matching.Match(table=first.table, **parts), flags=flags)


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
                key: str | None = None, decisions: Path | None = None) -> ScoreRun:
    """Score ``as_of`` and write its snapshot atomically (see the module docstring);
    ``decisions``: the case store's decisions snapshot carried forward (none: no decisions)."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    last = [t0]

    def lap(name: str) -> None:  # summed over buckets
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - last[0], 3)
        last[0] = now

    store, out = Path(store), Path(out)
    stage, previous_source = bucketed_stage(store=store, out=out, as_of=as_of, model=model,
                                            config=config, lap=lap)
    values, scores, flags = stage.values, stage.scores, stage.flags
    dec, source = read_carried_decisions(decisions)
    carried = allocate_carried(scores=scores, match=stage.match, flags=flags, decisions=dec,
                               as_of=as_of, config=config, source=source)
    m, alloc = carried.match, carried.alloc
    lap("allocation")
    chosen = alloc.visit.index[alloc.visit.to_numpy()]
    listed = carried.listing(flags)
    expl = explain_columns(model=model, values=values.loc[listed],
                           probability=scores["probability"], top=config.explain_top)
    lap("explanations")
    scores["candidate"] = scores.index.isin(alloc.visit.index)
    scores["allocated"] = scores.index.isin(chosen)
    scores["warning"] = flags["warning"] if flags is not None else False
    scores = scores.join(carry_columns(carried)).join(expl).join(values)
    referrals = _referrals(scores=scores, listed=listed, match=m, alloc=alloc, flags=flags)
    summary = summarise(
        as_of=as_of, model_version=model_version, config=config, config_hash=config_hash,
        data_snapshot={"store": str(store), "manifest_sha256": file_sha256(store / MANIFEST_FILE),
                       "as_of": as_of},
        scores=scores, match=m, alloc=alloc, referrals=referrals,
        flag_counts=counts(flags) if flags is not None else None,
        previous_source=previous_source, truth_dir=truth_dir, key=key, timings=timings)
    summary["carry_forward"] = carried.summary
    summary["calibration"] = calibration_summary(model)

    def finish() -> dict[str, Any]:
        lap("write")
        summary["seconds"] = round(time.perf_counter() - t0, 3)
        return summary

    folder = snapshot.write_snapshot(out, as_of, scores=scores, referrals=referrals,
                                     summary=finish, model_version=model_version,
                                     config_hash=config_hash)
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
            "primary_cause", "secondary_cause", "top_factors_en", "top_factors_zh",
            *[c for c in CARRY_COLUMNS if c in scores.columns]]
    out = scores.loc[listed, keep].copy()
    offered = alloc.offers.reindex(listed, fill_value=False)
    out["allocated_programmes"] = programme_lists(match, listed, only=offered)["programmes"]
    out = out.join(programme_lists(match, listed))
    got = match.receiving.reindex(listed, fill_value=False)  # what each already receives
    out["receiving"] = pd.Series([[c for c, g in zip(got.columns, row, strict=True) if g]
                                  for row in got.to_numpy(dtype=bool)], index=listed, dtype=object)
    if flags is not None:
        out = out.join(flags.loc[listed, ["flags", "changes_en", "changes_zh"]])
    else:
        out[["flags", "changes_en", "changes_zh"]] = pd.NA
    out = out.sort_values(["street_code", "allocated", "rank_street"],
                          ascending=[True, False, True], kind="stable")
    out.index.name = "household_id"
    return out


def programme_lists(match: matching.Match, households: pd.Index, *,
                    only: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`assist.models.matching.describe` with programme codes and reasons (en/zh) as lists,
    cut at the separators ``describe`` joins them with (``causes_addressed`` stays text)."""
    out = matching.describe(match, households, only=only)
    for col in ("programmes", "reasons_en", "reasons_zh"):
        sep = snapshot.LIST_COLUMNS[col]
        out[col] = pd.Series([v.split(sep) if v else [] for v in out[col].fillna("")],
                             index=out.index, dtype=object)
    return out


def resolve_model(*, model: str = "production", model_path: Path | None = None,
                  tracking_uri: str | None = None,
                  registered_model: str = MODEL_NAME,
                  catalog: Catalog = CATALOG) -> tuple[NeedModel, str]:
    """The need model to score with and its version label: a saved JSON file, or a version
    (or the ``production`` alias) of the registered model; refused unless it was trained on
    ``catalog`` (features and version)."""
    from assist.errors import InputError

    if model_path is not None:
        nm = NeedModel.load(model_path, expected_features=catalog.ids,
                            expected_catalog_version=catalog.version)
        return nm, f"file:{Path(model_path).name}"
    from assist.experiments import registry, tracking
    from assist.pipelines.train import load_version

    c = tracking.client(tracking_uri)
    version = registry.production_version(c, registered_model) if model == "production" else model
    if version is None:
        raise InputError(f"registered model {registered_model!r} has no production version: "
                         "promote one (`assist models promote VERSION`) or pass --model-path")
    return load_version(c, name=registered_model, version=str(version), catalog=catalog), \
        f"{registered_model}/{version}"


def calibration_summary(model: NeedModel) -> dict[str, str]:
    """Whom the snapshot's probabilities describe (the coverage report's "expected in need"
    reads it): the calibration method and its ``basis``, ``visited`` or ``population``
    (:mod:`assist.pipelines.population`). Both engines write it."""
    return {"method": model.calibration_,
            "basis": getattr(model.calibrator_, "basis", "visited")}
