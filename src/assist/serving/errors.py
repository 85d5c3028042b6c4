"""API errors: every error is JSON ``{"error": {"code", "message", "field"?, "details"?}}``.

Codes are stable; clients may branch on them. No handler echoes request data beyond field
names, and nothing personal is logged (the policy: :mod:`assist.serving.logs`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

#: HTTP status -> stable code, for errors raised by the framework (routing, methods ...)
STATUS_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
                413: "payload_too_large", 415: "unsupported_media_type",
                422: "validation_error", 429: "too_many_requests", 503: "not_ready"}


class ApiError(Exception):
    """An error a client can act on."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers, self.extra = headers, extra


def not_found(what: str = "resource") -> ApiError:
    """404 for a missing resource and for one outside the caller's jurisdiction alike."""
    return ApiError(404, "not_found", f"{what} not found")


def error_body(code: str, message: str, *, field: str | None = None, **extra: Any) -> dict:
    """The JSON body of every error."""
    err: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    err.update(extra)
    return {"error": err}


def _field(loc: tuple | list) -> str:
    return ".".join(str(p) for p in loc)


def install(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, field=exc.field, **exc.extra),
                            status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        details = [{"field": _field(e.get("loc", ())), "type": e.get("type", ""),
                    "message": e.get("msg", "")} for e in errors]
        first = details[0] if details else {"field": "body", "message": "invalid request"}
        code = "malformed_body" if first.get("type") == "json_invalid" else "validation_error"
        return JSONResponse(error_body(code, f"{first['field']}: {first['message']}",
                                       field=first["field"], details=details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
