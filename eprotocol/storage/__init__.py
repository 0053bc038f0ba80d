"""Blob store adapters: local files (embedded default) and S3-compatible servers."""

from __future__ import annotations

from eprotocol.config import LocalStorageConfig, StorageConfig
from eprotocol.core.ports import BlobStore
from eprotocol.storage.local import LocalBlobStore
from eprotocol.storage.s3 import S3BlobStore


def open_blob_store(config: StorageConfig) -> BlobStore:
    """Build the blob store adapter that ``config`` describes."""
    if isinstance(config, LocalStorageConfig):
        return LocalBlobStore(config.root)
    return S3BlobStore(config)


__all__ = ["LocalBlobStore", "S3BlobStore", "open_blob_store"]
