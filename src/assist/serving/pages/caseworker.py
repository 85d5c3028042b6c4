"""Caseworker pages: the referral list, a household, and the decision form behind it."""

from __future__ import annotations

import re
from typing import Annotated, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from assist.features.codes import CAUSES, PROGRAMMES, STREETS
from assist.reports import charts
from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, endpoint
from assist.serving.errors import ApiError
from assist.serving.models import OUTCOMES, STATUSES, Referral
from assist.serving.pages.contests import labels as contest_labels
from assist.serving.pages.i18n import N_
from assist.serving.pages.queries import new_this_month
from assist.serving.pages.web import (
    FormBody,
    PageError,
    PagePrincipal,
    check_csrf,
    field,
    need,
    page_errors,
    render,
    translator,
)
from assist.serving.schemas import HOUSEHOLD_ID_PATTERN, DecisionCreate, DecisionUpdate, HouseholdDetail
from assist.serving.services.contests import household_contests
from assist.serving.services.decisions import create_decision, district_today, update_decision
from assist.serving.services.households import household_detail
from assist.serving.services.referrals import SORTS, Filters, Sort, list_referrals, snapshot_or_503

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
BANDS = ("high", "medium", "low")
_HOUSEHOLD = re.compile(HOUSEHOLD_ID_PATTERN)
Choice = Annotated[str | None, Query(max_length=32)]
INVALID = N_("Please check the form: a value is too long or not allowed.")
FIELD_MESSAGES = {"outcome": N_("Choose what you found on the visit."),
                  "visit_date": N_("The visit date is not a valid date."),
                  "programmes_granted": N_("Choose programmes from the list.")}
API_MESSAGES = {
    "version_conflict": N_("Someone else changed this decision since you opened the page. The "
                           "latest version is shown below; please check it and save again."),
    "decision_exists": N_("A decision was recorded meanwhile. The latest version is shown below; "
                          "please check it and save again."),
    "override_reason_required": N_("This outcome disagrees with the need band: please give the "
                                   "reason for overriding the score."),
    "visit_date_in_future": N_("The visit date is after today: enter the day of the visit."),
    "visit_date_before_referral": N_("The visit date is before the month of this referral: "
                                     "enter the day of the visit."),
}
#: form fields that a service's 422 names (``body.<field>``) and the page marks beside the field
FORM_FIELDS = ("visit_date", "override_reason")


def _pick(value: str | None, allowed) -> str | None:  # noqa: ANN001
    return value if value in allowed else None


def _capacity_breaks(items: list) -> set[int]:
    """Row indexes after which this month's allocation ends (per street, in rank order)."""
    last: dict[str, int] = {}
    for i, r in enumerate(items):
        if r.allocated:
            last[r.street_code] = i
    return {i for i in last.values() if i + 1 < len(items) and not items[i + 1].allocated}


@router.get("/referrals", response_class=HTMLResponse)
def referrals(request: Request, session: SessionDep, who: PagePrincipal,
              street: Choice = None, band: Choice = None, cause: Choice = None,
              status: Choice = None, sort: Choice = None,
              page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """The caller's referral list: filters, sort, capacity line, new/flag badges."""
    need(who, "referrals:read")
    streets = [s for s in STREETS if who.sees_street(s)] if who.streets is None else list(who.streets)
    f = Filters(street=_pick(street, streets), band=_pick(band, BANDS),
                cause=_pick(cause, CAUSES), status=_pick(status, STATUSES))
    order = sort if sort in SORTS else "rank_street"
    with page_errors():
        snap = snapshot_or_503(session)
        out = list_referrals(session, who=who, filters=f, sort=order, page=page,
                             page_size=PAGE_SIZE)
    fresh = new_this_month(session, current=snap, household_ids=(r.household_id for r in out.items))
    audit.record(session, who=who, action="referrals.list", endpoint=endpoint(request),
                 detail={"as_of": out.as_of, "returned": len(out.items), "page": page,
                         "street": f.street, "community": None,
                         "household_ids": audit.listed(r.household_id for r in out.items)})
    session.commit()
    pages = max(1, -(-out.total // PAGE_SIZE))
    query = urlencode({k: v for k, v in (("street", f.street), ("band", f.band), ("cause", f.cause),
                                         ("status", f.status), ("sort", order)) if v})
    return render(request, "referrals.html", who=who, result=out, filters=f, sort=order,
                  streets=streets, bands=BANDS, causes=list(CAUSES), statuses=STATUSES,
                  sorts=list(get_args(Sort)), fresh=fresh, pages=pages, query=query,
                  breaks=_capacity_breaks(out.items) if order == "rank_street" else set(),
                  allocated=sum(r.allocated for r in out.items))


def _detail(request: Request, session, who: Principal, household_id: str) -> HouseholdDetail:  # noqa: ANN001
    if not _HOUSEHOLD.match(household_id):
        raise PageError(404, N_("Not found, or not in your streets."))
    need(who, "households:read")
    with page_errors():
        try:
            return household_detail(session, who=who, household_id=household_id,
                                    endpoint=endpoint(request))
        except ApiError as exc:
            if exc.status == 404:  # a probe: unknown, or outside the caller's streets
                session.rollback()
                audit.record(session, who=who, action=audit.DENIED, endpoint=endpoint(request),
                             household_id=household_id)
                session.commit()
            raise


def _household_page(request: Request, who: Principal, d: HouseholdDetail, *, status: int = 200,
                    message: str | None = None, saved: bool = False,
                    form: dict | None = None, field_error: str | None = None,
                    contested: bool = False, contests: list | None = None) -> HTMLResponse:
    t = translator(request)
    dims = [charts.Bar(t.dimension(p.dimension),
                       p.deprived_indicators / p.indicators if p.indicators else 0.0,
                       f"{p.deprived_indicators}/{p.indicators}",
                       highlight=p.deprived_indicators > 0) for p in d.dimensions]
    current = next((x for x in d.decisions if d.referral and x.referral_id == d.referral.id), None)
    history = list(reversed(d.history))
    return render(
        request, "household.html", status=status, who=who, d=d, current=current,
        message=message, saved=saved, form=form or {}, outcomes=OUTCOMES,
        field_error=field_error, programmes=list(PROGRAMMES), today=district_today().isoformat(),
        can_decide=who.can("decisions:write") and d.referral is not None,
        can_see_decisions=who.can("decisions:read"),
        contested=contested, contests=contests or [], contest=contest_labels(),
        can_contest=who.can("contests:write"), can_notice=who.can("notice:read") and bool(
            d.decisions),
        dim_chart=charts.hbars(dims, title=t.gettext("Dimension profile")),
        history_chart=charts.line([(h.as_of, h.probability) for h in history],
                                  title=t.gettext("Need score over time")),
        factors=d.explanation_zh if t.lang == "zh" else d.explanation_en,
        reasons=d.reasons_zh if t.lang == "zh" else d.reasons_en,
        deprived=[i for i in d.indicators if i.deprived])


@router.get("/households/{household_id}", response_class=HTMLResponse)
def household(request: Request, session: SessionDep, who: PagePrincipal, household_id: str,
              saved: Annotated[int, Query(ge=0, le=1)] = 0,
              contested: Annotated[int, Query(ge=0, le=1)] = 0) -> HTMLResponse:
    """One household: score, dimension profile, factors, programmes, history, decisions,
    contests (with the contest form and the link to its notice)."""
    d = _detail(request, session, who, household_id)
    return _household_page(request, who, d, saved=bool(saved), contested=bool(contested),
                           contests=household_contests(session, household_id))


def _decision_body(form: dict[str, list[str]], referral_id: int, version: int | None):  # noqa: ANN202
    data = {"outcome": field(form, "outcome"), "visit_date": field(form, "visit_date"),
            "programmes_granted": [p for p in form.get("programmes_granted", []) if p],
            "override_reason": field(form, "override_reason"), "note": field(form, "note"),
            "rating": field(form, "rating"), "rating_reason": field(form, "rating_reason")}
    if version is None:
        return DecisionCreate(referral_id=referral_id, **data)
    return DecisionUpdate(version=version, **data)


def _int(value: str | None) -> int | None:
    try:
        n = int(value) if value is not None else None
    except ValueError:
        raise PageError(400, N_("The form could not be read.")) from None
    if n is not None and not 1 <= n <= 2**31 - 1:
        raise PageError(400, N_("The form could not be read."))
    return n


@router.post("/households/{household_id}/decision", response_class=HTMLResponse)
def decide(request: Request, session: SessionDep, who: PagePrincipal, household_id: str,
           form: FormBody) -> Response:
    """Record or change the visit's decision (through the decisions service, by version)."""
    check_csrf(request, form)
    need(who, "decisions:write")
    referral_id, decision_id = _int(field(form, "referral_id")), _int(field(form, "decision_id"))
    version = _int(field(form, "version"))
    r = session.get(Referral, referral_id) if referral_id else None
    if r is None or r.household_id != household_id or not who.sees_street(r.street_code):
        raise PageError(404, N_("Not found, or not in your streets."))
    message, status, field_error = None, 200, None
    try:
        body = _decision_body(form, r.id, version if decision_id else None)
        with page_errors():
            if decision_id is None:
                create_decision(session, who=who, body=body, endpoint=endpoint(request))
            else:
                update_decision(session, who=who, decision_id=decision_id, body=body,
                                endpoint=endpoint(request))
    except ValidationError as exc:
        session.rollback()
        loc = str(exc.errors()[0].get("loc", ("",))[0]) if exc.errors() else ""
        message, status = FIELD_MESSAGES.get(loc, INVALID), 422
        field_error = loc if loc in FIELD_MESSAGES else None
    except ApiError as exc:
        session.rollback()
        named = (exc.field or "").removeprefix("body.")
        field_error = named if named in FORM_FIELDS else None
        if exc.code in API_MESSAGES:
            message, status = API_MESSAGES[exc.code], exc.status
        elif exc.status == 422:
            message, status = INVALID, 422
        else:
            raise
    if message is None:
        return RedirectResponse(f"/households/{household_id}?saved=1", status_code=303)
    d = _detail(request, session, who, household_id)
    kept = {k: v for k, v in form.items() if k not in ("csrf", "version", "decision_id")}
    return _household_page(request, who, d, status=status, message=message,
                           form=kept if status == 422 else {}, field_error=field_error,
                           contests=household_contests(session, household_id))
