"""Configuration objects of the library.

These are plain frozen dataclasses. The library never reads the environment:
the CLI and the HTTP server build these objects (from ``EPROTOCOL_*`` variables,
see :mod:`eprotocol.env`) and hand them to :class:`eprotocol.Archive`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from eprotocol.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class LocalStorageConfig:
    """Blobs as files under ``root`` (the embedded default)."""

    root: Path


@dataclass(frozen=True, slots=True)
class S3StorageConfig:
    """Blobs as objects in a bucket of an S3-compatible server (SeaweedFS, MinIO, Ceph...)."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str = "eprotocol"
    secure: bool = True
    region: str | None = None
    #: Seconds to wait for the server before a request fails as ``StorageUnavailable``.
    timeout: float = 30.0


StorageConfig = LocalStorageConfig | S3StorageConfig
"""Every kind of blob store the archive can be pointed at."""

MIB = 1024 * 1024

PDF = "application/pdf"
IMAGES = frozenset({"image/jpeg", "image/png", "image/tiff", "image/gif", "image/webp"})
OFFICE = frozenset(
    {
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    }
)
TEXT = frozenset({"text/plain", "text/csv", "application/xml", "text/xml"})


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    """What files the archive accepts, checked on the bytes before anything is stored.

    Media types are those libmagic reports for the content; the filename and
    the client's declared type are never trusted.
    """

    main_types: frozenset[str] = frozenset({PDF})
    attachment_types: frozenset[str] = frozenset({PDF}) | IMAGES | OFFICE | TEXT
    max_file_bytes: int = 50 * MIB
    #: Limits of the sandboxed PDF parser (a separate process per worker).
    pdf_timeout_seconds: float = 20.0
    pdf_memory_bytes: int = 768 * MIB
    pdf_workers: int = 2


@dataclass(frozen=True, slots=True)
class ExtractionPolicy:
    """Limits of the sandboxed text extraction that feeds the search index."""

    workers: int = 2
    timeout_seconds: float = 30.0
    memory_bytes: int = 768 * MIB
    #: Text kept per file (about a hundred pages); the rest is not searchable.
    max_chars: int = 200_000


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """The mail server digests are sent through."""

    host: str
    port: int = 25
    sender: str = "eprotocol@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class DigestPolicy:
    """How daily digests are sent."""

    #: Send a digest to departments with nothing to report.
    send_empty: bool = False
    #: Tries per department before its digest is reported as failed (a later run retries).
    attempts: int = 3
    #: Wait before the second try; it doubles for each further try.
    backoff_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class SigningConfig:
    """The organisation's signing identity and how signatures are made and checked.

    ``p12_path`` is a PKCS#12 file holding the private key and its certificate
    (with the chain, if any). ``timestamp_url`` adds an RFC 3161 timestamp to
    every signature (PAdES-B-T). ``trust_roots`` is a PEM file of certificates
    that incoming signatures are checked against (our own is always trusted).
    """

    p12_path: Path
    password: bytes | None = field(default=None, repr=False)
    timestamp_url: str | None = None
    trust_roots: Path | None = None
    #: Seconds to wait for the timestamp server.
    timeout: float = 10.0
    #: Seconds after the timestamp server failed during which signing is refused at once
    #: instead of waiting for it again (see ``pdf/signing.py``).
    timestamp_pause: float = 60.0


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
    intake: IntakePolicy = field(default_factory=IntakePolicy)
    #: Retention of stored files whose registration has no classification (object lock).
    default_retention_years: int = 10
    #: Where uploads are spooled while they are checked (system temporary directory if None).
    spool_dir: Path | None = None
    #: Address of the web interface, for links in emails and QR codes.
    public_url: str = "http://127.0.0.1:8000"
    mail: SmtpConfig | None = None
    #: Directory of the full-text index (no search without one).
    index_dir: Path | None = None
    extraction: ExtractionPolicy = field(default_factory=ExtractionPolicy)
    digest: DigestPolicy = field(default_factory=DigestPolicy)
    #: The signing identity (no signed certificates or stamps without one).
    signing: SigningConfig | None = None
    #: Extra certificate templates (``*.toml``) beside the ones eprotocol ships.
    templates_dir: Path | None = None
    #: Seconds a writer waits for another process's SQLite write lock before failing.
    sqlite_busy_timeout: float = 30.0
    extra_engine_options: dict[str, object] = field(default_factory=dict)


def is_web_address(url: str) -> bool:
    """Whether ``url`` is an ``http://`` or ``https://`` address with a host."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _port(parts: SplitResult, what: str, field: str) -> int | None:
    """The URL's port, if it gives one (``InvalidInput`` if it is not a port number)."""
    try:
        return parts.port
    except ValueError as exc:
        raise InvalidInput(
            f"the port of the {what} must be a number from 1 to 65535", field=field
        ) from exc


def storage_config_from_url(url: str) -> StorageConfig:
    """Parse an ``EPROTOCOL_STORAGE_URL``-style URL into a config.

    ``file://var/blobs`` is relative to the working directory and
    ``file:///srv/blobs`` is absolute; S3 is
    ``s3://ACCESS:SECRET@host:port/bucket?secure=false&region=R`` (percent-encode
    special characters of the key and secret).
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        raw = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not raw:
            raise InvalidInput("the storage URL names no directory", field="storage_url")
        return LocalStorageConfig(root=Path(raw))
    if parts.scheme == "s3":
        bucket = parts.path.strip("/")
        if not (parts.hostname and parts.username and parts.password and bucket):
            raise InvalidInput(
                "an S3 storage URL needs s3://ACCESS:SECRET@host:port/bucket", field="storage_url"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        secure = query.get("secure", "true").lower() not in {"false", "0", "no"}
        port = _port(parts, "storage URL", "storage_url")
        endpoint = parts.hostname + (f":{port}" if port else "")
        return S3StorageConfig(
            endpoint=endpoint,
            access_key=unquote(parts.username),
            secret_key=unquote(parts.password),
            bucket=bucket,
            secure=secure,
            region=query.get("region"),
        )
    # The URL may carry secrets: name only its scheme.
    raise InvalidInput(
        f"unsupported storage URL scheme {parts.scheme!r} (expected file:// or s3://)",
        field="storage_url",
    )


def smtp_config_from_url(url: str, *, sender: str) -> SmtpConfig:
    """Parse ``smtp://[user:password@]host:port[?starttls=true]`` into a config."""
    parts = urlsplit(url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise InvalidInput("the SMTP URL must look like smtp://host:port", field="smtp_url")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return SmtpConfig(
        host=parts.hostname,
        port=_port(parts, "SMTP URL", "smtp_url") or 25,
        sender=sender,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=query.get("starttls", "false").lower() in {"true", "1", "yes"},
    )
