"""/api/v1/assignments: this month's allocated visits, assigned in bulk to caseworkers of the
street by a street lead or a manager, with due dates; "my visits"; a referral's assignment
history. Every read is audited with the households it showed; an assignment is audited in the
same transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from assist.models.visits import VisitsSection
from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, require
from assist.serving.schemas import Code, json_response
from assist.serving.schemas_visits import AssignCreate, AssignmentHistory, AssignResult, VisitPage
from assist.serving.services import assignments as svc
from assist.serving.services.decisions import district_today

router = APIRouter(prefix="/assignments", tags=["assignments"])
ReferralId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _visits(request: Request) -> VisitsSection:
    """Due dates of the scoring config the monthly run reads."""
    return svc.visits_config(svc.scoring_config_path(request.app.state.settings.workspace))


def _read(request: Request, who: Principal, out: VisitPage, action: str, street: str | None) -> None:
    request.app.state.audit.write(
        who=who, action=action, endpoint=endpoint(request),
        detail={"as_of": out.as_of, "returned": len(out.items), "street": street,
                "household_ids": audit.listed(v.household_id for v in out.items)})


@router.get("", response_model=VisitPage)
def street_visits(request: Request, session: SessionDep,
                  who: Annotated[Principal, Depends(require("assignments:read"))],
                  street: Annotated[Code | None, Query(description=(
                      "Street code; outside the caller's streets: 403."))] = None) -> Response:
    """This month's allocated visits in the caller's streets with their caseworker, due date
    and whether they are overdue (unassigned: caseworker null)."""
    out = svc.visits(session, who=who, today=district_today(), visits=_visits(request),
                     street=street)
    _read(request, who, out, "assignments.list", street)
    return json_response(out)


@router.get("/mine", response_model=VisitPage)
def my_visits(request: Request, session: SessionDep,
              who: Annotated[Principal, Depends(require("assignments:read"))]) -> Response:
    """The caller's assigned visits, soonest due first, overdue ones marked."""
    out = svc.visits(session, who=who, today=district_today(), visits=_visits(request),
                     mine=True)
    _read(request, who, out, "assignments.mine", None)
    return json_response(out)


@router.post("", response_model=AssignResult,
             responses={403: {"description": "the caller may not assign visits"},
                        404: {"description": "a referral is not in this month's list of the "
                                              "caller's streets"},
                        422: {"description": "not allocated, already decided, or the assignee "
                                              "is not a caseworker of the referral's street"}})
def assign(request: Request, session: SessionDep, body: AssignCreate,
           who: Annotated[Principal, Depends(require("assignments:write"))]) -> Response:
    """Assign allocated referrals to one caseworker of their street (street leads: their
    streets; managers: the district). Due date: ``visits.due_days`` of the scoring config
    after today. A referral another caseworker holds is reassigned (recorded: who, when,
    from whom)."""
    out = svc.assign(session, who=who, body=body, today=district_today(),
                     visits=_visits(request))
    audit.record(session, who=who, action="assignments.assign", endpoint=endpoint(request),
                 detail={"assignee": out.assignee, "referral_ids": body.referral_ids,
                         "assigned": out.assigned, "reassigned": out.reassigned,
                         "household_ids": audit.listed(out.household_ids)})
    session.commit()
    return json_response(out)


@router.get("/{referral_id}/history", response_model=AssignmentHistory)
def assignment_history(request: Request, session: SessionDep, referral_id: ReferralId,
                       who: Annotated[Principal, Depends(require("assignments:read"))]) -> Response:
    """Every assignment of one referral (to whom, by whom, when, from whom), oldest first."""
    out = svc.history(session, who=who, referral_id=referral_id)
    request.app.state.audit.write(who=who, action="assignments.history",
                                  endpoint=endpoint(request), household_id=out.household_id,
                                  detail={"referral_id": referral_id})
    return json_response(out)
