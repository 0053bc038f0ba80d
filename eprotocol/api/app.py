"""The HTTP interface of eprotocol, the electronic protocol book of a municipality."""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version
from typing import Annotated

from litestar import Litestar, get
from litestar.datastructures import Headers, MutableScopeHeaders, State
from litestar.enums import ScopeType
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from typing_extensions import Doc

from eprotocol.api import auth, certificates, problems, routes, schemas
from eprotocol.api.auth import (
    CHECK_WINDOW_SECONDS,
    CHECKS_PER_ADDRESS,
    TOO_MANY_CHECKS,
    TOO_MANY_LOGINS,
    Throttle,
    login,
)
from eprotocol.api.certificates import certificates_router, verify_code, verify_pdf
from eprotocol.api.problems import PUBLIC, document_problems, parameter_problem, problem_plugin
from eprotocol.api.routes import api_router
from eprotocol.api.web import no_such_page, template_config, web_routers
from eprotocol.archive import Archive
from eprotocol.env import Settings
from eprotocol.pdf.preview import PagePreviewer
from eprotocol.worker import Worker


@dataclass(frozen=True, slots=True)
class HealthStatus:
    """Answer of the liveness probe."""

    status: Annotated[str, Doc("Always `ok`.")]


@get("/health", sync_to_thread=False, tags=["health"])
def health() -> HealthStatus:
    """Liveness: the process answers."""
    return HealthStatus(status="ok")


@dataclass(frozen=True, slots=True)
class ReadyStatus:
    """Answer of the readiness probe, with how the search index and the signing key are.

    Neither of those takes the server out of service.
    """

    status: Annotated[str, Doc("Always `ready` (a server not ready answers 503).")]
    search_index: Annotated[
        str | None,
        Doc(
            "`ready`; `rebuilding` (searches may miss entries until it is rebuilt); "
            "`unavailable` (searches fail); null without an index."
        ),
    ]
    signing_certificate_days_left: Annotated[
        int | None,
        Doc(
            "Whole days until the organisation's signing certificate expires, negative once "
            "it has (nothing is signed then); null without a signing key."
        ),
    ]


@get("/ready", sync_to_thread=True, tags=["health"])
def ready(state: State) -> ReadyStatus:
    """Readiness: the database and the blob store answer (503 problem otherwise).

    The search index is reported, not required: registration goes on without it,
    so a server whose index fails stays in service.
    """
    archive: Archive = state.archive
    archive.check()
    signing = archive.signing_identity()
    return ReadyStatus(
        status="ready",
        search_index=archive.search_index_status(),
        signing_certificate_days_left=signing.days_left if signing is not None else None,
    )


#: Sent with every response: no sniffing, no framing, no referrers; API answers load nothing.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_API_CSP = "default-src 'none'; frame-ancestors 'none'"


def security_headers(app: ASGIApp) -> ASGIApp:
    """ASGI middleware adding :data:`SECURITY_HEADERS` (and a strict CSP outside the docs)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                # Pages set their own (stricter-than-nothing) policy; the API loads nothing.
                if not scope["path"].startswith("/schema") and not headers.get(
                    "Content-Security-Policy"
                ):
                    headers["Content-Security-Policy"] = _API_CSP
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def blank_query_values_as_absent(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a query parameter without a value (``from=``) is taken as not given.

    A page's form sends its empty fields so (the search's dates, say), and "from" is a
    date or nothing: without this, words searched without dates were refused as a bad date.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["query_string"]:
            given = [p for p in scope["query_string"].split(b"&") if p.partition(b"=")[2]]
            scope = scope.copy()
            scope["query_string"] = b"&".join(given)
        await app(scope, receive, send)

    return middleware


def drain_before_refusing(limit: int) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware: before a ``413`` goes out, read and discard the rest of the body.

    A server that answers while the body is still arriving, and then closes, resets the
    connection: the client may never read the answer, and a proxy in front (nginx)
    answers ``502`` instead. Up to ``limit`` bytes are read; a larger body is refused
    at once, as before.
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            pending = True

            async def receive_tracked() -> ReceiveMessage:
                nonlocal pending
                message = await receive()
                pending = message["type"] == "http.request" and message.get("more_body", False)
                return message

            async def send_after_draining(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] == 413:
                    declared = Headers.from_scope(scope).get("content-length", "")
                    if not (declared.isdigit() and int(declared) > limit):
                        drained = 0
                        while pending and drained <= limit:
                            received = await receive_tracked()
                            if received["type"] == "http.request":
                                drained += len(received.get("body", b""))
                await send(message)

            await app(scope, receive_tracked, send_after_draining)

        return middleware

    return wrap


def create_app(settings: Settings, *, archive: Archive | None = None) -> Litestar:
    """Build the HTTP application for one archive (opened from ``settings`` unless given)."""
    secure_cookies = settings.archive.public_url.startswith("https://")
    max_upload_mb = settings.max_upload_bytes // (1024 * 1024)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        schemas.close_request_bodies(app.openapi_schema)
        shapes = [schemas, auth, certificates, problems, routes, sys.modules[__name__]]
        schemas.describe_shapes(app.openapi_schema, shapes)
        opened = archive if archive is not None else Archive(settings.archive)
        app.state.archive = opened
        app.state.secret_key = settings.secret_key
        app.state.login_throttle_user = Throttle(TOO_MANY_LOGINS, attempts=5)
        app.state.login_throttle_address = Throttle(TOO_MANY_LOGINS, attempts=50)
        app.state.check_throttle = Throttle(
            TOO_MANY_CHECKS, attempts=CHECKS_PER_ADDRESS, window_seconds=CHECK_WINDOW_SECONDS
        )
        app.state.secure_cookies = secure_cookies
        app.state.max_upload_mb = max_upload_mb
        app.state.previewer = previewer = PagePreviewer()
        stop = threading.Event()
        jobs = None
        if settings.background_jobs:
            worker = Worker(opened, opened.clock, opened.timezone)
            jobs = threading.Thread(target=worker.run, args=(stop,), name="eprotocol-jobs")
            jobs.start()
        try:
            yield
        finally:
            stop.set()
            if jobs is not None:
                jobs.join(timeout=60)
            previewer.close()
            if archive is None:
                opened.close()

    return Litestar(
        route_handlers=[
            *document_problems([health, ready, login, verify_code, verify_pdf], PUBLIC),
            api_router(),
            certificates_router(),
            *web_routers(secret_key=settings.secret_key, secure_cookies=secure_cookies),
        ],
        template_config=template_config(),
        lifespan=[lifespan],
        plugins=[problem_plugin(max_upload_mb=max_upload_mb)],
        exception_handlers={
            NotFoundException: no_such_page,
            ValidationException: parameter_problem,
        },
        middleware=[
            security_headers,
            blank_query_values_as_absent,
            drain_before_refusing(2 * settings.max_upload_bytes),
        ],
        request_max_body_size=settings.max_upload_bytes,
        openapi_config=OpenAPIConfig(
            title="eprotocol",
            version=version("eprotocol"),
            description=__doc__,
            use_handler_docstrings=True,
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="A login token (POST /api/v1/auth/token) or an API token",
                    )
                }
            ),
        ),
        debug=False,
    )
