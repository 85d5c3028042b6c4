"""Indicator values in words: units, cut-offs and the special cases of a sentence.

A sentence template (``sentence_en`` / ``sentence_zh`` of a catalog entry) reads well for an
ordinary value. Three cases need their own words, declared per indicator in
:class:`Phrases`: no value at all (``missing``: "无收入记录"), a value of zero where the
template would print "0.0倍" (``zero``: "无申报收入"), and a ratio at the cap the feature
code clips it to (``cap``, ``over``: "教育支出超过收入的10倍" instead of "1000%").

:func:`value_words` and :func:`cutoff_words` give an indicator's value and its deprivation
cut-off with their unit, in Chinese or English ("收入的50%" / "50% of income", "高于收入的50%"
/ "above 50% of income"), from the catalog's ``unit`` codes (:data:`UNITS`); a unit not
listed there (a district's own YAML catalog) is printed as it is declared.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Lang = Literal["en", "zh"]


@dataclass(frozen=True)
class Phrases:
    """An indicator's sentences for the values its template does not read well for.

    Each is optional; ``over_*`` are formatted with ``{cap}`` and apply from ``cap`` up (the
    value the feature code clips a ratio to).
    """

    missing_en: str | None = None
    missing_zh: str | None = None
    zero_en: str | None = None
    zero_zh: str | None = None
    cap: float | None = None
    over_en: str | None = None
    over_zh: str | None = None

    def special(self, value: float | None, lang: Lang) -> str | None:
        """This indicator's own sentence for ``value``, or ``None`` when the template applies."""
        zh = lang == "zh"
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.missing_zh if zh else self.missing_en
        if self.cap is not None and value >= self.cap:
            text = self.over_zh if zh else self.over_en
            return text.format(cap=_g(self.cap)) if text else None
        if value == 0:
            return self.zero_zh if zh else self.zero_en
        return None


def _g(x: float) -> str:
    """A number without needless decimals (10, 0.5, 12.5)."""
    return f"{x:g}"


def _pct(x: float) -> str:
    return f"{x:.0%}"


@dataclass(frozen=True)
class Unit:
    """How a value of one unit reads (``en``/``zh`` format a number) and whether it counts."""

    en: Callable[[float], str]
    zh: Callable[[float], str]
    #: whole numbers (persons, days): "above 0" reads "at least 1"
    whole: bool = False


def _count(en: str, zh: str, one: str) -> Unit:
    return Unit(en=lambda v: f"{v:.0f} {one if v == 1 else en}", zh=lambda v: f"{v:.0f}{zh}",
                whole=True)


#: the catalog's unit codes and how their values read
UNITS: dict[str, Unit] = {
    "× line": Unit(en=lambda v: f"{v:.2g}× the minimum-living line",
                   zh=lambda v: f"低保标准的{v:.2g}倍"),
    "× income": Unit(en=lambda v: f"{_pct(v)} of income", zh=lambda v: f"收入的{_pct(v)}"),
    "share": Unit(en=_pct, zh=_pct),
    "months": _count("months", "个月", "month"),
    "days": _count("days", "天", "day"),
    "persons": _count("persons", "人", "person"),
    "children": _count("children", "名儿童", "child"),
    "stays": _count("stays", "次", "stay"),
    "count": _count("times", "次", "time"),
    "m²": Unit(en=lambda v: f"{v:.1f} m²", zh=lambda v: f"{v:.1f}平方米"),
    "score 0-3": Unit(en=lambda v: f"{v:.0f} of 3", zh=lambda v: f"{v:.0f}分（满分3分）",
                      whole=True),
    "ratio": Unit(en=lambda v: f"{v:.2g}", zh=lambda v: f"{v:.2g}"),
}
YES_NO = "yes/no"


def _unit(ind: Any) -> Unit:  # noqa: ANN401 - a catalog Indicator (no import: no cycle)
    known = UNITS.get(ind.unit)
    if known is not None:
        return known
    suffix = f" {ind.unit}" if ind.unit else ""
    return Unit(en=lambda v: f"{v:.3g}{suffix}", zh=lambda v: f"{v:.3g}{suffix}")


def value_words(ind: Any, value: float | None, lang: Lang) -> str:  # noqa: ANN401
    """One household's value of ``ind`` with its unit ("无记录" / "no record" when missing)."""
    zh = lang == "zh"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "无记录" if zh else "no record"
    if ind.unit == YES_NO:
        return ("是" if value >= 0.5 else "否") if zh else ("yes" if value >= 0.5 else "no")
    phrases = getattr(ind, "phrases", None)
    if phrases is not None and phrases.cap is not None and value >= phrases.cap:
        cap = _unit(ind).zh(phrases.cap) if zh else _unit(ind).en(phrases.cap)
        return f"超过{cap}" if zh else f"more than {cap}"
    u = _unit(ind)
    return u.zh(value) if zh else u.en(value)


def cutoff_words(ind: Any, lang: Lang) -> str:  # noqa: ANN401
    """When a household counts as deprived on ``ind``, in words ("高于收入的50%")."""
    zh = lang == "zh"
    if ind.unit == YES_NO:
        return "是" if zh else "yes"
    u = _unit(ind)
    if u.whole and ind.direction == 1:
        least = math.floor(ind.cutoff) + 1
        return f"至少{u.zh(least)}" if zh else f"at least {u.en(least)}"
    text = u.zh(ind.cutoff) if zh else u.en(ind.cutoff)
    if ind.direction == 1:
        return f"高于{text}" if zh else f"above {text}"
    return f"低于{text}" if zh else f"below {text}"
