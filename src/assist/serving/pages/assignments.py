"""Assigned visits, as pages: a street lead's (or manager's) bulk assignment of this month's
allocated visits to the street's caseworkers (checkboxes), and each caseworker's "my visits"
with due dates and overdue ones marked. Both go through :mod:`assist.serving.services.
assignments`; every read is audited with the households it showed."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from assist.models.visits import VisitsSection
from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint
from assist.serving.errors import ApiError
from assist.serving.pages.i18n import N_
from assist.serving.pages.web import (
    FormBody,
    PageError,
    PagePrincipal,
    check_csrf,
    field,
    need,
    page_errors,
    render,
)
from assist.serving.schemas_visits import AssignCreate, VisitPage
from assist.serving.services import assignments as svc
from assist.serving.services.decisions import district_today

router = APIRouter(include_in_schema=False)
Choice = Annotated[str | None, Query(max_length=32)]
#: one-line messages of the assignment form, by the service's error code
ASSIGN_MESSAGES = {
    "not_a_caseworker": N_("Choose a caseworker of this street."),
    "outside_assignee_streets": N_("This caseworker does not cover the street of every "
                                   "selected household: choose households of their streets."),
    "not_allocated": N_("Only this month's allocated visits can be assigned."),
    "already_decided": N_("A selected household has already been visited and decided."),
    "not_found": N_("A selected household is not on this month's list of your streets."),
}
NOTHING = N_("Select at least one household and a caseworker.")


def _visits(request: Request) -> VisitsSection:
    return svc.visits_config(svc.scoring_config_path(request.app.state.settings.workspace))


def _audit_read(request: Request, session, who: Principal, out: VisitPage, action: str,  # noqa: ANN001
                street: str | None) -> None:
    audit.record(session, who=who, action=action, endpoint=endpoint(request),
                 detail={"as_of": out.as_of, "returned": len(out.items), "street": street,
                         "household_ids": audit.listed(v.household_id for v in out.items)})
    session.commit()


def _street(who: Principal, street: str | None) -> str | None:
    if street and not who.sees_street(street):
        raise PageError(403, N_("This street or community is not one of your streets."))
    return street or None


def _assign_page(request: Request, session, who: Principal, street: str | None, *,  # noqa: ANN001
                 status: int = 200, message: str | None = None, done: int | None = None,
                 checked: frozenset[int] = frozenset()) -> HTMLResponse:
    with page_errors():
        out = svc.visits(session, who=who, today=district_today(),
                         visits=_visits(request), street=street)
    _audit_read(request, session, who, out, "assignments.list", street)
    streets = sorted({v.street_code for v in out.items} | set(who.streets or ()))
    return render(request, "assignments.html", status=status, who=who, result=out,
                  street=street, streets=streets, message=message, done=done, checked=checked,
                  caseworkers=svc.caseworkers(session, (street,) if street else who.streets))


@router.get("/assignments", response_class=HTMLResponse)
def assignments(request: Request, session: SessionDep, who: PagePrincipal, street: Choice = None,
                done: Annotated[int | None, Query(ge=0, le=200)] = None) -> HTMLResponse:
    """This month's allocated visits of the lead's streets (or one), with their caseworker
    and due date, and the bulk assignment form."""
    need(who, "assignments:write")
    return _assign_page(request, session, who, _street(who, street), done=done)


def _ids(form: dict[str, list[str]]) -> list[int]:
    try:
        return [int(v) for v in form.get("referral_id", []) if v]
    except ValueError:
        raise PageError(400, N_("The form could not be read.")) from None


@router.post("/assignments", response_class=HTMLResponse)
def assign(request: Request, session: SessionDep, who: PagePrincipal,
           form: FormBody) -> Response:
    """Assign the checked visits to the chosen caseworker; errors show above the form's
    button with the choices kept."""
    check_csrf(request, form)
    need(who, "assignments:write")
    street = _street(who, field(form, "street"))
    ids = _ids(form)
    try:
        body = AssignCreate(referral_ids=ids, assignee=field(form, "assignee") or "")
        out = svc.assign(session, who=who, body=body, today=district_today(),
                         visits=_visits(request))
    except ValidationError:
        session.rollback()
        return _assign_page(request, session, who, street, status=422, message=NOTHING,
                            checked=frozenset(ids))
    except ApiError as exc:
        session.rollback()
        if exc.code not in ASSIGN_MESSAGES:
            raise
        return _assign_page(request, session, who, street, status=exc.status,
                            message=ASSIGN_MESSAGES[exc.code], checked=frozenset(ids))
    audit.record(session, who=who, action="assignments.assign", endpoint=endpoint(request),
                 detail={"assignee": out.assignee, "referral_ids": ids,
                         "assigned": out.assigned, "reassigned": out.reassigned,
                         "household_ids": audit.listed(out.household_ids)})
    session.commit()
    query = urlencode({k: v for k, v in (("street", street),
                                         ("done", out.assigned + out.reassigned)) if v})
    return RedirectResponse(f"/assignments?{query}", status_code=303)


@router.get("/my-visits", response_class=HTMLResponse)
def my_visits(request: Request, session: SessionDep, who: PagePrincipal) -> HTMLResponse:
    """The caller's assigned visits, soonest due first, overdue ones marked."""
    need(who, "assignments:read")
    with page_errors():
        out = svc.visits(session, who=who, today=district_today(), visits=_visits(request),
                         mine=True)
    _audit_read(request, session, who, out, "assignments.mine", None)
    return render(request, "my_visits.html", who=who, result=out)
