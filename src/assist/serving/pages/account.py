"""Sign in, sign out, language and font size.

Sign-in goes through the same throttle as the API's token endpoint
(:mod:`assist.serving.throttle`): while a username or address is locked out the form comes
back with 429 and ``Retry-After``. Each sign-in starts a new server-side session; sign-out
ends it in the store, so the old cookie is refused at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from assist.serving.deps import SessionDep, SettingsDep
from assist.serving.errors import ApiError
from assist.serving.pages import session as cookies
from assist.serving.pages.i18n import LANGUAGES, N_
from assist.serving.pages.web import (
    FormBody,
    PagePrincipal,
    SignIn,
    check_csrf,
    field,
    page_principal,
    render,
    safe_next,
)
from assist.serving.services.users import principal
from assist.serving.throttle import sign_in

router = APIRouter(include_in_schema=False)


def home_of(role: str) -> str:
    """Where a role lands after signing in."""
    if role in ("manager", "admin"):
        return "/coverage"
    if role == "lead":  # a street lead assigns the visits of its streets
        return "/assignments"
    return "/models" if role == "data_scientist" else "/referrals"


def _login_page(request: Request, *, next_path: str, status: int = 200,
                error: str | None = None, username: str = "",
                headers: dict[str, str] | None = None) -> HTMLResponse:
    value, new = cookies.nonce(request)
    response = render(request, "login.html", status=status,
                      csrf=cookies.csrf_token(request, anonymous_nonce=value),
                      next_path=next_path, error=error, username=username)
    response.headers.update(headers or {})
    if new:
        cookies.set_nonce(response, request, value)
    return response


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep) -> Response:
    """The caller's start page, or the sign-in page."""
    try:
        who = page_principal(request, session)
    except SignIn:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_of(who.role), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str | None, Query(max_length=512)] = None
               ) -> HTMLResponse:
    """The sign-in form."""
    return _login_page(request, next_path=safe_next(next, ""))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: SessionDep, settings: SettingsDep,
          form: FormBody) -> Response:
    """Check the credentials and start a session; the form again on failure."""
    check_csrf(request, form, anonymous=True)
    username = (field(form, "username") or "")[:64]
    next_path = safe_next(field(form, "next"), "")
    try:
        user = sign_in(request, session, username=username,
                       password=(field(form, "password") or "")[:256])
    except ApiError as exc:  # locked out (429): say so without checking the password
        if exc.status != 429:
            raise
        return _login_page(request, next_path=next_path, status=429, username=username,
                           headers=exc.headers, error=N_("Too many sign-in attempts. Please wait a few minutes and try again."))
    if user is None:
        return _login_page(request, next_path=next_path, status=401, username=username,
                           error=N_("Wrong username or password, or the account is disabled."))
    response = RedirectResponse(next_path or home_of(principal(user).role), status_code=303)
    cookies.start(response, request, session, user_id=user.id,
                  ttl_seconds=settings.token_ttl_minutes * 60)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, who: PagePrincipal,
           form: FormBody) -> Response:
    """End the session (in the store: the cookie is refused from now on)."""
    check_csrf(request, form)
    response = RedirectResponse("/login", status_code=303)
    cookies.end(response, request, session)
    return response


@router.get("/prefs")
def preferences(request: Request,
                lang: Annotated[str | None, Query(max_length=8)] = None,
                font: Annotated[str | None, Query(max_length=8)] = None,
                next: Annotated[str | None, Query(max_length=512)] = None) -> Response:
    """Remember the language or font size, then go back (a preference, not a change of data)."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(cookies.LANG_COOKIE, lang, max_age=cookies.PREF_MAX_AGE,
                            samesite="lax", path="/")
    if font in cookies.FONT_SIZES:
        response.set_cookie(cookies.FONT_COOKIE, font, max_age=cookies.PREF_MAX_AGE,
                            samesite="lax", path="/")
    return response
