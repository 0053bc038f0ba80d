"""Blobs as objects in an S3-compatible bucket, through the minio SDK.

Objects are written under their content-addressed keys with a single PUT
(an object appears whole or not at all). Where the bucket has S3 Object Lock,
each object is written with a COMPLIANCE retention date, so the server itself
refuses to delete it early. This module is the only one that imports minio and
urllib3; their errors become ours here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, BinaryIO, cast

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED
from minio.error import InvalidResponseError, MinioException, S3Error
from minio.helpers import check_bucket_name
from minio.retention import Retention

from eprotocol.config import S3StorageConfig
from eprotocol.core.errors import BlobCorrupt, BlobMissing, InvalidInput, StorageUnavailable
from eprotocol.core.ports import BlobInfo, BlobListing, blob_key
from eprotocol.storage.local import CHUNK, check_key

_ABSENT = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound", "NoSuchVersion"})
_NO_LOCK = "ObjectLockConfigurationNotFoundError"
#: What can go wrong talking to the server: S3 error answers, HTTP and socket failures.
_FAILURES = (MinioException, urllib3.exceptions.HTTPError, OSError)


class _HashingReader:
    """Feeds minio the spooled bytes while computing their SHA-256."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


def _reason(exc: Exception) -> str:
    """What went wrong talking to the server, in a few words an administrator can act on."""
    if isinstance(exc, S3Error):
        return exc.code or "error"  # InvalidAccessKeyId, NoSuchBucket, AccessDenied...
    if isinstance(exc, InvalidResponseError):
        return "an answer that is not an S3 server's (is this the S3 address?)"
    cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    if isinstance(cause, urllib3.exceptions.SSLError):
        return "TLS failed (a server without TLS needs ?secure=false in the storage URL)"
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        socket_error = cause.__cause__
        if isinstance(socket_error, OSError) and socket_error.strerror:
            return f"cannot connect ({socket_error.strerror})"
        return "cannot connect"
    if isinstance(cause, urllib3.exceptions.TimeoutError | TimeoutError):
        return "no answer in time"
    return type(cause or exc).__name__


class S3BlobStore:
    """A :class:`~eprotocol.core.ports.BlobStore` on an S3-compatible server."""

    def __init__(self, config: S3StorageConfig) -> None:
        try:
            check_bucket_name(config.bucket, strict=True)
        except ValueError as exc:
            raise InvalidInput(
                f"{config.bucket!r} is not an S3 bucket name (3 to 63 lowercase letters, "
                "digits, dots and hyphens)",
                field="storage_url",
            ) from exc
        self.bucket = config.bucket
        self._endpoint = config.endpoint
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(5.0, config.timeout), read=config.timeout),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(502, 503, 504)),
            maxsize=16,
        )
        self._client = Minio(
            config.endpoint,
            access_key=config.access_key,
            secret_key=config.secret_key,
            secure=config.secure,
            region=config.region,
            http_client=http,
        )
        self._lock: bool | None = None
        self._versions: bool | None = None

    def _unavailable(self, doing: str, exc: Exception) -> StorageUnavailable:
        return StorageUnavailable(f"S3 storage at {self._endpoint} failed {doing}: {_reason(exc)}")

    @property
    def retention_lock(self) -> bool:
        """Whether the bucket has Object Lock enabled (asked once, then remembered)."""
        if self._lock is None:
            try:
                self._client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                if exc.code != _NO_LOCK:
                    raise self._unavailable("reading the object lock configuration", exc) from exc
                self._lock = False
            except _FAILURES as exc:
                raise self._unavailable("reading the object lock configuration", exc) from exc
            else:
                self._lock = True
        return self._lock

    @property
    def keeps_versions(self) -> bool:
        """Whether the bucket has versioning on (asked once, then remembered)."""
        if self._versions is None:
            try:
                status = self._client.get_bucket_versioning(self.bucket).status
            except _FAILURES as exc:
                raise self._unavailable("reading the bucket's versioning", exc) from exc
            self._versions = status == ENABLED
        return self._versions

    def put(
        self, source: IO[bytes], *, sha256: str, size: int, retain_until: datetime | None = None
    ) -> BlobInfo:
        """Upload ``source`` under its digest with one PUT.

        Re-uploading identical bytes replaces the object with the same content; the
        registry does not re-upload blobs the archive already refers to, so this
        costs no extra request (such as a HEAD) for the common case of new content.
        """
        key = blob_key(sha256)
        retention = (
            Retention(COMPLIANCE, retain_until.astimezone(UTC))
            if retain_until is not None and self.retention_lock
            else None
        )
        reader = _HashingReader(source)
        try:
            self._client.put_object(
                self.bucket,
                key,
                cast(BinaryIO, reader),
                length=size,
                content_type="application/octet-stream",
                metadata={"sha256": sha256},
                retention=retention,
            )
        except _FAILURES as exc:
            raise self._unavailable(f"storing {key}", exc) from exc
        if reader.digest.hexdigest() != sha256 or reader.size != size:
            raise BlobCorrupt(f"the bytes uploaded as {key} do not match their declared SHA-256")
        return BlobInfo(key=key, sha256=sha256, size=size)

    def extend_retention(self, key: str, until: datetime) -> None:
        """Move the object's COMPLIANCE retention to ``until`` if that is later (locked buckets)."""
        check_key(key)
        if not self.retention_lock:
            return
        until = until.astimezone(UTC)
        try:
            current = self._client.get_object_retention(self.bucket, key)
            kept_until = current.retain_until_date if current is not None else None
            if kept_until is None or kept_until < until:
                self._client.set_object_retention(self.bucket, key, Retention(COMPLIANCE, until))
        except _FAILURES as exc:
            raise self._unavailable(f"extending the retention of {key}", exc) from exc

    def read(self, key: str, *, sha256: str | None = None) -> Iterator[bytes]:
        """Stream an object in 1 MiB chunks, checking its SHA-256 at the end if given.

        The object is opened (its GET answered) before this returns (see
        :class:`~eprotocol.core.ports.BlobStore`).
        """
        check_key(key)
        try:
            response = self._client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in _ABSENT:
                raise BlobMissing(f"blob {key} is not in the bucket {self.bucket}") from exc
            raise self._unavailable(f"reading {key}", exc) from exc
        except _FAILURES as exc:
            raise self._unavailable(f"reading {key}", exc) from exc
        return self._stream(key, response, sha256)

    def _stream(
        self, key: str, response: urllib3.BaseHTTPResponse, sha256: str | None
    ) -> Iterator[bytes]:
        digest = hashlib.sha256()
        try:
            for chunk in response.stream(CHUNK):
                digest.update(chunk)
                yield chunk
        except _FAILURES as exc:
            raise self._unavailable(f"reading {key}", exc) from exc
        finally:
            response.close()
            response.release_conn()
        if sha256 is not None and digest.hexdigest() != sha256:
            raise BlobCorrupt(f"blob {key} does not match its recorded SHA-256")

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        check_key(key)
        try:
            self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in _ABSENT:
                return False
            raise self._unavailable(f"looking up {key}", exc) from exc
        except _FAILURES as exc:
            raise self._unavailable(f"looking up {key}", exc) from exc
        return True

    def delete(self, key: str) -> None:
        """Remove an object (orphan sweeping only); a locked object stays until it expires."""
        check_key(key)
        try:
            self._client.remove_object(self.bucket, key)
        except _FAILURES as exc:
            raise self._unavailable(f"deleting {key}", exc) from exc

    def list(self) -> Iterator[BlobListing]:
        """Every object under ``sha256/``."""
        try:
            for obj in self._client.list_objects(self.bucket, prefix="sha256/", recursive=True):
                if obj.object_name and not obj.is_dir:
                    yield BlobListing(
                        key=obj.object_name,
                        size=obj.size or 0,
                        modified=obj.last_modified or datetime.now(UTC),
                    )
        except _FAILURES as exc:
            raise self._unavailable("listing the bucket", exc) from exc

    def check(self) -> None:
        """Raise ``StorageUnavailable`` unless the bucket exists and answers."""
        try:
            found = self._client.bucket_exists(self.bucket)
        except _FAILURES as exc:
            raise self._unavailable("checking the bucket", exc) from exc
        if not found:
            raise StorageUnavailable(
                f"the bucket {self.bucket!r} does not exist on {self._endpoint}; "
                "create it (with Object Lock for retention) before using the archive"
            )
