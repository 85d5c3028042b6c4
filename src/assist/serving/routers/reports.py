"""GET /api/v1/reports: coverage, fairness, drift, early-warning and override reports.

Reports are aggregates (counts and rates per street, band or group; no household rows), so
reading them is not audited as a household read. Managers, data scientists and admins may read
them; caseworkers get 403.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, SettingsDep, current_principal
from assist.serving.errors import ApiError
from assist.serving.services import coverage as coverage_svc
from assist.serving.services import reports as svc
from assist.serving.services.referrals import snapshot_or_503

router = APIRouter(prefix="/reports", tags=["reports"])
#: roles that read reports (aggregates for management and model oversight)
REPORT_ROLES = frozenset({"manager", "data_scientist", "admin"})
AsOf = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                   description="Month YYYY-MM (default: the newest).")]
Name = Annotated[str, Path(max_length=64, description="Report name, e.g. coverage.")]
Lang = Annotated[Literal["zh", "en"], Query(description="Language of the printed copy.")]


def reader(who: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Admit managers, data scientists and admins (else 403)."""
    if who.role not in REPORT_ROLES:
        raise ApiError(403, "forbidden", f"role {who.role!r} may not read reports")
    return who


Reader = Annotated[Principal, Depends(reader)]


class ReportEntry(BaseModel):
    """A stored report: its name, month (or model folder) and where to fetch it."""

    name: str
    as_of: str
    json_url: str
    html_url: str | None
    print_urls: dict[str, str]
    pdf_urls: dict[str, str]


class ReportList(BaseModel):
    """Stored reports, newest month first."""

    items: list[ReportEntry]


@router.get("", response_model=ReportList)
def list_reports(settings: SettingsDep, _who: Reader) -> ReportList:
    """Stored reports, newest month first, with their JSON and HTML URLs."""
    items = []
    for r in svc.available(settings):
        base = f"/api/v1/reports/{r['name']}"
        query = f"as_of={r['as_of']}"
        items.append(ReportEntry(
            name=r["name"], as_of=r["as_of"], json_url=f"{base}?{query}",
            html_url=f"{base}/html?{query}" if r["html"] else None,
            print_urls={lang: f"{base}/html?{query}&lang={lang}" for lang in ("zh", "en")},
            pdf_urls={lang: f"{base}/pdf?{query}&lang={lang}" for lang in ("zh", "en")}))
    return ReportList(items=items)


@router.get("/overrides", responses={404: {"description": "no snapshot of that month"}})
def overrides(session: SessionDep, settings: SettingsDep, _who: Reader,
              as_of: AsOf = None) -> JSONResponse:
    """Caseworker overrides, computed live from the case store (all months, or ``as_of``:
    then also by the head's hukou, sex and age band when that month's features are kept)."""
    attributes = svc.month_attributes(settings, as_of) if as_of else None
    return JSONResponse(svc.overrides(session, as_of=as_of, attributes=attributes))


@router.get("/early-warning", responses={503: {"description": "no snapshot loaded"}})
def early_warning(session: SessionDep, _who: Reader, as_of: AsOf = None) -> JSONResponse:
    """Early-warning flags of the current (or ``as_of``) snapshot, per flag and per street."""
    snap = svc.loaded_snapshot(session, as_of) if as_of else snapshot_or_503(session)
    return JSONResponse(svc.early_warning(session, snapshot=snap))


@router.get("/coverage", responses={404: {"description": "no coverage report of that month"}})
def coverage(session: SessionDep, settings: SettingsDep, _who: Reader,
             as_of: AsOf = None) -> JSONResponse:
    """The coverage report (default: of the loaded snapshot's month), recomputed and stored
    again first when caseworkers' decisions were recorded or changed since it was written:
    the page, this JSON and the downloads show the same numbers."""
    return JSONResponse(coverage_svc.report(session, settings, as_of=as_of))


@router.get("/{name}", responses={404: {"description": "unknown report, or not produced yet"}})
def report(settings: SettingsDep, _who: Reader, name: Name, as_of: AsOf = None) -> JSONResponse:
    """A stored report's JSON (the newest month unless ``as_of``)."""
    payload: dict[str, Any] = svc.load(settings, name=name, as_of=as_of)
    return JSONResponse(payload)


@router.get("/{name}/html", response_class=FileResponse,
            responses={200: {"content": {"text/html": {}}},
                       404: {"description": "unknown report, or not produced yet"}})
def report_html(settings: SettingsDep, session: SessionDep, _who: Reader, name: Name,
                as_of: AsOf = None,
                lang: Annotated[Literal["zh", "en"] | None, Query(
                    description="One language, print version (default: the stored file, "
                                "Chinese then English).")] = None) -> Response:
    """A stored report's HTML page with charts, as a download: the stored file (both
    languages), or with ``lang`` its print version in that language (A4 landscape)."""
    coverage_svc.refresh(session, settings, name=name, as_of=as_of)
    if lang is None:
        path = svc.html_path(settings, name=name, as_of=as_of)
        return FileResponse(path, media_type="text/html; charset=utf-8",
                            filename=f"{name}-{path.parent.name}.html")
    html, folder = svc.printed_html(settings, session, name=name, as_of=as_of, lang=lang)
    return HTMLResponse(html, headers={"Content-Disposition":
                                       f'attachment; filename="{name}-{folder}-{lang}.html"'})


@router.get("/{name}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}},
                       404: {"description": "unknown report, or not produced yet"},
                       503: {"description": "no PDF printer here (Playwright or Chromium "
                                            "missing): the HTML print version still works"}})
def report_pdf(settings: SettingsDep, session: SessionDep, _who: Reader, name: Name,
               lang: Lang = "zh", as_of: AsOf = None) -> Response:
    """A stored report printed to PDF in one language (A4 landscape, titled with the month
    and the model version, page numbers at the foot), as a download. Printing takes a
    Chromium start, about a second or two."""
    coverage_svc.refresh(session, settings, name=name, as_of=as_of)
    data, filename = svc.printed_pdf(settings, session, name=name, as_of=as_of, lang=lang)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
