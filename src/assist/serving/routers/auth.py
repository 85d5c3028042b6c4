"""POST /api/v1/auth/token: a bearer token for username and password."""

from __future__ import annotations

from fastapi import APIRouter

from assist.serving.auth import issue_token
from assist.serving.deps import SessionDep, SettingsDep
from assist.serving.errors import ApiError
from assist.serving.schemas import TokenPublic, TokenRequest
from assist.serving.services.users import authenticate

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic)
def token(body: TokenRequest, session: SessionDep, settings: SettingsDep) -> TokenPublic:
    """Exchange a username and password for a signed bearer token that expires."""
    user = authenticate(session, username=body.username, password=body.password)
    if user is None:
        raise ApiError(401, "invalid_credentials", "wrong username or password, or user disabled")
    ttl = settings.token_ttl_minutes * 60
    return TokenPublic(access_token=issue_token(user_id=user.id, secret=settings.api_token_secret(),
                                                ttl_seconds=ttl), expires_in=ttl, role=user.role)
