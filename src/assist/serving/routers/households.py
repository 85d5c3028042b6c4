"""GET /api/v1/households/{household_id}: one household's detail (audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, require
from assist.serving.schemas import HOUSEHOLD_ID_PATTERN, HouseholdDetail, json_response
from assist.serving.services.households import household_detail

router = APIRouter(prefix="/households", tags=["households"])


@router.get("/{household_id}", response_model=HouseholdDetail)
def household(
    request: Request, session: SessionDep,
    who: Annotated[Principal, Depends(require("households:read"))],
    household_id: Annotated[str, Path(pattern=HOUSEHOLD_ID_PATTERN,
                                      description="Pseudonymous household id.")],
) -> Response:
    """Indicators (zh/en), dimension profile, explanation, programmes, history, decisions."""
    return json_response(household_detail(session, who=who, household_id=household_id,
                                          endpoint=endpoint(request),
                                          audit_log=request.app.state.audit))
