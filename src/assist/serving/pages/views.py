"""Report payloads -> what the manager pages print: rows of formatted cells, out-of-band flags
with their words, confidence intervals, and the charts. Pure functions of a payload (the JSON
of :mod:`assist.serving.services.reports`) and a :class:`Translator`; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assist.models.fairness import MAX_RATIO, MIN_RATIO, wilson
from assist.serving.pages import charts
from assist.serving.pages.i18n import Translator

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


def fairness_view(audit: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Sections per attribute (single attributes first, pairs after) with formatted rows, the
    findings on recall / miss rate and a recall chart per single attribute."""
    lo_r = float(audit.get("min_ratio", MIN_RATIO))
    hi_r = float(audit.get("max_ratio", MAX_RATIO))
    band = t.gettext("outside the band")
    intervals = {(i["attribute"], str(i["group"])): i for i in audit.get("intervals") or []}
    references = audit.get("reference") or {}
    sections: dict[str, dict[str, Any]] = {}
    findings = []
    for g in audit.get("groups") or []:
        attr = str(g["attribute"])
        ref = str(references.get(attr, ""))
        sec = sections.setdefault(attr, {"attribute": attr, "name": t.attribute(attr),
                                         "reference": t.group(ref), "rows": [],
                                         "pair": " & " in attr})
        flags = set(g.get("flags") or [])
        pos, _ = _counts(g)
        ci = _interval(g, intervals)
        ratios = g.get("disparity") or {}
        row = {
            "group": t.group(str(g["group"])), "is_reference": str(g["group"]) == ref,
            "n": t.number(g.get("n") or 0), "positives": t.number(pos),
            "small": pos < SMALL_GROUP, "tpr_value": g.get("tpr"),
            "rates": {m: Cell(t.rate(g.get(m))) for m in FAIRNESS_RATES},
            "ci": t.gettext("{lo}–{hi}", lo=t.rate(ci[0]), hi=t.rate(ci[1])) if ci
            else t.gettext("undefined"),
            "calibration": Cell(t.decimal(g.get("calibration_gap"), 3, sign=True)
                                if g.get("calibration_gap") is not None
                                else t.gettext("undefined")),
            "ratios": {m: Cell(t.decimal(ratios.get(m)), m in flags, band) for m in FAIRNESS_RATIOS},
            "flagged": bool(flags & set(HEADLINE)), "other_flags": sorted(flags - set(HEADLINE)),
        }
        sec["rows"].append(row)
        for m in HEADLINE:
            if m in flags:
                findings.append(t.gettext(
                    "{metric} of {attribute} = {group} is {ratio} × that of {reference} "
                    "(allowed {lo}–{hi})", metric=t.gettext(f"rate {m}"),
                    attribute=t.attribute(attr), group=t.group(str(g["group"])),
                    ratio=t.decimal(ratios.get(m)), reference=t.group(ref),
                    lo=t.decimal(lo_r), hi=t.decimal(hi_r)))
    ordered = sorted(sections.values(), key=lambda s: s["pair"])
    for sec in ordered:
        if not sec["pair"]:
            sec["chart"] = charts.hbars(
                [charts.Bar(r["group"], r["tpr_value"] or 0.0, r["rates"]["tpr"].text,
                            highlight=r["flagged"]) for r in sec["rows"]],
                title=t.gettext("Recall by {attribute}", attribute=sec["name"]),
                label_width=150)
    return {"sections": ordered, "findings": findings, "band": (lo_r, hi_r),
            "n": audit.get("n"), "rule": audit.get("rule")}


def drift_view(report: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Rows per indicator and score (score first), PSI with its level, and a PSI chart."""
    th = report.get("thresholds") or {"watch": 0.1, "act": 0.25}
    rows = []
    for r in report.get("features") or []:
        feature = str(r["feature"])
        is_score = feature.startswith("score")
        name = t.gettext("Need score") if is_score else t.indicator(feature)
        rows.append({"name": name, "code": feature.split(" ")[0], "is_score": is_score,
                     "psi": t.decimal(r.get("psi"), 3), "psi_value": r.get("psi"),
                     "level": r.get("level", "undefined"),
                     "reference_mean": t.decimal(r.get("reference_mean"), 2),
                     "current_mean": t.decimal(r.get("current_mean"), 2),
                     "missing": t.rate(r.get("current_missing"))})
    top = th["act"] * 2.4  # larger values run to the edge; their number is printed
    chart = charts.hbars([charts.Bar(r["name"], r["psi_value"] or 0.0, r["psi"],
                                     highlight=r["level"] == "act") for r in rows],
                         title=t.gettext("Population stability index (PSI)"), maximum=top,
                         label_width=230, width=720,
                         marks=[(th["watch"], t.gettext("level watch")),
                                (th["act"], t.gettext("level act"))])
    counts = {lvl: sum(r["level"] == lvl for r in rows) for lvl in ("act", "watch")}
    return {"rows": rows, "chart": chart, "thresholds": th, "counts": counts}


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
    return {"flags": [{"code": f, "name": t.flag(f), "total": t.number(totals.get(f, 0)),
                       "share": t.rate(totals.get(f, 0) / listed) if totals.get("households")
                       else t.gettext("undefined")} for f in flags],
            "households": t.number(totals.get("households", 0)),
            "other": totals.get("other", 0), "streets": streets, "chart": chart,
            "totals": [t.number(totals.get(f, 0)) for f in flags]}


def _ci(r: Mapping[str, Any], key: str, t: Translator) -> str:
    lo, hi = r.get(f"{key}_low"), r.get(f"{key}_high")
    if lo is None or hi is None:
        return ""
    return t.gettext("{lo}–{hi}", lo=t.rate(lo), hi=t.rate(hi))


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
    return {"overall": overall, "sections": sections, "chart": chart,
            "decisions": report.get("decisions", 0), "overrides": report.get("overrides", 0)}


def _excludes_zero(r: Mapping[str, Any]) -> bool:
    """Whether the confirmed-rate difference's interval lies clear of zero (a real gap)."""
    lo, hi = r.get("confirmed_rate_difference_low"), r.get("confirmed_rate_difference_high")
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


#: columns of the coverage table from the coverage report (the single definition)
COVERAGE_COUNTS = ("households", "high_band", "index_poor", "referred", "allocated", "verified",
                   "confirmed", "assisted", "gap_model")


def coverage_view(report: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Street rows and the district total of the coverage report, a chart of need, referrals
    and assistance per street, and the trend of the district's gap rate."""
    rows, total = [], None
    for r in report.get("streets") or []:
        row = {"code": r["street_code"], "counts": [t.number(r.get(c) or 0) for c in COVERAGE_COUNTS],
               "expected": t.number(r.get("expected_in_need") or 0, 1),
               "gap_rate": t.rate(r.get("gap_model_rate")),
               "gap_index_rate": t.rate(r.get("gap_index_rate")),
               "high_gap": (r.get("gap_model_rate") or 0) > 0.5, "raw": r}
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
    return {"rows": rows, "total": total, "chart": chart, "trend": trend_chart,
            "k": (report.get("deprivation") or {}).get("k")}
