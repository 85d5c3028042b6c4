"""GET /api/v1/referrals: the caller's referral list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint, require
from assist.serving.list_filters import (
    BAND_NAMES,
    CAUSE_NAMES,
    FLAG_NAMES,
    BandCode,
    CauseCode,
    FlagCode,
    ProgrammeCode,
    describe,
    programme_names,
)
from assist.serving.schemas import Code, ReferralPage, Status, json_response
from assist.serving.services.referrals import Filters, Sort, list_referrals

router = APIRouter(prefix="/referrals", tags=["referrals"])


@router.get("", response_model=ReferralPage)
def referrals(
    request: Request, session: SessionDep,
    who: Annotated[Principal, Depends(require("referrals:read"))],
    street: Annotated[Code | None, Query(description=(
        "Street code, e.g. S01; a caseworker's street outside their own is a 403."))] = None,
    community: Annotated[Code | None, Query(description=(
        "Community code, e.g. S01C003 (within the caller's streets, else 403)."))] = None,
    band: Annotated[BandCode | None, Query(
        description=f"Need band: {describe(BAND_NAMES)}.")] = None,
    cause: Annotated[CauseCode | None, Query(
        description=f"Primary distress cause: {describe(CAUSE_NAMES)}.")] = None,
    programme: Annotated[ProgrammeCode | None, Query(
        description=f"Matched programme: {describe(programme_names())}.")] = None,
    flag: Annotated[FlagCode | None, Query(
        description=f"Early-warning flag: {describe(FLAG_NAMES)}.")] = None,
    status: Annotated[Status | None, Query()] = None,
    allocated: Annotated[bool | None, Query(
        description="true: this month's allocated visits only; false: the rest.")] = None,
    sort: Annotated[Sort, Query()] = "rank_street",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """Referrals of the current snapshot in the caller's streets, filtered, sorted, paged
    (default order: every street's allocated visits first, then the rest, by street and
    rank). Filter codes are enums: an unknown one is a 422 naming the field and the allowed
    values. The read's audit entry, with the pseudonyms listed, is committed before the
    response leaves."""
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
