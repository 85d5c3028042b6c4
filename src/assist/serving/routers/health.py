"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from assist.serving.deps import SessionDep
from assist.serving.schemas import Health
from assist.serving.services.snapshots import current_snapshot

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/ready", response_model=Health, responses={503: {"model": Health}})
def ready(session: SessionDep) -> Health | JSONResponse:
    """The store answers and a scoring snapshot is loaded."""
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["store"] = "ok"
        snap = current_snapshot(session)
        checks["snapshot"] = snap.as_of if snap else "missing"
    except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
        checks["store"] = type(exc).__name__
    ok = checks.get("store") == "ok" and checks.get("snapshot", "missing") != "missing"
    body = Health(status="ok" if ok else "not_ready", checks=checks)
    return body if ok else JSONResponse(body.model_dump(), status_code=503)
