"""The serving log policy: no personal data in any log line.

A line may name the route template (``/api/v1/households/{household_id}``), the method, the
status, a stable error code, an exception's type and the code locations of its traceback,
and the request id (``X-Request-ID``: the client's if it is a plain token, else a new one;
echoed on every response, so a user's report finds its log line). It never carries SQL
parameters, request bodies, raw paths or query strings, household ids, usernames or note
text. How:

- :class:`RequestContext` (outermost middleware) catches any exception that escapes the app,
  logs it by route, code and request id, and answers a JSON 500 itself, so the server never
  logs a raw traceback (exception messages carry data: a driver's ``DETAIL: Key (...)=(...)``,
  a failed statement's parameters);
- SQLAlchemy engines are made with ``hide_parameters=True`` (:func:`assist.serving.db.make_engine`);
- :class:`ScrubFilter`, on the loggers the app and its server write to, reduces any record's
  exception to its type and code locations (no message, no locals), withholds the path of
  uvicorn's access lines and drops SQLAlchemy's row-level debug lines (they print rows).
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("assist.serving")
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
#: loggers the scrub filter is installed on (a filter applies to records made on its logger)
SCRUBBED_LOGGERS = ("assist", "assist.serving", "assist.serving.throttle", "uvicorn",
                    "uvicorn.error", "uvicorn.access", "fastapi", "starlette",
                    "sqlalchemy.engine", "sqlalchemy.engine.Engine", "sqlalchemy.pool")


def where(exc: BaseException, frames: int = 6) -> str:
    """The last ``frames`` code locations of ``exc``'s traceback (file:line function), no
    message and no values."""
    stack = traceback.extract_tb(exc.__traceback__)[-frames:]
    return " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                      for f in reversed(stack))


class ScrubFilter(logging.Filter):
    """Withholds what could be personal: exception messages, access-log paths, row dumps."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("sqlalchemy.engine") and record.levelno < logging.INFO:
            return False  # "Row (...)" lines print the data read
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.exc_info, record.exc_text = None, None
            record.msg = f"{record.getMessage()} [{type(exc).__name__} at {where(exc)}]"
            record.args = None
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) \
                and len(record.args) == 5:
            client, method, _path, version, status = record.args
            record.args = (client, method, "(path withheld)", version, status)
        return True


def install_log_policy() -> None:
    """Put one :class:`ScrubFilter` on each of :data:`SCRUBBED_LOGGERS` (idempotent)."""
    for name in SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(ScrubFilter())


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers") or []:
        if key == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


class RequestContext:
    """Give each request an id (``scope["state"]["request_id"]`` and the ``X-Request-ID``
    response header) and turn an exception escaping the app into a logged, JSON 500."""

    def __init__(self, app: ASGIApp, *, route_of, error_body) -> None:  # noqa: ANN001
        self.app, self.route_of, self.error_body = app, route_of, error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def tagged(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (REQUEST_ID_HEADER.lower().encode(), rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        except Exception as exc:  # noqa: BLE001 - the last resort: log by route, answer 500
            log.error("unhandled %s on %s %s code=internal_error request_id=%s at %s",
                      type(exc).__name__, scope.get("method", "?"), self.route_of(scope), rid,
                      where(exc))
            if not started:
                response = JSONResponse(self.error_body("internal_error", "internal error",
                                                        request_id=rid), status_code=500)
                await response(scope, receive, tagged)
