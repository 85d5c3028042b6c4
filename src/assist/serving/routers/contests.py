"""Contests (PIPL art. 24): record, the managers' queue, decide by version."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, probe_audited, require
from assist.serving.schemas import ContestCreate, ContestDecide, ContestList, ContestPublic, json_response
from assist.serving.services import contests as svc

router = APIRouter(prefix="/contests", tags=["contests"])
ContestId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", response_model=ContestPublic, status_code=201,
             responses={409: {"description": "the household has an open contest"}})
def create(request: Request, session: SessionDep, body: ContestCreate,
           who: Annotated[Principal, Depends(require("contests:write"))]) -> Response:
    """Record a household's contest: grounds, its words, the disputed indicators (a household
    unknown or outside the caller's streets: 404, and the probe is audited)."""
    with probe_audited(request, session, who=who, household_id=body.household_id):
        out = svc.create_contest(session, who=who, body=body, endpoint=endpoint(request))
    return json_response(out, status_code=201)


@router.get("", response_model=ContestList)
def queue(request: Request, session: SessionDep,
          who: Annotated[Principal, Depends(require("contests:read"))],
          status: Annotated[Literal["open", "upheld", "rejected", "data_corrected"] | None,
                            Query(description="Only contests with this status.")] = None,
          ) -> Response:
    """The managers' queue: open contests first, then the most recent decided ones."""
    return json_response(svc.list_contests(session, who=who, endpoint=endpoint(request),
                                           status=status))


@router.put("/{contest_id}/decision", response_model=ContestPublic,
            responses={409: {"description": "stale version, or already decided"}})
def decide(request: Request, session: SessionDep, contest_id: ContestId, body: ContestDecide,
           who: Annotated[Principal, Depends(require("contests:decide"))]) -> Response:
    """Decide an open contest: upheld, rejected or data_corrected, with a reason (required);
    ``version`` must match the stored one, else 409."""
    return json_response(svc.decide_contest(session, who=who, contest_id=contest_id, body=body,
                                            endpoint=endpoint(request)))
