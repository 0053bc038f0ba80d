"""The one table mapping eprotocol errors to HTTP, as RFC 9457 problem+json."""

from __future__ import annotations

import logging

from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from eprotocol.core import errors

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
    if status == 503:
        headers = {"Retry-After": "5"}
    elif isinstance(exc, errors.Throttled):
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


def problem_plugin() -> ProblemDetailsPlugin:
    """The Litestar plugin answering every error as problem+json."""
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            enable_for_all_http_exceptions=True,
            exception_to_problem_detail_map={
                errors.EProtocolError: to_problem,
                Exception: unexpected,
            },
        )
    )
