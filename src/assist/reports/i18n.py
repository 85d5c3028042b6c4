"""Translations and value formatters of the reports and the pages: one :class:`Translator`
per language (``gettext``, numbers, percentages, intervals, names of the district's codes).

Message ids are English; ``zh`` (the default) translates them, ``en`` falls back to the id.
The one Babel catalog per language is read from its ``.po`` file (no compiled ``.mo`` to keep
in sync) under :data:`CATALOG_DIR` (``src/assist/i18n``, the neutral home of the catalogs of
the pages and the reports; ``babel.cfg`` there says how they are extracted); numbers are
formatted with Babel's locale data. The serving pages build their translators here once per
app; the stored reports build them per document.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from assist.features import CATALOG
from assist.features.attributes import ATTRIBUTE_NAMES, GROUP_VALUE_NAMES
from assist.features.bilingual import Label
from assist.features.codes import PROGRAMMES, STREETS, cause_label
from assist.models.matching import load_rules
from assist.models.warning import FLAG_LABELS

#: early-warning flag -> its names, as the warning model names them
FLAG_NAMES: dict[str, Label] = FLAG_LABELS

#: household attributes compared by the fairness audit -> names (declared with the attributes)
ATTRIBUTES: dict[str, Label] = ATTRIBUTE_NAMES
#: group values of those attributes -> names; others are shown as they are
GROUP_VALUES: dict[str, Label] = GROUP_VALUE_NAMES
INTERSECTION_SEP = " & "
#: the message catalogs of the pages and the reports (``<lang>/LC_MESSAGES/messages.po``,
#: ``messages.pot``, ``babel.cfg``): data files of the package, read by both
CATALOG_DIR = Path(__file__).resolve().parent.parent / "i18n"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
#: Babel locales used for number formatting
LOCALES = {"zh": "zh_Hans_CN", "en": "en_GB"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


#: message ids the templates build from codes (``_("band " ~ band)``): declared here so the
#: catalog test can check each has a translation
DYNAMIC: tuple[str, ...] = (
    *(f"role {r}" for r in ("caseworker", "lead", "manager", "data_scientist", "admin")),
    *(f"band {b}" for b in ("high", "medium", "low")),
    *(f"status {s}" for s in ("open", "confirmed", "not_in_need", "unreachable", "declined",
                              "contested")),
    *(f"rating {r}" for r in ("good", "bad")),
    *(f"rate {m}" for m in ("tpr", "fnr")),
    *(f"audit {a}" for a in ("verified", "truth", "live")),
    *(f"judgement {j}" for j in ("harmful", "favourable", "in_band")),
    *(f"report {n}" for n in ("coverage", "drift", "early_warning", "fairness", "overrides")),
    *(f"level {x}" for x in ("stable", "watch", "act", "undefined")),
    *(f"sort {s}" for s in ("rank_street", "rank_district", "-probability", "probability",
                            "community", "-deprivation_score")),
)


def read_catalog(lang: str) -> dict[str, str]:
    """The translated messages of ``lang`` (id -> text; untranslated ids left out)."""
    path = CATALOG_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        catalog = read_po(f, locale=LOCALES[lang])
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


@dataclass(frozen=True)
class Translator:
    """``_`` of one language, plus names of the district's codes in that language."""

    lang: str
    messages: dict[str, str] = field(repr=False)

    def gettext(self, message: str, **values: object) -> str:
        """The translation of ``message``, ``{name}`` placeholders filled from ``values``."""
        text = self.messages.get(message, message)
        return text.format(**values) if values else text

    def number(self, value: float, digits: int = 0) -> str:
        """``value`` formatted for the language."""
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=fmt, locale=LOCALES[self.lang])

    def percent(self, value: float) -> str:
        """``value`` (a share) as a percentage for the language."""
        return format_percent(value, locale=LOCALES[self.lang])

    def rate(self, value: float | None, digits: int = 1) -> str:
        """A share as a percentage with ``digits`` decimals; "undefined" when ``None``."""
        if value is None:
            return self.gettext("undefined")
        fmt = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return format_percent(value, format=fmt, locale=LOCALES[self.lang])

    def decimal(self, value: float | None, digits: int = 2, *, sign: bool = False) -> str:
        """A number with ``digits`` decimals (``sign``: always signed); "undefined" when ``None``."""
        if value is None:
            return self.gettext("undefined")
        text = self.number(abs(value) if sign else value, digits)
        if not sign:
            return text
        zero = float(f"{value:.{digits}f}") == 0
        return ("±" if zero else "+" if value > 0 else "−") + text

    def interval(self, low: float | None, high: float | None, *, empty: str | None = None) -> str:
        """A 95 % interval of shares as ``low–high`` percentages; ``empty`` (default: the word
        "undefined") when either end is ``None``."""
        if low is None or high is None:
            return self.gettext("undefined") if empty is None else empty
        return self.gettext("{lo}–{hi}", lo=self.rate(low), hi=self.rate(high))

    def indicator(self, code: str) -> str:
        """An indicator's name (the catalog's), or the code when it is not an indicator."""
        try:
            ind = CATALOG[code]
        except KeyError:
            return code
        return ind.name_zh if self.lang == "zh" else ind.name_en

    def attribute(self, code: str) -> str:
        """A fairness attribute's name (pairs joined by "&")."""
        return INTERSECTION_SEP.join(_pick(ATTRIBUTES, part, self.lang)
                                     for part in code.split(INTERSECTION_SEP))

    def group(self, value: str) -> str:
        """A group value's name (pairs joined by "&")."""
        return INTERSECTION_SEP.join(_pick(GROUP_VALUES, part, self.lang)
                                     for part in str(value).split(INTERSECTION_SEP))

    def street(self, code: str) -> str:
        """A street's name (Chinese names are official; English pages show the code too)."""
        name = STREETS.get(code, code)
        return name if self.lang == "zh" else f"{name} ({code})"

    def cause(self, code: str | None) -> str:
        """A distress cause's name."""
        if not code:
            return "—"
        return cause_label(code).text(self.lang)

    def programme(self, code: str) -> str:
        """A programme's name, as the rule table names it (an unknown code: itself)."""
        names = programme_names().get(code)
        return names.text(self.lang) if names else PROGRAMMES.get(code, code)

    def flag(self, code: str) -> str:
        """An early-warning flag's name."""
        return FLAG_NAMES.get(code, Label.same(code)).text(self.lang)

    def dimension(self, code: str) -> str:
        """A dimension's name (the catalog's), or the code when it is not a dimension."""
        try:
            return CATALOG.dimension(code).label.text(self.lang)
        except KeyError:
            return code

    @property
    def html_lang(self) -> str:
        """The page's ``lang`` attribute."""
        return "zh-CN" if self.lang == "zh" else "en"


@functools.cache
def programme_names() -> dict[str, Label]:
    """Programme code -> its Chinese and English names (the default rule table's)."""
    return {p.code: Label(zh=p.name_zh, en=p.name_en) for p in load_rules().programmes}


def _pick(names: dict[str, Label], code: str, lang: str) -> str:
    return names.get(code, Label.same(code)).text(lang)


def translators() -> dict[str, Translator]:
    """A translator per language (built once per app)."""
    for lang in LANGUAGES:
        Locale.parse(LOCALES[lang])  # fail early on missing locale data
    return {lang: Translator(lang, read_catalog(lang)) for lang in LANGUAGES}
