"""Notice and contest pages (PIPL art. 24): a visited household's printable notice, the
contest form behind the household page, and the managers' contests queue with its decisions.

All through :mod:`assist.serving.services.contests` and :mod:`~assist.serving.services.notice`
(jurisdiction, versions, audit), like the decision form.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from assist.features import CATALOG
from assist.serving import audit
from assist.serving.deps import SessionDep, endpoint
from assist.serving.errors import ApiError
from assist.serving.pages.i18n import N_
from assist.serving.pages.web import (
    MANAGERS,
    FormBody,
    PageError,
    PagePrincipal,
    check_csrf,
    field,
    need,
    need_role,
    page_errors,
    render,
)
from assist.serving.schemas import HOUSEHOLD_ID_PATTERN, ContestCreate, ContestDecide, HouseholdNotice
from assist.serving.services.contests import create_contest, decide_contest, list_contests
from assist.serving.services.notice import household_notice

router = APIRouter(include_in_schema=False)
_HOUSEHOLD = re.compile(HOUSEHOLD_ID_PATTERN)
#: contest grounds and outcomes as the pages name them
GROUNDS = {"wrong_data": N_("Wrong data"), "disagree_decision": N_("Disagrees with the decision"),
           "refuse_automated": N_("Refuses an assessment by automated means alone"),
           "other": N_("Other")}
OUTCOMES = {"upheld": N_("Upheld"), "rejected": N_("Rejected"),
            "data_corrected": N_("Data corrected")}
STATUS_NAMES = {"open": N_("Open"), **OUTCOMES}
CHANNELS = {"visit": N_("On the visit"), "service_window": N_("At the service window")}
INVALID = N_("Please check the form: a value is too long or not allowed.")
CONTEST_MESSAGES = {
    "contest_open": N_("This household already has an open contest: a manager decides it first."),
    "version_conflict": N_("Someone else changed this contest since you opened the page. "
                           "Please reload and check it."),
    "contest_decided": N_("This contest was decided meanwhile. Please reload and check it."),
    "unknown_indicator": INVALID,
}
NOT_VISITED = N_("A notice is given after the visit: no decision is recorded for this "
                 "household yet.")


def labels() -> dict:
    """Names the contest templates show (grounds, outcomes, statuses, channels, indicators)."""
    return {"grounds": GROUNDS, "outcomes": OUTCOMES, "statuses": STATUS_NAMES,
            "channels": CHANNELS, "indicators": [(i.id, i.name_zh, i.name_en) for i in CATALOG]}


def _denied(request: Request, session, who, household_id: str) -> None:  # noqa: ANN001
    session.rollback()
    audit.record(session, who=who, action=audit.DENIED, endpoint=endpoint(request),
                 household_id=household_id)
    session.commit()


def _refused(session, exc: Exception) -> PageError:  # noqa: ANN001
    """A form refused by validation or the service, as a page error."""
    session.rollback()
    if not isinstance(exc, ApiError):  # a ValidationError of the form
        return PageError(422, INVALID)
    if exc.code in CONTEST_MESSAGES:
        return PageError(exc.status, CONTEST_MESSAGES[exc.code])
    if exc.status == 422:
        return PageError(422, INVALID)
    if exc.status == 404:
        return PageError(404, N_("Not found, or not in your streets."))
    raise exc


def _notice(request: Request, session, who, household_id: str) -> HouseholdNotice:  # noqa: ANN001
    """The notice through the service; a probe outside the caller's streets is audited."""
    if not _HOUSEHOLD.match(household_id):
        raise PageError(404, N_("Not found, or not in your streets."))
    need(who, "notice:read")
    try:
        with page_errors():
            n = household_notice(session, who=who, household_id=household_id,
                                 endpoint=endpoint(request))
    except PageError as exc:
        if exc.status == 404:
            _denied(request, session, who, household_id)
        raise
    except ApiError as exc:
        if exc.code == "not_visited":
            raise PageError(409, NOT_VISITED) from None
        raise
    return n


@router.get("/households/{household_id}/notice", response_class=HTMLResponse)
def notice(request: Request, session: SessionDep, who: PagePrincipal,
           household_id: str) -> HTMLResponse:
    """The printable notice to a visited household, Chinese first and English beside."""
    n = _notice(request, session, who, household_id)
    return render(request, "notice.html", who=who, n=n, **labels())


@router.get("/households/{household_id}/notice.json")
def notice_json(request: Request, session: SessionDep, who: PagePrincipal,
                household_id: str) -> Response:
    """The notice exported as JSON (the API's ``HouseholdNotice``), for a signed-in page user."""
    n = _notice(request, session, who, household_id)
    return Response(n.model_dump_json(indent=2), media_type="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="notice-{household_id}.json"',
                             "Cache-Control": "no-store"})


@router.post("/households/{household_id}/contest", response_class=HTMLResponse)
def contest(request: Request, session: SessionDep, who: PagePrincipal, household_id: str,
            form: FormBody) -> Response:
    """Record a household's contest from the household page."""
    check_csrf(request, form)
    need(who, "contests:write")
    if not _HOUSEHOLD.match(household_id):
        raise PageError(404, N_("Not found, or not in your streets."))
    try:
        body = ContestCreate(household_id=household_id, grounds=field(form, "grounds"),
                             text=field(form, "text"),
                             disputed_indicators=[i for i in form.get("disputed_indicators", [])
                                                  if i])
        create_contest(session, who=who, body=body, endpoint=endpoint(request))
    except (ValidationError, ApiError) as exc:
        error = _refused(session, exc)
        if error.status == 404:
            _denied(request, session, who, household_id)
        raise error from None
    return RedirectResponse(f"/households/{household_id}?contested=1", status_code=303)


@router.get("/contests", response_class=HTMLResponse)
def queue(request: Request, session: SessionDep, who: PagePrincipal,
          decided: Annotated[int, Query(ge=0, le=1)] = 0) -> HTMLResponse:
    """The managers' contests queue: open contests to decide, then recent decided ones."""
    need_role(who, MANAGERS)
    need(who, "contests:read")
    out = list_contests(session, who=who, endpoint=endpoint(request))
    return render(request, "contests.html", who=who, out=out, decided=bool(decided),
                  can_decide=who.can("contests:decide"), **labels())


@router.post("/contests/{contest_id}/decision", response_class=HTMLResponse)
def decide(request: Request, session: SessionDep, who: PagePrincipal, contest_id: int,
           form: FormBody) -> Response:
    """A manager decides a contest: outcome and reason (required), by version."""
    check_csrf(request, form)
    need(who, "contests:decide")
    if not 1 <= contest_id <= 2**31 - 1:
        raise PageError(404, N_("Not found, or not in your streets."))
    try:
        body = ContestDecide(outcome=field(form, "outcome"), reason=field(form, "reason"),
                             version=field(form, "version"))
        decide_contest(session, who=who, contest_id=contest_id, body=body,
                       endpoint=endpoint(request))
    except (ValidationError, ApiError) as exc:
        raise _refused(session, exc) from None
    return RedirectResponse("/contests?decided=1", status_code=303)
