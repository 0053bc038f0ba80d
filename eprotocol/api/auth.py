"""Who is calling: login tokens (signed, expiring), API tokens, and the throttles.

Failed logins are throttled by user name and by address; public checks of uploaded
files by address (each is parsed by the PDF workers staff's registrations use).

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
from typing import Annotated, Any

import jwt
from litestar import Request, post
from litestar.datastructures import State
from typing_extensions import Doc

from eprotocol.api.problems import problem_responses
from eprotocol.api.schemas import RequestBody
from eprotocol.archive import Archive
from eprotocol.core.accounts import TOKEN_PREFIX
from eprotocol.core.errors import Phrase, Throttled, Unauthenticated
from eprotocol.core.types import User

#: Lifetime of a login token.
TOKEN_LIFETIME = timedelta(hours=9)
_ALGORITHM = "HS256"


#: How many keys a throttle holds before it forgets those with no attempt left in the window.
_SWEEP_AT = 1024
#: Why a login is refused after too many failures.
TOO_MANY_LOGINS = Phrase("too-many-logins", "too many failed logins; try again in {wait} seconds")
#: Why a file is not checked (public verification) after too many from one address.
TOO_MANY_CHECKS = Phrase(
    "too-many-checks", "too many files checked from this address; try again in {wait} seconds"
)
#: Files one address may have checked by the public verification within the window. Each is
#: parsed by the same sandboxed PDF workers the staff's registrations wait for, so a flood
#: from outside must not hold them; a citizen checks one or two, a counter a few dozen.
CHECKS_PER_ADDRESS = 60
CHECK_WINDOW_SECONDS = 600.0


class Throttle:
    """Refuses a key (a user name, an address) counted too often within a sliding window.

    Keys whose attempts have all left the window are forgotten once many are held, so
    that a flood from many addresses does not grow it without bound.
    """

    def __init__(self, refusal: Phrase, *, attempts: int, window_seconds: float = 300.0) -> None:
        self._refusal = refusal
        self._attempts = attempts
        self._window = window_seconds
        self._counted: dict[str, deque[float]] = {}
        self._sweep_at = _SWEEP_AT
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        """The attempts of ``key`` still in the window (a key left with none is dropped)."""
        counted = self._counted.get(key, deque())
        while counted and counted[0] <= now - self._window:
            counted.popleft()
        if not counted:
            self._counted.pop(key, None)
        return counted

    def check(self, key: str) -> None:
        """Raise ``Throttled`` (with the refusal) if ``key`` has used up its attempts."""
        with self._lock:
            self._refuse_if_spent(key, time.monotonic())

    def count(self, key: str) -> None:
        """Count an attempt (a failed login, a file checked) against ``key``."""
        with self._lock:
            self._count(key, time.monotonic())

    def take(self, key: str) -> None:
        """:meth:`check`, then :meth:`count`, in one step.

        Two concurrent attempts cannot both pass when only one is left.
        """
        with self._lock:
            now = time.monotonic()
            self._refuse_if_spent(key, now)
            self._count(key, now)

    def _refuse_if_spent(self, key: str, now: float) -> None:
        counted = self._recent(key, now)
        if len(counted) >= self._attempts:
            wait = int(counted[0] + self._window - now) + 1
            raise Throttled(self._refusal(wait=wait), retry_after=wait)

    def _count(self, key: str, now: float) -> None:
        counted = self._recent(key, now)
        counted.append(now)
        self._counted[key] = counted  # (back, if none was left in the window)
        if len(self._counted) >= self._sweep_at:
            for other in list(self._counted):
                self._recent(other, now)
            self._sweep_at = max(_SWEEP_AT, 2 * len(self._counted))

    def forget(self, key: str) -> None:
        """Forget the attempts of ``key`` (a user name that has now logged in)."""
        with self._lock:
            self._counted.pop(key, None)

    def __len__(self) -> int:
        """How many keys have attempts held (for tests and monitoring)."""
        with self._lock:
            return len(self._counted)


class LoginRequest(RequestBody, frozen=True):
    """User name and password."""

    username: Annotated[str, Doc("The user name.")]
    password: Annotated[str, Doc("The password.")]


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A bearer token and its lifetime in seconds."""

    access_token: Annotated[str, Doc("Send it as `Authorization: Bearer <access_token>`.")]
    token_type: Annotated[str, Doc("Always `bearer`.")]
    expires_in: Annotated[int, Doc("Seconds until it expires; then log in again.")]


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


def _address(request: Request[Any, Any, State]) -> str:
    """The caller's address (the proxy passes it on, see docs/deploy/nginx.conf)."""
    return request.client.host if request.client else "?"


def count_file_check(request: Request[Any, Any, State]) -> None:
    """Count a public check of an uploaded file against the caller's address.

    ``Throttled`` once the address has had :data:`CHECKS_PER_ADDRESS` files checked
    within :data:`CHECK_WINDOW_SECONDS`; checks of a verification code are not counted.
    """
    throttle: Throttle = request.app.state.check_throttle
    throttle.take(_address(request))


def authenticate(request: Request[object, object, State], username: str, password: str) -> User:
    """Check a password under the failed-login throttles (``Throttled`` after too many).

    Failures count against the user name and against the caller's address.
    """
    state = request.app.state
    address = _address(request)
    by_user: Throttle = state.login_throttle_user
    by_address: Throttle = state.login_throttle_address
    by_user.check(username)
    by_address.check(address)
    try:
        user: User = state.archive.authenticate(username, password)
    except Unauthenticated:
        by_user.count(username)
        by_address.count(address)
        raise
    by_user.forget(username)
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
