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

from assist.errors import InputError
from assist.features import CATALOG
from assist.models.deprivation import alkire_foster, deprivation_matrix
from assist.models.drift import BINS, EPSILON, SIGNALS, DriftThresholds, psi_table
from assist.models.matching import receiving
from assist.reports.render import report_html
from assist.storage import snapshot
from assist.storage.atomic import write_json, write_text
from assist.storage.store import list_snapshots, load_tables

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
def coverage_counts(scores: pd.DataFrame, *, assisted: pd.Series, verified: pd.Series,
                    confirmed: pd.Series, level: str) -> pd.DataFrame:
    """Per value of ``level`` (street_code or community_code): need, assistance, the pipeline
    of referrals and the gap (in need by the model's high band or the index, not assisted)."""
    s = scores
    high = (s["band"].astype("string") == "high").fillna(False).to_numpy(dtype=bool)
    poor = s["deprivation_poor"].astype(bool).to_numpy()
    helped = assisted.reindex(s.index, fill_value=False).to_numpy(dtype=bool)
    d = pd.DataFrame({
        "households": 1, "expected_in_need": s["probability"].astype(float).to_numpy(),
        "high_band": high, "index_poor": poor, "assisted": helped,
        "referred": (s["candidate"].astype(bool) | s.get("warning", False)).to_numpy(dtype=bool),
        "allocated": s["allocated"].astype(bool).to_numpy(),
        "verified": verified.reindex(s.index, fill_value=False).to_numpy(dtype=bool),
        "confirmed": confirmed.reindex(s.index, fill_value=False).to_numpy(dtype=bool),
        "gap_model": high & ~helped, "gap_index": poor & ~helped,
        "expected_gap": np.where(helped, 0.0, s["probability"].astype(float).to_numpy()),
    }, index=s.index)
    key = s[level].astype("string").fillna("(missing)").to_numpy()
    out = d.groupby(key, sort=True).sum()
    out.index.name = level
    out = pd.concat([out, out.sum().to_frame("(district)").T.rename_axis(level)])
    for col in out.columns.difference(["expected_in_need", "expected_gap"]):
        out[col] = out[col].astype("int64")
    out["gap_model_rate"] = out["gap_model"] / out["high_band"].where(out["high_band"] > 0)
    out["gap_index_rate"] = out["gap_index"] / out["index_poor"].where(out["index_poor"] > 0)
    return out.reset_index()


def _store_facts(store: Path | None, as_of: str, index: pd.Index) -> tuple[pd.Series, ...]:
    """Assisted (any active grant), verified and confirmed households of ``as_of``."""
    empty = pd.Series(False, index=index)
    if store is None or as_of not in list_snapshots(store):
        return empty, empty, empty
    t = load_tables(store, as_of=as_of, months=1, tables=["assistance", "verifications"])
    assisted = receiving(t["assistance"], index, as_of=as_of).any(axis=1)
    v = t["verifications"]
    v = v.loc[(v["snapshot"].astype(str) == as_of).to_numpy()]
    ids = v["household_id"].astype(str)
    verified = pd.Series(index.isin(ids.unique()), index=index)
    conf = ids[(v["outcome"].astype("string") == "confirmed").fillna(False).to_numpy()]
    return assisted, verified, pd.Series(index.isin(conf.unique()), index=index)


def coverage_report(*, scores_dir: Path, store: Path | None, as_of: str,
                    k: float = 0.3333) -> dict[str, Any]:
    """Coverage per street and community, the deprivation index by street and dimension, and
    the month-on-month trend of earlier snapshots."""
    scores = snapshot.read_scores(scores_dir, as_of)
    facts = _store_facts(store, as_of, scores.index.astype(str).rename(scores.index.name))
    facts = tuple(f.set_axis(scores.index) for f in facts)
    kw = dict(zip(("assisted", "verified", "confirmed"), facts, strict=True))
    streets = coverage_counts(scores, level="street_code", **kw)
    communities = coverage_counts(scores, level="community_code", **kw)
    trend = []
    for month in [m for m in snapshot.months(scores_dir) if m <= as_of]:
        snap = scores if month == as_of else snapshot.read_scores(scores_dir, month)
        f = _store_facts(store, month, snap.index.astype(str))
        f = tuple(x.set_axis(snap.index) for x in f)
        tot = coverage_counts(snap, level="street_code",
                              **dict(zip(("assisted", "verified", "confirmed"), f, strict=True)))
        trend.append({"as_of": month, **records(tot.tail(1))[0]})
    return {"as_of": as_of, "streets": records(streets), "communities": records(communities),
            "deprivation": deprivation_by_street(scores, k=k), "trend": trend,
            "definitions": {
                "in need (model)": "band high; expected_in_need is the sum of probabilities",
                "in need (index)": f"Alkire-Foster poor at k={k}",
                "assisted": ("an active grant of any programme at the end of the month (the "
                             "assistance table), whether or not a visit confirmed need"),
                "referred": "referral candidate or early-warning flag of the snapshot",
                "allocated": "given one of the month's caseworker visits",
                "verified": "a verification visit recorded an outcome this month",
                "confirmed": "a verification visit this month confirmed need",
                "gap": "in need and not assisted; rate = gap / in need",
                "scope": ("this report is the one definition of coverage; the manager pages "
                          "and the API show it as written here")}}


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
        raise InputError(f"no features or scores for the reference month {ref}",
                         file=str(features_dir))
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
