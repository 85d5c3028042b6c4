"""GET /api/v1/referrals: the caller's referral list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, require
from assist.serving.schemas import Band, Code, ReferralPage, Status, json_response
from assist.serving.services.referrals import Filters, Sort, list_referrals

router = APIRouter(prefix="/referrals", tags=["referrals"])


@router.get("", response_model=ReferralPage)
def referrals(
    request: Request, session: SessionDep,
    who: Annotated[Principal, Depends(require("referrals:read"))],
    street: Annotated[Code | None, Query(description="Street code, e.g. S01.")] = None,
    community: Annotated[Code | None, Query(description="Community code, e.g. S01C003.")] = None,
    band: Annotated[Band | None, Query()] = None,
    cause: Annotated[Code | None, Query(description="Primary distress cause.")] = None,
    programme: Annotated[Code | None, Query(description="Matched programme code.")] = None,
    flag: Annotated[Code | None, Query(description="Early-warning flag.")] = None,
    status: Annotated[Status | None, Query()] = None,
    allocated: Annotated[bool | None, Query()] = None,
    sort: Annotated[Sort, Query()] = "rank_street",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """Referrals of the current snapshot in the caller's streets, filtered, sorted, paged
    (the read's audit entry, with the pseudonyms listed, is committed before the response
    leaves)."""
    out = list_referrals(session, who=who, sort=sort, page=page, page_size=page_size,
                         filters=Filters(street=street, community=community, band=band,
                                         cause=cause, programme=programme, flag=flag,
                                         status=status, allocated=allocated))
    request.app.state.audit.write(
        who=who, action="referrals.list", endpoint=endpoint(request),
        detail={"as_of": out.as_of, "returned": len(out.items), "page": page, "street": street,
                "community": community,
                "household_ids": audit.listed(r.household_id for r in out.items)})
    return json_response(out)
