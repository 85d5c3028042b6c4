"""Server-rendered pages for caseworkers, managers and data scientists (Jinja2, Chinese first, no CDN).

They sit on the API's services (referrals, households, decisions, users), sign in with a
signed session cookie and check a CSRF token on every POST. :func:`install` mounts them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from assist.serving.pages import (
    account,
    alerts,
    assignments,
    caseworker,
    contests,
    fairness_lists,
    identity,
    manager,
    methodology,
    monitoring,
    versions,
    web,
)
from assist.serving.pages.cache import PageCache

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)
for _r in (account.router, caseworker.router, contests.router, manager.router, monitoring.router,
           versions.router, methodology.router, assignments.router, identity.router,
           alerts.router, fairness_lists.router):
    router.include_router(_r)


def install(app: FastAPI) -> None:
    """Mount ``/static``, the page routes, their templates, translations and error pages."""
    web.install(app)
    identity.install(app)  # the identity_of template global (caseworkers' identity block)
    alerts.install(app)  # the urgent_alerts template global (the referral list's banner)
    app.state.page_cache = PageCache()
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(router)
