"""Configuration objects of the library.

These are plain frozen dataclasses. The library never reads the environment:
the CLI and the HTTP server build these objects (from ``EPROTOCOL_*`` variables,
see :mod:`eprotocol.env`) and hand them to :class:`eprotocol.Archive`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from eprotocol.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class LocalStorageConfig:
    """Blobs as files under ``root`` (the embedded default)."""

    root: Path


StorageConfig = LocalStorageConfig
"""Every kind of blob store the archive can be pointed at."""


@dataclass(frozen=True, slots=True)
class ArchiveConfig:
    """Everything :class:`eprotocol.Archive` needs to open an archive.

    ``database_url`` is an SQLAlchemy URL (``sqlite:///var/eprotocol.db`` or
    ``postgresql+psycopg://user:pw@host:port/db``); ``timezone`` is the IANA zone
    whose calendar year numbers the protocol book.
    """

    database_url: str
    storage: StorageConfig
    timezone: str = "Europe/Athens"
    default_book: str = "general"
    #: Seconds a writer waits for another process's SQLite write lock before failing.
    sqlite_busy_timeout: float = 30.0
    extra_engine_options: dict[str, object] = field(default_factory=dict)


def storage_config_from_url(url: str) -> StorageConfig:
    """Parse an ``EPROTOCOL_STORAGE_URL``-style URL (``file://var/blobs``) into a config.

    ``file://var/blobs`` is relative to the working directory and
    ``file:///srv/blobs`` is absolute.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        raw = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not raw:
            raise InvalidInput(f"storage URL {url!r} names no directory", field="storage_url")
        return LocalStorageConfig(root=Path(raw))
    raise InvalidInput(
        f"unsupported storage URL scheme {parts.scheme!r} (expected file://)", field="storage_url"
    )
