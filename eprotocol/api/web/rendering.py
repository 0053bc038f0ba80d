"""What every page shares: the template engine, the language, the logged-in user, errors."""

from __future__ import annotations

import logging
import time
from datetime import date, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import jinja2
from babel.numbers import format_decimal
from litestar import Request, Response
from litestar.datastructures import Cookie, FormMultiDict, State
from litestar.exceptions import HTTPException
from litestar.plugins.htmx import ClientRedirect
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from eprotocol.api.auth import TOKEN_LIFETIME, issue_token, user_for_credential
from eprotocol.api.problems import TOO_LARGE, status_for
from eprotocol.api.web.i18n import LANGUAGES, translate
from eprotocol.api.web.messages import in_page_language
from eprotocol.core.errors import EProtocolError, InvalidInput, Text, Unauthenticated
from eprotocol.core.labels import printed_value
from eprotocol.core.permissions import Action, holds
from eprotocol.core.types import SigningIdentity, User

log = logging.getLogger(__name__)

#: The cookie carrying a staff member's signed login token.
SESSION_COOKIE = "eprotocol_session"
LANGUAGE_COOKIE = "eprotocol_lang"
#: Pages load their own stylesheet, scripts and images only; forms post back here.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"}


class LoginRequired(Exception):
    """A staff page was asked for without a valid session: go to the login form."""


def viewer(request: Request[Any, Any, State]) -> User:
    """The logged-in staff member of a page request (``LoginRequired`` otherwise)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired
    try:
        return user_for_credential(token, request.app.state)
    except Unauthenticated:
        raise LoginRequired from None


def session_cookie(request: Request[Any, Any, State], user: User) -> Cookie:
    """The cookie of a new login of ``user`` (after the password, or a password change)."""
    return Cookie(
        key=SESSION_COOKIE,
        value=issue_token(user, request.app.state.secret_key, time.time()),
        max_age=int(TOKEN_LIFETIME.total_seconds()),
        httponly=True,
        secure=request.app.state.secure_cookies,
        samesite="lax",
    )


def optional_viewer(request: Request[Any, Any, State]) -> User | None:
    """The logged-in staff member, if any (public pages show a link back to work)."""
    try:
        return viewer(request)
    except LoginRequired:
        return None


def language(request: Request[Any, Any, State]) -> str:
    """The language of the page: ``?lang=``, then the remembered choice, then Greek."""
    asked = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return str(asked) if asked in LANGUAGES else LANGUAGES[0]


def page(
    request: Request[Any, Any, State],
    name: str,
    *,
    status: int = 200,
    user: User | None = None,
    **context: Any,
) -> Template:
    """Render template ``name`` in the request's language, with the pages' headers."""
    lang = language(request)
    cookies = []
    if request.query_params.get("lang") == lang:
        cookies.append(Cookie(key=LANGUAGE_COOKIE, value=lang, max_age=365 * 86400, samesite="lax"))
    return Template(
        template_name=name,
        context={
            "lang": lang,
            "user": user,
            "path": request.url.path,
            "language_links": {
                code: request.url.path
                + "?"
                + urlencode({**dict(request.query_params), "lang": code})
                for code in LANGUAGES
            },
            "organisation": organisation(request.app.state),
            "tz": request.app.state.archive.timezone,
            "default_book": request.app.state.archive.config.default_book,
            "max_upload_mb": request.app.state.max_upload_mb,
            "signing_alert": _signing_alert(request.app.state, user),
            "status_code": status,
            **context,
        },
        status_code=status,
        headers=_HEADERS,
        cookies=cookies,
    )


def _signing_alert(state: State, user: User | None) -> SigningIdentity | None:
    """For administrators, the signing identity when its certificate expires soon or has."""
    if user is None or not holds(user, Action.MANAGE):
        return None
    identity: SigningIdentity | None = state.archive.signing_identity()
    return identity if identity is not None and identity.renew_soon else None


def organisation(state: State) -> str:
    """The organisation's name for page headers, read once per server process."""
    name: str | None = getattr(state, "organisation_name", None)
    if name is None:
        try:
            name = state.organisation_name = state.archive.organisation_name()
        except EProtocolError:  # the database is down: the page (an error page) goes without
            return ""
    return name


def form_text(form: FormMultiDict, name: str) -> str:
    """A form field's text without surrounding spaces; ``""`` if missing or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_day(form: FormMultiDict, name: str, refusal: Text) -> date | None:
    """The date in the form field ``name`` (``2026-03-14``); ``None`` if left empty.

    Anything else is refused with ``refusal``, naming the field.
    """
    typed = form_text(form, name)
    try:
        return date.fromisoformat(typed) if typed else None
    except ValueError:
        raise InvalidInput(refusal, field=name) from None


def local_path(target: str | None) -> str:
    """``target`` if it is a path of this site (never ``//elsewhere`` or a full URL), else ``/``.

    Where to go after a login or a form: never a page of another site.
    """
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def see_other(location: str) -> Redirect:
    """After a form: go to ``location`` (303, so a reload does not post again)."""
    return Redirect(location, status_code=HTTP_303_SEE_OTHER)


def login_redirect(request: Request[Any, Any, State], _: Exception) -> Response[Any]:
    """Send a visitor without a session to the login form, and back afterwards.

    A part of a page that htmx asks for (routing suggestions) turns the whole page
    into the login form and comes back to that page, instead of drawing the form
    inside the part.
    """
    fragment = request.headers.get("HX-Request") == "true"
    url = urlsplit(request.headers.get("HX-Current-URL", "")) if fragment else request.url
    login = f"/login?next={quote(local_path(url.path + (f'?{url.query}' if url.query else '')))}"
    return ClientRedirect(login) if fragment else see_other(login)


def error_page(
    request: Request[Any, Any, State], exc: Exception, *, back: str | None = None
) -> Response[Any]:
    """Our errors as a page saying what went wrong; anything else logged, never shown.

    ``back`` is the page a refused form was on, offered as the way back to it.
    """
    if isinstance(exc, EProtocolError):
        status, message = status_for(exc), exc.message
    elif isinstance(exc, HTTPException):  # Litestar's own: its detail is for developers
        status = exc.status_code
        too_much = status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        message = TOO_LARGE(mb=request.app.state.max_upload_mb) if too_much else ""
    else:
        log.exception("unhandled error on a page", exc_info=exc)
        status, message = 500, ""
    if status >= 500 and isinstance(exc, EProtocolError):
        log.warning("page %s: %s", request.url.path, message)
    try:
        user = optional_viewer(request)
    except EProtocolError:  # the database is what failed: show the page without the menu
        user = None
    return page(request, "error.html", status=status, user=user, message=message, back=back)


def _t(context: jinja2.runtime.Context, text: str, place: str = "") -> str:
    return translate(text, str(context.get("lang", LANGUAGES[0])), place)


def _can(user: User | None, action: str) -> bool:
    return user is not None and holds(user, Action(action))


#: The locale each language of the pages writes numbers in.
_NUMBER_LOCALES = {"el": "el_GR", "en": "en_GB"}


def _number(context: jinja2.runtime.Context, value: float, digits: int = 0) -> str:
    """``value`` as the page's language writes it: 121.884 and 2,5 in Greek, 121,884 and 2.5."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    locale = _NUMBER_LOCALES.get(context.get("lang", ""), "el_GR")
    return str(format_decimal(value, format=pattern, locale=locale))


def _size(context: jinja2.runtime.Context, size: int) -> str:
    """A size in bytes as people read it, in the page's language: 7,2 KB, 1,3 MB."""
    if size >= 1024 * 1024:
        return f"{_number(context, size / (1024 * 1024), 1)} MB"
    return f"{_number(context, size / 1024, 1)} KB"


def _printed_value(context: jinja2.runtime.Context, value: object, field: str, book: str) -> str:
    """A corrected field's stored value, in the page's language (see ``printed_value``)."""
    return printed_value(field, value, book, label=lambda text: _t(context, text))


def _refusal(context: jinja2.runtime.Context, message: str) -> str:
    """A refusal of the library in the page's language (see ``messages``)."""
    return in_page_language(
        message,
        str(context.get("lang", LANGUAGES[0])),
        default_book=context.get("default_book"),
    )


def _when(context: jinja2.runtime.Context, value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        tz: ZoneInfo = context["tz"]
        return value.astimezone(tz).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def _department(context: jinja2.runtime.Context, code: str) -> str:
    """A department as staff know it: its name, its code beside it (from ``department_names``)."""
    name = (context.get("department_names") or {}).get(code)
    return f"{name} ({code})" if name else code


def _person(context: jinja2.runtime.Context, username: str) -> str:
    """A member of staff by their full name (from ``people``), or their user name."""
    return str((context.get("people") or {}).get(username, username))


def template_engine() -> JinjaTemplateEngine:
    """Jinja2 over this package's templates, autoescaped, with the pages' helpers."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("eprotocol.api.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["t"] = jinja2.pass_context(_t)
    environment.globals["can"] = _can
    environment.filters["number"] = jinja2.pass_context(_number)
    environment.filters["size"] = jinja2.pass_context(_size)
    environment.filters["when"] = jinja2.pass_context(_when)
    environment.filters["printed_value"] = jinja2.pass_context(_printed_value)
    environment.filters["refusal"] = jinja2.pass_context(_refusal)
    environment.filters["department"] = jinja2.pass_context(_department)
    environment.filters["person"] = jinja2.pass_context(_person)
    return JinjaTemplateEngine.from_environment(environment)
