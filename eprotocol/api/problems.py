"""The one table mapping eprotocol errors to HTTP, as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Annotated, Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import ParameterKwarg
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from typing_extensions import Doc

from eprotocol.core import errors
from eprotocol.core.errors import Phrase

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://eprotocol.gr/problems/"

#: Each error class to its HTTP status; the most specific class listed wins.
STATUS_BY_ERROR: dict[type[errors.EProtocolError], int] = {
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.Throttled: 429,
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unavailable: 503,
    errors.IntegrityFailure: 500,
    errors.EProtocolError: 500,
}


def status_for(exc: errors.EProtocolError) -> int:
    """The HTTP status of an error: the entry of its nearest class in :data:`STATUS_BY_ERROR`."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500  # pragma: no cover - EProtocolError itself is in the table


def to_problem(exc: errors.EProtocolError) -> ProblemDetailsException:
    """Our error as a problem; ``field`` is added for input errors."""
    status = status_for(exc)
    extra = {"field": exc.field} if isinstance(exc, errors.InvalidInput) and exc.field else None
    headers = None
    if isinstance(exc, errors.Unavailable | errors.Throttled):
        headers = {"Retry-After": str(exc.retry_after)}
    elif status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return ProblemDetailsException(
        type_=PROBLEM_TYPE_BASE + exc.code,
        title=exc.code.replace("-", " ").capitalize(),
        detail=exc.message,
        status_code=status,
        extra=extra,
        headers=headers,
    )


def unexpected(exc: Exception) -> ProblemDetailsException:
    """Any other exception: logged with its traceback, answered without one."""
    log.exception("unhandled error", exc_info=exc)
    return ProblemDetailsException(
        type_=PROBLEM_TYPE_BASE + "internal-error",
        title="Internal error",
        detail="An unexpected error occurred; it has been logged.",
        status_code=500,
    )


#: Why a request body was refused for its size (``413``).
TOO_LARGE = Phrase(
    "request-too-large", "the request is larger than the {mb} MB this server accepts"
)


def http_problem(
    exc: HTTPException, *, max_upload_mb: int, names: Mapping[str, str] | None = None
) -> ProblemDetailsException:
    """Litestar's own refusals (no such path, a body that does not decode...) in our shape.

    The reasons a body was refused (an unknown field, a wrong type) go in ``detail``,
    where a client's developer reads them, each after the parameter it concerns; the
    first such parameter is the problem's ``field``. ``names`` gives the name a client
    sends for a handler's argument where they differ. A body too large is told the limit.
    """
    items = [
        item
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict) and item.get("message")
    ]
    # A body's key is the handler's argument (``data``), which names nothing a client sent.
    keys = [
        (names or {}).get(key, key)
        if (key := str(item["key"])) and item.get("source") != "body"
        else ""
        for item in items
    ]
    reasons = [
        f"{key}: {item['message']}" if key else str(item["message"])
        for key, item in zip(keys, items, strict=True)
    ]
    keys = [key for key in keys if key]
    if exc.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        reasons = [TOO_LARGE(mb=max_upload_mb)]
    return ProblemDetailsException(
        type_="about:blank",
        title=HTTPStatus(exc.status_code).phrase,
        detail="; ".join(reasons) or exc.detail,
        status_code=exc.status_code,
        headers=exc.headers,
        extra={"field": keys[0]} if keys else None,
    )


def parameter_problem(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """A refused parameter, named as the client sends it: ``from``, not the argument ``date_from``.

    Litestar names the handler's argument, which differs where the parameter's name is
    a Python keyword (``from``), one of Litestar's own (``state``) or a header's.
    """
    parameters = request.route_handler.parsed_fn_signature.parameters
    names = {
        argument: definition.kwarg_definition.name
        for argument, definition in parameters.items()
        if isinstance(definition.kwarg_definition, ParameterKwarg)
        and definition.kwarg_definition.name
    }
    max_upload_mb = request.app.state.max_upload_mb
    return http_problem(exc, max_upload_mb=max_upload_mb, names=names).to_response(request)


def problem_plugin(*, max_upload_mb: int) -> ProblemDetailsPlugin:
    """The Litestar plugin answering every error as problem+json."""
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                HTTPException: partial(http_problem, max_upload_mb=max_upload_mb),
                errors.EProtocolError: to_problem,
                Exception: unexpected,
            },
        )
    )


@dataclass(frozen=True, slots=True)
class Problem:
    """An RFC 9457 problem as this API sends it (``field`` names the offending input)."""

    type: Annotated[
        str,
        Doc(
            "What kind of problem: `https://eprotocol.gr/problems/<code>` (e.g. `.../not-found`, "
            "`.../invalid-input`), or `about:blank` for one of HTTP itself."
        ),
    ]
    title: Annotated[str, Doc("The kind, in a few words.")]
    status: Annotated[int, Doc("The HTTP status.")]
    detail: Annotated[str, Doc("What was wrong with this request, in a sentence.")]
    field: Annotated[
        str | None, Doc("The input at fault: a JSON field, a form part or a query parameter.")
    ] = None


_MEANING = {
    400: "The request is malformed: bad parameters (`field` names a query parameter), JSON or "
    "multipart (problem+json)",
    401: "Not logged in, or the token is not valid (problem+json)",
    403: "The user's roles do not allow this (problem+json)",
    404: "Not found, or a confidential entry the user may not see (problem+json)",
    409: "Contradicts the current state, e.g. already cancelled (problem+json)",
    413: "The request body is larger than EPROTOCOL_MAX_UPLOAD_MB (problem+json)",
    422: "Invalid input; `field` names it (problem+json)",
    429: "Too many failed attempts; see Retry-After (problem+json)",
    503: "A backing service is unavailable; see Retry-After (problem+json)",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the problems an endpoint can answer with."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_MEANING[status],
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in statuses
    }


def document_problems(
    handlers: Sequence[HTTPRouteHandler], responses: dict[int, ResponseSpec]
) -> list[HTTPRouteHandler]:
    """``handlers`` with ``responses`` added to what their OpenAPI document lists."""
    for handler in handlers:
        handler.responses = {**responses, **(handler.responses or {})}
    return list(handlers)


#: Problems of endpoints that need a logged-in user.
AUTHENTICATED = problem_responses(400, 401, 403, 404, 409, 413, 422, 503)
#: Problems of public endpoints.
PUBLIC = problem_responses(400, 404, 413, 422, 503)
