"""Manager pages: coverage by street and the model card of the current snapshot."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from assist.serving.deps import SessionDep, SettingsDep
from assist.serving.pages import charts
from assist.serving.pages.queries import coverage_by_street
from assist.serving.pages.i18n import N_
from assist.serving.pages.web import PageError, PagePrincipal, need, page_errors, render, translator
from assist.serving.services.referrals import snapshot_or_503

router = APIRouter(include_in_schema=False)
COVERAGE_ROLES = frozenset({"manager", "admin"})


def _reports(workspace: Path) -> list[str]:
    """Names of fairness reports in ``<workspace>/reports`` (shown as pointers, not served)."""
    d = workspace / "reports"
    return sorted(p.name for p in d.rglob("fairness*.html"))[:20] if d.is_dir() else []


@router.get("/coverage", response_class=HTMLResponse)
def coverage(request: Request, session: SessionDep, settings: SettingsDep,
             who: PagePrincipal) -> HTMLResponse:
    """Need vs referred vs assisted per street, as a chart and a table."""
    if who.role not in COVERAGE_ROLES:
        raise PageError(403, N_("You do not have access to this page."))
    t = translator(request)
    with page_errors():
        snap = snapshot_or_503(session)
    rows = coverage_by_street(session, snap)
    series = [t.gettext("In need (high band)"), t.gettext("Referred"),
              t.gettext("Assisted (visit confirmed)")]
    chart = charts.grouped([(t.street(r.street_code), (r.in_need, r.referred, r.assisted))
                            for r in rows], series=series, title=t.gettext("Coverage by street"))
    totals = {k: sum(getattr(r, k) for r in rows)
              for k in ("households", "in_need", "referred", "allocated", "visited", "assisted",
                        "gap")}
    return render(request, "coverage.html", who=who, snap=snap, rows=rows, chart=chart,
                  totals=totals, reports=_reports(settings.workspace))


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
