"""Reports on the case work around a snapshot: caseworker overrides and early-warning flags.

Pure functions of DataFrames (the serving layer reads the case store and passes frames in;
pipelines never import serving). Each report is a JSON-safe dict and an HTML page rendered by
:mod:`assist.reports.render` from the same view and body as its manager page; shapes are
documented on the functions and kept stable (the API serves them).
Reports are aggregates: counts and rates per street, band and group, never a household.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from assist.models.overrides import CONTEST_STATUSES, GROUPS, contest_counts, override_rates
from assist.models.warning import EVENTS, FLAGS, SCORE_FLAGS
from assist.reports.render import report_html
from assist.reports.report import records

OTHER_FLAG = "other"
_OVERRIDE_DEFINITIONS = {
    "override": ("the recorded outcome disagrees with the score's band: need confirmed in the "
                 "low band, or not in need in the high band (caseworkers give a reason)"),
    "verified": "outcome confirmed or not_in_need; unreachable and declined are not verified",
    "confirmed_rate_overridden": "confirmed need among verified overridden decisions",
    "confirmed_rate_followed": "confirmed need among verified decisions that followed the band",
    "confirmed_rate_difference": ("overridden minus followed, 95% Newcombe interval; within one "
                                  "band it is fixed by the definition of an override, so read it "
                                  "across streets and groups"),
    "intervals": "95% Wilson score intervals; 'undefined' (null) where a denominator is zero",
    "contests": ("households' contests (PIPL art. 24) of every month, by street: open, and "
                 "decided upheld, rejected or data corrected (marked for correction)"),
    **{f"group {g.name}": g.description for g in GROUPS},
}


def overrides_report(decisions: pd.DataFrame, *, as_of: str | None,
                     groups: Sequence[str] = (),
                     contests: pd.DataFrame | None = None) -> dict[str, Any]:
    """How often caseworkers override the score, by street, band and group, and whether the
    confirmed-need rate of overridden decisions differs from that of followed ones.

    ``decisions``: one row per decision with ``household_id, street, band, score, override,
    outcome`` (1/0/NaN) and the ``groups`` columns. Returns::

        {"as_of": str | None, "decisions": int, "overrides": int, "verified": int,
         "slices": [str, ...],              # "(all)", "street", "band", then the groups
         "rows": [{"slice", "value", "decisions", "overrides", "override_rate",
                   "override_rate_low", "override_rate_high", "overridden_verified",
                   "overridden_confirmed", "confirmed_rate_overridden", "..._low", "..._high",
                   "followed_verified", "followed_confirmed", "confirmed_rate_followed",
                   "..._low", "..._high", "confirmed_rate_difference", "..._low", "..._high"}],
         "contests": {"statuses": ["open", "upheld", "rejected", "data_corrected"],
                      "totals": {status: int, "contests": int},
                      "streets": [{"street": str, status: int, ..., "contests": int}]},
         "definitions": {term: text}}

    Rates are fractions or ``None`` (undefined). ``contests`` (one row per contest with
    ``street`` and ``status``; None: none recorded) are counted whatever ``as_of``.
    """
    groups = list(groups)
    table = override_rates(decisions, by=("street", "band"), groups=groups)
    outcome = pd.to_numeric(decisions["outcome"], errors="coerce")
    return {"as_of": as_of, "decisions": int(len(decisions)),
            "overrides": int(decisions["override"].astype("boolean").fillna(False).sum()),
            "verified": int(outcome.notna().sum()),
            "slices": ["(all)", "street", "band", *groups],
            "rows": records(table), "contests": contests_summary(contests),
            "definitions": dict(_OVERRIDE_DEFINITIONS)}


def contests_summary(contests: pd.DataFrame | None) -> dict[str, Any]:
    """Contest counts by street and status, and their totals (see :func:`overrides_report`)."""
    if contests is None:
        contests = pd.DataFrame({"street": pd.Series(dtype="string"),
                                 "status": pd.Series(dtype="string")})
    table = contest_counts(contests)
    total = table.loc[table["street"] == "(all)"].iloc[0]
    keys = (*CONTEST_STATUSES, "contests")
    return {"statuses": list(CONTEST_STATUSES), "totals": {k: int(total[k]) for k in keys},
            "streets": records(table.loc[table["street"] != "(all)"])}


def overrides_html(report: Mapping[str, Any]) -> str:
    """The override report as a stored HTML page (the overrides page's view and body)."""
    return report_html("overrides", report)


def early_warning_report(referrals: pd.DataFrame, *, as_of: str,
                         model_version: str | None = None,
                         summary_flags: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Households flagged by early warning, per flag and per street.

    ``referrals``: the snapshot's listed households with ``street_code`` and ``flags``
    (names ``;``-separated, or a list). Returns::

        {"as_of": str, "model_version": str | None,
         "flags": [flag names of assist.models.warning.FLAGS],
         "totals": {flag: int for each flag, "other": int, "households": int},
         "streets": [{"street_code": str, flag: int ..., "other": int, "households": int}],
         "scoring_counts": {flag: int, "households": int} | None,  # the snapshot's own count
         "definitions": {flag: text}}

    ``other`` counts flag names unknown to this version; ``households`` counts households with
    at least one flag (a household with two flags counts once there and once per flag).
    """
    street = referrals["street_code"].astype("string").fillna("(missing)").to_numpy()
    names = [_split(v) for v in referrals["flags"]] if "flags" in referrals else \
        [[] for _ in range(len(referrals))]
    hits = {f: np.array([f in n for n in names], dtype=bool) for f in FLAGS}
    hits[OTHER_FLAG] = np.array([bool(set(n) - set(FLAGS)) for n in names], dtype=bool)
    hits["households"] = np.array([bool(n) for n in names], dtype=bool)
    frame = pd.DataFrame(hits, index=referrals.index).astype("int64")
    per_street = frame.groupby(street, sort=True).sum()
    per_street = per_street.loc[per_street["households"] > 0]
    totals = {k: int(v) for k, v in frame.sum().items()}
    texts = {**{k: name.en for k, name in SCORE_FLAGS.items()},
             **{e.name: f"{e.text.en} (with a second signal)" for e in EVENTS},
             OTHER_FLAG: "flag names this version does not know"}
    return {"as_of": as_of, "model_version": model_version, "flags": list(FLAGS),
            "totals": totals, "streets": records(per_street.rename_axis("street_code")
                                                 .reset_index()),
            "scoring_counts": dict(summary_flags) if summary_flags else None,
            "definitions": texts}


def early_warning_html(report: Mapping[str, Any]) -> str:
    """The early-warning report as a stored HTML page (the early-warning page's view and body)."""
    return report_html("early_warning", report)


def _split(v: Any) -> list[str]:
    if isinstance(v, list | tuple | np.ndarray):
        return [str(x) for x in v if str(x)]
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return []
    return [p.strip() for p in str(v).split(";") if p.strip()]
