"""The model registry: versions, comparison, and the gated promotion to ``production``.

Every trained model is a version of a registered model; the version deployed is the one with
the alias ``production`` (MLflow aliases, not the deprecated stages). :func:`gate` decides
whether a candidate may replace production: it is refused when it is worse on precision@k
than the production model — verified precision@k pooled over each run's test folds (a single
month holds too few verified households to tell models apart; the reason says whether both
runs had the same data and test months) — or when the recall disparity of any judged group
leaves the configured band (0.8-1.25 by default). When the candidate's run also scored the
production model on its latest test month, that comparison is shown as a note.
:func:`promote` applies the decision; ``force`` with a reason overrides a refusal and the
override is recorded as tags on the version.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from assist.errors import AssistError, InputError
from assist.experiments.card import render_card
from assist.experiments.tracking import CARD_ARTIFACT, REPORT_ARTIFACT
from assist.experiments.versions import GATE_KEY, GATE_METRIC, HEADLINE, VersionInfo
from assist.models.fairness import ratio_interval
from assist.models.groups import group_metrics, string_labels

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["GATE_KEY", "GATE_METRIC", "HEADLINE", "PRODUCTION", "GateDecision",
           "PromotionRefused", "VersionInfo", "aliases", "compare", "gate", "list_versions",
           "model_card", "previous_version", "production_version", "promote",
           "recall_disparity", "run_json", "run_text", "version_info", "version_numbers"]

PRODUCTION = "production"


class PromotionRefused(AssistError):
    """The promotion gate refused a candidate (the message gives the reasons)."""


@dataclass(frozen=True)
class GateDecision:
    """The promotion gate's verdict on a candidate version."""

    candidate: str
    production: str | None
    accepted: bool
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def text(self) -> str:
        """The verdict in words."""
        head = (f"version {self.candidate} passes the promotion gate" if self.accepted else
                f"version {self.candidate} is refused by the promotion gate")
        lines = [head, *[f"  - {r}" for r in self.reasons], *[f"  note: {n}" for n in self.notes]]
        return "\n".join(lines)


def recall_disparity(groups: pd.DataFrame, y: np.ndarray, selected: np.ndarray, *,
                     attributes: Sequence[str], min_positives: int, min_ratio: float,
                     max_ratio: float, target: str = "verified") -> dict[str, Any]:
    """Per group: recall at capacity (share of the group's positives that were selected) and
    its ratio to the reference group's recall (the group with most households).

    ``y`` holds 1 / 0 outcomes (NaN: unknown), ``selected`` whether each row was among the
    top k of its month. Groups with fewer than ``min_positives`` positives are listed as not
    judged; a judged group is a problem only when the whole 95 % interval of its ratio (Katz
    log interval, :func:`assist.models.fairness.ratio_interval`) lies outside
    [min_ratio, max_ratio], so chance differences between small groups are not flagged.
    """
    positive = np.asarray(y, dtype=float) == 1
    selected = np.asarray(selected, dtype=bool)
    rows, problems, skipped = [], [], []
    for attr in attributes:
        stats = group_metrics(positive, selected, string_labels(groups[[attr]]),
                              {"recall": _recall_counts}).by_group
        if stats.empty:
            continue
        reference = str(stats["households"].idxmax())
        ref = stats.loc[reference]
        ref_recall = ref["selected"] / ref["positives"] if ref["positives"] else None
        if ref["positives"] < min_positives:
            skipped.append(f"{attr} (its reference group {reference} has "
                           f"{int(ref['positives'])} positives)")
        for value, r in stats.iterrows():
            recall = r["selected"] / r["positives"] if r["positives"] else None
            judged = bool(r["positives"] >= min_positives and ref["positives"] >= min_positives)
            ratio = (recall / ref_recall if judged and ref_recall else None)
            low, high = (ratio_interval(r["selected"], r["positives"], ref["selected"],
                                        ref["positives"]) if judged else (None, None))
            rows.append({"attribute": attr, "value": str(value),
                         "households": int(r["households"]), "positives": int(r["positives"]),
                         "selected_positives": int(r["selected"]), "recall": recall,
                         "reference": reference, "ratio": ratio, "ratio_low": low,
                         "ratio_high": high, "judged": judged})
            if not judged and ref["positives"] >= min_positives and r["positives"]:
                skipped.append(f"{attr}={value} ({int(r['positives'])} positives)")
            elif judged and (ratio is None or (high is not None and high < min_ratio)
                             or (low is not None and low > max_ratio)):
                shown = "undefined" if ratio is None else f"{ratio:.2f}"
                problems.append(f"recall of {attr}={value} is {shown} x that of {attr}="
                                f"{reference} (95% interval {_num(low)}-{_num(high)}, outside "
                                f"the allowed {min_ratio:g}-{max_ratio:g})")
    return {"target": target, "min_ratio": min_ratio, "max_ratio": max_ratio,
            "min_positives": min_positives, "rows": rows, "problems": problems,
            "not_judged": skipped}


def _recall_counts(positive: np.ndarray, selected: np.ndarray) -> dict[str, int]:
    """Households, positives and selected positives of one group."""
    return {"households": positive.size, "positives": int(np.sum(positive)),
            "selected": int(np.sum(positive & selected))}


def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'")


def version_numbers(c: MlflowClient, name: str) -> list[str]:
    """Versions of registered model ``name``, oldest first (empty when it does not exist)."""
    found = c.search_model_versions(f"name='{_escape(name)}'")
    return sorted((str(v.version) for v in found), key=int)


def aliases(c: MlflowClient, name: str) -> dict[str, str]:
    """alias -> version of registered model ``name`` (empty when it does not exist)."""
    from mlflow.exceptions import MlflowException

    try:
        return {k: str(v) for k, v in c.get_registered_model(name).aliases.items()}
    except MlflowException:
        return {}


def production_version(c: MlflowClient, name: str) -> str | None:
    """The version holding the ``production`` alias, if any."""
    return aliases(c, name).get(PRODUCTION)


def version_info(c: MlflowClient, name: str, version: str | int, *,
                 with_report: bool = True) -> VersionInfo:
    """Details of one version; :class:`InputError` when it does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        mv = c.get_model_version(name, str(version))
    except MlflowException:
        known = ", ".join(version_numbers(c, name)) or "none"
        raise InputError(f"registered model {name!r} has no version {version} "
                         f"(versions: {known})") from None
    run = c.get_run(mv.run_id)
    held = [a for a, v in aliases(c, name).items() if v == str(mv.version)]
    return VersionInfo(
        name=name, version=str(mv.version), run_id=mv.run_id,
        created=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
        aliases=tuple(sorted(held)), tags=dict(mv.tags), params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        report=run_json(c, mv.run_id, REPORT_ARTIFACT) if with_report else None)


def list_versions(c: MlflowClient, name: str) -> list[VersionInfo]:
    """All versions of ``name`` (without reports), oldest first."""
    return [version_info(c, name, v, with_report=False) for v in version_numbers(c, name)]


def run_text(c: MlflowClient, run_id: str, path: str) -> str | None:
    """A text artifact of a run, or None when it was not logged."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = c.download_artifacts(run_id, path, tmp)
        except (MlflowException, OSError):
            return None
        return Path(local).read_text(encoding="utf-8")


def run_json(c: MlflowClient, run_id: str, path: str) -> dict[str, Any] | None:
    """A JSON artifact of a run, or None when it was not logged."""
    text = run_text(c, run_id, path)
    return None if text is None else json.loads(text)


def previous_version(c: MlflowClient, name: str, version: str) -> str | None:
    """The version registered just before ``version``."""
    earlier = [v for v in version_numbers(c, name) if int(v) < int(version)]
    return earlier[-1] if earlier else None


def compare(a: VersionInfo, b: VersionInfo) -> dict[str, Any]:
    """Headline metrics of two versions with deltas (b - a), and the params that differ."""
    rows = []
    for key, label in HEADLINE:
        va, vb = a.metrics.get(key), b.metrics.get(key)
        if va is None and vb is None:
            continue
        rows.append({"metric": label, "a": va, "b": vb,
                     "delta": None if va is None or vb is None else vb - va})
    keys = sorted(set(a.params) | set(b.params))
    params = [{"param": k, "a": a.params.get(k), "b": b.params.get(k)}
              for k in keys if a.params.get(k) != b.params.get(k)]
    return {"a": a.version, "b": b.version, "metrics": rows, "params": params}


def gate(candidate: VersionInfo, production: VersionInfo | None) -> GateDecision:
    """Decide whether ``candidate`` may become production (see the module docstring)."""
    report = candidate.report or {}
    reasons: list[str] = []
    notes: list[str] = []
    tolerance = float(report.get("gate", {}).get("tolerance", 0.0))
    mine = candidate.metrics.get(GATE_KEY)
    if mine is None:
        reasons.append(f"{GATE_METRIC} (verified labels, test folds pooled) of version "
                       f"{candidate.version} is undefined")
    if production is not None and production.version != candidate.version and mine is not None:
        theirs = production.metrics.get(GATE_KEY)
        basis = _basis(report, production.report or {})
        if theirs is None:
            notes.append(f"production version {production.version} has no {GATE_METRIC}; "
                         "not compared")
        elif mine < theirs - tolerance:
            reasons.append(f"{GATE_METRIC} {mine:.3f} is worse than production version "
                           f"{production.version}'s {theirs:.3f} ({basis})")
        else:
            notes.append(f"{GATE_METRIC} {mine:.3f} vs production version "
                         f"{production.version}'s {theirs:.3f} ({basis})")
        champion = report.get("champion") or {}
        if str(champion.get("version")) == production.version and champion.get("verified"):
            c, m = champion["verified"], (report.get("latest") or {}).get("verified", {}).get(
                "model", {})
            notes.append(f"on the candidate's latest test month {report.get('latest_month')}: "
                         f"{GATE_METRIC} {_num(m.get(GATE_METRIC))} vs production's "
                         f"{_num(c.get(GATE_METRIC))} ({m.get('k')} and {c.get('k')} verified "
                         "households in the top k)")
    disparity = report.get("disparity")
    if disparity is None:
        reasons.append("the run reports no per-group recall disparity")
    else:
        reasons.extend(disparity.get("problems", []))
        if disparity.get("not_judged"):
            notes.append(f"recall disparity not judged (fewer than "
                         f"{disparity.get('min_positives')} verified positives): "
                         + "; ".join(disparity["not_judged"]))
    return GateDecision(candidate=candidate.version,
                        production=None if production is None else production.version,
                        accepted=not reasons, reasons=tuple(reasons), notes=tuple(notes))


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def _basis(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """Whether two runs were judged on the same data and test months."""
    months = [[f.get("name") for f in r.get("folds", [])] for r in (a, b)]
    same = (a.get("data", {}).get("fingerprint") == b.get("data", {}).get("fingerprint")
            and months[0] == months[1])
    if same:
        return f"same data, test months {', '.join(months[0])} pooled"
    return ("each on its own run's test folds: the data or test months differ "
            f"({', '.join(months[0]) or '?'} vs {', '.join(months[1]) or '?'})")


def promote(c: MlflowClient, *, name: str, version: str, force: bool = False,
            reason: str | None = None, user: str = "unknown") -> GateDecision:
    """Move the ``production`` alias to ``version`` if the gate accepts it, or when forced
    with a reason (recorded on the version); raises :class:`PromotionRefused` otherwise."""
    if force and not (reason and reason.strip()):
        raise InputError("--force needs --reason: say why the gate is overridden")
    candidate = version_info(c, name, version)
    current = production_version(c, name)
    if current == candidate.version:
        raise InputError(f"version {version} of {name!r} is already production")
    production = version_info(c, name, current) if current else None
    decision = gate(candidate, production)
    if not decision.accepted and not force:
        raise PromotionRefused(decision.text() + "\n(override with --force --reason \"...\")")
    now = datetime.now(tz=UTC).isoformat(timespec="seconds")
    tags = {"promotion.at": now, "promotion.by": user,
            "promotion.previous": current or "none"}
    if not decision.accepted:
        tags |= {"promotion.override": "true", "promotion.override_reason": reason.strip(),
                 "promotion.refused_because": " | ".join(decision.reasons)}
    for k, v in tags.items():
        c.set_model_version_tag(name, candidate.version, k, v)
    c.set_registered_model_alias(name, PRODUCTION, candidate.version)
    return decision


def model_card(c: MlflowClient, name: str, version: str) -> str:
    """The model card logged with ``version`` (rendered afresh when none was logged)."""
    info = version_info(c, name, version)
    text = run_text(c, info.run_id, CARD_ARTIFACT)
    if text is not None:
        return text
    prev = previous_version(c, name, info.version)
    return render_card(info.report or {}, name=name, version=info.version,
                       params=info.params,
                       previous=None if prev is None else version_info(c, name, prev))
