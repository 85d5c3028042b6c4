"""The findings of a fairness audit: which groups are reached less (or more) often than their
reference group beyond chance, computed once from an audit's JSON and stored with it.

The page, the stored HTML and the JSON of a fairness report all show what :func:`judge`
returns (the report writers store it as the audit's ``findings``; the view reads it back), so
they list the same findings in the same order.

Rules (the promotion gate's, :func:`assist.experiments.registry.recall_disparity`):

- Only recall (TPR) and its complement, the miss rate (FNR), are judged: for social
  assistance the harm is being missed.
- A group is judged when it and its reference group each hold at least ``min_positives``
  households in need; smaller groups are listed as *not judged* with their sizes.
- The ratio of a group's rate to its reference group's has a 95 % Katz log interval
  (:func:`assist.models.fairness.ratio_interval`); a metric is a finding only when that whole
  interval lies outside the band (0.8–1.25 by default). A point ratio outside the band whose
  interval reaches into it is chance, not a finding.
- Lower recall or higher miss rate is *harmful*; higher recall or lower miss rate is
  *favourable*. Each list is sorted by severity: how far the interval's nearer end lies from
  the band, on the log scale (a ratio of 0.4 is as far below as 2.5 is above).
- Counts come from the audit's rates (``pos = n × base_rate``, ``reached = pos × tpr``, exact
  for rates computed from counts), so older stored reports are judged alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from assist.models.fairness import MAX_RATIO, MIN_RATIO, AuditResult, ratio_interval

#: the judged metrics: name -> the count whose share of the group's households in need it is,
#: and the side of the band that harms the group
JUDGED: dict[str, tuple[str, str]] = {"tpr": ("reached", "low"), "fnr": ("missed", "high")}
METHOD = ("95 % Katz log interval of the ratio of the group's rate to its reference group's; "
          "a finding when the whole interval lies outside the band")
PAIR_SEP = " & "


def audit_json(result: AuditResult) -> dict[str, Any]:
    """An audit as the fairness report stores it, before its findings: ``to_dict()`` plus the
    Wilson intervals of the rates, the selection rule and the parity band."""
    return {**result.to_dict(), "intervals": result.intervals(), "rule": result.rule,
            "min_ratio": result.min_ratio, "max_ratio": result.max_ratio}


def with_findings(result: AuditResult, *, min_positives: int) -> dict[str, Any]:
    """An audit as the fairness report stores it: :func:`audit_json` and its findings."""
    audit = audit_json(result)
    return {**audit, "findings": judge(audit, min_positives=min_positives)}


def counts(g: Mapping[str, Any]) -> dict[str, int]:
    """Households, households in need, and those of them reached and missed by the list."""
    n = int(g.get("n") or 0)
    base, tpr = g.get("base_rate"), g.get("tpr")
    pos = round(float(base) * n) if base is not None else 0
    reached = round(float(tpr) * pos) if tpr is not None and pos else 0
    return {"n": n, "positives": pos, "reached": reached, "missed": pos - reached}


def _side(low: float | None, high: float | None, band: tuple[float, float]) -> str | None:
    """``low`` / ``high`` when the whole interval lies below / above the band, else None."""
    if low is None or high is None:
        return None
    return "low" if high < band[0] else "high" if low > band[1] else None


def _severity(low: float, high: float, side: str, band: tuple[float, float]) -> float:
    """Log distance of the interval's nearer end from the band (> 0 for a finding)."""
    return math.log(band[0] / high) if side == "low" else math.log(low / band[1])


def _metric(c: Mapping[str, int], ref: Mapping[str, int], metric: str,
            band: tuple[float, float]) -> dict[str, Any]:
    """One judged metric of a group: its ratio to the reference, interval and side."""
    key = JUDGED[metric][0]
    a, n, b, m = c[key], c["positives"], ref[key], ref["positives"]
    ratio = (a / n) / (b / m) if n and m and b else None
    low, high = ratio_interval(a, n, b, m)
    side = _side(low, high, band)
    return {"metric": metric, "ratio": ratio, "low": low, "high": high, "side": side,
            "severity": _severity(low, high, side, band) if side else 0.0}


def _by_attribute(groups: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Mapping]]:
    out: dict[str, dict[str, Mapping]] = {}
    for g in groups:
        out.setdefault(str(g["attribute"]), {})[str(g["group"])] = g
    return out


def judge(audit: Mapping[str, Any], *, min_positives: int) -> dict[str, Any]:
    """The audit's findings (see the module docstring)::

        {"method", "min_positives", "min_ratio", "max_ratio",
         "harmful": [finding], "favourable": [finding],
         "not_judged": [{"attribute", "group", "n", "positives"}],
         "ratio_intervals": [{"attribute", "group", "reference", "judged",
                              "tpr": {"ratio", "low", "high"}, "fnr": {...}}]}

    A finding: ``{"attribute", "group", "pair", "reference", "n", "positives", "reached",
    "severity", "metrics": [{"metric", "ratio", "low", "high"}]}`` (its metrics outside the band).
    """
    band = (float(audit.get("min_ratio", MIN_RATIO)), float(audit.get("max_ratio", MAX_RATIO)))
    references = audit.get("reference") or {}
    out: dict[str, Any] = {"method": METHOD, "min_positives": int(min_positives),
                           "min_ratio": band[0], "max_ratio": band[1], "harmful": [],
                           "favourable": [], "not_judged": [], "ratio_intervals": []}
    for attr, groups in _by_attribute(audit.get("groups") or []).items():
        ref_name = str(references.get(attr, ""))
        ref = counts(groups[ref_name]) if ref_name in groups else None
        for name, g in groups.items():
            c = counts(g)
            if name == ref_name or ref is None:
                continue
            judged = min(c["positives"], ref["positives"]) >= min_positives
            metrics = [_metric(c, ref, m, band) for m in JUDGED]
            out["ratio_intervals"].append(
                {"attribute": attr, "group": name, "reference": ref_name, "judged": judged,
                 **{m["metric"]: {k: m[k] for k in ("ratio", "low", "high")} for m in metrics}})
            if not judged:
                out["not_judged"].append({"attribute": attr, "group": name, "n": c["n"],
                                          "positives": c["positives"]})
                continue
            outside = [m for m in metrics if m["side"]]
            if not outside:
                continue
            harmful = any(m["side"] == JUDGED[m["metric"]][1] for m in outside)
            out["harmful" if harmful else "favourable"].append(
                {"attribute": attr, "group": name, "pair": PAIR_SEP in attr,
                 "reference": ref_name, "n": c["n"], "positives": c["positives"],
                 "reached": c["reached"], "severity": max(m["severity"] for m in outside),
                 "metrics": [{k: m[k] for k in ("metric", "ratio", "low", "high")}
                             for m in outside]})
    for key in ("harmful", "favourable"):
        out[key].sort(key=lambda f: (-f["severity"], f["pair"], f["attribute"], f["group"]))
    return out


def stored(audit: Mapping[str, Any], *, min_positives: int) -> dict[str, Any]:
    """The audit's stored findings (written by :func:`judge`, with their own minimum), else
    judged now with ``min_positives`` (reports written before findings were stored)."""
    found = audit.get("findings")
    if isinstance(found, Mapping) and "harmful" in found:
        return dict(found)
    return judge(audit, min_positives=min_positives)
