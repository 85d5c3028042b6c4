"""POST/GET/PUT /api/v1/decisions: visit outcomes with optimistic concurrency."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, require
from assist.serving.schemas import DecisionCreate, DecisionPublic, DecisionUpdate, json_response
from assist.serving.services import decisions as svc

router = APIRouter(prefix="/decisions", tags=["decisions"])
DecisionId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", response_model=DecisionPublic, status_code=201,
             responses={409: {"description": "the referral already has a decision"}})
def create(request: Request, session: SessionDep, body: DecisionCreate,
           who: Annotated[Principal, Depends(require("decisions:write"))]) -> Response:
    """Record a visit's outcome, programmes granted, override reason, note and rating."""
    return json_response(svc.create_decision(session, who=who, body=body,
                                             endpoint=endpoint(request)), status_code=201)


@router.get("/{decision_id}", response_model=DecisionPublic)
def read(request: Request, session: SessionDep, decision_id: DecisionId,
         who: Annotated[Principal, Depends(require("decisions:read"))]) -> Response:
    """One decision (with its version, needed to change it)."""
    return json_response(svc.get_decision(session, who=who, decision_id=decision_id,
                                          endpoint=endpoint(request)))


@router.put("/{decision_id}", response_model=DecisionPublic,
            responses={409: {"description": "stale version: reload and retry"}})
def update(request: Request, session: SessionDep, decision_id: DecisionId, body: DecisionUpdate,
           who: Annotated[Principal, Depends(require("decisions:write"))]) -> Response:
    """Change a decision; ``version`` must match the stored one, else 409."""
    return json_response(svc.update_decision(session, who=who, decision_id=decision_id,
                                             body=body, endpoint=endpoint(request)))
