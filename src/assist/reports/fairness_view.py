"""What the fairness report says: its findings (harmful first, by severity), per-group rows
with the judged ratios and their intervals, and a recall chart per attribute. A pure function
of an audit's JSON and a :class:`Translator`; the page and the stored HTML both render it with
``report_fairness.html``, and the findings are those stored in the JSON
(:mod:`assist.reports.fairness_findings`), so the three agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from assist.models.fairness import wilson
from assist.reports import charts
from assist.reports.fairness_findings import PAIR_SEP, counts, stored
from assist.reports.i18n import Translator

#: rates shown per group, in order (recall and miss rate first: the headline)
FAIRNESS_RATES = ("tpr", "fnr", "selection_rate", "precision")
#: attributes whose values are street codes (named in words)
STREET_ATTRIBUTES = ("street_code", "street")


def audits(payload: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The audits of a fairness payload by label: the model's report holds ``audits``
    (``verified``, ``truth``); an ``assist audit`` result is one audit (label ``""``)."""
    return dict(payload.get("audits") or ({"": payload} if "groups" in payload else {}))


def group_name(attribute: str, group: str, t: Translator) -> str:
    """A group's name in words (streets by name; pairs joined by "&")."""
    return PAIR_SEP.join(t.street(v) if a in STREET_ATTRIBUTES else t.group(v)
                         for a, v in zip(attribute.split(PAIR_SEP), str(group).split(PAIR_SEP),
                                         strict=False))


def _recall_interval(g: Mapping[str, Any], intervals: Mapping[tuple[str, str], Any],
                     t: Translator) -> str:
    """95 % Wilson interval of the group's recall: the report's own, else from the counts."""
    given = (intervals.get((str(g["attribute"]), str(g["group"]))) or {}).get("tpr")
    if given and given[0] is not None:
        return t.interval(given[0], given[1])
    c = counts(g)
    if not c["positives"]:
        return t.gettext("undefined")
    lo, hi = wilson([c["reached"]], [c["positives"]])
    return t.interval(float(lo.iloc[0]), float(hi.iloc[0]))


def _ratio_text(r: Mapping[str, Any] | None, t: Translator) -> str:
    """``0.62 (0.41–0.93)``: a ratio with its 95 % interval."""
    if not r or r.get("ratio") is None:
        return t.gettext("undefined")
    if r.get("low") is None:
        return t.decimal(r["ratio"])
    return t.gettext("{ratio} ({lo}–{hi})", ratio=t.decimal(r["ratio"]),
                     lo=t.decimal(r["low"]), hi=t.decimal(r["high"]))


def _status(key: tuple[str, str], ref: str, marks: Mapping, ratios: Mapping,
            c: Mapping[str, int], t: Translator) -> dict[str, str]:
    """The group's judgement: reference, harmful, favourable, within the band, not judged."""
    if key[1] == ref:
        return {"kind": "reference", "text": t.gettext("reference")}
    if key in marks:
        kind = marks[key]
        return {"kind": kind, "text": t.gettext(f"judgement {kind}")}
    if key in ratios and not ratios[key]["judged"]:
        return {"kind": "not_judged",
                "text": t.gettext("not judged (n = {n}, in need {pos})", n=t.number(c["n"]),
                                  pos=t.number(c["positives"]))}
    return {"kind": "in_band", "text": t.gettext("judgement in_band")}


#: the counts of a group that open the list of their households (with a ``drill``)
LINKED = ("n", "positives", "reached", "missed")
#: the query of the households behind a count: (attribute, group, count) -> link
Drill = Callable[[str, str, str], str]


def _links(key: tuple[str, str], drill: Drill | None) -> dict[str, str] | None:
    return {c: drill(*key, c) for c in LINKED} if drill is not None else None


def _row(g: Mapping[str, Any], ref: str, ctx: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    """One group's row: sizes (each with the list behind it, where the report keeps it),
    rates, recall interval, judged ratios, status."""
    key = (str(g["attribute"]), str(g["group"]))
    c = counts(g)
    ratio = ctx["ratios"].get(key)
    return {"group": group_name(*key, t), "is_reference": key[1] == ref,
            "links": _links(key, ctx["drill"]),
            "n": t.number(c["n"]), "positives": t.number(c["positives"]),
            "reached": t.number(c["reached"]), "tpr_value": g.get("tpr"),
            "rates": {m: t.rate(g.get(m)) for m in FAIRNESS_RATES},
            "ci": _recall_interval(g, ctx["intervals"], t),
            "calibration": (t.decimal(g.get("calibration_gap"), 3, sign=True)
                            if g.get("calibration_gap") is not None else t.gettext("undefined")),
            "ratios": {m: _ratio_text((ratio or {}).get(m), t) if key[1] != ref else "1.00"
                       for m in ("tpr", "fnr")},
            "status": _status(key, ref, ctx["marks"], ctx["ratios"], c, t)}


def _label(attr: str, group: str, t: Translator) -> str:
    """``attribute: group`` in words."""
    return t.gettext("{attribute}: {group}", attribute=t.attribute(attr),
                     group=group_name(attr, group, t))


def _finding(f: Mapping[str, Any], t: Translator, drill: Drill | None) -> dict[str, Any]:
    """A finding as a row of the findings table."""
    attr, group = str(f["attribute"]), str(f["group"])
    return {"label": _label(attr, group, t), "links": _links((attr, group), drill),
            "reference": group_name(attr, str(f["reference"]), t),
            "metrics": [{"name": t.gettext(f"rate {m['metric']}"), "ratio": _ratio_text(m, t)}
                        for m in f["metrics"]],
            "n": t.number(f["n"]), "positives": t.number(f["positives"]),
            "reached": t.number(f["reached"])}


def fairness_view(audit: Mapping[str, Any], t: Translator, *, min_positives: int = 0,
                  drill: Drill | None = None) -> dict[str, Any]:
    """The findings (harmful and favourable, single attributes apart from pairs, each by
    severity; groups not judged), sections per attribute (single attributes first, pairs
    after) with formatted rows, and a recall chart per single attribute. With ``drill`` (the
    page, where the report keeps its rows), every count carries the query of its households."""
    found = stored(audit, min_positives=min_positives)
    marks = {(f["attribute"], f["group"]): kind
             for kind in ("harmful", "favourable") for f in found[kind]}
    ctx = {"marks": marks, "drill": drill,
           "ratios": {(r["attribute"], r["group"]): r for r in found["ratio_intervals"]},
           "intervals": {(i["attribute"], str(i["group"])): i
                         for i in audit.get("intervals") or []}}
    references = audit.get("reference") or {}
    sections: dict[str, dict[str, Any]] = {}
    for g in audit.get("groups") or []:
        attr = str(g["attribute"])
        ref = str(references.get(attr, ""))
        sec = sections.setdefault(attr, {"attribute": attr, "name": t.attribute(attr),
                                         "reference": group_name(attr, ref, t), "rows": [],
                                         "pair": PAIR_SEP in attr})
        sec["rows"].append(_row(g, ref, ctx, t))
    ordered = sorted(sections.values(), key=lambda s: s["pair"])
    for sec in ordered:
        if not sec["pair"]:
            sec["chart"] = charts.hbars(
                [charts.Bar(r["group"], r["tpr_value"] or 0.0, r["rates"]["tpr"],
                            highlight=r["status"]["kind"] == "harmful") for r in sec["rows"]],
                title=t.gettext("Recall by {attribute}", attribute=sec["name"]),
                label_width=150)
    lists = {f"{kind}_{part}": [_finding(f, t, drill) for f in found[kind]
                                if f["pair"] == (part == "pairs")]
             for kind in ("harmful", "favourable") for part in ("single", "pairs")}
    not_judged = [t.gettext("{group} (n = {n}, in need {pos})",
                            group=_label(x["attribute"], x["group"], t),
                            n=t.number(x["n"]), pos=t.number(x["positives"]))
                  for x in found["not_judged"]]
    band = (found["min_ratio"], found["max_ratio"])
    return {"sections": ordered, **lists, "not_judged": not_judged, "band": band,
            "min_positives": found["min_positives"], "n": audit.get("n"),
            "rule": audit.get("rule"),
            "method": t.gettext("A group is judged when it and its reference group each hold at "
                                "least {min} households in need. A ratio is a finding only when "
                                "its whole 95 % interval (Katz log interval of a ratio of two "
                                "proportions) lies outside {lo}–{hi}; a ratio outside the band "
                                "whose interval reaches into it is chance.",
                                min=t.number(found["min_positives"]), lo=t.decimal(band[0]),
                                hi=t.decimal(band[1]))}
