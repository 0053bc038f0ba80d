"""Blob store adapters: local files (embedded default) and S3-compatible servers."""

from __future__ import annotations

from eprotocol.config import LocalStorageConfig, StorageConfig
from eprotocol.core.ports import BlobStore
from eprotocol.storage.local import LocalBlobStore


def open_blob_store(config: StorageConfig) -> BlobStore:
    """Build the blob store adapter that ``config`` describes."""
    if isinstance(config, LocalStorageConfig):
        return LocalBlobStore(config.root)
    raise TypeError(f"no blob store for {type(config).__name__}")  # pragma: no cover


__all__ = ["LocalBlobStore", "open_blob_store"]
