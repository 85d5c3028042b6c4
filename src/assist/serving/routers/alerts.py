"""Water-meter alerts (水管家): the urgent queue, acknowledge, resolve — by version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from assist.serving.alerts.schemas import AlertAcknowledge, AlertList, AlertPublic, AlertResolve
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, require
from assist.serving.schemas import json_response
from assist.serving.services import alerts as svc

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CONFLICTS = {409: {"description": "stale version, or already acknowledged / resolved"}}


@router.get("", response_model=AlertList)
def queue(request: Request, session: SessionDep,
          who: Annotated[Principal, Depends(require("alerts:read"))],
          unresolved: Annotated[bool, Query(description="Only unresolved alerts.")] = False,
          ) -> Response:
    """Alerts of the caller's streets (a caseworker: own streets only), escalated and open
    first; the read is audited with the households listed."""
    return json_response(svc.list_alerts(session, who=who, endpoint=endpoint(request),
                                         unresolved_only=unresolved))


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic, responses=CONFLICTS)
def acknowledge(request: Request, session: SessionDep, alert_id: AlertId, body: AlertAcknowledge,
                who: Annotated[Principal, Depends(require("alerts:write"))]) -> Response:
    """Acknowledge an alert (someone is on the way); another street's alert is 404."""
    return json_response(svc.acknowledge(session, who=who, alert_id=alert_id, body=body,
                                         endpoint=endpoint(request)))


@router.post("/{alert_id}/resolve", response_model=AlertPublic, responses=CONFLICTS)
def resolve(request: Request, session: SessionDep, alert_id: AlertId, body: AlertResolve,
            who: Annotated[Principal, Depends(require("alerts:write"))]) -> Response:
    """Resolve with what the visit found: visited_fine, visited_help_needed, or unreachable
    (escalated to the street lead, stays unresolved)."""
    return json_response(svc.resolve(session, who=who, alert_id=alert_id, body=body,
                                      endpoint=endpoint(request)))
