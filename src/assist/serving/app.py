"""The FastAPI app: ``create_app(settings)`` builds one (no module-level app, engine or
settings). Routers under ``/api/v1``; Prometheus metrics at ``/metrics``.

Logs name the route template, never the raw path (paths carry household pseudonyms), and the
CLI runs uvicorn without its access log for the same reason; the whole log policy (request
ids, no exception messages, hidden SQL parameters) is in :mod:`assist.serving.logs`.

Text arriving in the path or the query string is checked like every body field
(:data:`assist.serving.schemas.Text`): a control character or lone surrogate is a 422 naming
the parameter, before any route runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from anyio import to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import Engine
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assist.serving import errors, pages
from assist.serving.audit import AuditWriter
from assist.serving.db import API_THREADS, make_engine, session_factory
from assist.serving.deps import PRINCIPAL_TTL_SECONDS, PrincipalCache, route_template
from assist.serving.logs import RequestContext, install_log_policy
from assist.serving.routers import (
    alerts,
    assignments,
    auth,
    contests,
    decisions,
    health,
    households,
    identity,
    models,
    referrals,
    reports,
)
from assist.serving.schemas import CONTROL_MESSAGE, control_character
from assist.serving.throttle import LoginThrottle
from assist.settings import Settings

log = logging.getLogger("assist.serving")
API = "/api/v1"


class BodyLimit:
    """Refuse request bodies above ``limit`` bytes with a JSON 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = JSONResponse(errors.error_body(
            "payload_too_large", f"request body above {self.limit} bytes"), status_code=413)
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = self.limit + 1
            if size > self.limit:
                await too_big(scope, receive, send)
                return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") and declared is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        total, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # disconnect: let the app see it
                return
            body = message.get("body", b"")
            total += len(body)
            if total > self.limit:
                await too_big(scope, receive, send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def refused_parameter(scope: Scope) -> str | None:
    """``path``, ``query`` or ``query.<name>`` when the decoded path or a query parameter holds
    a control character or lone surrogate; else None."""
    if control_character(scope.get("path", "")):
        return "path"
    query = (scope.get("query_string") or b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if control_character(name):
            return "query"
        if control_character(value):
            return f"query.{name}"
    return None


class RefuseControlCharacters:
    """422 ``validation_error`` naming the parameter for control characters in the path or
    the query string (JSON, like every API error; pages share the check)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = refused_parameter(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse(errors.error_body("validation_error", f"{where}: {CONTROL_MESSAGE}",
                                             field=where), status_code=422)(scope, receive, send)


class Metrics:
    """Count requests and time them per method, route template and status (pure ASGI: no
    per-request task or body stream, unlike ``BaseHTTPMiddleware``)."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500  # unless the app starts a response

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = route_template(scope)
            dt = time.perf_counter() - t0
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(dt)
            log.debug("%s %s %s %.1fms", scope["method"], route, status, dt * 1e3)


def _metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    requests = Counter("assist_http_requests", "HTTP requests", ["method", "route", "status"],
                       registry=registry)
    latency = Histogram("assist_http_request_seconds", "HTTP request latency",
                        ["method", "route"], registry=registry,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
    app.add_middleware(Metrics, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings, *, engine: Engine | None = None,
               principal_ttl: float = PRINCIPAL_TTL_SECONDS) -> FastAPI:
    """The API over the case store at ``settings.db_url`` (or ``engine``); a disabled user or a
    changed role takes effect within ``principal_ttl`` seconds."""
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = API_THREADS
        yield
        await to_thread.run_sync(app.state.audit.close)  # commit queued audit entries

    # Swagger UI and ReDoc from the package's own copies (fastapi-offline): no CDN, so the API
    # docs render on a machine without internet access
    app = FastAPIOffline(title="assist", version="1",
                         summary="Precision social-assistance referrals",
                         openapi_url=f"{API}/openapi.json", docs_url=f"{API}/docs",
                         redoc_url=f"{API}/redoc", static_url=f"{API}/docs-static",
                         swagger_ui_oauth2_redirect_url=f"{API}/docs/oauth2-redirect",
                         lifespan=lifespan)
    app.state.settings = settings
    app.state.token_secret = settings.api_token_secret()  # refuse a default secret up front
    app.state.engine = engine or make_engine(settings.db_url)
    app.state.sessions = session_factory(app.state.engine)
    app.state.principals = PrincipalCache(app.state.sessions, ttl=principal_ttl)
    app.state.audit = AuditWriter(app.state.sessions)
    app.state.login_throttle = LoginThrottle(
        key_secret=app.state.token_secret, max_failures=settings.login_max_failures,
        max_failures_per_address=settings.login_max_failures_per_address,
        window_seconds=settings.login_window_seconds,
        lockout_seconds=settings.login_lockout_seconds)
    install_log_policy()
    errors.install(app)
    for r in (auth.router, referrals.router, households.router, decisions.router,
              contests.router, models.router, health.router, reports.router,
              assignments.router, alerts.router, identity.router):
        app.include_router(r, prefix=API)
    pages.install(app)  # server-rendered pages and /static
    _metrics(app)
    app.add_middleware(RefuseControlCharacters)
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    # outermost: request ids, and an escaping exception logged by route and answered as 500
    app.add_middleware(RequestContext, route_of=route_template, error_body=errors.error_body)
    return app


def from_environment() -> FastAPI:
    """App factory for uvicorn workers: settings from ``ASSIST_*`` variables."""
    from assist.settings import get_settings

    return create_app(get_settings())
