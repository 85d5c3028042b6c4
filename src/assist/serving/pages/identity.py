"""Caseworker pages that show who a household is: the identity block of the household page
(``_identity.html``, through the template global ``identity_of``), the search (查找家庭), the
printable visit sheet (走访单) of one household or a batch, and the Excel export of the
referral list. Caseworkers only; every identity shown is an audited reveal
(:mod:`assist.serving.services.identity`)."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from jinja2 import pass_context
from starlette.responses import HTMLResponse, Response

from assist.features.codes import STREETS
from assist.reports.i18n import programme_names
from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint
from assist.serving.errors import ApiError
from assist.serving.pages.i18n import N_
from assist.serving.pages.web import PageError, PagePrincipal, need_role, page_errors, render
from assist.serving.schemas import HOUSEHOLD_ID_PATTERN, HouseholdDetail
from assist.serving.services import identity as vault_service
from assist.serving.services.households import household_detail
from assist.serving.services.referrals import Filters, list_referrals, snapshot_or_503
from assist.serving.services.visits import current_benefits, referral_workbook

log = logging.getLogger("assist.serving")
router = APIRouter(include_in_schema=False)
CASEWORKERS = frozenset({"caseworker"})
MAX_BATCH = 30
EXPORT_PAGE, EXPORT_PAGES = 2000, 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_HOUSEHOLD = re.compile(HOUSEHOLD_ID_PATTERN)
SearchText = Annotated[str | None, Query(max_length=200)]
#: the visit's possible findings, printed as boxes to tick (codes of the decision form)
FINDINGS = (("confirmed", "确有困难", "need confirmed"), ("not_in_need", "暂不符合条件", "not in need"),
            ("unreachable", "未能联系", "unreachable"), ("declined", "谢绝走访", "declined"))


@pass_context
def identity_of(ctx: Any, household_id: str) -> Any:  # noqa: ANN401 - a Jinja context
    """Template global: the household's identity for the signed-in caseworker (an audited
    reveal, purpose ``household_page``); None for every other caller or household."""
    request, who = ctx.get("request"), ctx.get("who")
    if request is None or not vault_service.sees_identity(who):
        return None
    vault = vault_service.vault_of(request.app.state)
    try:
        with request.app.state.sessions() as s:
            return vault_service.reveal(s, who=who, household_id=household_id,
                                        purpose="household_page", endpoint=endpoint(request),
                                        vault=vault)
    except ApiError as exc:
        log.error("identity not shown: %s", exc.message)
        return None


def install(app: FastAPI) -> None:
    """Make ``identity_of`` available to the page templates."""
    app.state.page_templates.env.globals["identity_of"] = identity_of


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, session: SessionDep, who: PagePrincipal,
           q: SearchText = None) -> HTMLResponse:
    """Find a household of the caller's streets by ID number, name or address."""
    need_role(who, CASEWORKERS)
    result, message, status = None, None, 200
    if q is not None and q.strip():
        try:
            result = vault_service.search(session, who=who, query=q, endpoint=endpoint(request),
                                          vault=vault_service.vault_of(request.app.state))
        except ApiError as exc:
            session.rollback()
            if exc.status not in (422, 503):
                raise
            status = exc.status
            message = (N_("Type at least 2 characters, or a full 18-character ID number.")
                       if exc.status == 422 else
                       N_("The identity records are not available at the moment."))
    return render(request, "search.html", status=status, who=who, q=q or "", result=result,
                  message=message, streets={s: STREETS.get(s, s) for s in who.streets or ()})


def _checked_ids(ids: list[str]) -> list[str]:
    out = list(dict.fromkeys(i for i in ids if i))
    if not out or len(out) > MAX_BATCH or not all(_HOUSEHOLD.match(i) for i in out):
        raise PageError(422, N_("Choose between 1 and 30 households for the visit sheets."),
                        field="ids")
    return out


def _details(request: Request, session: Any, who: Principal,  # noqa: ANN401
             ids: list[str]) -> list[HouseholdDetail]:
    out = []
    for h in ids:
        try:
            with page_errors():
                out.append(household_detail(session, who=who, household_id=h,
                                            endpoint=endpoint(request)))
        except PageError:
            session.rollback()
            audit.record(session, who=who, action=audit.DENIED, endpoint=endpoint(request),
                         household_id=h)
            session.commit()
            raise
    return out


def _benefits(d: HouseholdDetail, stored: dict[str, list[str]] | None) -> list[str] | None:
    """Programmes the household receives: the snapshot's own record when it carries one, else
    the store's assistance table; None when neither knows."""
    carried = getattr(d.referral, "receiving", None) if d.referral else None
    if carried is not None:
        return list(carried)
    return None if stored is None else stored.get(d.household_id, [])


def _sheets(request: Request, session: Any, who: Principal,  # noqa: ANN401
            ids: list[str]) -> HTMLResponse:
    need_role(who, CASEWORKERS)
    details = _details(request, session, who, ids)
    identities = vault_service.reveal_many(
        session, who=who, household_ids=ids, purpose="visit_sheet", endpoint=endpoint(request),
        vault=vault_service.vault_of(request.app.state))
    as_of = details[0].as_of
    stored = current_benefits(request.app.state.settings.store_dir, ids, as_of=as_of)
    return render(request, "visit_sheet.html", who=who, sheets=[
        {"d": d, "who": identities.get(d.household_id), "benefits": _benefits(d, stored),
         "street": STREETS.get(d.street_code, d.street_code)} for d in details],
        programmes=programme_names(), outcomes=FINDINGS)


@router.get("/visit-sheet/{household_id}", response_class=HTMLResponse)
def visit_sheet(request: Request, session: SessionDep, who: PagePrincipal,
                household_id: str) -> HTMLResponse:
    """The printable A4 visit sheet (走访单) of one household."""
    return _sheets(request, session, who, _checked_ids([household_id]))


@router.get("/visit-sheet", response_class=HTMLResponse)
def visit_sheets(request: Request, session: SessionDep, who: PagePrincipal,
                 ids: Annotated[list[str] | None, Query(max_length=MAX_BATCH + 1)] = None,
                 ) -> HTMLResponse:
    """Visit sheets of several households (``?ids=a&ids=b``), one A4 page each."""
    return _sheets(request, session, who, _checked_ids(list(ids or [])))


@router.get("/visit-sheets/allocated", response_class=HTMLResponse)
def allocated_sheets(request: Request, session: SessionDep, who: PagePrincipal) -> HTMLResponse:
    """Visit sheets of this month's allocated, undecided households of the caller's streets
    (rank order, at most 30)."""
    need_role(who, CASEWORKERS)
    with page_errors():
        out = list_referrals(session, who=who, filters=Filters(allocated=True, status="open"),
                             sort="rank_street", page=1, page_size=MAX_BATCH)
    if not out.items:
        raise PageError(404, N_("No allocated household is waiting for a visit."))
    return _sheets(request, session, who, [r.household_id for r in out.items])


@router.get("/export/referrals.xlsx")
def export_referrals(request: Request, session: SessionDep, who: PagePrincipal) -> Response:
    """The caller's referral list of the current month as an Excel file, with the
    identities of their own streets (each an audited reveal; one audit row lists them all)."""
    need_role(who, CASEWORKERS)
    with page_errors():
        snap = snapshot_or_503(session)
        items: list = []
        for page in range(1, EXPORT_PAGES + 1):
            out = list_referrals(session, who=who, filters=Filters(), sort="rank_street",
                                 page=page, page_size=EXPORT_PAGE)
            items += out.items
            if len(out.items) < EXPORT_PAGE:
                break
    ids = [r.household_id for r in items]
    audit.record(session, who=who, action="referrals.export", endpoint=endpoint(request),
                 detail={"as_of": snap.as_of, "returned": len(ids), "format": "xlsx",
                         "household_ids": audit.listed(ids)})
    identities = vault_service.reveal_many(
        session, who=who, household_ids=ids, purpose="export", endpoint=endpoint(request),
        vault=vault_service.vault_of(request.app.state))
    session.commit()
    body = referral_workbook(items, identities, as_of=snap.as_of)
    name = f"referrals-{snap.as_of}.xlsx"
    return Response(body, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
