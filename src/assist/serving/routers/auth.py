"""POST /api/v1/auth/token: a bearer token for username and password (throttled: see
:mod:`assist.serving.throttle`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from assist.serving.auth import issue_token
from assist.serving.deps import SessionDep, SettingsDep
from assist.serving.errors import ApiError
from assist.serving.schemas import TokenPublic, TokenRequest
from assist.serving.throttle import sign_in

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic, responses={
    401: {"description": "Wrong username or password, or user disabled."},
    429: {"description": "Too many failed sign-ins for this username or address: locked out "
                         "for a while (see Retry-After)."}})
def token(request: Request, body: TokenRequest, session: SessionDep,
          settings: SettingsDep) -> TokenPublic:
    """Exchange a username and password for a signed bearer token that expires. After
    repeated wrong passwords the username (or client address) is locked out: 429."""
    user = sign_in(request, session, username=body.username, password=body.password)
    if user is None:
        raise ApiError(401, "invalid_credentials", "wrong username or password, or user disabled")
    ttl = settings.token_ttl_minutes * 60
    return TokenPublic(access_token=issue_token(user_id=user.id, secret=settings.api_token_secret(),
                                                ttl_seconds=ttl), expires_in=ttl, role=user.role)
