"""Blobs as files in a local directory: the embedded default.

A blob is written to a temporary file, fsynced, then hard-linked into its
content-addressed place, so a reader never sees a half-written blob and an
existing blob is never overwritten. Stored files are made read-only. Local
files have no retention lock: the operating system's permissions and backups
protect them.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from eprotocol.core.errors import BlobCorrupt, BlobMissing, StorageUnavailable
from eprotocol.core.ports import BlobInfo, BlobListing, blob_key

CHUNK = 1024 * 1024
_KEY_RE = re.compile(r"^sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")


def fsync_directory(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_key(key: str) -> str:
    """Return ``key`` if it is a content-addressed blob key, else raise ``ValueError``."""
    if not _KEY_RE.match(key):
        raise ValueError(f"not a blob key: {key!r}")
    return key


class LocalBlobStore:
    """A :class:`~eprotocol.core.ports.BlobStore` on the local filesystem under ``root``."""

    retention_lock = False
    keeps_versions = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def extend_retention(self, key: str, until: datetime) -> None:
        """Nothing to do: local files carry no retention lock (:attr:`retention_lock` is false)."""

    def put(
        self, source: IO[bytes], *, sha256: str, size: int, retain_until: datetime | None = None
    ) -> BlobInfo:
        """Copy ``source`` into the store under its digest; a no-op if already stored."""
        final = self._path(blob_key(sha256))
        if final.is_file():
            return BlobInfo(key=blob_key(sha256), sha256=sha256, size=size)
        digest = hashlib.sha256()
        written = 0
        tmp_path = self._tmp / f"{uuid.uuid4().hex}.part"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            try:
                with tmp_path.open("xb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        written += len(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if digest.hexdigest() != sha256 or written != size:
                    raise BlobCorrupt("the bytes to store do not match their declared SHA-256")
                tmp_path.chmod(0o444)
                final.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(tmp_path, final)
                except FileExistsError:
                    pass  # stored meanwhile by another writer: same bytes, same key
                else:
                    fsync_directory(final.parent)
            finally:
                tmp_path.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"local blob store at {self.root}: {exc.strerror}") from exc
        return BlobInfo(key=blob_key(sha256), sha256=sha256, size=size)

    def read(self, key: str, *, sha256: str | None = None) -> Iterator[bytes]:
        """Stream a blob, checking its SHA-256 at the end when ``sha256`` is given.

        The file is opened before this returns (see :class:`~eprotocol.core.ports.BlobStore`).
        """
        try:
            src = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise BlobMissing(f"blob {key} is not in the store") from exc
        except OSError as exc:
            raise StorageUnavailable(f"reading blob {key}: {exc.strerror}") from exc
        return self._stream(key, src, sha256)

    @staticmethod
    def _stream(key: str, src: IO[bytes], sha256: str | None) -> Iterator[bytes]:
        digest = hashlib.sha256()
        try:
            with src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    yield chunk
        except OSError as exc:
            raise StorageUnavailable(f"reading blob {key}: {exc.strerror}") from exc
        if sha256 is not None and digest.hexdigest() != sha256:
            raise BlobCorrupt(f"blob {key} does not match its recorded SHA-256")

    def exists(self, key: str) -> bool:
        """Whether the blob file is present."""
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove a blob (orphan sweeping only)."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"deleting blob {key}: {exc.strerror}") from exc

    def list(self) -> Iterator[BlobListing]:
        """Every blob under ``root/sha256``."""
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for path in base.glob("*/*/*"):
            stat = path.stat()
            yield BlobListing(
                key=path.relative_to(self.root).as_posix(),
                size=stat.st_size,
                modified=datetime.fromtimestamp(stat.st_mtime, UTC),
            )

    def check(self) -> None:
        """Create the directories if needed and prove the store is writable."""
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            probe = self._tmp / f"probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageUnavailable(f"local blob store at {self.root}: {exc.strerror}") from exc
