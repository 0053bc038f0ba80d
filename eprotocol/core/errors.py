"""The exception tree of eprotocol.

Every error the library raises on purpose derives from :class:`EProtocolError`.
Adapters convert their SDK's exceptions into these (``raise ... from exc``), and
the HTTP layer maps them to status codes in a single table, so each class here
names a *kind* of failure a caller can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Text(str):
    """The English text of a refusal, which also keeps its kind and the values in it.

    Everywhere it is the text itself (the API's ``detail``, logs, the command line);
    a page looks its ``kind`` up to say it in its own language (``api/web/messages.py``).
    """

    kind: str
    values: dict[str, Any]


#: Every :class:`Phrase` there is, by kind: a translation is checked against it.
PHRASES: dict[str, Phrase] = {}


@dataclass(frozen=True, slots=True)
class Phrase:
    """One way the library words a refusal: a stable ``kind`` and English ``wording``.

    Called with the values its ``{fields}`` name (and any others a translation needs),
    it gives the :class:`Text` to raise an error with.
    """

    kind: str
    wording: str

    def __post_init__(self) -> None:
        if PHRASES.setdefault(self.kind, self) is not self:
            raise ValueError(f"two phrases are of kind {self.kind!r}")

    def __call__(self, **values: Any) -> Text:
        """The English text with ``values``, keeping them for a translation."""
        text = Text(self.wording.format(**values))
        text.kind, text.values = self.kind, values
        return text


class EProtocolError(Exception):
    """Root of every error eprotocol raises deliberately."""

    #: Short machine-readable code; also the last path segment of the problem type URI.
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(EProtocolError):
    """Caller-supplied data is malformed or breaks a rule; nothing was written."""

    code = "invalid-input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(EProtocolError):
    """The thing asked for does not exist."""

    code = "not-found"


class RegistrationNotFound(NotFound):
    """No registration with that book, year and number."""

    code = "registration-not-found"


class UnknownBook(InvalidInput):
    """The protocol book code is not configured in this archive."""

    code = "unknown-book"


class InvalidReference(InvalidInput):
    """A reference to another registration is malformed or points nowhere."""

    code = "invalid-reference"


class InvalidTransfer(InvalidInput):
    """An export to import is damaged, incomplete or not in a layout this version reads."""

    code = "invalid-transfer"


class Conflict(EProtocolError):
    """The request contradicts the current state of the archive."""

    code = "conflict"


class AlreadyCancelled(Conflict):
    """The registration is cancelled; it cannot be cancelled or corrected again."""

    code = "already-cancelled"


class ImmutableField(InvalidInput):
    """An attempt to change a system field (number, year, book, time, digests, registrar)."""

    code = "immutable-field"


class Unavailable(EProtocolError):
    """A backing service (database, storage, index, mail) cannot be reached right now.

    ``retry_after`` is how many seconds from now a retry makes sense.
    """

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseUnavailable(Unavailable):
    """The database refused or dropped the connection."""

    code = "database-unavailable"


class SchemaOutOfDate(DatabaseUnavailable):
    """The database has no eprotocol schema, or not the one this version expects.

    ``eprotocol init`` creates or upgrades it; a schema newer than the code needs
    the newer eprotocol that upgraded it.
    """

    code = "schema-out-of-date"


class StorageUnavailable(Unavailable):
    """The blob store cannot be reached or failed while writing or reading."""

    code = "storage-unavailable"


class IndexUnavailable(Unavailable):
    """The search index cannot be read or written (its directory is read-only, say)."""

    code = "index-unavailable"


class IntegrityFailure(EProtocolError):
    """Stored data no longer matches what was recorded (digest mismatch, broken chain)."""

    code = "integrity-failure"


class BlobCorrupt(IntegrityFailure):
    """A stored blob's bytes do not hash to the SHA-256 recorded for it."""

    code = "blob-corrupt"


class BlobMissing(IntegrityFailure):
    """A blob the database refers to is not in storage."""

    code = "blob-missing"


class RefusedFile(InvalidInput):
    """A file failed the intake checks (type, size, name, or a malformed or hostile PDF)."""

    code = "refused-file"

    def __init__(self, message: str, *, filename: str | None = None) -> None:
        super().__init__(message, field="files")
        self.filename = filename


class Forbidden(EProtocolError):
    """The acting user's roles do not allow this action on this thing."""

    code = "forbidden"


class Unauthenticated(EProtocolError):
    """No valid credentials: unknown user, wrong password, or a bad, expired or revoked token."""

    code = "unauthenticated"


class Throttled(EProtocolError):
    """Too many attempts (failed logins, files checked); try again after ``retry_after`` seconds."""

    code = "too-many-attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidTransition(Conflict):
    """The workflow step is not allowed from the assignment's current state."""

    code = "invalid-transition"


class MailUnavailable(Unavailable):
    """The mail server could not be reached or did not accept a message."""

    code = "mail-unavailable"


class SigningUnavailable(Unavailable):
    """No signing key is configured, it cannot be loaded, or the timestamp server failed."""

    code = "signing-unavailable"
