"""Monitoring pages for managers and data scientists: the fairness audit, early warnings,
drift and caseworker overrides, plus downloads of the stored HTML reports.

Each page is the report's view (:mod:`assist.reports.views`) in the report's body template
(``reports/templates``), the same two the stored HTML file is rendered from.

Stored reports (fairness, drift) and live ones (early warnings from the loaded snapshot,
overrides from the case store) all come from :mod:`assist.serving.services.reports`; a report
not generated yet is a page saying which command makes it, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select
from starlette.responses import FileResponse, HTMLResponse, Response

from assist.reports import fairness_households as fh
from assist.reports import fairness_view as fv
from assist.reports import views
from assist.reports.i18n import LANGUAGES
from assist.reports.render import LANGUAGE_NAMES
from assist.reports.report import report_folder
from assist.serving.deps import SessionDep, SettingsDep
from assist.serving.errors import ApiError
from assist.serving.models import Contest, Decision, Snapshot
from assist.serving.pages.cache import file_stamp, page_cache
from assist.serving.pages.i18n import N_
from assist.serving.pages.web import (
    ANALYSTS,
    MANAGERS,
    PageError,
    PagePrincipal,
    need_role,
    page_errors,
    render,
    translator,
)
from assist.serving.services import coverage, reports
from assist.serving.services.referrals import snapshot_or_503
from assist.settings import Settings

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
#: a month from the query (unknown values are ignored, so no validation error page)
Month = Annotated[str | None, Query()]


@dataclass(frozen=True)
class Stored:
    """A stored report read for a page: its payload and the stamp of its file (for caching
    what is built from it), or the command that would produce it."""

    payload: dict[str, Any] | None
    stamp: tuple | None = None
    command: str | None = None
    folder: str | None = None

    def view(self, request: Request, kind: str, *key: object, build: Callable[[], T]) -> T:
        """What ``build`` makes of the payload, cached until the file changes."""
        return page_cache(request).get((kind, *key), build, stamp=self.stamp)


def stored(request: Request, settings: Settings, name: str, as_of: str | None = None) -> Stored:
    """A stored report (of ``as_of``, else the newest), cached until its file changes."""
    found = next((r for r in reports.available(settings)
                  if r["name"] == name and (as_of is None or r["as_of"] == as_of)), None)
    if found is None:
        try:  # not listed: load says why, naming the command (or it just appeared)
            return Stored(reports.load(settings, name=name, as_of=as_of))
        except ApiError as exc:
            return Stored(None, command=exc.extra.get("command"))
    path, folder = found["json"], found["as_of"]

    def load() -> dict[str, Any]:
        try:
            return reports.load(settings, name=name, as_of=folder)
        except ApiError:
            raise PageError(503, N_("The stored report cannot be read; ask the data team to "
                                    "generate it again.")) from None

    stamp = (str(path), file_stamp(path))
    return Stored(page_cache(request).get(("report", str(path)), load, stamp=stamp), stamp,
                  folder=folder)


def downloads(settings: Settings, names: tuple[str, ...], as_of: str | None = None) -> list[dict]:
    """Download links of stored reports (each name's newest, or of ``as_of``): the stored
    HTML (both languages), and per language its print version and PDF."""
    out, seen = [], set()
    for r in reports.available(settings):
        if r["name"] in names and r["html"] is not None and r["name"] not in seen \
                and (as_of is None or r["as_of"] == as_of):
            seen.add(r["name"])
            base = f"/reports/{r['as_of']}/{r['name']}"
            out.append({"name": r["name"], "as_of": r["as_of"], "href": f"{base}.html",
                        "copies": [{"lang": "zh-CN" if code == "zh" else "en",
                                    "name": LANGUAGE_NAMES[code],
                                    "print": f"{base}/print?lang={code}",
                                    "pdf": f"{base}.pdf?lang={code}"} for code in LANGUAGES]})
    return out


@router.get("/fairness", response_class=HTMLResponse)
def fairness(request: Request, settings: SettingsDep, who: PagePrincipal,
             audit: Annotated[str | None, Query()] = None,
             as_of: Annotated[str | None, Query()] = None) -> HTMLResponse:
    """Per-group rates and disparities of the production model's list, recall first: the
    newest fairness report, or the one of ``as_of`` (any folder holding one: a month, a
    model's own report)."""
    need_role(who, ANALYSTS)
    folders = [r["as_of"] for r in reports.available(settings) if r["name"] == "fairness"]
    rep = stored(request, settings, "fairness", as_of if as_of in folders else None)
    if rep.payload is None:
        return render(request, "fairness.html", who=who, report=None, command=rep.command)
    payload = rep.payload
    audits = fv.audits(payload)
    labels = list(audits)
    label = audit if audit in audits else (labels[0] if labels else None)
    t = translator(request)
    min_positives = int(payload.get("min_positives") or 0)
    folder = rep.folder
    kept = (label is not None and folder is not None
            and label in fh.audits(report_folder(settings.workspace, folder)))
    drill = (lambda a, g, c: fh.drill(folder, label, a, g, c)) if kept else None
    view = (rep.view(request, "fairness-view", label, t.lang, kept,
                     build=lambda: fv.fairness_view(audits[label], t, drill=drill,
                                                       min_positives=min_positives))
            if label is not None else None)
    return render(request, "fairness.html", who=who, report=payload, view=view, labels=labels,
                  label=label, command=None, folders=folders, folder=folder,
                  links=downloads(settings, ("fairness",), folder))


@router.get("/early-warning", response_class=HTMLResponse)
def early_warning(request: Request, session: SessionDep, settings: SettingsDep,
                  who: PagePrincipal) -> HTMLResponse:
    """Households flagged by each early-warning signal in the current snapshot, per street."""
    need_role(who, MANAGERS)
    with page_errors():
        snap = snapshot_or_503(session)
    t = translator(request)
    # a loaded snapshot never changes, so its counts are kept (for the cache's minute)
    view = page_cache(request).get(
        ("early-warning", snap.id, t.lang),
        lambda: views.early_warning_view(reports.early_warning(session, snapshot=snap), t),
        stamp=(snap.as_of, snap.loaded_at))
    return render(request, "early_warning.html", who=who, snap=snap, view=view,
                  links=downloads(settings, ("early_warning",), snap.as_of))


@router.get("/drift", response_class=HTMLResponse)
def drift(request: Request, settings: SettingsDep, who: PagePrincipal,
          as_of: Month = None) -> HTMLResponse:
    """PSI of every indicator and of the score against the reference month."""
    need_role(who, ANALYSTS)
    months = sorted({r["as_of"] for r in reports.available(settings) if r["name"] == "drift"},
                    reverse=True)
    rep = stored(request, settings, "drift", as_of if as_of in months else None)
    if rep.payload is None:
        return render(request, "drift.html", who=who, report=None, command=rep.command)
    payload, t = rep.payload, translator(request)
    view = rep.view(request, "drift-view", t.lang, build=lambda: views.drift_view(payload, t))
    return render(request, "drift.html", who=who, report=payload, view=view, command=None,
                  months=months, links=downloads(settings, ("drift",), payload.get("as_of")))


@router.get("/overrides", response_class=HTMLResponse)
def overrides(request: Request, session: SessionDep, settings: SettingsDep,
              who: PagePrincipal, as_of: Month = None) -> HTMLResponse:
    """How often caseworkers disagree with the score, and whether overridden referrals were
    confirmed in need less often than followed ones (live from the case store)."""
    need_role(who, MANAGERS)
    months = list(session.scalars(select(Snapshot.as_of).order_by(Snapshot.as_of.desc())))
    month = as_of if as_of in months else None
    t = translator(request)

    def build() -> dict[str, Any]:
        with page_errors():
            return views.overrides_view(reports.overrides(session, as_of=month), t)

    # computing the report takes a few hundred ms on a district: keep it until a decision
    # or a contest is recorded or changed (the stamp), or a minute has passed
    stamp = tuple(session.execute(select(func.count(Decision.id), func.max(Decision.id),
                                         func.sum(Decision.version),
                                         func.max(Decision.updated_at))).one())
    stamp += tuple(session.execute(select(func.count(Contest.id), func.max(Contest.id),
                                          func.sum(Contest.version))).one())
    view = page_cache(request).get(("overrides", month, t.lang), build, stamp=stamp)
    return render(request, "overrides.html", who=who, view=view, months=months, month=month,
                  links=downloads(settings, ("overrides",), month))


@router.get("/reports/{as_of}/{name}.html")
def report_file(settings: SettingsDep, session: SessionDep, who: PagePrincipal, as_of: str,
                name: str) -> FileResponse:
    """A stored report's HTML page, as a download (coverage brought up to date with the case
    store's decisions first, as on its page)."""
    need_role(who, ANALYSTS)
    coverage.refresh(session, settings, name=name, as_of=as_of)
    try:
        path = reports.html_path(settings, name=name, as_of=as_of)
    except ApiError:
        raise PageError(404, N_("This report has not been generated.")) from None
    return FileResponse(path, media_type="text/html; charset=utf-8",
                        filename=f"{name}-{as_of}.html")


@router.get("/reports/{as_of}/{name}/print", response_class=HTMLResponse)
def report_print(settings: SettingsDep, session: SessionDep, who: PagePrincipal, as_of: str,
                 name: str, lang: Annotated[str, Query()] = "zh") -> HTMLResponse:
    """A stored report's print version in one language (A4 landscape; print it from the
    browser)."""
    need_role(who, ANALYSTS)
    coverage.refresh(session, settings, name=name, as_of=as_of)
    with _report_errors():
        html, _ = reports.printed_html(settings, session, name=name, as_of=as_of, lang=lang)
    return HTMLResponse(html)


@router.get("/reports/{as_of}/{name}.pdf")
def report_pdf(settings: SettingsDep, session: SessionDep, who: PagePrincipal, as_of: str,
               name: str, lang: Annotated[str, Query()] = "zh") -> Response:
    """A stored report printed to PDF in one language, as a download."""
    need_role(who, ANALYSTS)
    coverage.refresh(session, settings, name=name, as_of=as_of)
    with _report_errors():
        data, filename = reports.printed_pdf(settings, session, name=name, as_of=as_of,
                                             lang=lang)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@contextmanager
def _report_errors() -> Iterator[None]:
    """A report's lookup and printing errors as pages (404, 422, 503), never a 500."""
    try:
        yield
    except ApiError as exc:
        if exc.code == "pdf_unavailable":
            raise PageError(503, N_("A PDF cannot be printed on this server; open the print "
                                    "version and print it from the browser.")) from None
        if exc.status == 422:
            raise PageError(422, N_("Unknown language or month."), field=exc.field) from None
        raise PageError(404, N_("This report has not been generated.")) from None
