"""Who is calling: login tokens (signed, expiring), API tokens, and failed-login throttling.

Staff log in with user name and password and get a bearer token signed with
the server's secret key (HS256, PyJWT) that expires after a working day.
Applications use API tokens made by ``eprotocol token create`` (``ept_...``),
checked against their stored hash. Both arrive as ``Authorization: Bearer``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from litestar import Request, post
from litestar.datastructures import State

from eprotocol.api.problems import problem_responses
from eprotocol.api.schemas import RequestBody
from eprotocol.archive import Archive
from eprotocol.core.accounts import TOKEN_PREFIX
from eprotocol.core.errors import Throttled, Unauthenticated
from eprotocol.core.types import User

#: Lifetime of a login token.
TOKEN_LIFETIME = timedelta(hours=9)
_ALGORITHM = "HS256"


class LoginThrottle:
    """Refuses logins for a key (a user name, an address) after too many failures in a window."""

    def __init__(self, *, attempts: int = 5, window_seconds: float = 300.0) -> None:
        self._attempts = attempts
        self._window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures

    def check(self, key: str) -> None:
        """Raise ``Throttled`` if ``key`` has used up its attempts."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(key, now)
            if len(failures) >= self._attempts:
                wait = int(failures[0] + self._window - now) + 1
                raise Throttled(
                    f"too many failed logins; try again in {wait} seconds", retry_after=wait
                )

    def failed(self, key: str) -> None:
        """Count a failed login against ``key``."""
        now = time.monotonic()
        with self._lock:
            self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        """Forget the failures of a user name that has now logged in."""
        with self._lock:
            self._failures.pop(key, None)


class LoginRequest(RequestBody, frozen=True):
    """User name and password."""

    username: str
    password: str


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A bearer token and its lifetime in seconds."""

    access_token: str
    token_type: str
    expires_in: int


def issue_token(user: User, secret_key: str, now: float) -> str:
    """A login token for ``user``, valid for :data:`TOKEN_LIFETIME` from ``now`` (epoch seconds)."""
    claims = {
        "sub": user.username,
        # To the microsecond (RFC 7519 allows it): a password change ends the logins made
        # before it, even in the same second, and not the one made just after it.
        "iat": round(now, 6),
        "exp": int(now + TOKEN_LIFETIME.total_seconds()),
    }
    return jwt.encode(claims, secret_key, algorithm=_ALGORITHM)


def user_of(request: Request[object, object, State]) -> User:
    """The user the request's bearer token stands for, or ``Unauthenticated``."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("log in first: send 'Authorization: Bearer <token>'")
    return user_for_credential(credential.strip(), request.app.state)


def user_for_credential(credential: str, state: State) -> User:
    """The active user a login token or an API token stands for, or ``Unauthenticated``."""
    archive: Archive = state.archive
    if credential.startswith(TOKEN_PREFIX):
        return archive.user_for_api_token(credential)
    try:
        claims = jwt.decode(
            credential,
            state.secret_key,
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the login has expired; log in again") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("the token is not valid") from None
    issued_at = datetime.fromtimestamp(float(claims["iat"]), UTC)
    return archive.user_for_login(str(claims["sub"]), issued_at)


def authenticate(request: Request[object, object, State], username: str, password: str) -> User:
    """Check a password under the failed-login throttles (``Throttled`` after too many).

    Failures count against the user name and against the caller's address.
    """
    state = request.app.state
    address = request.client.host if request.client else "?"
    by_user: LoginThrottle = state.login_throttle_user
    by_address: LoginThrottle = state.login_throttle_address
    by_user.check(username)
    by_address.check(address)
    try:
        user: User = state.archive.authenticate(username, password)
    except Unauthenticated:
        by_user.failed(username)
        by_address.failed(address)
        raise
    by_user.succeeded(username)
    return user


@post(
    "/api/v1/auth/token",
    sync_to_thread=True,
    tags=["auth"],
    status_code=200,
    responses=problem_responses(401, 429),
)
def login(data: LoginRequest, request: Request[object, object, State]) -> TokenResponse:
    """Log in with user name and password; get a bearer token.

    After five failed attempts in five minutes for a user name (or fifty from one
    address: a town hall's staff may share one), logins are refused with 429
    until the window has passed.
    """
    user = authenticate(request, data.username, data.password)
    return TokenResponse(
        access_token=issue_token(user, request.app.state.secret_key, time.time()),
        token_type="bearer",  # noqa: S106 - the token scheme, not a secret
        expires_in=int(TOKEN_LIFETIME.total_seconds()),
    )
