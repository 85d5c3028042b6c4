"""GET /api/v1/reports: coverage, fairness, drift, early-warning and override reports.

Reports are aggregates (counts and rates per street, band or group; no household rows), so
reading them is not audited as a household read. Managers, data scientists and admins may read
them; caseworkers get 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, SettingsDep, current_principal
from assist.serving.errors import ApiError
from assist.serving.services import reports as svc
from assist.serving.services.referrals import snapshot_or_503

router = APIRouter(prefix="/reports", tags=["reports"])
#: roles that read reports (aggregates for management and model oversight)
REPORT_ROLES = frozenset({"manager", "data_scientist", "admin"})
AsOf = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                   description="Month YYYY-MM (default: the newest).")]
Name = Annotated[str, Path(max_length=64, description="Report name, e.g. coverage.")]


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


class ReportList(BaseModel):
    """Stored reports, newest month first."""

    items: list[ReportEntry]


@router.get("", response_model=ReportList)
def list_reports(settings: SettingsDep, _who: Reader) -> ReportList:
    """Stored reports, newest month first, with their JSON and HTML URLs."""
    items = []
    for r in svc.available(settings):
        base = f"/api/v1/reports/{r['name']}"
        items.append(ReportEntry(name=r["name"], as_of=r["as_of"],
                                 json_url=f"{base}?as_of={r['as_of']}",
                                 html_url=f"{base}/html?as_of={r['as_of']}" if r["html"] else None))
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


@router.get("/{name}", responses={404: {"description": "unknown report, or not produced yet"}})
def report(settings: SettingsDep, _who: Reader, name: Name, as_of: AsOf = None) -> JSONResponse:
    """A stored report's JSON (the newest month unless ``as_of``)."""
    payload: dict[str, Any] = svc.load(settings, name=name, as_of=as_of)
    return JSONResponse(payload)


@router.get("/{name}/html", response_class=FileResponse,
            responses={200: {"content": {"text/html": {}}},
                       404: {"description": "unknown report, or not produced yet"}})
def report_html(settings: SettingsDep, _who: Reader, name: Name,
                as_of: AsOf = None) -> FileResponse:
    """A stored report's HTML page with charts, as a download."""
    path = svc.html_path(settings, name=name, as_of=as_of)
    return FileResponse(path, media_type="text/html; charset=utf-8",
                        filename=f"{name}-{path.parent.name}.html")
