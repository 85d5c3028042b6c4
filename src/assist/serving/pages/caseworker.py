"""Caseworker pages: the referral list, a household, and the decision form behind it."""

from __future__ import annotations

import re
from dataclasses import asdict
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
from assist.serving.list_filters import FLAG_NAMES, choices, programme_names
from assist.serving.models import OUTCOMES, STATUSES, Referral
from assist.serving.pages import household_view as view
from assist.serving.pages.contests import labels as contest_labels
from assist.serving.pages.i18n import N_
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
from assist.serving.services.decision_history import public_revisions, revisions_of
from assist.serving.services.decisions import create_decision, district_today, update_decision
from assist.serving.services.households import household_detail
from assist.serving.services.referrals import (
    SORTS,
    Filters,
    Sort,
    allocated_by_street,
    communities,
    list_referrals,
)

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
BANDS = ("high", "medium", "low")
_HOUSEHOLD = re.compile(HOUSEHOLD_ID_PATTERN)
_CODE = re.compile(r"^[A-Za-z0-9_]{1,32}$")
Choice = Annotated[str | None, Query(max_length=32)]
INVALID = N_("Please check the form: a value is too long or not allowed.")
FIELD_MESSAGES = {"outcome": N_("Choose what you found on the visit."),
                  "visit_date": N_("The visit date is not a valid date."),
                  "programmes_granted": N_("Choose programmes from the list.")}
API_MESSAGES = {
    "version_conflict": N_("Someone else changed this decision since you opened the page. What "
                           "you typed is kept, beside the saved version: merge them and save."),
    "decision_exists": N_("A decision was recorded meanwhile. What you typed is kept, beside "
                          "the saved version: merge them and save."),
    "override_reason_required": N_("This outcome disagrees with the need band: please give the "
                                   "reason for overriding the score."),
    "visit_date_in_future": N_("The visit date is after today: enter the day of the visit."),
    "visit_date_before_referral": N_("The visit date is before the month of this referral: "
                                     "enter the day of the visit."),
}
#: form fields that a service's 422 names (``body.<field>``) and the page marks beside the field
FORM_FIELDS = ("visit_date", "override_reason", "programmes_granted", "rating", "outcome",
               "note", "rating_reason")


def _pick(value: str | None, allowed) -> str | None:  # noqa: ANN001
    return value if value in allowed else None


def _capacity_breaks(items: list) -> set[int]:
    """Row indexes after which this month's allocated visits end (they come first, every
    street's, then the waiting households)."""
    return {i for i, r in enumerate(items[:-1]) if r.allocated and not items[i + 1].allocated}


#: "allocated this month" filter of the page: form value -> Filters.allocated
ALLOCATED = {"1": True, "0": False}
OUTSIDE = N_("This street or community is not one of your streets.")


def _list_filters(session, who: Principal, q: dict[str, str | None],  # noqa: ANN001
                  streets: list[str]) -> Filters:
    """The page's filters: unknown codes are dropped (a menu offers only known ones); a street
    or community outside a caseworker's (or street lead's) streets is a 403 page that says so."""
    limited = who.streets is not None
    street = q["street"] if q["street"] in streets else None
    if limited and q["street"] and street is None:
        raise PageError(403, OUTSIDE)
    community = q["community"] if q["community"] and _CODE.match(q["community"]) else None
    if community is not None and community not in dict(communities(session, streets)):
        if limited:
            raise PageError(403, OUTSIDE)
        community = None
    return Filters(street=street, community=community, band=_pick(q["band"], BANDS),
                   cause=_pick(q["cause"], CAUSES), status=_pick(q["status"], STATUSES),
                   flag=_pick(q["flag"], FLAG_NAMES), programme=_pick(q["programme"], PROGRAMMES),
                   allocated=ALLOCATED.get(q["allocated"] or ""))


@router.get("/referrals", response_class=HTMLResponse)
def referrals(request: Request, session: SessionDep, who: PagePrincipal,
              street: Choice = None, community: Choice = None, band: Choice = None,
              cause: Choice = None, status: Choice = None, flag: Choice = None,
              programme: Choice = None, allocated: Choice = None, sort: Choice = None,
              page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """The caller's referral list: filters (street, community, band, cause, status, flag,
    programme, allocated this month), sort, allocated visits first, badges with a legend."""
    need(who, "referrals:read")
    streets = [s for s in STREETS if who.sees_street(s)] if who.streets is None else list(who.streets)
    q = {"street": street, "community": community, "band": band, "cause": cause,
         "status": status, "flag": flag, "programme": programme, "allocated": allocated}
    f = _list_filters(session, who, q, streets)
    order = sort if sort in SORTS else "rank_street"
    with page_errors():
        out = list_referrals(session, who=who, filters=f, sort=order, page=page,
                             page_size=PAGE_SIZE)
        per_street = allocated_by_street(session, who=who)
    audit.record(session, who=who, action="referrals.list", endpoint=endpoint(request),
                 detail={"as_of": out.as_of, "returned": len(out.items), "page": page,
                         "street": f.street, "community": f.community,
                         "household_ids": audit.listed(r.household_id for r in out.items)})
    session.commit()
    shown = {**asdict(f), "allocated": {True: "1", False: "0"}.get(f.allocated)}
    query = urlencode({k: v for k, v in (*shown.items(), ("sort", order)) if v})
    t = translator(request)
    return render(request, "referrals.html", who=who, result=out, filters=f, sort=order,
                  streets=streets, bands=BANDS, causes=list(CAUSES), statuses=STATUSES,
                  sorts=list(get_args(Sort)), pages=max(1, -(-out.total // PAGE_SIZE)),
                  query=query, allocated_value=shown["allocated"],
                  communities=communities(session, streets if who.streets else None),
                  flags=choices(FLAG_NAMES, t.lang), programmes=choices(programme_names(), t.lang),
                  programme_name={c: n.text(t.lang) for c, n in programme_names().items()},
                  flag_name={c: n.text(t.lang) for c, n in FLAG_NAMES.items()},
                  breaks=_capacity_breaks(out.items) if order == "rank_street" else set(),
                  allocated=sum(r.allocated for r in out.items), per_street=per_street,
                  unknown_new=any(r.new_this_month is None for r in out.items))


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
                    contested: bool = False, contests: list | None = None,
                    revisions: list | None = None, conflict: bool = False) -> HTMLResponse:
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
        deprived=view.indicator_rows(d.indicators, t),
        changes=view.history_rows(revisions or [], t), conflict=conflict and current is not None,
        conflict_rows=view.conflict_rows(current, form or {}, t) if conflict and current else [],
        stored_by=next((r.changed_by for r in revisions or [] if current and
                        r.decision_id == current.id), None))


@router.get("/households/{household_id}", response_class=HTMLResponse)
def household(request: Request, session: SessionDep, who: PagePrincipal, household_id: str,
              saved: Annotated[int, Query(ge=0, le=1)] = 0,
              contested: Annotated[int, Query(ge=0, le=1)] = 0) -> HTMLResponse:
    """One household: score, dimension profile, factors, programmes, history, decisions,
    contests (with the contest form and the link to its notice)."""
    d = _detail(request, session, who, household_id)
    return _household_page(request, who, d, saved=bool(saved), contested=bool(contested),
                           contests=household_contests(session, household_id),
                           revisions=_revisions(session, who, household_id))


def _revisions(session, who: Principal, household_id: str) -> list:  # noqa: ANN001
    """The household's decision history as the caller may see it (part of the audited read
    of the household page); none for roles that do not read decisions."""
    if not who.can("decisions:read"):
        return []
    return public_revisions(session, revisions_of(session, household_id), who)


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
        field_error = loc if loc in FORM_FIELDS else None
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
    # a conflict keeps what was typed, shown beside the stored version to merge and save
    return _household_page(request, who, d, status=status, message=message, form=kept,
                           field_error=field_error, conflict=status == 409,
                           contests=household_contests(session, household_id),
                           revisions=_revisions(session, who, household_id))
