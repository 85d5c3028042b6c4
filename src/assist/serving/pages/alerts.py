"""The urgent queue of water-meter alerts (水管家) and the banner at the top of the referral
list: acknowledge, resolve with the visit's outcome. Through
:mod:`assist.serving.services.alerts` (jurisdiction, versions, audit), like the API."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from jinja2 import pass_context
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from assist.serving.alerts.schemas import AlertAcknowledge, AlertList, AlertResolve
from assist.serving.deps import SessionDep, endpoint
from assist.serving.errors import ApiError
from assist.serving.pages.i18n import N_
from assist.serving.pages.web import FormBody, PageError, PagePrincipal, check_csrf, field, need, render
from assist.serving.services import alerts as svc

log = logging.getLogger("assist.serving")
router = APIRouter(include_in_schema=False)
#: most alerts the banner lists (the queue page has them all)
BANNER_SIZE = 5
RULES = {"silence": N_("No water used"), "continuous_flow": N_("Water running without pause")}
STATUSES = {"open": N_("Open"), "escalated": N_("Escalated to the street lead"),
            "acknowledged": N_("Acknowledged"), "resolved": N_("Resolved")}
OUTCOMES = {"visited_fine": N_("Visited: fine"),
            "visited_help_needed": N_("Visited: help needed"),
            "unreachable": N_("Unreachable: escalate")}
PROFILES = {"lone_elderly_75": N_("Living alone, 75+"), "lone_elderly_60": N_("Living alone, 60+"),
            "severe_disability": N_("Severe disability"), "vulnerable": N_("Registered vulnerable"),
            "other": N_("Other registered household")}
MESSAGES = {
    "version_conflict": N_("Someone else changed this alert since you opened the page. "
                           "Please reload and check it."),
    "alert_resolved": N_("This alert was resolved meanwhile."),
    "alert_acknowledged": N_("This alert was acknowledged meanwhile."),
}
INVALID = N_("Please check the form: a value is too long or not allowed.")


def labels() -> dict:
    """Names the alert templates show."""
    return {"alert_rules": RULES, "alert_statuses": STATUSES, "alert_outcomes": OUTCOMES,
            "alert_profiles": PROFILES}


@pass_context
def urgent_alerts(ctx: Any) -> AlertList | None:  # noqa: ANN401 - a Jinja context
    """Template global: the caller's unresolved alerts for the banner (an audited read of the
    households shown); None for callers without the alerts permission."""
    request, who = ctx.get("request"), ctx.get("who")
    if request is None or who is None or not who.can("alerts:read"):
        return None
    try:
        with request.app.state.sessions() as s:
            return svc.list_alerts(s, who=who, endpoint=endpoint(request),
                                   unresolved_only=True, limit=BANNER_SIZE, audit_empty=False)
    except Exception as exc:  # noqa: BLE001 - the banner never breaks the referral list
        log.error("alert banner not shown: %s", type(exc).__name__)
        return None


def install(app: FastAPI) -> None:
    """Make ``urgent_alerts`` and the alert labels available to the page templates."""
    env = app.state.page_templates.env
    env.globals["urgent_alerts"] = urgent_alerts
    env.globals.update(labels())


@router.get("/alerts", response_class=HTMLResponse)
def queue(request: Request, session: SessionDep, who: PagePrincipal,
          done: Annotated[int, Query(ge=0, le=1)] = 0) -> HTMLResponse:
    """The urgent queue: escalated and open alerts first, then acknowledged, then resolved."""
    need(who, "alerts:read")
    out = svc.list_alerts(session, who=who, endpoint=endpoint(request))
    return render(request, "alerts.html", who=who, out=out, done=bool(done),
                  can_act=who.can("alerts:write"))


def _refused(session, exc: Exception) -> PageError:  # noqa: ANN001
    session.rollback()
    if not isinstance(exc, ApiError):
        return PageError(422, INVALID)
    if exc.code in MESSAGES:
        return PageError(exc.status, MESSAGES[exc.code])
    if exc.status == 404:
        return PageError(404, N_("Not found, or not in your streets."))
    if exc.status == 422:
        return PageError(422, INVALID)
    raise exc


@router.post("/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
def acknowledge(request: Request, session: SessionDep, who: PagePrincipal, alert_id: int,
                form: FormBody) -> Response:
    """Acknowledge an alert from the queue (by version)."""
    check_csrf(request, form)
    need(who, "alerts:write")
    if not 1 <= alert_id <= 2**31 - 1:
        raise PageError(404, N_("Not found, or not in your streets."))
    try:
        svc.acknowledge(session, who=who, alert_id=alert_id,
                        body=AlertAcknowledge(version=field(form, "version")),
                        endpoint=endpoint(request))
    except (ValidationError, ApiError) as exc:
        raise _refused(session, exc) from None
    return RedirectResponse("/alerts?done=1", status_code=303)


@router.post("/alerts/{alert_id}/resolve", response_class=HTMLResponse)
def resolve(request: Request, session: SessionDep, who: PagePrincipal, alert_id: int,
            form: FormBody) -> Response:
    """Resolve an alert with what the visit found (unreachable: escalate)."""
    check_csrf(request, form)
    need(who, "alerts:write")
    if not 1 <= alert_id <= 2**31 - 1:
        raise PageError(404, N_("Not found, or not in your streets."))
    try:
        body = AlertResolve(outcome=field(form, "outcome"), note=field(form, "note"),
                            version=field(form, "version"))
        svc.resolve(session, who=who, alert_id=alert_id, body=body, endpoint=endpoint(request))
    except (ValidationError, ApiError) as exc:
        raise _refused(session, exc) from None
    return RedirectResponse("/alerts?done=1", status_code=303)
