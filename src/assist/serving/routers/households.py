"""GET /api/v1/households/{household_id}: one household's detail (audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, probe_audited, require
from assist.serving.schemas import HOUSEHOLD_ID_PATTERN, HouseholdDetail, HouseholdNotice, json_response
from assist.serving.services.households import household_detail
from assist.serving.services.notice import household_notice

router = APIRouter(prefix="/households", tags=["households"])
HouseholdId = Annotated[str, Path(pattern=HOUSEHOLD_ID_PATTERN,
                                  description="Pseudonymous household id.")]


@router.get("/{household_id}", response_model=HouseholdDetail)
def household(
    request: Request, session: SessionDep,
    who: Annotated[Principal, Depends(require("households:read"))],
    household_id: Annotated[str, Path(pattern=HOUSEHOLD_ID_PATTERN,
                                      description="Pseudonymous household id.")],
) -> Response:
    """Indicators (zh/en), dimension profile, explanation, programmes, history, decisions
    (a household unknown or outside the caller's streets: 404, and the probe is audited)."""
    with probe_audited(request, session, who=who, household_id=household_id):
        detail = household_detail(session, who=who, household_id=household_id,
                                  endpoint=endpoint(request), audit_log=request.app.state.audit)
    return json_response(detail)


@router.get("/{household_id}/notice", response_model=HouseholdNotice,
            responses={409: {"description": "no visit decision recorded yet"}})
def notice(request: Request, session: SessionDep, household_id: HouseholdId,
           who: Annotated[Principal, Depends(require("notice:read"))]) -> Response:
    """The notice to a visited household (PIPL art. 24), Chinese and English: identified by
    the service, the departments' data used, its top factors, the visit's decision, and how
    to ask, correct data or contest (outside the caller's streets: 404, the probe audited)."""
    with probe_audited(request, session, who=who, household_id=household_id):
        out = household_notice(session, who=who, household_id=household_id,
                               endpoint=endpoint(request))
    return json_response(out)
