"""``assist simulate-loop``: the same simulated district run month after month under several
targeting policies, the simulator playing the district's households and caseworkers.

A shared start: the stepping simulator (:mod:`assist.simulate.step`) lives ``history`` months
with no outreach, the store is ingested and a first need model trained and promoted. Each
policy then gets its own copy of that workspace and, for each of ``months`` months: scores the
latest month with ``assist month`` (its own scoring config: what ranks, whether it explores),
the simulator lives the next month visiting the allocated households, and the simulated
caseworkers record the findings in the case store (:mod:`assist.cli.loop_caseworkers`), which
the next month's scoring carries forward. The ``model`` policy also retrains every ``K``
months from the labels it gathered. Life events are drawn from the same seeded generators in
every policy, so policies differ only by what their visits and grants changed.

Policies: ``model`` (the product), ``deprivation`` (allocation by the Alkire-Foster score),
``random`` (allocation in a seeded random order), ``status-quo`` (no outreach: only the
district's own visits to households that apply, are referred or are reviewed).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from assist.errors import AssistError, InputError
from assist.settings import Settings

#: policy -> (what ranks the allocation, exploration share, recall parity in allocation);
#: status-quo allocates nothing
POLICIES: dict[str, tuple[str, float, bool] | None] = {
    "model": ("probability", 0.05, False), "model-parity": ("probability", 0.05, True),
    "deprivation": ("deprivation_score", 0.0, False), "random": ("random", 0.0, False),
    "status-quo": None,
}
#: policies that retrain from the labels they gather
LEARNING = ("model", "model-parity")
LAST_MONTH = "2026-11"
#: caseworker visits per month, as a share of the district's households (the experiments'
#: capacity, ``capacity.k_pct``), spread evenly over the streets
VISIT_SHARE = 0.02  # visits are recorded with dates that must not lie in the future


@dataclass
class PolicyRun:
    """What one policy's months produced, for the figures (:mod:`assist.reports.loop`)."""

    name: str
    workspace: Path
    #: per loop month: the month's truth (raw ids), visits (raw ids) and the scored snapshot
    months: list[dict[str, Any]] = field(default_factory=list)
    #: the policy's hidden truth per month (history included), raw household ids
    truth: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: the product's uplift estimate and the true effect on the same households (learning
    #: policies; :func:`estimate_uplift`)
    uplift: dict[str, Any] | None = None
    seconds: float = 0.0


def months_of(history: int, months: int, end: str = LAST_MONTH) -> list[str]:
    """The ``history + months`` simulated months ending at ``end``, oldest first."""
    last = np.datetime64(end, "M")
    return [str(last - i) for i in range(history + months - 1, -1, -1)]


def policy_settings(s: Settings, workspace: Path) -> Settings:
    """The settings of one workspace (its own store, MLflow store and SQLite case store)."""
    return s.model_copy(update={"workspace": workspace, "database_url": None,
                                "mlflow_tracking_uri": None})


def street_visits(workspace: Path) -> int:
    """Visits per street and month: :data:`VISIT_SHARE` of the households, over the streets."""
    from assist.simulate import step

    h = step.load(workspace / "simulator").district.h
    return max(1, round(VISIT_SHARE * int(h.exists.sum()) / len(np.unique(h.street))))


def write_scoring_config(workspace: Path, rank_by: str, share: float, parity: bool) -> Path:
    """The policy's scoring config: the project's, with what ranks, the exploration share, and
    street capacities scaled to the district (:func:`street_visits`)."""
    from assist.pipelines.score_config import DEFAULT_CONFIG

    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8")) if DEFAULT_CONFIG.is_file() \
        else {}
    data.setdefault("allocation", {})["rank_by"] = rank_by
    data.setdefault("exploration", {})["share"] = share
    data.setdefault("fairness", {})["recall_parity"] = parity
    visits = street_visits(workspace)
    data["allocation"]["streets"] = {"default": {"visits": visits, "floor": min(5, visits)}}
    data["allocation"]["district_visits"] = None
    path = workspace / "scoring.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def finding_quality() -> dict[str, float]:
    """How often the simulated caseworkers' findings are right, among visits with a finding
    (what a district measures with quality-control re-visits; here the simulator's declared
    rates): sensitivity = confirmed / (confirmed + not in need) among households in need,
    specificity likewise among the others."""
    from assist.simulate.calibration import OUTCOME_IF_NEEDY, OUTCOME_IF_NOT_NEEDY

    confirmed, not_in_need = OUTCOME_IF_NEEDY[0], OUTCOME_IF_NEEDY[1]
    false_yes, right_no = OUTCOME_IF_NOT_NEEDY[0], OUTCOME_IF_NOT_NEEDY[1]
    return {"sensitivity": round(confirmed / (confirmed + not_in_need), 4),
            "specificity": round(right_no / (right_no + false_yes), 4)}


def write_training_config(workspace: Path, labels: Path | None) -> Path:
    """The experiment config of the loop's trainings: the project's default, with the case
    store's labels (and their propensities) merged when there are any."""
    default = Path("experiments") / "default.yaml"
    if not default.is_file():
        raise InputError("run simulate-loop from the project folder (it reads the default "
                         "experiment config)", file=str(default))
    data = yaml.safe_load(default.read_text(encoding="utf-8"))
    # absolute: the config's relative paths are read from its own folder (the workspace)
    data["data"]["extra_labels"] = str(Path(labels).resolve()) if labels else None
    data["labels"] = finding_quality()
    path = workspace / "experiment.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def train_and_promote(s: Settings, *, labels: Path | None, say: Callable[[str], None]) -> str:
    """Train on the workspace's store (and labels), register, and promote: by the gate, or by a
    recorded override naming the loop when the gate refuses (the refusal is said)."""
    from assist.experiments import registry, tracking
    from assist.experiments.config import load_config
    from assist.pipelines.train import run_training

    cfg, base = load_config(write_training_config(s.workspace, labels))
    trained = run_training(config=cfg, base_dir=base, settings=s, register=True)
    if not trained.version:
        raise AssistError("the loop's training registered no model version")
    c = tracking.client(s.mlflow_uri)
    name = cfg.tracking.registered_model
    try:
        registry.promote(c, name=name, version=trained.version, user="simulate-loop")
    except registry.PromotionRefused as refused:
        say(f"gate refused version {trained.version} ({refused}); promoted by override")
        registry.promote(c, name=name, version=trained.version, force=True, user="simulate-loop",
                         reason="simulate-loop: every policy needs a model to score; the gate's "
                                "findings stay on the version")
    return trained.version


def prepare_base(s: Settings, *, households: int, seed: int, first: str, history: int,
                 say: Callable[[str], None]) -> dict[str, pd.DataFrame]:
    """The shared start: ``history`` months lived with no outreach, ingested, a model trained;
    returns each month's truth (raw household ids)."""
    from assist.ingest.run import ingest
    from assist.simulate import step

    state = s.workspace / "simulator"
    step.begin(households=households, seed=seed, first_month=first, state=state)
    truth = {}
    for _ in range(history):
        lived = step.advance(state=state, out=s.source_dir, truth_out=s.truth_dir)
        truth[lived.month] = lived.truth
    say(f"simulated {households:,} households x {history} months ({first} on)")
    ingest(source=s.source_dir, out=s.store_dir, key=s.pseudonym_key.get_secret_value())
    version = train_and_promote(s, labels=None, say=say)
    say(f"first need model: version {version}")
    return truth


def pseudonyms(s: Settings) -> dict[str, str]:
    """Raw household id -> pseudonym, for every household of the district."""
    from assist.ingest.pseudonym import pseudonym
    from assist.simulate import step

    ids = step.load(s.workspace / "simulator").district.h.hid.to_pylist()
    key = s.pseudonym_key.get_secret_value()
    return {h: pseudonym(h, kind="household", key=key) for h in ids}


def copy_base(base: Path, workspace: Path) -> None:
    """A policy's own workspace: a copy of the shared start."""
    if workspace.exists():
        raise InputError("the policy's workspace exists already: choose an empty --out",
                         file=str(workspace))
    shutil.copytree(base, workspace)


def visit_day(month: str) -> dt.date:
    """The day the simulated caseworkers record their visits of ``month`` (its 15th)."""
    return dt.date.fromisoformat(f"{month}-15")


def export_labels(s: Settings) -> Path:
    """The case store's decisions as training labels, each with how its visit was chosen and
    its propensity (from the referral month's snapshot)."""
    from assist.cli.admin import case_store_session
    from assist.serving.services.decisions import decisions_as_labels
    from assist.storage import snapshot
    from assist.storage.casebook import write_labels

    with case_store_session(s) as session:
        labels = decisions_as_labels(session)
    parts = []
    for month, frame in labels.groupby("referral_month", sort=True):
        chosen = snapshot.read_scores(s.scores_dir, str(month), columns=["selection", "propensity"])
        parts.append(frame.join(chosen, on="household_id"))
    labels = pd.concat(parts, ignore_index=True) if parts else labels
    return write_labels(labels, s.workspace / "casebook" / "labels.parquet")


def _lived_month(s: Settings, *, spec: tuple[str, float, bool] | None, config: Path | None,
                 as_of: str, month: str, pseudo: dict[str, str]) -> dict[str, Any]:
    """One month of one policy: score ``as_of`` and allocate (unless status quo), the
    simulator lives ``month`` visiting the allocated households, caseworkers record findings."""
    from assist.cli.admin import case_store_session
    from assist.cli.loop_caseworkers import allocated_referrals, record
    from assist.cli.month import month_stages, run_month
    from assist.simulate import step
    from assist.storage import snapshot

    allocated, scores = [], None
    if spec is not None:
        done = run_month(s, as_of, month_stages(model="production", config=config))
        if not done.complete:
            failed = next(n for n, r in done.stages.items() if r.status == "failed")
            raise AssistError(f"month {as_of} failed at {failed}: {done.stages[failed].detail}")
        with case_store_session(s) as session:
            allocated = allocated_referrals(session, as_of)
        scores = snapshot.read_scores(s.scores_dir, as_of)
    raw = {v: k for k, v in pseudo.items()}
    lived = step.advance(state=s.workspace / "simulator", out=s.source_dir,
                         truth_out=s.truth_dir, outreach=[raw[a.household_id] for a in allocated])
    if allocated:
        found = lived.visits[lived.visits["outreach"].to_numpy()]
        findings = pd.Series(found["outcome"].to_numpy(),
                             index=[pseudo[h] for h in found["household_id"]])
        granted = {pseudo[h]: p for h, p in lived.granted.items()}
        with case_store_session(s) as session:
            record(session, referrals=allocated, findings=findings, granted=granted,
                   visit_date=visit_day(month))
    if scores is not None:
        scores.index = [raw[h] for h in scores.index]
    return {"month": month, "as_of": as_of, "truth": lived.truth, "visits": lived.visits,
            "allocated": [raw[a.household_id] for a in allocated], "scores": scores,
            "granted": sorted(lived.granted)}


def run_policy(base: Settings, name: str, *, out: Path, loop_months: list[str],
               retrain_every: int, pseudo: dict[str, str], truth: dict[str, pd.DataFrame],
               say: Callable[[str], None], advance: Callable[[], None]) -> PolicyRun:
    """All months of one policy in its own copy of the shared start."""
    import time

    t0 = time.perf_counter()
    workspace = out / name
    copy_base(base.workspace, workspace)
    s = policy_settings(base, workspace)
    spec = POLICIES[name]
    config = write_scoring_config(workspace, *spec) if spec is not None else None
    run = PolicyRun(name=name, workspace=workspace)
    truth = dict(truth)  # this policy's own: its grants change its households' need
    previous = str(np.datetime64(loop_months[0], "M") - 1)
    for i, month in enumerate(loop_months):
        lived = _lived_month(s, spec=spec, config=config, as_of=previous, month=month,
                             pseudo=pseudo)
        lived["truth_as_of"] = truth.get(previous)
        truth[month] = lived["truth"]
        run.months.append(lived)
        previous = month
        advance()
        due = name in LEARNING and retrain_every > 0 and (i + 1) % retrain_every == 0
        if due and i + 1 < len(loop_months):
            version = train_and_promote(s, labels=export_labels(s), say=say)
            say(f"{name}: retrained after {month}: version {version}")
    run.truth = truth
    if name in LEARNING:
        run.uplift = estimate_uplift(s, truth=truth, pseudo=pseudo)
    run.seconds = time.perf_counter() - t0
    return run


def estimate_uplift(s: Settings, *, truth: dict[str, pd.DataFrame],
                    pseudo: dict[str, str]) -> dict[str, Any]:
    """The product's uplift estimate from the policy's own records
    (:func:`assist.pipelines.uplift.estimate`), with the simulator's true effect on the same
    households and review months beside it (``true_matched``)."""
    from assist.pipelines.uplift import estimate

    quality = finding_quality()
    est, pairs = estimate(workspace=s.workspace, store=s.store_dir, scores_dir=s.scores_dir,
                          sensitivity=quality["sensitivity"],
                          specificity=quality["specificity"])
    raw = {v: k for k, v in pseudo.items()}
    would, was = [], []
    for month, part in pairs.groupby("review_month", sort=True):
        t = truth[str(month)].reindex([raw[h] for h in part["household_id"]])
        would.append((t["need_score"] + t["relief"] > 0).to_numpy())
        was.append((t["need_score"] > 0).to_numpy())
    est["true_matched"] = (round(float(np.concatenate(would).mean()
                                       - np.concatenate(was).mean()), 4) if would else None)
    return est
