"""The one renderer of the reports: Jinja2 templates under ``reports/templates``.

Every report has one body template (``report_<name>.html``) filled from one view function
of :mod:`assist.reports.views`. The serving pages include that body in their own layout (their
template loader chains to :func:`loader`); the stored files written by the CLI and the monthly
job (``<name>.html`` beside ``<name>.json``) put it in :file:`report_document.html`, a
self-contained page (inline CSS and SVG, no script, no link out) holding the body once per
language, Chinese first, English after. So a report's page and its file say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from assist.reports import views
from assist.reports.i18n import LANGUAGES, N_, Translator, translators

TEMPLATES = Path(__file__).resolve().parent / "templates"
DOCUMENT = "report_document.html"
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


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
    "fairness": Body("report_fairness.html", views.fairness_view,
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


def document(name: str, parts: Sequence[Part], *, subtitle: str | None = None,
             langs: Mapping[str, Translator] | None = None) -> str:
    """A stored report: the parts' bodies once per language (Chinese first), each headed by
    the report's title; ``subtitle`` (data, not translated: a month, a file) under the title."""
    env = environment()
    langs = langs or translators()
    out = []
    for code in LANGUAGES:
        t = langs[code]
        sections = [{"heading": t.gettext(p.heading) if p.heading else None,
                     "body": body(env, p.name, p.view(t), t, standalone=True,
                                  anchor=f"{code}-{i}-", **p.context)}
                    for i, p in enumerate(parts)]
        out.append({"code": code, "lang": t.html_lang, "language": LANGUAGE_NAMES[code],
                    "title": t.gettext(BODIES[name].title), "subtitle": subtitle,
                    "sections": sections, "empty": t.gettext("No report has been generated yet.")})
    title = f"{out[0]['title']} · {subtitle}" if subtitle else out[0]["title"]
    return env.get_template(DOCUMENT).render(title=title, parts=out)


def report_html(name: str, payload: Mapping[str, Any], *,
                langs: Mapping[str, Translator] | None = None) -> str:
    """The stored HTML of report ``name`` (coverage, drift, early_warning, overrides) from its
    payload: the page's view and body in a self-contained document."""
    view = BODIES[name].view
    as_of = payload.get("as_of")
    return document(name, [Part(name, lambda t: view(payload, t))],
                    subtitle=str(as_of) if as_of else None, langs=langs)


def fairness_html(payload: Mapping[str, Any], *, subtitle: str | None = None,
                  langs: Mapping[str, Translator] | None = None) -> str:
    """The stored fairness report: each audit of the payload (verified outcomes, simulated
    truth; or the one audit of ``assist audit``) as the fairness page shows it."""
    min_positives = int(payload.get("min_positives") or 0)
    parts = [Part("fairness", _fairness_view(audit, min_positives),
                  {"report": payload, "label": label},
                  heading=f"audit {label}" if label in ("verified", "truth") else None)
             for label, audit in views.audits(payload).items()]
    as_of = payload.get("as_of")
    return document("fairness", parts, subtitle=subtitle or (str(as_of) if as_of else None),
                    langs=langs)


def _fairness_view(audit: Mapping[str, Any],
                   min_positives: int) -> Callable[[Translator], dict[str, Any]]:
    return lambda t: views.fairness_view(audit, t, min_positives=min_positives)
