"""One contract for every blob store, run on local files and on a real SeaweedFS S3 server."""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio.error import S3Error

from eprotocol import (
    BlobCorrupt,
    BlobMissing,
    InvalidInput,
    LocalStorageConfig,
    StorageUnavailable,
    storage_config_from_url,
)
from eprotocol.core.ports import BlobStore, blob_key
from eprotocol.storage import LocalBlobStore, S3BlobStore, open_blob_store
from tests.support import SeaweedServer, free_port

DATA = "Δήμος Χανίων — βεβαίωση μόνιμης κατοικίας\n".encode() * 2000
SHA = hashlib.sha256(DATA).hexdigest()
Corrupt = Callable[[str, bytes], None]


@pytest.fixture(params=["local", "s3"])
def store_and_corrupt(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[BlobStore, Corrupt]]:
    """A fresh, empty store of each kind, and a way to change a stored blob behind its back."""
    if request.param == "local":
        root = tmp_path / "blobs"

        def corrupt_local(key: str, data: bytes) -> None:
            path = root / key
            path.chmod(0o644)
            path.write_bytes(data)

        yield open_blob_store(LocalStorageConfig(root)), corrupt_local
        return
    seaweed: SeaweedServer = request.getfixturevalue("seaweed")
    bucket = seaweed.make_bucket(f"contract-{uuid.uuid4().hex[:8]}")
    store = open_blob_store(storage_config_from_url(seaweed.storage_url(bucket)))

    def corrupt_s3(key: str, data: bytes) -> None:
        seaweed.client().put_object(bucket, key, io.BytesIO(data), len(data))

    yield store, corrupt_s3


def test_put_read_roundtrip(store_and_corrupt: tuple[BlobStore, Corrupt]) -> None:
    store, _ = store_and_corrupt
    store.check()
    info = store.put(io.BytesIO(DATA), sha256=SHA, size=len(DATA))
    assert (info.key, info.sha256, info.size) == (blob_key(SHA), SHA, len(DATA))
    assert info.key == f"sha256/{SHA[:2]}/{SHA[2:4]}/{SHA}"
    assert b"".join(store.read(info.key, sha256=SHA)) == DATA
    assert store.exists(info.key)
    assert [(b.key, b.size) for b in store.list()] == [(info.key, len(DATA))]


def test_put_is_idempotent(store_and_corrupt: tuple[BlobStore, Corrupt]) -> None:
    store, _ = store_and_corrupt
    first = store.put(io.BytesIO(DATA), sha256=SHA, size=len(DATA))
    again = store.put(io.BytesIO(DATA), sha256=SHA, size=len(DATA))
    assert first == again
    assert len(list(store.list())) == 1


def test_large_blob_streams(store_and_corrupt: tuple[BlobStore, Corrupt], tmp_path: Path) -> None:
    store, _ = store_and_corrupt
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with big.open("wb") as out:
        for _ in range(24):
            chunk = os.urandom(1024 * 1024)
            digest.update(chunk)
            out.write(chunk)
    with big.open("rb") as source:
        info = store.put(source, sha256=digest.hexdigest(), size=24 * 1024 * 1024)
    chunks = list(store.read(info.key, sha256=info.sha256))
    assert max(len(c) for c in chunks) <= 1024 * 1024
    assert sum(len(c) for c in chunks) == 24 * 1024 * 1024


def test_wrong_declared_digest_is_refused(store_and_corrupt: tuple[BlobStore, Corrupt]) -> None:
    store, _ = store_and_corrupt
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(BlobCorrupt):
        store.put(io.BytesIO(DATA), sha256=wrong, size=len(DATA))
    if isinstance(store, LocalBlobStore):
        assert list(store.list()) == []


def test_corruption_and_absence_are_detected(store_and_corrupt: tuple[BlobStore, Corrupt]) -> None:
    store, corrupt = store_and_corrupt
    info = store.put(io.BytesIO(DATA), sha256=SHA, size=len(DATA))
    flipped = bytearray(DATA)
    flipped[1000] ^= 0x01
    corrupt(info.key, bytes(flipped))
    with pytest.raises(BlobCorrupt):
        b"".join(store.read(info.key, sha256=SHA))
    assert b"".join(store.read(info.key)) == bytes(flipped)  # unverified when asked
    store.delete(info.key)
    assert not store.exists(info.key)
    with pytest.raises(BlobMissing):
        b"".join(store.read(info.key, sha256=SHA))


def test_unreachable_s3_is_storage_unavailable() -> None:
    url = f"s3://k:s@127.0.0.1:{free_port()}/nothing?secure=false"
    store = open_blob_store(storage_config_from_url(url))
    with pytest.raises(StorageUnavailable, match=r"cannot connect \(Connection refused\)$"):
        store.check()
    with pytest.raises(StorageUnavailable):
        store.put(io.BytesIO(DATA), sha256=SHA, size=len(DATA))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("eprotocol-test-secret@", "not-the-secret@"), "SignatureDoesNotMatch"),
        (("secure=false", "secure=true"), "TLS failed (a server without TLS needs ?secure=false"),
    ],
    ids=["wrong secret", "TLS to a plain server"],
)
def test_a_wrong_s3_setting_is_named(
    seaweed: SeaweedServer, change: tuple[str, str], reason: str
) -> None:
    """The administrator reads which setting to fix, not an SDK class name."""
    bucket = seaweed.make_bucket("settings-" + uuid.uuid4().hex[:8])
    url = seaweed.storage_url(bucket).replace(*change)
    with pytest.raises(StorageUnavailable, match=re.escape(f"checking the bucket: {reason}")):
        open_blob_store(storage_config_from_url(url)).check()


@pytest.mark.parametrize("bucket", ["Protocol", "my_bucket", "ab"])
def test_a_name_s3_refuses_for_a_bucket_is_refused_first(bucket: str) -> None:
    url = f"s3://k:s@127.0.0.1:{free_port()}/{bucket}?secure=false"
    with pytest.raises(InvalidInput, match=f"{bucket!r} is not an S3 bucket name"):
        open_blob_store(storage_config_from_url(url))


def test_missing_bucket_is_reported(seaweed: SeaweedServer) -> None:
    store = open_blob_store(storage_config_from_url(seaweed.storage_url("no-such-bucket")))
    with pytest.raises(StorageUnavailable, match="does not exist"):
        store.check()


def test_retention_lock_on_seaweedfs(seaweed: SeaweedServer) -> None:
    """SeaweedFS enforces S3 Object Lock: a locked version cannot be deleted before its date."""
    plain_bucket = seaweed.make_bucket("plain-" + uuid.uuid4().hex[:8])
    plain = open_blob_store(storage_config_from_url(seaweed.storage_url(plain_bucket)))
    assert plain.retention_lock is False

    bucket = seaweed.make_bucket("locked-" + uuid.uuid4().hex[:8], object_lock=True)
    store = open_blob_store(storage_config_from_url(seaweed.storage_url(bucket)))
    assert isinstance(store, S3BlobStore)
    assert store.retention_lock is True
    until = datetime.now(UTC) + timedelta(days=365 * 5)
    info = store.put(io.BytesIO(DATA), sha256=SHA, size=len(DATA), retain_until=until)

    client = seaweed.client()
    stat = client.stat_object(bucket, info.key)
    retention = client.get_object_retention(bucket, info.key)
    assert retention is not None
    assert retention.mode == "COMPLIANCE"
    assert retention.retain_until_date is not None
    assert abs(retention.retain_until_date - until) < timedelta(seconds=1)
    with pytest.raises(S3Error) as refused:
        client.remove_object(bucket, info.key, version_id=stat.version_id)
    assert refused.value.code == "AccessDenied"
    # A plain delete only hides the object behind a delete marker; the locked version stays.
    store.delete(info.key)
    kept = client.get_object(bucket, info.key, version_id=stat.version_id)
    assert kept.read() == DATA
