"""POST/GET/PUT /api/v1/decisions: visit outcomes with optimistic concurrency, and every
household's decision history (GET /api/v1/households/{id}/decisions/history)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, probe_audited, require
from assist.serving.schemas import (
    HOUSEHOLD_ID_PATTERN,
    DecisionCreate,
    DecisionPublic,
    DecisionUpdate,
    json_response,
)
from assist.serving.schemas_history import DecisionHistory
from assist.serving.services import decisions as svc
from assist.serving.services.decision_history import household_history

router = APIRouter(tags=["decisions"])
DecisionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
HouseholdId = Annotated[str, Path(pattern=HOUSEHOLD_ID_PATTERN,
                                  description="Pseudonymous household id.")]
CONFLICT = {"description": "stale version: the body's `error.current` is the stored decision "
                           "(and `error.version` its version) to merge with and send back"}


@router.post("/decisions", response_model=DecisionPublic, status_code=201,
             responses={409: {"description": "the referral already has a decision: "
                                             "`error.current` is it"}})
def create(request: Request, session: SessionDep, body: DecisionCreate,
           who: Annotated[Principal, Depends(require("decisions:write"))]) -> Response:
    """Record a visit's outcome, programmes granted, override reason, note and rating."""
    return json_response(svc.create_decision(session, who=who, body=body,
                                             endpoint=endpoint(request)), status_code=201)


@router.get("/decisions/{decision_id}", response_model=DecisionPublic)
def read(request: Request, session: SessionDep, decision_id: DecisionId,
         who: Annotated[Principal, Depends(require("decisions:read"))]) -> Response:
    """One decision (with its version, needed to change it)."""
    return json_response(svc.get_decision(session, who=who, decision_id=decision_id,
                                          endpoint=endpoint(request)))


@router.put("/decisions/{decision_id}", response_model=DecisionPublic,
            responses={409: CONFLICT})
def update(request: Request, session: SessionDep, decision_id: DecisionId, body: DecisionUpdate,
           who: Annotated[Principal, Depends(require("decisions:write"))]) -> Response:
    """Change a decision; ``version`` must match the stored one, else 409 with the stored
    decision in the body, to merge with and save again."""
    return json_response(svc.update_decision(session, who=who, decision_id=decision_id,
                                             body=body, endpoint=endpoint(request)))


@router.get("/households/{household_id}/decisions/history", response_model=DecisionHistory)
def history(request: Request, session: SessionDep, household_id: HouseholdId,
            who: Annotated[Principal, Depends(require("decisions:read"))]) -> Response:
    """Every change of the household's decisions, newest first: who, when, and each changed
    field before and after (a household unknown or outside the caller's streets: 404, the
    probe audited)."""
    with probe_audited(request, session, who=who, household_id=household_id):
        out = household_history(session, who=who, household_id=household_id,
                                endpoint=endpoint(request))
    return json_response(out)
