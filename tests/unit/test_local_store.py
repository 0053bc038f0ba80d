"""The local blob store specifics: atomic, read-only files, keys confined to the root."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from eprotocol import StorageUnavailable
from eprotocol.storage import LocalBlobStore

DATA = "Βεβαίωση μόνιμης κατοικίας".encode() * 1000
SHA = hashlib.sha256(DATA).hexdigest()


def test_stored_files_are_read_only_and_no_temporary_is_left(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    info = store.put(io.BytesIO(DATA), sha256=SHA, size=len(DATA))
    assert (tmp_path / info.key).stat().st_mode & 0o222 == 0
    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.retention_lock is False


def test_failed_read_of_source_leaves_nothing(tmp_path: Path) -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError(5, "Input/output error")

    store = LocalBlobStore(tmp_path)
    with pytest.raises(StorageUnavailable):
        store.put(Broken(), sha256=SHA, size=len(DATA))
    assert list(store.list()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        LocalBlobStore(tmp_path).exists("../../etc/passwd")


def test_unwritable_root_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageUnavailable):
        LocalBlobStore(tmp_path / "file" / "blobs").check()
