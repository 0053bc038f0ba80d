"""Interfaces (ports) the domain needs from the outside world.

Adapters in :mod:`eprotocol.storage` and elsewhere implement these; tests may
pass simple in-memory implementations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Protocol

#: Called with (work done so far, total work) by long jobs.
Progress = Callable[[int, int], None]


class Clock(Protocol):
    """Source of the current time (injected so tests can stand at New Year's Eve)."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What the store recorded for one blob."""

    key: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class BlobListing:
    """One blob as found by listing the store (for fsck and orphan sweeps)."""

    key: str
    size: int
    modified: datetime


def blob_key(sha256: str) -> str:
    """The content-addressed key of a blob: ``sha256/<2>/<2>/<hex>``."""
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class BlobStore(Protocol):
    """Immutable, content-addressed storage of file bytes.

    Writing the same bytes twice stores them once; a blob is never changed in
    place. Failures raise :class:`eprotocol.core.errors.StorageUnavailable`.
    """

    @property
    def retention_lock(self) -> bool:
        """Whether the store enforces retention dates (S3 Object Lock), refusing early deletes."""
        ...

    @property
    def keeps_versions(self) -> bool:
        """Whether storing a key again keeps the earlier copy too (S3 bucket versioning).

        Object Lock turns versioning on. Where this is true, identical bytes must not be
        stored a second time.
        """
        ...

    def put(
        self, source: IO[bytes], *, sha256: str, size: int, retain_until: datetime | None = None
    ) -> BlobInfo:
        """Store ``size`` bytes read from ``source``, whose SHA-256 the caller computed.

        The store checks the digest as it reads and raises ``BlobCorrupt`` (storing
        nothing) on a mismatch. ``retain_until`` is honoured where
        :attr:`retention_lock` is true.
        """
        ...

    def extend_retention(self, key: str, until: datetime) -> None:
        """Keep a stored blob locked at least until ``until`` where :attr:`retention_lock` is true.

        A retention date is only ever moved later: a blob that a new registration
        shares with an older one is kept as long as the longer-lived of them needs.
        """
        ...

    def read(self, key: str, *, sha256: str | None = None) -> Iterator[bytes]:
        """Stream a blob; when ``sha256`` is given, raise ``BlobCorrupt`` at the end on mismatch.

        The blob is opened before this returns, so a missing blob or an unavailable
        store is reported here, before a caller has passed on any byte (an HTTP
        response that has started cannot turn into a problem any more).
        """
        ...

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove a blob (only ever used to sweep unreferenced orphans)."""
        ...

    def list(self) -> Iterator[BlobListing]:
        """Every stored blob, in no particular order."""
        ...

    def check(self) -> None:
        """Raise ``StorageUnavailable`` unless the store is reachable and writable."""
        ...


def already_stored(
    store: BlobStore, sha256: str, size: int, retain_until: datetime
) -> BlobInfo | None:
    """The blob of these bytes if ``store`` has it, locked until ``retain_until`` too; or None.

    For stores that keep versions, where putting identical bytes again would keep a
    second copy; a HEAD request per call.
    """
    key = blob_key(sha256)
    if not store.exists(key):
        return None
    store.extend_retention(key, retain_until)
    return BlobInfo(key=key, sha256=sha256, size=size)


class ContentSniffer(Protocol):
    """Tells the media type of a file from its first bytes, never from its name."""

    def media_type(self, head: bytes) -> str:
        """Return the MIME type of content starting with ``head``."""
        ...


@dataclass(frozen=True, slots=True)
class Mail:
    """One email: plain text and HTML alternatives of the same content."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    #: A stable ``<...@...>`` id, so a message sent twice after a crash is recognisably one.
    message_id: str


class Mailer(Protocol):
    """Delivers email; failures raise :class:`eprotocol.core.errors.MailUnavailable`."""

    def send(self, mail: Mail) -> None:
        """Hand ``mail`` to the mail server."""
        ...
