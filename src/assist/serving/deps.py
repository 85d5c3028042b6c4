"""FastAPI dependencies: settings, a session per request, the caller, permissions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from assist.serving.auth import PERMISSIONS, Principal, read_token
from assist.serving.errors import ApiError
from assist.serving.models import User
from assist.serving.services.users import principal
from assist.settings import Settings

_bearer = HTTPBearer(auto_error=False)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """A session for this request, closed afterwards."""
    with request.app.state.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def current_principal(session: SessionDep, request: Request,
                      credentials: Annotated[HTTPAuthorizationCredentials | None,
                                             Depends(_bearer)] = None) -> Principal:
    """The caller of a bearer token; 401 without a valid token or for a disabled user."""
    if credentials is None:
        raise ApiError(401, "not_authenticated", "bearer token required",
                       headers={"WWW-Authenticate": "Bearer"})
    user_id = read_token(credentials.credentials, secret=request.app.state.token_secret)
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise ApiError(401, "invalid_token", "invalid or expired token",
                       headers={"WWW-Authenticate": "Bearer"})
    return principal(user)


def require(permission: str) -> Callable[..., Principal]:
    """A dependency that admits callers whose role holds ``permission`` (else 403)."""
    if permission not in PERMISSIONS:
        raise KeyError(permission)

    def check(who: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not who.can(permission):
            raise ApiError(403, "forbidden", f"role {who.role!r} may not {permission}")
        return who

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check


def route_template(scope: dict) -> str:
    """The matched route's template, e.g. ``/api/v1/households/{household_id}``: the request
    path with path parameters put back as names (the raw path may carry ids)."""
    if "route" not in scope:
        return "unmatched"
    values = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    parts = [f"{{{values[p]}}}" if p in values else p for p in scope["path"].split("/")]
    return "/".join(parts)


def endpoint(request: Request) -> str:
    """Method and route template of this request, for the audit log."""
    return f"{request.method} {route_template(request.scope)}"
