"""Stage ``report``: coverage and drift reports, and how every report is written.

Each report is a plain dict (the JSON served by the API and printed by ``--json``) and an HTML
page with inline SVG charts; :func:`write_report` writes both to
``<workspace>/reports/<as_of>/<name>.json|.html``, each file atomically (temporary file, then
rename); :func:`assist.reports.model.log_to_mlflow` attaches them to a model's
run. Reports inform; they block nothing. (No MLflow import here: the API reads this module.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as pads

from assist.errors import InputError
from assist.features import CATALOG
from assist.models.deprivation import alkire_foster, deprivation_matrix
from assist.models.drift import BINS, EPSILON, SIGNALS, DriftThresholds, psi_table
from assist.reports import coverage_keys as ck
from assist.reports.coverage_facts import (
    SOURCE_FACTS,
    month_facts,
    probability_basis,
    store_months,
)
from assist.reports.render import report_html
from assist.storage import snapshot
from assist.storage.atomic import write_json, write_text

REPORTS_DIR = "reports"
#: stored reports, each with the command that writes it (``{as_of}``: the month)
REPORTS: dict[str, str] = {
    "coverage": "assist report coverage --as-of {as_of}",
    "drift": "assist report drift --as-of {as_of}",
    "early_warning": "assist score --as-of {as_of}",
    "fairness": "assist train, then assist score --as-of {as_of}",
    "overrides": "assist casebook overrides --as-of {as_of}",
}
FEATURES_FILE = "features.parquet"


# --- coverage ------------------------------------------------------------------------------
def household_coverage(scores: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """Per household: each thing coverage counts (a column per count, True when the household
    is counted there) and its probability; the one definition behind the counts and the lists
    of households they link to (``facts``: :func:`coverage_facts.month_facts`)."""
    s = scores
    high = (s["band"].astype("string") == "high").fillna(False).to_numpy(dtype=bool)
    poor = s["deprivation_poor"].astype(bool).to_numpy()
    f = facts.reindex(s.index, fill_value=False).astype(bool)
    helped = f["assisted"].to_numpy()
    p = s["probability"].astype(float).to_numpy()
    return pd.DataFrame({
        "households": True, "high_band": high, "index_poor": poor,
        "referred": (s["candidate"].astype(bool) | s.get("warning", False)).to_numpy(dtype=bool),
        "allocated": s["allocated"].astype(bool).to_numpy(),
        **{c: f[c].to_numpy() for c in ("verified", "confirmed", "assisted", *SOURCE_FACTS)},
        "verified_both": (f["verified_records"] & f["verified_decisions"]).to_numpy(),
        "gap_model": high & ~helped, "gap_index": poor & ~helped,
        "expected_in_need": p, "expected_gap": np.where(helped, 0.0, p),
    }, index=s.index)


def coverage_counts(scores: pd.DataFrame, *, facts: pd.DataFrame, level: str,
                    basis: str = "visited") -> pd.DataFrame:
    """Per value of ``level`` (street_code or community_code) and the district: need,
    referrals, visits, findings and grants (each source apart and their union), and the gap
    (in need by the model's high band or the index, not assisted): the sums of
    :func:`household_coverage`. Expected need (whole households) only when ``basis`` is
    ``population``: probabilities calibrated on visited households overstate it."""
    s = scores
    d = household_coverage(scores, facts)
    key = s[level].astype("string").fillna("(missing)").to_numpy()
    out = d.groupby(key, sort=True).sum()
    out.index.name = level
    out = pd.concat([out, out.sum().to_frame("(district)").T.rename_axis(level)])
    expected = ["expected_in_need", "expected_gap"]
    for col in out.columns.difference(expected):
        out[col] = out[col].astype("int64")
    out[expected] = (out[expected].round().astype("int64") if basis == "population"
                     else None)
    out["gap_model_rate"] = out["gap_model"] / out["high_band"].where(out["high_band"] > 0)
    out["gap_index_rate"] = out["gap_index"] / out["index_poor"].where(out["index_poor"] > 0)
    return out.reset_index()


#: the coverage report's shape; a stored report of another version is computed again
COVERAGE_VERSION = 3
#: what the trend keeps per street and month (the coverage page's trend charts)
TREND_COLUMNS = ("households", "high_band", "index_poor", "expected_in_need", "referred",
                 "verified", "confirmed", "assisted", "gap_model", "gap_index", "expected_gap")
#: the columns of a month's snapshot that coverage reads
SCORE_COLUMNS = ["street_code", "community_code", "band", "deprivation_poor", "probability",
                 "candidate", "allocated", "warning"]


def coverage_scores(scores_dir: Path, month: str) -> pd.DataFrame:
    """The columns of a month's snapshot that coverage reads (:data:`SCORE_COLUMNS`, those
    the snapshot has); a month without one: read_scores's one-line error naming it."""
    if not snapshot.exists(scores_dir, month):
        return snapshot.read_scores(scores_dir, month, columns=SCORE_COLUMNS[:1])
    names = pads.dataset(snapshot.folder(scores_dir, month) / snapshot.SCORES_FILE).schema.names
    return snapshot.read_scores(scores_dir, month,
                                columns=[c for c in SCORE_COLUMNS if c in names])


def _month_rows(scores_dir: Path, store: Path | None, month: str,
                decisions: pd.DataFrame | None, basis: str,
                current: pd.DataFrame) -> list[dict[str, Any]]:
    """Street rows (and the district's) of an earlier month, for the trend: from its own
    snapshot; without one, visits, findings and grants only (the store's records and the
    decisions), counted on the households of ``current`` (the report's month), the rest None."""
    if not snapshot.exists(scores_dir, month):
        facts = month_facts(store, month, current.index, decisions)
        key = current["street_code"].astype("string").fillna("(missing)").to_numpy()
        part = facts[["verified", "confirmed", "assisted"]].astype("int64")
        out = part.groupby(key, sort=True).sum()
        out = pd.concat([out, out.sum().to_frame("(district)").T]).rename_axis("street_code")
        out = out.reset_index().reindex(columns=["street_code", *TREND_COLUMNS])
        return records(out.astype(object).where(out.notna(), None))
    snap = coverage_scores(scores_dir, month)
    rows = coverage_counts(snap, facts=month_facts(store, month, snap.index, decisions),
                           level="street_code", basis=basis)
    return records(rows[["street_code", *TREND_COLUMNS]])


def _trend_months(scores_dir: Path, store: Path | None, as_of: str) -> list[str]:
    """Months up to ``as_of`` with a snapshot or in the store."""
    return sorted({m for m in (*snapshot.months(scores_dir), *store_months(store))
                   if m <= as_of})


def _part_keys(scores_dir: Path, store: Path | None, as_of: str, k: float,
               decisions: pd.DataFrame | None, basis: str) -> dict[str, str]:
    """The key of each part a later computation may take from this report: the trend's
    months and the deprivation index (:mod:`assist.reports.coverage_keys`)."""
    stamp = ck.store_stamp(store)
    return {"deprivation": ck.deprivation_key(version=COVERAGE_VERSION, scores_dir=scores_dir,
                                              as_of=as_of, k=k),
            **{m: ck.trend_key(version=COVERAGE_VERSION, basis=basis, store=stamp,
                               scores_dir=scores_dir, month=m, as_of=as_of,
                               decisions=decisions)
               for m in _trend_months(scores_dir, store, as_of)}}


def coverage_report(*, scores_dir: Path, store: Path | None, as_of: str,
                    k: float = 0.3333, decisions: pd.DataFrame | None = None,
                    case_store: dict[str, Any] | None = None,
                    previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Coverage per street and community of ``as_of``, the deprivation index by street and
    dimension, and the trend per street over the earlier snapshots. ``decisions``: the case
    store's decisions (:data:`coverage_facts.DECISION_COLUMNS`, every month), counted with
    the store's verification and assistance records (:mod:`assist.reports.coverage_facts`);
    ``case_store``: what was read from the case store (kept in the report, so a reader can
    tell whether decisions were recorded since); ``previous``: an earlier report of the month,
    whose trend months and deprivation index are taken as they are where their keys say
    nothing they were computed from changed (``keys``)."""
    scores = coverage_scores(scores_dir, as_of)
    summary = snapshot.present_summary(scores_dir, as_of) or {}
    basis = probability_basis(summary)
    facts = month_facts(store, as_of, scores.index, decisions)
    streets = coverage_counts(scores, facts=facts, level="street_code", basis=basis)
    communities = coverage_counts(scores, facts=facts, level="community_code", basis=basis)
    keys = _part_keys(scores_dir, store, as_of, k, decisions, basis)
    old = {"keys": (previous or {}).get("keys") or {},
           "trend": {t["as_of"]: t["streets"] for t in (previous or {}).get("trend") or []}}

    def trend_rows(month: str) -> list[dict[str, Any]]:
        if month == as_of:
            return records(streets[["street_code", *TREND_COLUMNS]])
        if old["keys"].get(month) == keys[month] and month in old["trend"]:
            return old["trend"][month]  # computed from the same snapshot, store and decisions
        return _month_rows(scores_dir, store, month, decisions, basis, scores)

    trend = [{"as_of": m, "streets": trend_rows(m)} for m in _trend_months(scores_dir, store, as_of)]
    same = old["keys"].get("deprivation") == keys["deprivation"] and previous is not None
    deprivation = previous["deprivation"] if same else deprivation_by_street(
        snapshot.read_scores(scores_dir, as_of, columns=["street_code", *CATALOG.ids]), k=k)
    return {"as_of": as_of, "version": COVERAGE_VERSION, "keys": keys,
            "model_version": summary.get("model_version") or None,
            "probability_basis": basis, "case_store": case_store,
            "decisions": int(0 if decisions is None else
                             (decisions["as_of"].astype(str) == as_of).sum()),
            "streets": records(streets), "communities": records(communities),
            "deprivation": deprivation, "trend": trend,
            "definitions": COVERAGE_TERMS | {"in need (index)": f"Alkire-Foster poor at k={k}"}}


COVERAGE_TERMS = {
    "in need (model)": "band high",
    "expected in need": ("sum of the need probabilities, in whole households, only when the "
                         "model was calibrated for the whole district (probability_basis "
                         "population); probabilities calibrated on visited households overstate "
                         "need across the district, so none is given then"),
    "assisted": ("an active grant of any programme at the end of the month (the assistance "
                 "table), or a programme granted by a caseworker's decision on the month's "
                 "referral (the case store); a household in both counts once"),
    "referred": "referral candidate or early-warning flag of the snapshot",
    "allocated": "given one of the month's caseworker visits",
    "verified": ("visited this month: a department verification record, or a caseworker's "
                 "decision on the month's referral (the case store); a household in both "
                 "counts once (verified_records, verified_decisions, verified_both)"),
    "confirmed": ("a visit this month confirmed need: the caseworker's decision, or, without "
                  "a decision, the department's verification record"),
    "gap": "in need (band high) and not assisted; rate = gap / in need",
    "scope": ("this report is the one definition of coverage; the manager pages, the API and "
              "the downloads show it as written here"),
}


def deprivation_by_street(scores: pd.DataFrame, *, k: float) -> dict[str, Any]:
    """Alkire-Foster by street (H, A, M0, contribution) and each dimension's share of M0 per street."""
    values = scores[CATALOG.ids]
    street = scores["street_code"].astype("string").fillna("(missing)")
    af = alkire_foster(values, CATALOG, k=k, by=street)
    w = CATALOG.weights.reindex(CATALOG.ids)
    censored = deprivation_matrix(values, CATALOG).astype(float).mul(w, axis=1)
    censored = censored.mul(af.poor.astype(float), axis=0)
    by_dim = censored.T.groupby([CATALOG[i].dimension for i in CATALOG.ids]).sum().T
    per_street = by_dim.groupby(street.to_numpy()).sum()
    total = per_street.sum(axis=1)
    share = per_street.div(total.where(total > 0), axis=0)
    return {"k": k, "district": {"H": af.H, "A": af.A, "M0": af.M0},
            "streets": records(af.groups.reset_index(names="street_code")),
            "dimension_share": {str(s): {d: num(v) for d, v in r.items()}
                                for s, r in share.iterrows()}}


def coverage_html(report: dict[str, Any]) -> str:
    """The coverage report as a stored HTML page (the coverage page's view and body)."""
    return report_html("coverage", report)


# --- drift ---------------------------------------------------------------------------------
def _month_frame(features_dir: Path, scores_dir: Path, month: str) -> pd.DataFrame | None:
    f = Path(features_dir) / month / FEATURES_FILE
    if f.is_file():
        return pd.read_parquet(f)
    return (snapshot.read_scores(scores_dir, month, columns=list(CATALOG.ids))
            if snapshot.exists(scores_dir, month) else None)


def _months(features_dir: Path, scores_dir: Path) -> list[str]:
    feature_months = (p.parent.name for p in Path(features_dir).glob(f"*/{FEATURES_FILE}"))
    return sorted({*feature_months, *snapshot.months(scores_dir)})


def _probabilities(scores_dir: Path, month: str | None) -> pd.DataFrame | None:
    if month is None or not snapshot.exists(scores_dir, month):
        return None
    return snapshot.read_scores(scores_dir, month, columns=["probability"])


def previous_month(scores_dir: Path, as_of: str) -> str | None:
    """The latest scored month before ``as_of`` (the score's second comparison)."""
    return next((m for m in reversed(snapshot.months(scores_dir)) if m < as_of), None)


def drift_report(*, features_dir: Path, scores_dir: Path, as_of: str,
                 reference: str | None = None, bins: int = BINS,
                 thresholds: DriftThresholds | None = None,
                 score_reference: tuple[pd.DataFrame, dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """Drift of every indicator and of the score, ``as_of`` against ``reference`` (default:
    the earliest other month with features or scores). The score is compared with
    ``score_reference`` (the model's training data and its description) when given, else
    with the reference month's scores, and with last month; never with ``as_of`` itself: a
    reference equal to the month is refused."""
    if reference == as_of:
        raise InputError(f"the reference month is the month itself ({as_of}): a month compared "
                         "with itself shows no drift; choose an earlier month")
    others = [m for m in _months(features_dir, scores_dir) if m != as_of]
    ref = reference or (others[0] if others else None)
    current = _month_frame(features_dir, scores_dir, as_of)
    if current is None:
        raise InputError(f"no features or scores for {as_of}", file=str(features_dir))
    if ref is None:
        raise InputError(f"no other month to compare {as_of} with", file=str(features_dir))
    base = _month_frame(features_dir, scores_dir, ref)
    if base is None:
        raise InputError(f"no features or scores for the reference month {ref}: build them "
                         f"with `assist features --as-of {ref}`", file=str(features_dir))
    now = _probabilities(scores_dir, as_of)
    if score_reference is not None:
        score_base, score_info = score_reference
    else:
        score_base, score_info = _probabilities(scores_dir, ref), {"kind": "month", "month": ref}
    prev = previous_month(scores_dir, as_of)
    last = _probabilities(scores_dir, prev)
    return drift_between(
        base, current, as_of=as_of, reference=str(ref), bins=bins, thresholds=thresholds,
        reference_info={"kind": "month", "month": str(ref)},
        scores=None if now is None or score_base is None else (
            score_base[["probability"]], now, _score_label(score_info)),
        score_reference=score_info if score_base is not None else None,
        previous=None if now is None or last is None else (last, str(prev)))


def _score_label(info: dict[str, Any]) -> str:
    what = (f"training data of {info.get('model')}" if info.get("kind") == "training"
            else str(info.get("month")))
    return f"score (probability; reference {what})"


def drift_between(base: pd.DataFrame, current: pd.DataFrame, *, as_of: str, reference: str,
                  bins: int = BINS, thresholds: DriftThresholds | None = None,
                  scores: tuple[pd.DataFrame, pd.DataFrame, str] | None = None,
                  reference_info: dict[str, Any] | None = None,
                  score_reference: dict[str, Any] | None = None,
                  previous: tuple[pd.DataFrame, str] | None = None) -> dict[str, Any]:
    """The drift report of indicator frames ``current`` against ``base`` (and of
    ``scores = (reference probabilities, current probabilities, label)``; ``previous = (last
    month's probabilities, month)`` adds ``previous_*`` signals to the score's row)::

        {"as_of", "reference", "reference_info": {"kind": "training"|"month", "model", "month"},
         "score_reference", "bins", "epsilon", "thresholds": {...},
         "features": [{"feature", "verdict", "missing_change", "missing_level", "shift",
                       "shift_stat", "shift_level", "psi", "level", ...}],
         "flagged": {"watch": [feature], "act": [feature]}, "notes": [code]}

    ``flagged`` and the counts follow each row's verdict (the worst of its three signals)."""
    thresholds = thresholds or DriftThresholds()
    table = psi_table(base, current, list(CATALOG.ids), bins=bins, thresholds=thresholds)
    notes = []
    if scores is not None:
        s = psi_table(scores[0], scores[1], ["probability"], bins=bins, thresholds=thresholds)
        if previous is not None:
            p = psi_table(previous[0], scores[1], ["probability"], bins=bins,
                          thresholds=thresholds).drop(columns="feature")
            s = s.join(p.add_prefix("previous_"))
            s["previous_month"] = previous[1]
        s["feature"] = scores[2]
        table = pd.concat([s, table], ignore_index=True)
    else:
        notes.append("score_not_compared")
    return {"as_of": as_of, "reference": reference,
            "reference_info": reference_info or {"kind": "month", "month": reference},
            "score_reference": score_reference, "bins": bins, "epsilon": EPSILON,
            "thresholds": thresholds.as_dict(), "signals": list(SIGNALS),
            "features": records(table),
            "flagged": {lvl: table.loc[table["verdict"] == lvl, "feature"].tolist()
                        for lvl in ("watch", "act")}, "notes": notes}


def drift_html(report: dict[str, Any]) -> str:
    """The drift report as a stored HTML page (the drift page's view and body)."""
    return report_html("drift", report)


# --- writing -------------------------------------------------------------------------------
def drift_name(reference: str | None) -> str:
    """File name of a drift report: ``drift`` (the month's, written by scoring) or, for an
    explicit reference month, ``drift-vs-<month>`` (never overwriting the month's)."""
    return f"drift-vs-{reference}" if reference else "drift"


def report_folder(workspace: Path, as_of: str) -> Path:
    """``<workspace>/reports/<as_of>``."""
    return Path(workspace) / REPORTS_DIR / as_of


def write_report(folder: Path, name: str, payload: dict[str, Any], html: str) -> list[Path]:
    """Write ``<name>.json`` and ``<name>.html`` into ``folder``, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_json(payload, folder / f"{name}.json", sort_keys=False, newline=False),
            write_text(html, folder / f"{name}.html")]


# --- helpers -------------------------------------------------------------------------------
def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe records: numpy scalars to Python, NaN to None."""
    out = []
    for rec in frame.to_dict("records"):
        out.append({str(k): (None if v is None or (not isinstance(v, list | str) and pd.isna(v))
                             else v.item() if isinstance(v, np.generic) else v)
                    for k, v in rec.items()})
    return out


def num(v: Any) -> float | None:
    """A number for JSON: None for missing."""
    return None if v is None or pd.isna(v) else float(v)


#: the former name, kept for existing imports
_records = records
