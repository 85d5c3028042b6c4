"""Words of the drift report: per indicator three signals (change of the missing share, shift
of the mean or a percentile, PSI), each with its level, and the reference in words. Pure
functions of a payload row and a :class:`Translator`, used by
:func:`assist.reports.views.drift_view`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assist.reports.i18n import N_, Translator

#: words of the statistic that moved most (drift's ``shift_stat``)
SHIFT_STAT_WORDS = {"mean": N_("the mean"), "p10": N_("the 10th percentile"),
                    "p50": N_("the median"), "p90": N_("the 90th percentile")}
_TRAINING = re.compile(r"training data of (\S+)(?: \((\d{4}-\d{2})\))?")


def drift_reference(info: Mapping[str, Any] | None, label: str | None, t: Translator) -> str:
    """The reference of a drift comparison in words: a month, or a model's training data."""
    info = dict(info or {})
    if not info and label and (m := _TRAINING.match(label)):
        info = {"kind": "training", "model": m.group(1), "month": m.group(2)}
    if info.get("kind") == "training":
        if info.get("month"):
            return t.gettext("training data of model {model} ({month})", model=info.get("model"),
                             month=info["month"])
        return t.gettext("training data of model {model}", model=info.get("model"))
    return str(info.get("month") or label or "—")


def drift_signals(r: Mapping[str, Any], t: Translator, prefix: str = "") -> dict[str, Any]:
    """The three signals of a drift row (``prefix``: ``previous_`` for last month's)."""
    def get(key: str) -> Any:
        return r.get(prefix + key)

    change = get("missing_change")
    stat = get("shift_stat")
    moved = get("shift")
    shift = (t.gettext("no change") if get("shift_level") == "stable" and not stat else
             t.gettext("{stat}: {value} IQR", stat=t.gettext(SHIFT_STAT_WORDS.get(stat, stat)),
                       value=t.decimal(moved, 2, sign=True) if moved is not None else "∞"))
    return {"verdict": get("verdict") or get("level") or "undefined",
            "missing": t.gettext("{reference} → {current}", reference=t.rate(
                get("reference_missing")), current=t.rate(get("current_missing"))),
            "missing_change": t.gettext("{value} percentage points", value=t.decimal(
                None if change is None else change * 100, 1, sign=True)),
            "missing_level": get("missing_level") or "undefined",
            "shift": shift, "shift_level": get("shift_level") or "undefined",
            "psi": t.decimal(get("psi"), 3), "psi_value": get("psi"),
            "level": get("level") or "undefined",
            "reference_mean": t.decimal(get("reference_mean"), 2),
            "current_mean": t.decimal(get("current_mean"), 2)}


def drift_rules(th: Mapping[str, float], t: Translator) -> str:
    """The declared thresholds of the three signals in one sentence."""
    return t.gettext(
        "Each indicator has three signals; its verdict is the worst. Missing share: a change of "
        "{mw} percentage points or more is watched, {ma} or more acted on. Shift: the mean or "
        "the 10th, 50th or 90th percentile moving by {sw} or more of the reference's "
        "interquartile range (IQR) is watched, {sa} or more acted on. PSI: {pw} watched, {pa} "
        "acted on.", mw=t.decimal(th["missing_watch"] * 100, 0),
        ma=t.decimal(th["missing_act"] * 100, 0), sw=t.decimal(th["shift_watch"], 2),
        sa=t.decimal(th["shift_act"], 2), pw=t.decimal(th["watch"]), pa=t.decimal(th["act"]))
