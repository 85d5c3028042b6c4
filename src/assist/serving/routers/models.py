"""GET /api/v1/models/current: the model behind the current snapshot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, require
from assist.serving.schemas import ModelPublic, json_response
from assist.serving.services.referrals import snapshot_or_503

router = APIRouter(prefix="/models", tags=["models"])


@router.get("/current", response_model=ModelPublic)
def current(session: SessionDep,
            _who: Annotated[Principal, Depends(require("models:read"))]) -> Response:
    """Model version, config hash, catalog version and the snapshot's card summary."""
    snap = snapshot_or_503(session)
    s = snap.summary
    return json_response(ModelPublic(
        as_of=snap.as_of, model_version=snap.model_version, config_hash=snap.config_hash,
        catalog_version=s.get("catalog_version"), households_scored=s.get("households_scored"),
        bands=s.get("bands") or {}, explained=s.get("explained"), truth=s.get("truth"),
        loaded_at=snap.loaded_at))
