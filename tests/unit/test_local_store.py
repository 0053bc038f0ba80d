"""The local blob store: content-addressed, atomic, immutable, verified on read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from eprotocol import BlobCorrupt, BlobMissing, StorageUnavailable
from eprotocol.core.ports import blob_key
from eprotocol.storage import LocalBlobStore

DATA = "Βεβαίωση μόνιμης κατοικίας".encode() * 1000
SHA = hashlib.sha256(DATA).hexdigest()


def test_put_streams_and_addresses_by_content(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    info = store.put(iter([DATA[:10], DATA[10:]]))
    assert (info.sha256, info.size, info.key) == (SHA, len(DATA), blob_key(SHA))
    assert info.key == f"sha256/{SHA[:2]}/{SHA[2:4]}/{SHA}"
    assert b"".join(store.read(info.key, sha256=SHA)) == DATA
    assert store.exists(info.key)
    assert [b.key for b in store.list()] == [info.key]
    assert not os.access(tmp_path / info.key, os.W_OK) or os.geteuid() == 0
    assert (tmp_path / info.key).stat().st_mode & 0o222 == 0
    assert list((tmp_path / "tmp").iterdir()) == []


def test_put_is_idempotent(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    assert store.put([DATA]) == store.put([DATA])
    assert len(list(store.list())) == 1


def test_failed_stream_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    def chunks() -> object:
        yield DATA
        raise OSError(5, "Input/output error")

    with pytest.raises(StorageUnavailable):
        store.put(chunks())  # type: ignore[arg-type]
    assert list(store.list()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_read_detects_corruption_and_absence(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    info = store.put([DATA])
    path = tmp_path / info.key
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobCorrupt):
        b"".join(store.read(info.key, sha256=SHA))
    assert b"".join(store.read(info.key)) == bytes(raw)  # unverified read when asked
    store.delete(info.key)
    with pytest.raises(BlobMissing):
        b"".join(store.read(info.key, sha256=SHA))


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        LocalBlobStore(tmp_path).exists("../../etc/passwd")


def test_unwritable_root_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageUnavailable):
        LocalBlobStore(tmp_path / "file" / "blobs").check()
