"""Manager pages: coverage by street (with the list of households behind every count) and the
model card of the current snapshot."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from assist.reports import charts, coverage_view, views
from assist.serving import audit
from assist.serving.deps import SessionDep, SettingsDep, endpoint
from assist.serving.pages.cache import page_cache
from assist.serving.pages.i18n import N_
from assist.serving.pages.monitoring import downloads
from assist.serving.pages.queries import coverage_by_street
from assist.serving.pages.web import (
    MANAGERS,
    PageError,
    PagePrincipal,
    need,
    need_role,
    page_errors,
    render,
    translator,
)
from assist.serving.services import coverage as coverage_service
from assist.serving.services import reports
from assist.serving.services.referrals import snapshot_or_503
from assist.storage import snapshot as snapshots

router = APIRouter(include_in_schema=False)


@router.get("/coverage", response_class=HTMLResponse)
def coverage(request: Request, session: SessionDep, settings: SettingsDep,
             who: PagePrincipal) -> HTMLResponse:
    """Need, referrals, visits, findings, assistance and the gap per street: the coverage
    report of the current snapshot with the case store's decisions (recomputed and stored
    again when decisions changed), or live counts from the case store (with a note) when the
    month's snapshot files are not here."""
    need_role(who, MANAGERS)
    t = translator(request)
    with page_errors():
        snap = snapshot_or_503(session)
    payload = coverage_service.current(session, settings, as_of=snap.as_of)
    links = downloads(settings, reports.NAMES)
    if payload is not None:
        view = page_cache(request).get(
            ("coverage-view", snap.as_of, t.lang),
            lambda: views.coverage_view(payload, t),
            stamp=(json.dumps(payload.get("case_store"), sort_keys=True),
                   payload.get("as_of"), len(payload.get("trend") or [])))
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
                  live={"rows": rows, "chart": chart, "totals": totals},
                  command=reports.REPORTS["coverage"].format(as_of=snap.as_of))


#: households shown per page of a drill-down list
LIST_PAGE = 100
#: roles that see only pseudonyms in a drill-down list (no link to the household's page)
PSEUDONYMS_ONLY = frozenset({"data_scientist"})
#: the drill-down of the early-warning page: the listed households carrying a flag
FLAGGED = "flagged"
#: yes/no columns of a drill-down list, with their headings
LIST_COLUMNS = (("referred", N_("Referred")),
                ("verified_records", N_("Visited: department records")),
                ("verified_decisions", N_("Visited: caseworkers' decisions")),
                ("confirmed", N_("Confirmed on visit")),
                ("assisted", N_("Assisted (active grant)")))
Code = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_]{1,32}$")]
Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]


@router.get("/coverage/households", response_class=HTMLResponse)
def coverage_households(request: Request, session: SessionDep, settings: SettingsDep,
                        who: PagePrincipal, measure: Code = None, as_of: Month = None,
                        street: Code = None, community: Code = None,
                        page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """The households behind a coverage count (the same computation as the report): in the
    caller's streets (caseworkers, street leads) or the district; data scientists see
    pseudonyms only. Every list read is audited with the pseudonyms it showed."""
    need(who, "households:read")
    if measure not in coverage_view.MEASURES and measure != FLAGGED:
        raise PageError(404, N_("Unknown count: open the list from a coverage figure."),
                        field="measure")
    with page_errors():
        snap = snapshot_or_503(session)
    month = as_of or snap.as_of
    if measure != FLAGGED and not snapshots.exists(settings.scores_dir, month):
        raise PageError(404, N_("This month's scoring snapshot is not here."), field="as_of")
    if who.streets is not None and ((street and street not in who.streets) or (
            community and coverage_view.street_of(community) not in who.streets)):
        raise PageError(403, N_("This street or community is not one of your streets."))
    if measure == FLAGGED:  # the early-warning report's households, from the case store
        found, name = (coverage_service.flagged(session, snap, streets=who.streets,
                                                street=street), N_("Households flagged"))
    else:
        found = coverage_service.households(session, settings, as_of=month, measure=measure,
                                            streets=who.streets, street=street,
                                            community=community)
        name = coverage_view.MEASURES[measure]
    pages = max(1, -(-len(found) // LIST_PAGE))
    shown = found.iloc[(min(page, pages) - 1) * LIST_PAGE:min(page, pages) * LIST_PAGE]
    audit.record(session, who=who, action="coverage.households", endpoint=endpoint(request),
                 detail={"as_of": month, "measure": measure, "street": street,
                         "community": community, "returned": len(shown), "page": page,
                         "household_ids": audit.listed(shown.index)})
    session.commit()
    t = translator(request)
    query = urlencode({k: v for k, v in (("as_of", month), ("measure", measure),
                                         ("street", street), ("community", community)) if v})
    return render(request, "coverage_households.html", who=who, month=month,
                  measure=t.gettext(name), total=len(found),
                  rows=shown.reset_index(names="id").to_dict("records"),
                  columns=[(c, t.gettext(h)) for c, h in LIST_COLUMNS if c in found.columns],
                  page=min(page, pages), pages=pages,
                  query=query, place=t.street(street) if street else community,
                  links=who.role not in PSEUDONYMS_ONLY)


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
