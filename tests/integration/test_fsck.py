"""`eprotocol fsck`: re-hashes every stored file, names damaged registrations, sweeps orphans."""

from __future__ import annotations

import io
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from eprotocol import (
    Archive,
    ArchiveConfig,
    FileInput,
    FileRole,
    NewRegistration,
    StorageUnavailable,
    storage_config_from_url,
)
from eprotocol.core import registry as registry_module
from tests import pdfs
from tests.integration.test_registry import table_counts
from tests.support import SeaweedServer, run_cli


@pytest.fixture(params=["local", "s3"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Archive, dict[str, str], Any]]:
    """An archive with three registrations, the environment for the CLI, and a raw blob writer."""
    if request.param == "local":
        url = f"file://{tmp_path / 'blobs'}"

        def overwrite(key: str, data: bytes) -> None:
            path = tmp_path / "blobs" / key
            path.chmod(0o644)
            path.write_bytes(data)

    else:
        seaweed: SeaweedServer = request.getfixturevalue("seaweed")
        bucket = seaweed.make_bucket(f"fsck-{uuid.uuid4().hex[:8]}")
        url = seaweed.storage_url(bucket)

        def overwrite(key: str, data: bytes) -> None:
            seaweed.client().put_object(bucket, key, io.BytesIO(data), len(data))

    db = f"sqlite:///{tmp_path / 'eprotocol.db'}"
    config = ArchiveConfig(database_url=db, storage=storage_config_from_url(url))
    env = {**os.environ, "EPROTOCOL_DATABASE_URL": db, "EPROTOCOL_STORAGE_URL": url}
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        for i in range(3):
            archive.register(
                NewRegistration(direction="incoming", subject=f"Αίτηση {i}"),
                [FileInput("αίτηση.pdf", pdfs.make_pdf(i + 1), FileRole.MAIN)],
                by="clerk",
            )
        yield archive, env, overwrite


def fsck_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("fsck", *args, env=env)


def test_clean_archive_passes(setup: tuple[Archive, dict[str, str], Any]) -> None:
    archive, env, _ = setup
    report = archive.fsck()
    assert report.ok
    assert report.blobs_checked == 3
    assert report.problems == () and report.orphans == ()
    result = fsck_cli(env)
    assert result.returncode == 0, result.stderr
    assert "blobs checked: 3" in result.stdout


def test_one_flipped_byte_names_the_registration(
    setup: tuple[Archive, dict[str, str], Any],
) -> None:
    archive, env, overwrite = setup
    entry = archive.get("general", archive.list().items[0].year, 2)
    stored = entry.files[0]
    _, chunks = archive.read_file("general", entry.year, entry.number, stored.id)
    damaged = bytearray(b"".join(chunks))
    damaged[len(damaged) // 2] ^= 0x01
    overwrite(stored.storage_key, bytes(damaged))

    report = archive.fsck()
    assert not report.ok
    (problem,) = report.problems
    assert problem.problem == "corrupt"
    assert problem.used_by == (f"general:2/{entry.year} αίτηση.pdf",)

    result = fsck_cli(env)
    assert result.returncode == 1
    assert f"general:2/{entry.year}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_blob_is_named(setup: tuple[Archive, dict[str, str], Any]) -> None:
    archive, env, _ = setup
    entry = archive.list().items[0]
    archive._store.delete(entry.files[0].storage_key)
    (problem,) = archive.fsck().problems
    assert problem.problem == "missing"
    assert fsck_cli(env).returncode == 1


def test_crash_between_storing_and_commit_leaves_only_a_sweepable_orphan(
    setup: tuple[Archive, dict[str, str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, env, _ = setup
    before = table_counts(archive.config)

    def crash(*args: object, **kwargs: object) -> int:
        raise StorageUnavailable("simulated crash after the files were stored")

    monkeypatch.setattr(registry_module, "take_numbers", crash)
    with pytest.raises(StorageUnavailable):
        archive.register(
            NewRegistration(direction="incoming", subject="Χαμένη"),
            [FileInput("χαμένη.pdf", pdfs.make_pdf(9), FileRole.MAIN)],
            by="clerk",
        )
    monkeypatch.undo()
    assert table_counts(archive.config) == before  # no number used, nothing recorded

    assert archive.fsck().orphans == ()  # too young: it may belong to a registration in flight
    report = archive.fsck(grace=timedelta(0))
    assert report.ok  # orphans are not damage
    (orphan,) = report.orphans
    result = fsck_cli(env, "--grace-hours", "0", "--sweep-orphans")
    assert result.returncode == 0, result.stderr
    assert f"deleted: {orphan}" in result.stdout
    assert not archive._store.exists(orphan)
    assert archive.fsck(grace=timedelta(0)).ok
    assert archive.fsck(grace=timedelta(0)).blobs_checked == 3
