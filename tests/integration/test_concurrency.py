"""Gap-free numbering under concurrent writers: threads on SQLite, processes on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from eprotocol import (
    Archive,
    ArchiveConfig,
    FileInput,
    LocalStorageConfig,
    NewRegistration,
    Registration,
)
from tests.support import PgServer

PER_WRITER = 250


def _numbers(url: str) -> list[int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT number FROM registration ORDER BY number").scalars()
        numbers = list(rows)
    engine.dispose()
    return numbers


def _register_many(url: str, blobs: str, writer: int) -> list[int]:
    config = ArchiveConfig(database_url=url, storage=LocalStorageConfig(Path(blobs)))
    with Archive(config) as archive:
        return [
            archive.register(
                NewRegistration(direction="incoming", subject=f"Αίτηση {writer}-{i}"),
                by=f"w{writer}",
            ).number
            for i in range(PER_WRITER)
        ]


def _assert_gap_free(url: str, returned: list[int], total: int) -> None:
    assert sorted(returned) == list(range(1, total + 1))
    assert _numbers(url) == list(range(1, total + 1))


def test_eight_threads_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eprotocol.db'}"
    config = ArchiveConfig(database_url=url, storage=LocalStorageConfig(tmp_path / "blobs"))
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")

        def work(writer: int) -> list[int]:
            return [
                archive.register(
                    NewRegistration(direction="incoming", subject=f"Αίτηση {writer}-{i}"),
                    by=f"w{writer}",
                ).number
                for i in range(PER_WRITER)
            ]

        with ThreadPoolExecutor(8) as pool:
            returned = [n for numbers in pool.map(work, range(8)) for n in numbers]
        assert archive.verify_audit_chain().ok
    _assert_gap_free(url, returned, 8 * PER_WRITER)


def test_entries_committed_together_each_get_their_own_rows(archive: Archive) -> None:
    """Concurrent registrations share transactions; each caller gets back its own entry."""

    def work(writer: int) -> list[Registration]:
        return [
            archive.register(
                NewRegistration(direction="incoming", subject=f"Αίτηση {writer}-{i}"),
                [
                    FileInput(f"α-{writer}-{i}.txt", f"{writer}-{i}".encode()),
                    FileInput(f"β-{writer}-{i}.txt", f"{i}-{writer}".encode()),
                ],
                by=f"w{writer}",
            )
            for i in range(25)
        ]

    with ThreadPoolExecutor(8) as pool:
        returned = [entry for entries in pool.map(work, range(8)) for entry in entries]
    assert len({entry.id for entry in returned}) == len(returned)
    for entry in returned:
        writer, i = entry.subject.removeprefix("Αίτηση ").split("-")
        assert [f.filename for f in entry.files] == [f"α-{writer}-{i}.txt", f"β-{writer}-{i}.txt"]
        assert archive.get(entry.book, entry.year, entry.number) == entry


def _processes(url: str, blobs: Path, processes: int) -> ArchiveConfig:
    """Initialise an archive, then register from ``processes`` OS processes at once."""
    config = ArchiveConfig(database_url=url, storage=LocalStorageConfig(blobs))
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(_register_many, [(url, str(blobs), w) for w in range(processes)])
    _assert_gap_free(url, [n for r in results for n in r], processes * PER_WRITER)
    return config


def test_two_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    _processes(f"sqlite:///{tmp_path / 'eprotocol.db'}", tmp_path / "blobs", 2)


def test_four_processes_on_postgresql(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.create_database("concurrency")
    try:
        config = _processes(url, tmp_path / "blobs", 4)
        with Archive(config) as archive:
            report = archive.verify_audit_chain()
        assert report.ok
        assert report.events_checked == 3 + 4 * PER_WRITER  # organisation, book, admin, entries
    finally:
        pg_server.drop_database("concurrency")
