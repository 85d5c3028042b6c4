"""The one renderer of the reports: Jinja2 templates under ``reports/templates``.

Every report has one body template (``report_<name>.html``) filled from one view function
of :mod:`assist.reports.views`. The serving pages include that body in their own layout (their
template loader chains to :func:`loader`); the stored files written by the CLI and the monthly
job (``<name>.html`` beside ``<name>.json``) put it in :file:`report_document.html`, a
self-contained page (inline CSS and SVG, no script, no link out) holding the body once per
language, Chinese first, English after. So a report's page and its file say the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from babel.dates import format_skeleton
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from assist.reports import fairness_view as fv
from assist.reports import views
from assist.reports.i18n import LANGUAGES, LOCALES, N_, Translator, translators

TEMPLATES = Path(__file__).resolve().parent / "templates"
DOCUMENT = "report_document.html"
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
_MONTH = re.compile(r"^\d{4}-\d{2}$")


@dataclass(frozen=True)
class Body:
    """A report's body: its template, the view function that fills it, its title (msgid)."""

    template: str
    view: Callable[..., dict[str, Any]]
    title: str


#: the reports, each with its one body template and view function
BODIES: dict[str, Body] = {
    "coverage": Body("report_coverage.html", views.coverage_view, N_("Coverage by street")),
    "drift": Body("report_drift.html", views.drift_view, N_("Drift of indicators and score")),
    "early_warning": Body("report_early_warning.html", views.early_warning_view,
                          N_("Early warnings")),
    "fairness": Body("report_fairness.html", fv.fairness_view,
                     N_("Fairness of the referral list")),
    "overrides": Body("report_overrides.html", views.overrides_view,
                      N_("Caseworker overrides")),
}


def loader() -> FileSystemLoader:
    """The loader of the report templates (pages chain to it after their own)."""
    return FileSystemLoader(str(TEMPLATES))


def environment() -> Environment:
    """A Jinja2 environment over the report templates, set up as the pages' (autoescape,
    trimmed blocks)."""
    return Environment(loader=loader(), autoescape=True, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Part:
    """One section of a stored document: a body template, its view built for a translator,
    extra context for the template, and an optional heading (msgid, translated)."""

    name: str
    view: Callable[[Translator], dict[str, Any]]
    context: Mapping[str, Any] = field(default_factory=dict)
    heading: str | None = None


def body(env: Environment, name: str, view: Mapping[str, Any], t: Translator,
         **context: Any) -> Markup:
    """The body of report ``name`` rendered from ``view`` in the language of ``t``."""
    template = env.get_template(BODIES[name].template)
    return Markup(template.render(view=view, t=t, _=t.gettext, **context))


def month_words(month: str | None, t: Translator) -> str | None:
    """A month ``YYYY-MM`` in words ("2026年10月", "October 2026"); None for anything else
    (a report folder such as ``model-1`` is no month: the model version says it)."""
    if not month or not _MONTH.match(month):
        return None
    day = date(int(month[:4]), int(month[5:7]), 1)
    return format_skeleton("yMMMM", day, locale=LOCALES[t.lang])


def model_words(version: str | None, t: Translator) -> str | None:
    """A registered model version ``name/3`` in words ("模型 name 第 3 版"); None for None."""
    if not version:
        return None
    name, _, number = str(version).rpartition("/")
    if not name or not number.isdigit():
        return t.gettext("model {model}", model=version)
    return t.gettext("model {name}, version {version}", name=name, version=number)


def document(name: str, parts: Sequence[Part], *, subtitle: str | None = None,
             langs: Mapping[str, Translator] | None = None, month: str | None = None,
             model_version: str | None = None) -> str:
    """A stored report: the parts' bodies once per language (Chinese first; ``langs`` picks
    the languages, e.g. one for a printed copy), each headed by the report's title with the
    ``month`` and ``model_version`` in words; ``subtitle`` (data, not translated: a file, a
    rule) under the title."""
    env = environment()
    langs = langs or translators()
    out = []
    for code in (c for c in LANGUAGES if c in langs):
        t = langs[code]
        sections = [{"heading": t.gettext(p.heading) if p.heading else None,
                     "body": body(env, p.name, p.view(t), t, standalone=True,
                                  anchor=f"{code}-{i}-", **p.context)}
                    for i, p in enumerate(parts)]
        words = [w for w in (month_words(month, t), model_words(model_version, t)) if w]
        out.append({"code": code, "lang": t.html_lang, "language": LANGUAGE_NAMES[code],
                    "title": " · ".join([t.gettext(BODIES[name].title), *words]),
                    "subtitle": subtitle, "sections": sections,
                    "empty": t.gettext("No report has been generated yet.")})
    return env.get_template(DOCUMENT).render(title=out[0]["title"], parts=out)


def stored_html(name: str, payload: Mapping[str, Any], *,
                langs: Mapping[str, Translator] | None = None,
                model_version: str | None = None) -> str:
    """The document of any stored report from its JSON payload (fairness or another), in
    ``langs`` (default both); ``model_version`` when the payload does not name one."""
    if name == "fairness":
        return fairness_html(payload, langs=langs, model_version=model_version)
    return report_html(name, payload, langs=langs, model_version=model_version)


def report_html(name: str, payload: Mapping[str, Any], *,
                langs: Mapping[str, Translator] | None = None,
                model_version: str | None = None) -> str:
    """The stored HTML of report ``name`` (coverage, drift, early_warning, overrides) from its
    payload: the page's view and body in a self-contained document."""
    view = BODIES[name].view
    as_of = payload.get("as_of")
    return document(name, [Part(name, lambda t: view(payload, t))], langs=langs,
                    month=str(as_of) if as_of else None,
                    model_version=payload.get("model_version") or model_version)


def fairness_html(payload: Mapping[str, Any], *, subtitle: str | None = None,
                  langs: Mapping[str, Translator] | None = None,
                  model_version: str | None = None) -> str:
    """The stored fairness report: each audit of the payload (verified outcomes, simulated
    truth; or the one audit of ``assist audit``) as the fairness page shows it."""
    min_positives = int(payload.get("min_positives") or 0)
    parts = [Part("fairness", _fairness_view(audit, min_positives),
                  {"report": payload, "label": label},
                  heading=f"audit {label}" if label in ("verified", "truth", "live") else None)
             for label, audit in fv.audits(payload).items()]
    as_of = payload.get("scored_month") or payload.get("as_of")
    return document("fairness", parts, subtitle=subtitle, langs=langs,
                    month=str(as_of) if as_of else None,
                    model_version=payload.get("model_version") or model_version)


def _fairness_view(audit: Mapping[str, Any],
                   min_positives: int) -> Callable[[Translator], dict[str, Any]]:
    return lambda t: fv.fairness_view(audit, t, min_positives=min_positives)
