"""Killing the S3 server amid a registration stream loses nothing and skips no number."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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
from tests import pdfs
from tests.support import PgServer, SeaweedServer, all_registrations

WRITERS = 4


@pytest.fixture
def own_seaweed() -> Iterator[SeaweedServer]:
    server = SeaweedServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_kill_storage_mid_batch(
    own_seaweed: SeaweedServer, tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'eprotocol.db'}"
    else:
        pg: PgServer = request.getfixturevalue("pg_server")
        url = pg.create_database(f"outage_{os.getpid()}")
    bucket = own_seaweed.make_bucket("outage")
    config = ArchiveConfig(
        database_url=url, storage=storage_config_from_url(own_seaweed.storage_url(bucket))
    )
    documents = [pdfs.make_pdf(2, text=f"Document {i}", padding=15000) for i in range(40)]
    acknowledged: list[tuple[int, int]] = []
    refused: list[str] = []
    stop = threading.Event()

    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")

        def writer(w: int) -> None:
            i = 0
            while not stop.is_set():
                document = documents[(w * 10 + i) % len(documents)]
                attachment = documents[(w * 10 + i + 1) % len(documents)]
                i += 1
                try:
                    entry = archive.register(
                        NewRegistration(direction="incoming", subject=f"Αίτηση {w}-{i}"),
                        [
                            FileInput("αίτηση.pdf", document, FileRole.MAIN),
                            FileInput("συνημμένο.pdf", attachment),
                        ],
                        by=f"clerk{w}",
                    )
                except StorageUnavailable as exc:
                    refused.append(exc.message)
                    time.sleep(0.05)
                else:
                    acknowledged.append((entry.year, entry.number))

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
        for t in threads:
            t.start()
        while len(acknowledged) < 20:
            time.sleep(0.01)
        assert own_seaweed.proc is not None
        own_seaweed.proc.send_signal(signal.SIGKILL)  # a crash, mid-upload for some writer
        own_seaweed.proc.wait()
        time.sleep(1.5)
        during_outage = len(acknowledged)
        own_seaweed.restart()
        deadline = time.monotonic() + 60
        while len(acknowledged) < during_outage + 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(timeout=60)

        assert refused, "the outage was not noticed"
        assert len(acknowledged) >= during_outage + 20, "service did not resume"
        numbers = sorted(n for _, n in acknowledged)
        assert numbers == list(range(1, len(numbers) + 1))  # no gap, no duplicate
        recorded = sorted(r.number for r in all_registrations(archive))
        assert recorded == numbers  # nothing unacknowledged recorded
        report = archive.fsck()
        assert report.ok, report.problems  # every recorded file is there and verifies
        assert report.blobs_checked > 0
    if database == "postgresql":
        pg.drop_database(f"outage_{os.getpid()}")
