"""Page translations: one Babel catalog per language under ``serving/i18n``.

Message ids are English; ``zh`` (the default) translates them, ``en`` falls back to the id.
Catalogs are read from their ``.po`` files once per app (no compiled ``.mo`` to keep in
sync), and numbers are formatted with Babel's locale data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale
from babel.numbers import format_decimal, format_percent
from babel.messages.pofile import read_po

from assist.features import CATALOG
from assist.features.codes import CAUSES, PROGRAMMES, STREETS
from assist.features.indicators import DIMENSIONS
from assist.models.warning import EVENTS, SCORE_FLAGS

#: early-warning flag -> (English, Chinese), as the warning model names them
FLAG_NAMES: dict[str, tuple[str, str]] = {**SCORE_FLAGS, **{e.name: (e.text_en, e.text_zh)
                                                            for e in EVENTS}}

#: household attributes compared by the fairness audit -> (Chinese, English)
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "head_sex": ("户主性别", "head's sex"), "head_age_band": ("户主年龄段", "head's age band"),
    "head_hukou": ("户主户籍", "head's hukou"), "has_disability": ("有残疾成员", "disabled member"),
    "has_elderly": ("有老年成员", "elderly member"), "registration_type": ("户籍类型", "registration"),
    "address_class": ("住房类别", "address class"), "size": ("家庭人口", "household size"),
    "street_code": ("街道", "street"), "street": ("街道", "street"), "band": ("需求等级", "need band"),
    "elderly_alone": ("独居老人", "elderly living alone"),
    "disability": ("有重度残疾成员", "severe disability"),
    "no_able_caregiver": ("无有效照护人", "no able caregiver"),
    "unemployed": ("有登记失业成员", "registered unemployed"),
}
#: group values of those attributes -> (Chinese, English); others are shown as they are
GROUP_VALUES: dict[str, tuple[str, str]] = {
    "F": ("女", "female"), "M": ("男", "male"), "local": ("本地", "local"),
    "non_local": ("外地", "non-local"), "mixed": ("混合", "mixed"), "True": ("是", "yes"),
    "False": ("否", "no"), "true": ("是", "yes"), "false": ("否", "no"),
    "yes": ("是", "yes"), "no": ("否", "no"), "(missing)": ("缺失", "missing"),
}
INTERSECTION_SEP = " & "
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
    *(f"role {r}" for r in ("caseworker", "manager", "data_scientist", "admin")),
    *(f"band {b}" for b in ("high", "medium", "low")),
    *(f"status {s}" for s in ("open", "confirmed", "not_in_need", "unreachable", "declined")),
    *(f"rating {r}" for r in ("good", "bad")),
    *(f"rate {m}" for m in ("tpr", "fnr")),
    *(f"audit {a}" for a in ("verified", "truth")),
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
        zh, en = CAUSES.get(code, (code, code))
        return zh if self.lang == "zh" else en

    def programme(self, code: str) -> str:
        """A programme's name (official Chinese names; English shows the code beside)."""
        name = PROGRAMMES.get(code, code)
        return name if self.lang == "zh" else f"{name} ({code})"

    def flag(self, code: str) -> str:
        """An early-warning flag's name."""
        en, zh = FLAG_NAMES.get(code, (code, code))
        return zh if self.lang == "zh" else en

    def dimension(self, code: str) -> str:
        """A dimension's name."""
        zh, en = DIMENSIONS.get(code, (code, code))
        return zh if self.lang == "zh" else en

    @property
    def html_lang(self) -> str:
        """The page's ``lang`` attribute."""
        return "zh-CN" if self.lang == "zh" else "en"


def _pick(names: dict[str, tuple[str, str]], code: str, lang: str) -> str:
    zh, en = names.get(code, (code, code))
    return zh if lang == "zh" else en


def translators() -> dict[str, Translator]:
    """A translator per language (built once per app)."""
    for lang in LANGUAGES:
        Locale.parse(LOCALES[lang])  # fail early on missing locale data
    return {lang: Translator(lang, read_catalog(lang)) for lang in LANGUAGES}
