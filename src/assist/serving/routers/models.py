"""GET /api/v1/models/current: the model behind the current snapshot."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, require
from assist.serving.schemas import ModelPublic, json_response
from assist.serving.services.referrals import snapshot_or_503

router = APIRouter(prefix="/models", tags=["models"])
#: the figures of the snapshot's check against the hidden truth (simulated districts) that the
#: API shows; where the truth file lies on the server (``source``, ``note``) is never shown
TRUTH_FIGURES = ("k", "prevalence", "precision_at_k", "recall_at_k", "allocated",
                 "allocated_precision")


def public_truth(truth: Any) -> dict[str, Any] | None:  # noqa: ANN401
    """The truth check's figures only (numbers; no file path, no free text)."""
    if not isinstance(truth, dict):
        return None
    out = {k: truth[k] for k in TRUTH_FIGURES if isinstance(truth.get(k), int | float)
           and not isinstance(truth.get(k), bool) and math.isfinite(truth[k])}
    return out or None


@router.get("/current", response_model=ModelPublic)
def current(session: SessionDep,
            _who: Annotated[Principal, Depends(require("models:read"))]) -> Response:
    """Model version, config hash, catalog version and the snapshot's card summary (its
    precision against the hidden truth on simulated districts: figures only, no file path)."""
    snap = snapshot_or_503(session)
    s = snap.summary
    return json_response(ModelPublic(
        as_of=snap.as_of, model_version=snap.model_version, config_hash=snap.config_hash,
        catalog_version=s.get("catalog_version"), households_scored=s.get("households_scored"),
        bands=s.get("bands") or {}, explained=s.get("explained"),
        truth=public_truth(s.get("truth")), loaded_at=snap.loaded_at))
