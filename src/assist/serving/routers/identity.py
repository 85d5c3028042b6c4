"""Identity API (caseworkers only): search a household of one's streets by ID number, name or
address; who and where one household is. Every identity returned is an audited reveal;
managers, data scientists and admins get 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, require
from assist.serving.errors import ApiError, not_found
from assist.serving.schemas import HOUSEHOLD_ID_PATTERN, json_response
from assist.serving.schemas_identity import IdentityPublic, SearchResult
from assist.serving.services import identity as service

router = APIRouter(tags=["identity"])
Reader = Annotated[Principal, Depends(require("households:read"))]
_FORBIDDEN = {403: {"description": "not a caseworker: identities are never shown to this role"}}


def _caseworker(who: Principal) -> None:
    if not service.sees_identity(who):
        raise ApiError(403, "forbidden", "identities are shown to the household's own "
                       "caseworkers only")


@router.get("/identity/search", response_model=SearchResult, responses=_FORBIDDEN)
def search(request: Request, session: SessionDep, who: Reader,
           q: Annotated[str, Query(min_length=1, max_length=64, description=(
               "An 18-character ID number (exact), or 2+ characters of a name or address."))],
           ) -> Response:
    """Households of the caller's streets by ID number (blind index) or name/address
    fragment; audited (one search row listing them, one reveal row each)."""
    _caseworker(who)
    out = service.search(session, who=who, query=q, endpoint=endpoint(request),
                         vault=service.vault_of(request.app.state))
    return json_response(out)


@router.get("/households/{household_id}/identity", response_model=IdentityPublic,
            responses=_FORBIDDEN)
def identity(request: Request, session: SessionDep, who: Reader,
             household_id: Annotated[str, Path(pattern=HOUSEHOLD_ID_PATTERN)]) -> Response:
    """Who and where the household is (head's name, address, phone, members); 404 when
    unknown, outside the caller's streets or without a record (the probe audited)."""
    _caseworker(who)
    found = service.reveal(session, who=who, household_id=household_id, purpose="api",
                           endpoint=endpoint(request), vault=service.vault_of(request.app.state))
    if found is None:
        audit.record(session, who=who, action=audit.DENIED, endpoint=endpoint(request),
                     household_id=household_id)
        session.commit()
        raise not_found("household")
    return json_response(found)
