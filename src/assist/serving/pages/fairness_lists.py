"""The households behind a count of the fairness page (``/fairness/households``).

A fairness report keeps the rows its audits counted
(:mod:`assist.reports.fairness_households`); a group's households, those in need, those the
list reached and those it missed open here, exactly as counted. The fairness page is for
managers and data scientists (district-wide); data scientists see pseudonyms only. Every list
read is audited with the pseudonyms it showed.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from assist.reports import fairness_households as fh
from assist.reports import fairness_view as fv
from assist.reports.report import report_folder
from assist.serving import audit
from assist.serving.deps import SessionDep, SettingsDep, endpoint
from assist.serving.pages.cache import file_stamp, page_cache
from assist.serving.pages.i18n import N_
from assist.serving.pages.manager import LIST_PAGE, PSEUDONYMS_ONLY
from assist.serving.pages.web import ANALYSTS, PageError, PagePrincipal, need_role, render, translator

router = APIRouter(include_in_schema=False)
#: a report folder: a month, or a model's or run's own report
FOLDER = re.compile(r"^(\d{4}-\d{2}|model-\d+|run-[0-9a-f]{1,64})$")
Text = Annotated[str | None, Query(max_length=200)]


def _rows(request: Request, settings: SettingsDep, folder: str) -> pd.DataFrame | None:
    """The report folder's rows, cached until the file changes."""
    path = report_folder(settings.workspace, folder) / fh.FILE
    if not path.is_file():
        return None
    return page_cache(request).get(("fairness-rows", str(path)),
                                   lambda: fh.read(path.parent), stamp=file_stamp(path))


@router.get("/fairness/households", response_class=HTMLResponse)
def fairness_households(request: Request, session: SessionDep, settings: SettingsDep,
                        who: PagePrincipal, as_of: Text = None, audit_: Annotated[
                            str | None, Query(alias="audit", max_length=20)] = None,
                        attribute: Text = None, group: Text = None, count: Text = None,
                        page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """The households behind one count of a group in a stored fairness report."""
    need_role(who, ANALYSTS)
    if count not in fh.COUNTS:
        raise PageError(404, N_("Unknown count: open the list from a fairness figure."),
                        field="count")
    if not as_of or not FOLDER.match(as_of):
        raise PageError(404, N_("No fairness report of this month."), field="as_of")
    rows = _rows(request, settings, as_of)
    if rows is None or audit_ not in set(rows["audit"].astype(str)):
        raise PageError(404, N_("This fairness report keeps no households for this audit."),
                        field="audit")
    attrs = (attribute or "").split(fv.PAIR_SEP)
    found = fh.behind(rows, audit=audit_, attribute=attribute or "", group=group or "",
                      count=count)
    found = found.sort_values(["month", "street_code", "household_id"], kind="stable")
    pages = max(1, -(-len(found) // LIST_PAGE))
    page = min(page, pages)
    shown = found.iloc[(page - 1) * LIST_PAGE:page * LIST_PAGE]
    audit.record(session, who=who, action="fairness.households", endpoint=endpoint(request),
                 detail={"as_of": as_of, "audit": audit_, "attribute": attribute,
                         "group": group, "count": count, "returned": len(shown), "page": page,
                         "household_ids": audit.listed(shown["household_id"])})
    session.commit()
    t = translator(request)
    query = urlencode({"as_of": as_of, "audit": audit_, "attribute": attribute,
                       "group": group, "count": count})
    return render(request, "fairness_households.html", who=who, month=as_of, total=len(found),
                  measure=t.gettext(fh.COUNTS[count]),
                  place=t.gettext("{attribute}: {group}", attribute=t.attribute(attribute or ""),
                                  group=fv.group_name(attribute or "", group or "", t)),
                  label=audit_, groups=[t.attribute(a) for a in attrs],
                  rows=[{"id": r["household_id"], "month": r["month"],
                         "street": t.street(r["street_code"]) if pd.notna(r["street_code"]) else "—",
                         "groups": [fv.group_name(a, r[f"g:{a}"], t) for a in attrs],
                         "in_need": r["label"] == 1, "listed": bool(r["selected"])}
                        for r in shown.to_dict("records")],
                  page=page, pages=pages, query=query,
                  links=who.role not in PSEUDONYMS_ONLY)
