"""The referral list's filter codes, declared once with their Chinese and English names:
distress cause, early-warning flag, matched programme and need band. The API declares them as
enums (an unknown value is a 422 naming the field and the allowed values; the OpenAPI schema
lists them) and the pages build their filter menus and legends from the same tables."""

from __future__ import annotations

from functools import cache
from typing import Literal

from assist.features.bilingual import Label
from assist.features.codes import CAUSES, PROGRAMMES
from assist.models.matching import load_rules
from assist.models.warning import FLAG_LABELS, FLAGS
from assist.serving.services.snapshots import DELISTED


@cache
def programme_names() -> dict[str, Label]:
    """Programme code -> its names (Chinese official name; English from the rule table)."""
    table = load_rules()
    english = {p.code: p.name_en for p in table.programmes}
    return {code: Label(zh=zh, en=english.get(code, code)) for code, zh in PROGRAMMES.items()}


BAND_NAMES: dict[str, Label] = {"high": Label(zh="高", en="high"),
                                "medium": Label(zh="中", en="medium"),
                                "low": Label(zh="低", en="low")}
#: filter -> code -> names (programmes are read from the rule table on first use)
CAUSE_NAMES: dict[str, Label] = CAUSES
#: early-warning flags, and the mark of a decided household a re-scored month no longer lists
FLAG_NAMES: dict[str, Label] = {
    **{f: FLAG_LABELS[f] for f in FLAGS},
    DELISTED: Label(zh="本月新版本不再列入（保留已记录的处理结果）",
                    en="no longer listed by this month's new revision (decision kept)")}

CauseCode = Literal[tuple(CAUSES)]  # type: ignore[valid-type]
FlagCode = Literal[tuple(FLAG_NAMES)]  # type: ignore[valid-type]
ProgrammeCode = Literal[tuple(PROGRAMMES)]  # type: ignore[valid-type]
BandCode = Literal[tuple(BAND_NAMES)]  # type: ignore[valid-type]


def describe(names: dict[str, Label]) -> str:
    """``code = 中文 / English`` for every code, for the OpenAPI description of a filter."""
    return "; ".join(f"{c} = {n.zh} / {n.en}" for c, n in names.items())


def choices(names: dict[str, Label], lang: str) -> list[tuple[str, str]]:
    """``(code, name)`` pairs of a filter menu in ``lang``."""
    return [(c, n.text(lang)) for c, n in names.items()]
