"""Manager pages: coverage by street and the model card of the current snapshot."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from assist.reports import charts, views
from assist.serving.deps import SessionDep, SettingsDep
from assist.serving.pages.monitoring import downloads, stored
from assist.serving.pages.queries import coverage_by_street
from assist.serving.pages.web import MANAGERS, PagePrincipal, need, need_role, page_errors, render, translator
from assist.serving.services import reports
from assist.serving.services.referrals import snapshot_or_503

router = APIRouter(include_in_schema=False)


@router.get("/coverage", response_class=HTMLResponse)
def coverage(request: Request, session: SessionDep, settings: SettingsDep,
             who: PagePrincipal) -> HTMLResponse:
    """Need, referrals, assistance and the gap per street: the coverage report of the current
    snapshot, or live counts from the case store (with a note) until that report exists."""
    need_role(who, MANAGERS)
    t = translator(request)
    with page_errors():
        snap = snapshot_or_503(session)
    links = downloads(settings, reports.NAMES)
    rep = stored(request, settings, "coverage", snap.as_of)
    if rep.payload is not None:
        payload = rep.payload
        view = rep.view(request, "coverage-view", t.lang,
                        build=lambda: views.coverage_view(payload, t))
        return render(request, "coverage.html", who=who, snap=snap, view=view, live=None,
                      links=links)
    rows = coverage_by_street(session, snap)
    series = [t.gettext("In need (high band)"), t.gettext("Referred"),
              t.gettext("Assisted (visit confirmed)")]
    chart = charts.grouped([(t.street(r.street_code), (r.in_need, r.referred, r.assisted))
                            for r in rows], series=series, title=t.gettext("Coverage by street"))
    totals = {k: sum(getattr(r, k) for r in rows)
              for k in ("households", "in_need", "referred", "allocated", "visited", "assisted",
                        "gap")}
    return render(request, "coverage.html", who=who, snap=snap, view=None, links=links,
                  live={"rows": rows, "chart": chart, "totals": totals}, command=rep.command)


@router.get("/model", response_class=HTMLResponse)
def model(request: Request, session: SessionDep, who: PagePrincipal) -> HTMLResponse:
    """The model behind the current snapshot: version, config, bands, explanation coverage."""
    need(who, "models:read")
    with page_errors():
        snap = snapshot_or_503(session)
    s = snap.summary or {}
    bands = s.get("bands") or {}
    t = translator(request)
    total = sum(bands.values()) or 1
    chart = charts.hbars([charts.Bar(t.gettext(f"band {b}"), bands.get(b, 0) / total,
                                     t.number(bands.get(b, 0)), highlight=b == "high")
                          for b in ("high", "medium", "low")],
                         title=t.gettext("Households by band"))
    return render(request, "model.html", who=who, snap=snap, s=s, bands=bands, chart=chart)
