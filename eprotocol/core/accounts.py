"""Credentials of staff and of other applications: passwords and API tokens.

Passwords are kept as Argon2id hashes (argon2-cffi, its default parameters);
a login for an unknown user spends the same time verifying a dummy hash, so
timing does not tell which user names exist. API tokens are 256-bit random
secrets shown once; only their SHA-256 is stored (a fast hash is right for a
random secret of that size, and it lets a token be looked up directly).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from eprotocol.core import validation
from eprotocol.core.audit import lock_chain
from eprotocol.core.database import Database
from eprotocol.core.errors import Forbidden, InvalidInput, NotFound, Phrase, Unauthenticated
from eprotocol.core.models import API_TOKEN, USER
from eprotocol.core.organisation import DepartmentTree, administrator, load_user, user_of
from eprotocol.core.permissions import Action, allowed
from eprotocol.core.ports import Clock
from eprotocol.core.types import ApiToken, User

#: Shortest password accepted.
MIN_PASSWORD = 10
#: Longest password accepted (hashing is deliberately slow; unbounded input would be a DoS).
MAX_PASSWORD = 256
PASSWORD_LENGTH = Phrase("password-length", "a password has {min} to {max} characters")
NO_TOKEN = Phrase("no-token", "there is no API token {id}")
MAY_NOT_CREDENTIALS = Phrase(
    "may-not-credentials", "{who} may not manage the credentials of {username}"
)
#: API tokens start with this, so they are recognisable in configuration files and logs.
TOKEN_PREFIX = "ept_"  # noqa: S105 - a prefix, not a secret

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so timing does not tell who exists.

    Made on first use, not at import: Argon2 is slow on purpose, and every
    process that imports eprotocol would pay for it.
    """
    return _hasher.hash("not a password of anybody")


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token(row: sa.RowMapping) -> ApiToken:
    return ApiToken(
        id=row["id"],
        username=row["username"],
        name=row["name"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


def check_password(password: object) -> str:
    """``password`` if it meets the rules for passwords, else ``InvalidInput``."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(PASSWORD_LENGTH(min=MIN_PASSWORD, max=MAX_PASSWORD), field="password")
    return password


class Accounts:
    """Setting passwords, logging in, and API tokens."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _may_manage(self, conn: sa.Connection, by: str, username: str) -> None:
        actor = load_user(conn, validation.actor(by))
        if actor.username != username and not allowed(actor, Action.MANAGE):
            raise Forbidden(MAY_NOT_CREDENTIALS(who=actor.username, username=username))

    def set_password(self, username: str, password: str, *, by: str) -> None:
        """Set ``username``'s password (users set their own; admins anybody's)."""
        hashed = _hasher.hash(check_password(password))
        with self._db.write() as conn:
            chain = lock_chain(conn)
            self._may_manage(conn, by, username)
            user = load_user(conn, username)
            now = self._clock.now()
            conn.execute(
                sa.update(USER)
                .where(USER.c.username == user.username)
                .values(password_hash=hashed, credentials_changed_at=now)
            )
            chain.append(
                actor=by,
                action="user.password_set",
                target=username,
                details={},
                at=now,
            )

    def authenticate(self, username: str, password: str) -> User:
        """The active user with this user name and password, or ``Unauthenticated``."""
        refused = Unauthenticated("wrong user name or password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise refused
        if len(password) > MAX_PASSWORD:
            raise refused
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(USER.c.password_hash, USER.c.active).where(USER.c.username == username)
            ).first()
            stored = row.password_hash if row is not None else None
            try:
                _hasher.verify(stored or _dummy_hash(), password)
            except (VerificationError, InvalidHashError):
                raise refused from None
            if row is None or stored is None or not row.active:
                raise refused
            return load_user(conn, username)

    def user_for_login(self, username: str, issued_at: datetime) -> User:
        """The user a login made at ``issued_at`` stands for, or ``Unauthenticated``.

        A login made before the user's password was last set is void: changing a
        password (or an administrator resetting it) ends the sessions open elsewhere.
        """
        with self._db.read() as conn:
            row = (
                conn.execute(sa.select(USER).where(USER.c.username == username)).mappings().first()
            )
            if row is None:
                raise Unauthenticated("the token is not valid")
            if not row["active"]:
                raise Unauthenticated("the user is deactivated")
            changed = row["credentials_changed_at"]
            if changed is not None and issued_at < changed:
                raise Unauthenticated("the password has changed since this login; log in again")
            return user_of(row, DepartmentTree(conn))

    def create_token(
        self, username: str, name: str, *, by: str, expires_at: datetime | None = None
    ) -> str:
        """A new API token acting as ``username``; the secret is returned here and never again."""
        label = validation.required_text(name, "name", 100)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.write() as conn:
            chain = lock_chain(conn)
            self._may_manage(conn, by, username)
            user_id = conn.execute(
                sa.select(USER.c.id).where(USER.c.username == load_user(conn, username).username)
            ).scalar_one()
            now = self._clock.now()
            token_id = conn.execute(
                sa.insert(API_TOKEN).returning(API_TOKEN.c.id),
                {
                    "user_id": user_id,
                    "name": label,
                    "token_hash": _token_hash(secret),
                    "created_at": now,
                    "expires_at": expires_at,
                },
            ).scalar_one()
            chain.append(
                actor=by,
                action="api_token.created",
                target=username,
                details={"token_id": token_id, "name": label},
                at=now,
            )
        return secret

    def tokens(self, *, by: str, username: str | None = None) -> tuple[ApiToken, ...]:
        """API tokens, newest first: everybody's for administrators, or ``username``'s."""
        query = (
            sa.select(API_TOKEN, USER.c.username)
            .join(USER, USER.c.id == API_TOKEN.c.user_id)
            .order_by(API_TOKEN.c.id.desc())
        )
        with self._db.read() as conn:
            if username is None:
                administrator(conn, by)
            else:
                self._may_manage(conn, by, username)
                query = query.where(USER.c.username == username)
            return tuple(_token(row) for row in conn.execute(query).mappings())

    def revoke_token(self, token_id: int, *, by: str) -> ApiToken:
        """Revoke an API token for good (its owner or an admin); it is refused from now on."""
        with self._db.write() as conn:
            chain = lock_chain(conn)
            row = (
                conn.execute(
                    sa.select(API_TOKEN, USER.c.username)
                    .join(USER, USER.c.id == API_TOKEN.c.user_id)
                    .where(API_TOKEN.c.id == token_id)
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(NO_TOKEN(id=token_id))
            self._may_manage(conn, by, row["username"])
            if row["revoked_at"] is not None:
                return _token(row)
            now = self._clock.now()
            conn.execute(
                sa.update(API_TOKEN).where(API_TOKEN.c.id == token_id).values(revoked_at=now)
            )
            chain.append(
                actor=by,
                action="api_token.revoked",
                target=row["username"],
                details={"token_id": token_id, "name": row["name"]},
                at=now,
            )
            return dataclasses.replace(_token(row), revoked_at=now)

    def user_for_token(self, secret: str) -> User:
        """The user an API token acts as, or ``Unauthenticated`` (unknown, expired, revoked)."""
        refused = Unauthenticated("the API token is not valid")
        if not secret.startswith(TOKEN_PREFIX):
            raise refused
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(USER.c.username, API_TOKEN.c.expires_at, API_TOKEN.c.revoked_at)
                .join(USER, USER.c.id == API_TOKEN.c.user_id)
                .where(API_TOKEN.c.token_hash == _token_hash(secret))
            ).first()
            if row is None or row.revoked_at is not None:
                raise refused
            if row.expires_at is not None and row.expires_at <= self._clock.now():
                raise refused
            user = load_user(conn, row.username)
        if not user.active:
            raise refused
        return user
