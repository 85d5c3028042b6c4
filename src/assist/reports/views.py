"""Report payloads -> what a report says: rows of formatted cells, out-of-band flags with
their words, confidence intervals, findings and the charts (the fairness report's:
:mod:`assist.reports.fairness_view`). Pure functions of a payload (the
JSON each report writes and the API serves) and a :class:`Translator`; no I/O.

The one source of a report's content: the serving pages and the stored HTML files
(:mod:`assist.reports.render`) both render these views with the same body templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from assist.reports import charts
from assist.reports.drift_words import drift_reference, drift_rules, drift_signals
from assist.reports.i18n import N_, Translator


def drift_view(report: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Rows per indicator (missing-share change, shift, PSI, each with its level; the verdict
    the worst), the score against training data and last month, and a PSI chart."""
    th = {"watch": 0.1, "act": 0.25, "missing_watch": 0.02, "missing_act": 0.05,
          "shift_watch": 0.1, "shift_act": 0.25, **(report.get("thresholds") or {})}
    rows, score = [], None
    for r in report.get("features") or []:
        feature = str(r["feature"])
        if feature.startswith("score"):
            score = {"now": drift_signals(r, t), "month": r.get("previous_month"),
                     "previous": drift_signals(r, t, "previous_") if r.get("previous_month") else None}
            continue
        rows.append({"name": t.indicator(feature), "code": feature, **drift_signals(r, t)})
    top = th["act"] * 2.4  # larger values run to the edge; their number is printed
    chart = charts.hbars([charts.Bar(r["name"], r["psi_value"] or 0.0, r["psi"],
                                     highlight=r["level"] == "act") for r in rows],
                         title=t.gettext("Population stability index (PSI)"), maximum=top,
                         label_width=230, width=720,
                         marks=[(th["watch"], t.gettext("level watch")),
                                (th["act"], t.gettext("level act"))])
    counts = {lvl: sum(r["verdict"] == lvl for r in rows) for lvl in ("act", "watch")}
    bins, eps = report.get("bins"), report.get("epsilon")
    method = (t.gettext("Method: PSI over the {bins} quantile bins of the reference month; a "
                        "bin's share is floored at {epsilon} before the sum.",
                        bins=t.number(bins), epsilon=format(float(eps), "g"))
              if bins is not None and eps is not None else None)
    return {"rows": rows, "score": score, "chart": chart, "thresholds": th, "counts": counts,
            "method": method, "rules": drift_rules(th, t), "as_of": report.get("as_of"),
            "reference": drift_reference(report.get("reference_info"), report.get("reference"), t),
            "score_reference": drift_reference(report.get("score_reference"), None, t)
            if report.get("score_reference") else None,
            "score_missing": "score_not_compared" in (report.get("notes") or [])}


def early_warning_view(report: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Per flag totals (with a chart) and a street-by-flag table."""
    flags: Sequence[str] = report.get("flags") or []
    totals = report.get("totals") or {}
    listed = max(totals.get("households", 0), 1)
    bars = [charts.Bar(t.flag(f), totals.get(f, 0), t.number(totals.get(f, 0))) for f in flags]
    top = max([b.value for b in bars] + [1])
    chart = charts.hbars(bars, title=t.gettext("Flagged households by early-warning signal"),
                         maximum=top, label_width=200, width=640)
    streets = [{"street": t.street(s["street_code"]), "code": s["street_code"],
                "counts": [t.number(s.get(f, 0)) for f in flags],
                "links": [_flag_list(f, s["street_code"]) for f in flags],
                "households_link": "/coverage/households?" + urlencode(
                    {"measure": "flagged", "street": s["street_code"]}),
                "other": t.number(s.get("other", 0)), "households": t.number(s.get("households", 0))}
               for s in report.get("streets") or []]
    return {"as_of": report.get("as_of"),
            "flags": [{"code": f, "name": t.flag(f), "total": t.number(totals.get(f, 0)),
                       "share": t.rate(totals.get(f, 0) / listed) if totals.get("households")
                       else t.gettext("undefined")} for f in flags],
            "households": t.number(totals.get("households", 0)),
            "other": totals.get("other", 0), "streets": streets, "chart": chart,
            "totals": [t.number(totals.get(f, 0)) for f in flags],
            "total_links": [_flag_list(f) for f in flags],
            "households_link": "/coverage/households?measure=flagged"}


def _flag_list(flag: str, street: str | None = None) -> str:
    """The referral list of the households carrying ``flag`` (in ``street``)."""
    return "/referrals?" + urlencode({k: v for k, v in (("street", street), ("flag", flag))
                                      if v})


def _ci(r: Mapping[str, Any], key: str, t: Translator) -> str:
    return t.interval(r.get(f"{key}_low"), r.get(f"{key}_high"), empty="")


def overrides_view(report: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Rows per slice (district, street, band, groups): override rate and confirmed-need rate
    of overridden vs followed referrals, with intervals; a chart of the rate by street."""
    slices: dict[str, list[dict[str, Any]]] = {}
    overall = None
    for r in report.get("rows") or []:
        kind, value = str(r["slice"]), str(r["value"])
        label = (t.street(value) if kind == "street" else
                 t.gettext(f"band {value}") if kind == "band" else
                 t.gettext("District") if kind == "(all)" else t.group(value))
        diff = r.get("confirmed_rate_difference")
        row = {"label": label, "decisions": t.number(r.get("decisions") or 0),
               "overrides": t.number(r.get("overrides") or 0),
               "rate": t.rate(r.get("override_rate")), "rate_value": r.get("override_rate"),
               "rate_ci": _ci(r, "override_rate", t),
               "overridden": t.rate(r.get("confirmed_rate_overridden")),
               "overridden_ci": _ci(r, "confirmed_rate_overridden", t),
               "overridden_n": t.number(r.get("overridden_verified") or 0),
               "followed": t.rate(r.get("confirmed_rate_followed")),
               "followed_ci": _ci(r, "confirmed_rate_followed", t),
               "followed_n": t.number(r.get("followed_verified") or 0),
               "difference": t.decimal(None if diff is None else diff * 100, 1, sign=True)
               + (t.gettext(" pp") if diff is not None else ""),
               "difference_ci": _excludes_zero(r)}
        if kind == "(all)":
            overall = row
        else:
            slices.setdefault(kind, []).append(row)
    chart = None
    if slices.get("street"):
        chart = charts.hbars([charts.Bar(r["label"], r["rate_value"] or 0.0, r["rate"])
                              for r in slices["street"]],
                             title=t.gettext("Override rate by street"), label_width=200,
                             width=640)
    sections = [{"kind": k, "name": t.attribute(k) if k not in ("street", "band") else
                 (t.gettext("Street") if k == "street" else t.gettext("Need band")),
                 "rows": rows} for k, rows in slices.items()]
    return {"as_of": report.get("as_of"), "overall": overall, "sections": sections,
            "chart": chart, "decisions": report.get("decisions", 0),
            "overrides": report.get("overrides", 0), "contests": _contests_view(report, t)}


#: contest statuses and their column headings in the override report
CONTEST_HEADINGS = (("open", N_("Open")), ("upheld", N_("Upheld")),
                    ("rejected", N_("Rejected")), ("data_corrected", N_("Data corrected")))


def _contests_view(report: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Contests by street and status (rows of numbers, a district total)."""
    c = report.get("contests") or {}
    keys = [k for k, _ in CONTEST_HEADINGS]
    totals = c.get("totals") or {}
    return {"headings": [t.gettext(h) for _, h in CONTEST_HEADINGS],
            "total": [t.number(totals.get(k, 0)) for k in keys],
            "count": int(totals.get("contests", 0)),
            "rows": [{"label": t.street(str(r["street"])), "code": r["street"],
                      "counts": [t.number(r.get(k, 0)) for k in keys]}
                     for r in c.get("streets") or []]}


def _excludes_zero(r: Mapping[str, Any]) -> bool:
    """Whether the confirmed-rate difference's interval lies clear of zero (a real gap)."""
    lo, hi = r.get("confirmed_rate_difference_low"), r.get("confirmed_rate_difference_high")
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


#: the coverage report's view lives in :mod:`assist.reports.coverage_view` (re-exported here)
from assist.reports.coverage_view import (  # noqa: E402, F401
    COVERAGE_COUNTS,
    COVERAGE_DEFINITIONS,
    community_rows,
    coverage_definitions,
    coverage_view,
    deprivation_view,
)
