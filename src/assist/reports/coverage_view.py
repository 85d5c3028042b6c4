"""The coverage report's payload -> what the coverage page and the stored coverage file say:
street and community rows whose every count carries the query of the households behind it,
where the visits, findings and grants come from, the trend per street over the months, the
deprivation index by street, and the definitions. Pure functions of a payload and a
:class:`Translator` (the page turns a count's query into a link; the stored file shows none).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from assist.features import CATALOG
from assist.reports import charts
from assist.reports.i18n import N_, Translator

#: columns of the coverage table from the coverage report (the single definition); the last,
#: the gap, is the model's or the index's by the probabilities' basis (:func:`need_basis`)
COVERAGE_COUNTS = ("households", "high_band", "index_poor", "referred", "allocated", "verified",
                   "confirmed", "assisted", "gap_model")
#: what "in need" and "gap" mean by the basis of the model's probabilities (True: calibrated
#: for the whole district). Probabilities calibrated on visited households overstate need
#: (the visited were chosen because they looked in need): the high band then only ranks,
#: and need and gap are the deprivation index's.
@dataclass(frozen=True)
class NeedBasis:
    need: str  #: the column counting need
    need_label: str
    gap: str  #: the column counting the gap (its heading: MEASURES)
    gap_rate: str


NEED_BASIS: dict[bool, NeedBasis] = {
    True: NeedBasis("high_band", N_("In need (high band)"), "gap_model", "gap_model_rate"),
    False: NeedBasis("index_poor", N_("Poor by the index"), "gap_index", "gap_index_rate"),
}
#: the high band's heading by the basis (population: in need; visited: a ranking only)
HIGH_BAND = {True: N_("In need (high band)"), False: N_("High band (ranking only)")}
#: where visits, findings and grants come from: groups of (column, heading), each source
#: apart, then counted once
SOURCE_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (N_("Visited"), (("verified_records", N_("Department records")),
                     ("verified_decisions", N_("Caseworkers' decisions")),
                     ("verified_both", N_("In both")), ("verified", N_("Counted once")))),
    (N_("Confirmed on visit"), (("confirmed_records", N_("Department records")),
                                ("confirmed_decisions", N_("Caseworkers' decisions")),
                                ("confirmed", N_("Counted")))),
    (N_("Assisted"), (("assisted_records", N_("Assistance records")),
                      ("assisted_decisions", N_("Granted by decisions")),
                      ("assisted", N_("Counted once")))),
)
#: the source columns in order, each named by its group and its own heading
SOURCE_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (c, h) for _, cols in SOURCE_GROUPS for c, h in cols)
#: names of the source columns as lists of households (the list page's heading)
SOURCE_MEASURES: dict[str, str] = {
    "verified_records": N_("Visited: department records"),
    "verified_decisions": N_("Visited: caseworkers' decisions"),
    "verified_both": N_("Visited: in both"),
    "confirmed_records": N_("Confirmed: department records"),
    "confirmed_decisions": N_("Confirmed: caseworkers' decisions"),
    "assisted_records": N_("Assisted: assistance records"),
    "assisted_decisions": N_("Assisted: granted by decisions"),
}
#: every count a coverage figure links to, with its name (the list page's heading)
MEASURES: dict[str, str] = {
    "households": N_("Households"), "high_band": N_("In need (high band)"),
    "index_poor": N_("Poor by the index"), "referred": N_("Referred"),
    "allocated": N_("Allocated this month"), "verified": N_("Visited"),
    "confirmed": N_("Confirmed on visit"), "assisted": N_("Assisted (active grant)"),
    "gap_model": N_("Gap"), "gap_index": N_("Gap (index)"), **SOURCE_MEASURES}
#: the trend's two charts per street, each with its series: (column of the trend rows, name)
TREND_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (N_("Need, referrals and gap"), (("need", N_("In need")), ("referred", N_("Referred")),
                                     ("gap", N_("Gap")))),
    (N_("Visits, findings and grants"), (("verified", N_("Visited")),
                                         ("confirmed", N_("Confirmed on visit")),
                                         ("assisted", N_("Assisted")))),
)
#: what each column of the coverage tables counts: (key of the report's ``definitions``,
#: the column's heading, its definition), the report's English definitions in the catalog's words
COVERAGE_DEFINITIONS: tuple[tuple[str, str, str], ...] = (
    ("in need (model)", N_("In need (high band)"), N_("in the model's high need band")),
    ("in need (index)", N_("Poor by the index"),
     N_("poor by the Alkire–Foster deprivation index at k = {k}")),
    ("assisted", N_("Assisted (active grant)"),
     N_("an active grant of any programme at the end of the month (the assistance records), "
        "or a programme granted by a caseworker's decision on the month's referral (the case "
        "store); a household in both counts once")),
    ("referred", N_("Referred"),
     N_("a referral candidate or an early-warning flag of the month's snapshot")),
    ("allocated", N_("Allocated this month"), N_("given one of the month's caseworker visits")),
    ("verified", N_("Visited"),
     N_("visited this month: a department verification record, or a caseworker's decision on "
        "the month's referral (the case store); a household in both counts once")),
    ("confirmed", N_("Confirmed on visit"),
     N_("a visit this month confirmed need: the caseworker's decision, or, where no decision "
        "was recorded, the department's verification record")),
    ("gap", N_("Gap"), N_("in need (high band) and not assisted; gap rate = gap ÷ in need")),
    ("gap (index)", N_("Gap (index)"),
     N_("poor by the index and not assisted; gap rate = gap ÷ poor by the index")),
    ("high band (visited)", N_("High band (ranking only)"),
     N_("in the model's high need band while its probabilities are calibrated on visited "
        "households: they rank households but overstate how many are in need, so need and "
        "gap are the deprivation index's until the model is calibrated for the whole district")),
    ("expected in need", N_("Expected in need"),
     N_("the sum of the need probabilities, in whole households; given only when the model "
        "was calibrated for the whole district")),
)
#: the definitions each basis's table needs (its columns: :func:`coverage_headings`)
SHOWN_DEFINITIONS: dict[bool, frozenset[str]] = {
    population: frozenset(key for key, _t, _x in COVERAGE_DEFINITIONS) - hidden
    for population, hidden in ((True, {"gap (index)", "high band (visited)"}),
                               (False, {"in need (model)", "gap"}))}
#: a community code is its street's code, "C" and a number (``S01C001``)
_COMMUNITY = re.compile(r"^(?P<street>.+)C\d+$")


def street_of(community: str) -> str | None:
    """The street of a community code (``S01C001`` -> ``S01``); None when it is not one."""
    m = _COMMUNITY.match(community)
    return m["street"] if m else None


def drill(as_of: Any, measure: str, **where: str | None) -> str:  # noqa: ANN401
    """The query of the list of households behind a count (``/coverage/households?...``)."""
    q = {"as_of": as_of, "measure": measure, **{k: v for k, v in where.items() if v}}
    return "/coverage/households?" + urlencode({k: v for k, v in q.items() if v})


def count_columns(population: bool) -> tuple[str, ...]:
    """The coverage table's count columns: :data:`COVERAGE_COUNTS` with the gap of
    :data:`NEED_BASIS`."""
    return (*COVERAGE_COUNTS[:-1], NEED_BASIS[population].gap)


def coverage_headings(population: bool, t: Translator) -> list[str]:
    """The headings of the coverage table's columns after the place (counts, gap rate,
    expected need), by the probabilities' basis."""
    named = {"high_band": HIGH_BAND[population]}  # the gap's own name is in MEASURES
    heads = [named.get(c, MEASURES[c]) for c in count_columns(population)]
    rate = N_("Gap rate") if population else N_("Gap rate (index)")
    return [t.gettext(h) for h in (*heads, rate, N_("Expected in need"))]


def _coverage_row(r: Mapping[str, Any], t: Translator, as_of: Any, population: bool,
                  **where: str | None) -> dict[str, Any]:
    """One street's or community's counts (each with its drill-down query), gap rate and
    expected need, formatted (the gap: the model's or the index's, :data:`NEED_BASIS`)."""
    expected = r.get("expected_in_need")
    cols = count_columns(population)
    rate = r.get(NEED_BASIS[population].gap_rate)
    return {"counts": [t.number(r.get(c) or 0) for c in cols],
            "links": [drill(as_of, c, **where) for c in cols],
            "expected": t.number(expected) if expected is not None else "—",
            "gap_rate": t.rate(rate),
            "high_gap": population and (rate or 0) > 0.5, "raw": r}


def _street_code(code: str) -> str | None:
    return None if code == "(district)" else code


def coverage_view(report: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Street rows and the district total of the coverage report (each count with the query
    of its households), a chart of need, referrals and assistance per street, where visits
    and grants come from, the trend per street, the community rows, the deprivation index by
    street and the definitions of the columns."""
    as_of = report.get("as_of")
    population = report.get("probability_basis") == "population"
    rows, total = [], None
    for r in report.get("streets") or []:
        code = str(r["street_code"])
        row = {"code": code, **_coverage_row(r, t, as_of, population,
                                              street=_street_code(code))}
        if code == "(district)":
            total = row
        else:
            row["name"] = t.street(code)
            rows.append(row)
    need, need_label = NEED_BASIS[population].need, NEED_BASIS[population].need_label
    chart = charts.grouped(
        [(r["name"], (r["raw"].get(need) or 0, r["raw"].get("referred") or 0,
                      r["raw"].get("assisted") or 0)) for r in rows],
        series=[t.gettext(need_label), t.gettext("Referred"),
                t.gettext("Assisted (active grant)")],
        title=t.gettext("Coverage by street"), fmt=lambda v: t.number(v))
    deprivation = report.get("deprivation") or {}
    return {"as_of": as_of, "rows": rows, "total": total, "chart": chart,
            "k": deprivation.get("k"), "population": population,
            "headings": coverage_headings(population, t),
            "sources": sources_view(report, t), "trend": trend_view(report, t),
            "decisions": report.get("decisions"),
            "communities": community_rows(report.get("communities") or [], t, as_of,
                                          population),
            "deprivation": deprivation_view(deprivation, t, as_of),
            "definitions": coverage_definitions(report, t)}


def sources_view(report: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """Per street and the district: visits, findings and grants by source and counted once."""
    as_of = report.get("as_of")
    rows = []
    for r in report.get("streets") or []:
        code = str(r["street_code"])
        rows.append({"name": t.gettext("District") if code == "(district)" else t.street(code),
                     "district": code == "(district)",
                     "cells": [(t.number(r.get(c) or 0),
                                drill(as_of, c, street=_street_code(code)))
                               for c, _ in SOURCE_COLUMNS]})
    return {"groups": [(t.gettext(g), len(cols)) for g, cols in SOURCE_GROUPS],
            "headings": [t.gettext(h) for _, h in SOURCE_COLUMNS], "rows": rows}


def _trend_value(row: Mapping[str, Any], key: str, population: bool) -> float | None:
    """A trend row's value of a series: need and gap by the expected count where the model
    describes the whole district, else by the deprivation index."""
    if key == "need":
        key = "expected_in_need" if population else "index_poor"
    elif key == "gap":
        key = "expected_gap" if population else "gap_index"
    v = row.get(key)
    return None if v is None else float(v)


def trend_view(report: Mapping[str, Any], t: Translator) -> list[dict[str, Any]]:
    """A chart per street (the district first) of need, referred, visited, confirmed,
    assisted and gap over the report's months (a month without its own snapshot shows
    visits, findings and grants only)."""
    population = report.get("probability_basis") == "population"
    months = [m for m in report.get("trend") or [] if m.get("streets")]
    if not months:
        return []
    codes = sorted({str(r["street_code"]) for m in months for r in m["streets"]},
                   key=lambda c: (c != "(district)", c))
    out = []
    for code in codes:
        by_month = [next((r for r in m["streets"] if str(r["street_code"]) == code), {})
                    for m in months]
        name = t.gettext("District") if code == "(district)" else t.street(code)
        charts_, offset = [], 0
        for panel, series in TREND_PANELS:
            charts_.append(charts.lines(
                [str(m["as_of"]) for m in months],
                [(t.gettext(label), [_trend_value(r, key, population) for r in by_month])
                 for key, label in series],
                title=f"{name}: {t.gettext(panel)}", width=420, offset=offset,
                fmt=lambda v: t.number(v)))
            offset += len(series)
        out.append({"name": name, "charts": charts_})
    return out


def community_rows(communities: Sequence[Mapping[str, Any]], t: Translator,
                   as_of: Any = None, population: bool = False) -> list[dict[str, Any]]:
    """The coverage report's community rows (the district total left out), each with its
    street (from the community's code)."""
    out = []
    for r in communities:
        code = str(r.get("community_code"))
        if code == "(district)":
            continue
        street = street_of(code)
        out.append({"code": code, "street": t.street(street) if street else "—",
                    **_coverage_row(r, t, as_of, population, community=code)})
    return out


def deprivation_view(deprivation: Mapping[str, Any], t: Translator,
                     as_of: Any = None) -> dict[str, Any] | None:
    """The Alkire–Foster index by street (H, A, M0, share of the district's M0) with the
    district's, and each dimension's share of every street's M0; None without streets."""
    streets = deprivation.get("streets") or []
    if not streets:
        return None
    shares = deprivation.get("dimension_share") or {}
    found = {d for s in shares.values() for d in s}
    dims = [d for d in CATALOG.dimensions if d in found] + sorted(found - set(CATALOG.dimensions))
    rows = [{"name": t.street(str(r["street_code"])), "n": t.number(r.get("n") or 0),
             "link": drill(as_of, "households", street=str(r["street_code"])),
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
    shown = SHOWN_DEFINITIONS[report.get("probability_basis") == "population"]
    out = [{"term": t.gettext(term),
            "text": t.gettext(text, k=t.decimal(k, 2)) if "{k}" in text else t.gettext(text)}
           for key, term, text in COVERAGE_DEFINITIONS if key in shown]
    known = {key for key, _term, _text in COVERAGE_DEFINITIONS} | {"scope", "gap"}
    out += [{"term": key, "text": str(text)}
            for key, text in (report.get("definitions") or {}).items() if key not in known]
    return out
