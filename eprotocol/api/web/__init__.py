"""Server-rendered pages for staff and citizens, from the same Litestar app as the API.

Greek by default (English with ``?lang=en``), Jinja2 templates with
autoescaping, a little htmx, no front-end build. Staff log in with a form and
carry a signed session cookie (HttpOnly, SameSite=Lax, Secure when the public
URL is https); every form carries a CSRF token checked by Litestar's CSRF
middleware. Pages load only their own stylesheet and scripts (see
:data:`PAGE_CSP`), and user text is escaped everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import MediaType
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from eprotocol.api.problems import http_problem
from eprotocol.api.web import account, admin, pages, public
from eprotocol.api.web.rendering import (
    LoginRequired,
    error_page,
    login_redirect,
    template_engine,
    viewer,
)
from eprotocol.core.errors import EProtocolError

STATIC = Path(__file__).parent / "static"


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The app's template engine: the templates of this package, autoescaped."""
    return TemplateConfig(instance=template_engine())


def web_routers(*, secret_key: str, secure_cookies: bool) -> list[Router]:
    """The pages (CSRF-protected) and their static files."""
    csrf = CSRFConfig(
        secret=secret_key,
        cookie_name="eprotocol_csrf",
        cookie_secure=secure_cookies,
        cookie_httponly=True,
        cookie_samesite="lax",
    )
    return [
        Router(
            path="/",
            route_handlers=[*public.HANDLERS, *pages.HANDLERS, *account.HANDLERS, *admin.HANDLERS],
            middleware=[DefineMiddleware(CSRFMiddleware, config=csrf)],
            # Resolved only for the handlers that ask for ``user``: the staff pages.
            dependencies={"user": Provide(viewer, sync_to_thread=True)},
            # HTTPException too: Litestar's own refusals (a body too large, a malformed
            # parameter) would otherwise find the API's problem+json handler first.
            exception_handlers={
                LoginRequired: login_redirect,
                EProtocolError: error_page,
                HTTPException: error_page,
                ValidationException: error_page,  # the API's is set for the whole app
                Exception: error_page,
            },
            include_in_schema=False,
        ),
        create_static_files_router(
            path="/static",
            directories=[STATIC],
            include_in_schema=False,
            cache_control=None,
        ),
    ]


def no_such_page(request: Request[Any, Any, State], exc: NotFoundException) -> Response[Any]:
    """A path nothing serves: the pages' «not found» for a browser, problem+json for the rest.

    A mistyped address or an old bookmark outside the API gets a page in the staff's
    language with the menu, as a missing entry does; the API's paths, and clients that
    do not prefer HTML, get the problem.
    """
    # JSON first: a client that names no type (``*/*``) gets the problem; browsers ask for HTML.
    wants_page = not request.url.path.startswith("/api/") and (
        request.accept.best_match([MediaType.JSON, MediaType.HTML]) == MediaType.HTML
    )
    if wants_page:
        return error_page(request, exc)
    return http_problem(exc, max_upload_mb=request.app.state.max_upload_mb).to_response(request)
