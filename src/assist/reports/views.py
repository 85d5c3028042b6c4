"""Report payloads -> what a report says: rows of formatted cells, out-of-band flags with
their words, confidence intervals, findings and the charts. Pure functions of a payload (the
JSON each report writes and the API serves) and a :class:`Translator`; no I/O.

The one source of a report's content: the serving pages and the stored HTML files
(:mod:`assist.reports.render`) both render these views with the same body templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assist.features import CATALOG
from assist.models.fairness import MAX_RATIO, MIN_RATIO, wilson
from assist.reports import charts
from assist.reports.drift_words import drift_reference, drift_rules, drift_signals
from assist.reports.i18n import N_, Translator

#: rates shown per group, in order (recall and miss rate first: the headline)
FAIRNESS_RATES = ("tpr", "fnr", "base_rate", "selection_rate", "precision")
#: disparities shown per group (ratio to the reference group)
FAIRNESS_RATIOS = ("tpr", "fnr", "selection_rate", "precision")
HEADLINE = ("tpr", "fnr")
#: a group with fewer verified households in need than this is read with care
SMALL_GROUP = 30


@dataclass(frozen=True)
class Cell:
    """One formatted value; ``out`` when outside the band (shown with an icon and words)."""

    text: str
    out: bool = False
    note: str = ""


def _counts(g: Mapping[str, Any]) -> tuple[int, int]:
    """Households in need in the group and those of them selected (from n and its rates)."""
    n, base, tpr = g.get("n") or 0, g.get("base_rate"), g.get("tpr")
    pos = round(base * n) if base is not None else 0
    return pos, round(tpr * pos) if tpr is not None and pos else 0


def _interval(g: Mapping[str, Any], intervals: Mapping[tuple[str, str], Any]) -> tuple[float, float] | None:
    """95 % interval of the group's recall: the report's own, else Wilson from the counts."""
    given = (intervals.get((g["attribute"], str(g["group"]))) or {}).get("tpr")
    if given and given[0] is not None:
        return float(given[0]), float(given[1])
    pos, hit = _counts(g)
    if not pos:
        return None
    lo, hi = wilson([hit], [pos])
    return float(lo.iloc[0]), float(hi.iloc[0])


def audits(payload: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The audits of a fairness payload by label: the model's report holds ``audits``
    (``verified``, ``truth``); an ``assist audit`` result is one audit (label ``""``)."""
    return dict(payload.get("audits") or ({"": payload} if "groups" in payload else {}))


def _fairness_row(g: Mapping[str, Any], ref: str, intervals: Mapping[tuple[str, str], Any],
                  t: Translator) -> dict[str, Any]:
    """One group's row: sizes, rates, recall interval, calibration gap and disparities."""
    flags = set(g.get("flags") or [])
    pos, _ = _counts(g)
    ci = _interval(g, intervals)
    ratios = g.get("disparity") or {}
    band = t.gettext("outside the band")
    return {
        "group": t.group(str(g["group"])), "is_reference": str(g["group"]) == ref,
        "n": t.number(g.get("n") or 0), "positives": t.number(pos), "positives_value": pos,
        "small": pos < SMALL_GROUP, "tpr_value": g.get("tpr"),
        "rates": {m: Cell(t.rate(g.get(m))) for m in FAIRNESS_RATES},
        "ci": t.interval(*ci) if ci else t.gettext("undefined"),
        "calibration": Cell(t.decimal(g.get("calibration_gap"), 3, sign=True)
                            if g.get("calibration_gap") is not None
                            else t.gettext("undefined")),
        "ratios": {m: Cell(t.decimal(ratios.get(m)), m in flags, band) for m in FAIRNESS_RATIOS},
        "flagged": bool(flags & set(HEADLINE)), "other_flags": sorted(flags - set(HEADLINE)),
    }


def _findings(g: Mapping[str, Any], ref: str, band: tuple[float, float],
              t: Translator) -> list[str]:
    """The group's recall / miss-rate flags in words."""
    ratios, attr = g.get("disparity") or {}, str(g["attribute"])
    return [t.gettext("{metric} of {attribute} = {group} is {ratio} × that of {reference} "
                      "(allowed {lo}–{hi})", metric=t.gettext(f"rate {m}"),
                      attribute=t.attribute(attr), group=t.group(str(g["group"])),
                      ratio=t.decimal(ratios.get(m)), reference=t.group(ref),
                      lo=t.decimal(band[0]), hi=t.decimal(band[1]))
            for m in HEADLINE if m in (g.get("flags") or [])]


def fairness_view(audit: Mapping[str, Any], t: Translator, *,
                  min_positives: int = 0) -> dict[str, Any]:
    """Sections per attribute (single attributes first, pairs after) with formatted rows, a
    recall chart per single attribute, and the findings on recall / miss rate: ``findings``
    of groups with at least ``min_positives`` households in need (the report's own findings,
    as in its JSON), ``small_findings`` of smaller groups (too few to judge; read with care)."""
    band = (float(audit.get("min_ratio", MIN_RATIO)), float(audit.get("max_ratio", MAX_RATIO)))
    intervals = {(i["attribute"], str(i["group"])): i for i in audit.get("intervals") or []}
    references = audit.get("reference") or {}
    sections: dict[str, dict[str, Any]] = {}
    findings: list[str] = []
    small: list[str] = []
    for g in audit.get("groups") or []:
        attr = str(g["attribute"])
        ref = str(references.get(attr, ""))
        sec = sections.setdefault(attr, {"attribute": attr, "name": t.attribute(attr),
                                         "reference": t.group(ref), "rows": [],
                                         "pair": " & " in attr})
        row = _fairness_row(g, ref, intervals, t)
        sec["rows"].append(row)
        (findings if row["positives_value"] >= min_positives else small).extend(
            _findings(g, ref, band, t))
    ordered = sorted(sections.values(), key=lambda s: s["pair"])
    for sec in ordered:
        if not sec["pair"]:
            sec["chart"] = charts.hbars(
                [charts.Bar(r["group"], r["tpr_value"] or 0.0, r["rates"]["tpr"].text,
                            highlight=r["flagged"]) for r in sec["rows"]],
                title=t.gettext("Recall by {attribute}", attribute=sec["name"]),
                label_width=150)
    return {"sections": ordered, "findings": findings, "small_findings": small, "band": band,
            "min_positives": min_positives, "n": audit.get("n"), "rule": audit.get("rule")}


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
                "other": t.number(s.get("other", 0)), "households": t.number(s.get("households", 0))}
               for s in report.get("streets") or []]
    return {"as_of": report.get("as_of"),
            "flags": [{"code": f, "name": t.flag(f), "total": t.number(totals.get(f, 0)),
                       "share": t.rate(totals.get(f, 0) / listed) if totals.get("households")
                       else t.gettext("undefined")} for f in flags],
            "households": t.number(totals.get("households", 0)),
            "other": totals.get("other", 0), "streets": streets, "chart": chart,
            "totals": [t.number(totals.get(f, 0)) for f in flags]}


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


#: columns of the coverage table from the coverage report (the single definition)
COVERAGE_COUNTS = ("households", "high_band", "index_poor", "referred", "allocated", "verified",
                   "confirmed", "assisted", "gap_model")
#: what each column of the coverage tables counts: (key of the report's ``definitions``,
#: the column's heading, its definition), the report's English definitions in the catalog's words
COVERAGE_DEFINITIONS: tuple[tuple[str, str, str], ...] = (
    ("in need (model)", N_("In need (high band)"),
     N_("in the model's high need band; “expected in need” is the sum of the need probabilities")),
    ("in need (index)", N_("Poor by the index"),
     N_("poor by the Alkire–Foster deprivation index at k = {k}")),
    ("assisted", N_("Assisted (active grant)"),
     N_("an active grant of any programme at the end of the month (the assistance records), "
        "whether or not a visit confirmed need")),
    ("referred", N_("Referred"),
     N_("a referral candidate or an early-warning flag of the month's snapshot")),
    ("allocated", N_("Allocated this month"), N_("given one of the month's caseworker visits")),
    ("verified", N_("Visited"), N_("a verification visit recorded an outcome this month")),
    ("confirmed", N_("Confirmed on visit"), N_("a verification visit this month confirmed need")),
    ("gap", N_("Gap"), N_("in need (high band) and not assisted; gap rate = gap ÷ in need")),
)
#: a community code is its street's code, "C" and a number (``S01C001``)
_COMMUNITY = re.compile(r"^(?P<street>.+)C\d+$")


def _coverage_row(r: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """One street's or community's counts, gap rates and expected need, formatted."""
    return {"counts": [t.number(r.get(c) or 0) for c in COVERAGE_COUNTS],
            "expected": t.number(r.get("expected_in_need") or 0, 1),
            "gap_rate": t.rate(r.get("gap_model_rate")),
            "gap_index_rate": t.rate(r.get("gap_index_rate")),
            "high_gap": (r.get("gap_model_rate") or 0) > 0.5, "raw": r}


def coverage_view(report: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Street rows and the district total of the coverage report, a chart of need, referrals
    and assistance per street, the trend of the district's gap rate, the community rows, the
    deprivation index by street and the definitions of the columns."""
    rows, total = [], None
    for r in report.get("streets") or []:
        row = {"code": r["street_code"], **_coverage_row(r, t)}
        if r["street_code"] == "(district)":
            total = row
        else:
            row["name"] = t.street(r["street_code"])
            rows.append(row)
    chart = charts.grouped(
        [(r["name"], (r["raw"].get("high_band") or 0, r["raw"].get("referred") or 0,
                      r["raw"].get("assisted") or 0)) for r in rows],
        series=[t.gettext("In need (high band)"), t.gettext("Referred"),
                t.gettext("Assisted (active grant)")],
        title=t.gettext("Coverage by street"), fmt=lambda v: t.number(v))
    trend = [(p["as_of"], p.get("gap_model_rate")) for p in report.get("trend") or []
             if p.get("gap_model_rate") is not None]
    trend_chart = (charts.line(trend, title=t.gettext("District gap rate by month"))
                   if len(trend) > 1 else None)
    deprivation = report.get("deprivation") or {}
    return {"as_of": report.get("as_of"), "rows": rows, "total": total, "chart": chart,
            "trend": trend_chart, "k": deprivation.get("k"),
            "communities": community_rows(report.get("communities") or [], t),
            "deprivation": deprivation_view(deprivation, t),
            "definitions": coverage_definitions(report, t)}


def community_rows(communities: Sequence[Mapping[str, Any]], t: Translator) -> list[dict[str, Any]]:
    """The coverage report's community rows (the district total left out), each with its
    street (from the community's code)."""
    out = []
    for r in communities:
        code = str(r.get("community_code"))
        if code == "(district)":
            continue
        m = _COMMUNITY.match(code)
        out.append({"code": code, "street": t.street(m["street"]) if m else "—",
                    **_coverage_row(r, t)})
    return out


def deprivation_view(deprivation: Mapping[str, Any], t: Translator) -> dict[str, Any] | None:
    """The Alkire–Foster index by street (H, A, M0, share of the district's M0) with the
    district's, and each dimension's share of every street's M0; None without streets."""
    streets = deprivation.get("streets") or []
    if not streets:
        return None
    shares = deprivation.get("dimension_share") or {}
    found = {d for s in shares.values() for d in s}
    dims = [d for d in CATALOG.dimensions if d in found] + sorted(found - set(CATALOG.dimensions))
    rows = [{"name": t.street(str(r["street_code"])), "n": t.number(r.get("n") or 0),
             "H": t.rate(r.get("H")), "A": t.rate(r.get("A")) if r.get("H") else "—",
             "M0": t.decimal(r.get("M0"), 3),
             "contribution": t.rate(r.get("contribution")),
             "shares": [_share((shares.get(str(r["street_code"])) or {}).get(d), t)
                        for d in dims]}
            for r in streets]
    district = deprivation.get("district") or {}
    return {"k": t.decimal(deprivation.get("k"), 2), "rows": rows,
            "dimensions": [t.dimension(d) for d in dims],
            "total": {"n": t.number(sum(r.get("n") or 0 for r in streets)),
                      "H": t.rate(district.get("H")), "A": t.rate(district.get("A")),
                      "M0": t.decimal(district.get("M0"), 3),
                      "contribution": t.rate(1.0) if district.get("M0") else "—"}}


def _share(value: float | None, t: Translator) -> str:
    """A dimension's share of a street's M0; a dash where the street has no poor household."""
    return "—" if value is None else t.rate(value)


def coverage_definitions(report: Mapping[str, Any], t: Translator) -> list[dict[str, str]]:
    """What each column counts, in the language of ``t``; a definition the report adds that
    the catalog does not know yet is shown as the report words it."""
    k = (report.get("deprivation") or {}).get("k")
    out = [{"term": t.gettext(term),
            "text": t.gettext(text, k=t.decimal(k, 2)) if "{k}" in text else t.gettext(text)}
           for _key, term, text in COVERAGE_DEFINITIONS]
    known = {key for key, _term, _text in COVERAGE_DEFINITIONS} | {"scope"}
    out += [{"term": key, "text": str(text)}
            for key, text in (report.get("definitions") or {}).items() if key not in known]
    return out
