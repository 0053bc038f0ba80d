"""Blobs as files in a local directory: the embedded default.

A blob is written to a temporary file, fsynced, then hard-linked into its
content-addressed place, so a reader never sees a half-written blob and an
existing blob is never overwritten. Stored files are made read-only.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from eprotocol.core.errors import BlobCorrupt, BlobMissing, StorageUnavailable
from eprotocol.core.ports import BlobInfo, BlobListing, blob_key

_CHUNK = 1024 * 1024
_KEY_RE = re.compile(r"^sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """A :class:`~eprotocol.core.ports.BlobStore` on the local filesystem under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"

    def _path(self, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key

    def put(self, chunks: Iterable[bytes]) -> BlobInfo:
        """Stream ``chunks`` into the store; idempotent for identical content."""
        digest = hashlib.sha256()
        size = 0
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            tmp_path = self._tmp / f"{uuid.uuid4().hex}.part"
            try:
                with tmp_path.open("xb") as out:
                    for chunk in chunks:
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                tmp_path.chmod(0o444)
                sha = digest.hexdigest()
                final = self._path(blob_key(sha))
                final.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(tmp_path, final)
                except FileExistsError:
                    pass  # same bytes already stored: content addressing makes this a no-op
                else:
                    _fsync_dir(final.parent)
            finally:
                tmp_path.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"local blob store at {self.root}: {exc.strerror}") from exc
        return BlobInfo(key=blob_key(sha), sha256=sha, size=size)

    def read(self, key: str, *, sha256: str | None = None) -> Iterator[bytes]:
        """Stream a blob, checking its SHA-256 at the end when ``sha256`` is given."""
        path = self._path(key)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    yield chunk
        except FileNotFoundError as exc:
            raise BlobMissing(f"blob {key} is not in the store") from exc
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
