"""What every page shares: templates, the signed-in caller, form bodies, CSRF, errors.

Page errors are HTML (the API's are JSON): a service's :class:`ApiError` raised inside a page
route is turned into a :class:`PageError` by :func:`page_errors` and rendered with the error
template; a missing session redirects to the sign-in page.

Every form field is checked like an API text field (:data:`assist.serving.schemas.Text`):
a control character or lone surrogate is a 422 page naming the field (header
``X-Invalid-Field``) before any route sees the form; the free-text fields
(:data:`FREE_TEXT_FIELDS`) keep tab and line breaks, as :data:`~assist.serving.schemas.FreeText`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import Depends, FastAPI, Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from starlette.responses import HTMLResponse, RedirectResponse

from assist.reports.render import loader as report_loader
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep
from assist.serving.errors import ApiError
from assist.serving.models import User
from assist.serving.pages import session as cookies
from assist.serving.pages.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, Translator, translators
from assist.serving.schemas import control_character
from assist.serving.services.users import principal

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
FORM_TYPE = "application/x-www-form-urlencoded"
#: most fields a form may post: the visit assignment form posts one per checked visit (at most
#: 200, :class:`assist.serving.schemas_visits.AssignCreate`) besides its own few
MAX_FIELDS = 256
#: form fields typed into a multi-line box: tab, CR and LF allowed (other controls refused)
FREE_TEXT_FIELDS = frozenset({"note", "override_reason", "rating_reason", "text", "reason"})
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


#: roles that open the manager pages (coverage, early warnings, overrides)
MANAGERS = frozenset({"manager", "admin"})
#: roles that open the monitoring pages shared by managers and data scientists (fairness, drift)
ANALYSTS = frozenset({"manager", "data_scientist", "admin"})
#: roles that open the registered model versions and their comparison
MODELLERS = frozenset({"data_scientist", "manager", "admin"})
#: the main navigation, declared once: (path, label, roles that see it; None: every role)
NAV: tuple[tuple[str, str, frozenset[str] | None], ...] = (
    ("/referrals", N_("Referral list"), None),
    ("/alerts", N_("Urgent alerts"), frozenset({"caseworker", "lead", "manager", "admin"})),
    ("/my-visits", N_("My visits"), frozenset({"caseworker"})),
    ("/search", N_("Find a household"), frozenset({"caseworker"})),
    ("/assignments", N_("Assign visits"), frozenset({"lead", "manager"})),
    ("/coverage", N_("Coverage by street"), MANAGERS),
    ("/fairness", N_("Fairness"), ANALYSTS),
    ("/early-warning", N_("Early warnings"), MANAGERS),
    ("/drift", N_("Drift"), ANALYSTS),
    ("/overrides", N_("Overrides"), MANAGERS),
    ("/contests", N_("Contests"), MANAGERS),
    ("/models", N_("Model versions"), MODELLERS),
    ("/model", N_("Model card"), None),
)


class PageError(Exception):
    """An error shown as a page: a status and a message id of the catalog."""

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
        self.headers = dict(headers or {})
        if field is not None:  # a client's field name goes into a header only when plain
            self.headers["X-Invalid-Field"] = field if _PLAIN_NAME.match(field) else "form"


class SignIn(Exception):
    """No valid session: go to the sign-in page and come back to ``next_path``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def translator(request: Request) -> Translator:
    """The caller's language (cookie, else the default: Chinese)."""
    lang = request.cookies.get(cookies.LANG_COOKIE, DEFAULT_LANGUAGE)
    return request.app.state.translators[lang if lang in LANGUAGES else DEFAULT_LANGUAGE]


def font_size(request: Request) -> str:
    """The caller's font-size preference (适老化)."""
    size = request.cookies.get(cookies.FONT_COOKIE, "normal")
    return size if size in cookies.FONT_SIZES else "normal"


def safe_next(path: str | None, default: str = "/") -> str:
    """A local path to return to (never another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def render(request: Request, template: str, *, status: int = 200, who: Principal | None = None,
           csrf: str | None = None, **context: Any) -> HTMLResponse:
    """Render ``template`` with the translator, the caller, the CSRF token and preferences."""
    t = translator(request)
    if csrf is None and who is not None:
        csrf = cookies.csrf_token(request)
    path = request.url.path
    here = path + (f"?{request.url.query}" if request.url.query else "")
    nav = [(p, label, path == p or path.startswith(p + "/"))
           for p, label, roles in NAV if who is not None and (roles is None or who.role in roles)]
    ctx = {"t": t, "_": t.gettext, "who": who, "csrf": csrf, "font": font_size(request),
           "here": here, "here_q": quote(here, safe=""), "nav": nav, **context}
    response = request.app.state.page_templates.TemplateResponse(
        request, template, ctx, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def page_principal(request: Request, session: SessionDep) -> Principal:
    """The signed-in caller; :class:`SignIn` without a live server-side session (none, ended,
    expired) or for a disabled user."""
    user: User | None = cookies.signed_in(request, session)
    if user is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignIn(here)
    return principal(user)


PagePrincipal = Annotated[Principal, Depends(page_principal)]


def need(who: Principal, permission: str) -> None:
    """403 page unless the caller's role holds ``permission``."""
    if not who.can(permission):
        raise PageError(403, N_("You do not have access to this page."))


def need_role(who: Principal, roles: frozenset[str]) -> None:
    """403 page unless the caller holds one of ``roles``."""
    if who.role not in roles:
        raise PageError(403, N_("You do not have access to this page."))


async def form_body(request: Request) -> dict[str, list[str]]:
    """A URL-encoded form body (the pages post nothing else)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        raise PageError(415, N_("The form could not be read."))
    body = await request.body()
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, N_("The form could not be read.")) from None
    for name, values in form.items():
        if control_character(name):
            raise PageError(422, N_("Please check the form: a value is too long or not allowed."),
                            field="form")
        if any(control_character(v, free_text=name in FREE_TEXT_FIELDS) for v in values):
            raise PageError(422, N_("Please check the form: a value is too long or not allowed."),
                            field=name)
    return form


FormBody = Annotated[dict[str, list[str]], Depends(form_body)]


def field(form: dict[str, list[str]], name: str) -> str | None:
    """The first value of a form field, stripped; None when absent or empty."""
    values = form.get(name) or []
    value = values[0].strip() if values else ""
    return value or None


def check_csrf(request: Request, form: dict[str, list[str]], *, anonymous: bool = False) -> None:
    """403 page unless the form carries this session's CSRF token."""
    if not cookies.csrf_ok(request, field(form, "csrf"), anonymous=anonymous):
        raise PageError(403, N_("The form has expired. Please reload the page and try again."))


@contextmanager
def page_errors() -> Iterator[None]:
    """Show a service's 404/403 as a page (a household outside your streets is 'not found')."""
    try:
        yield
    except ApiError as exc:
        if exc.status == 404:
            raise PageError(404, N_("Not found, or not in your streets.")) from None
        if exc.status == 503:
            raise PageError(503, N_("No scoring snapshot is loaded yet.")) from None
        if exc.status == 403:
            raise PageError(403, N_("You do not have access to this page.")) from None
        raise


def install(app: FastAPI) -> None:
    """Templates, translators and the page error handlers of ``app``."""
    # the pages' own templates first, then the report bodies they share with the stored files
    env = Environment(loader=ChoiceLoader([FileSystemLoader(str(TEMPLATES)), report_loader()]),
                      autoescape=True, trim_blocks=True, lstrip_blocks=True)
    app.state.page_templates = Jinja2Templates(env=env)
    app.state.translators = translators()

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> HTMLResponse:
        who = None
        try:
            with request.app.state.sessions() as s:
                who = page_principal(request, s)
        except SignIn:
            who = None
        response = render(request, "error.html", status=exc.status, who=who,
                          status_code=exc.status, message=exc.message)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(SignIn)
    async def _sign_in(_request: Request, exc: SignIn) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='')}", status_code=303)
