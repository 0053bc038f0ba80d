"""The indexer as it runs: inside the embedded server, as a killed and restarted worker, and
rebuilding an index it cannot read."""

from __future__ import annotations

import gc
import logging
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from whoosh import index as whoosh_index
from whoosh.fields import ID, Schema
from whoosh.filedb.filestore import FileStorage

from eprotocol import Archive, ArchiveConfig, LocalStorageConfig, NewRegistration
from eprotocol.core.errors import IndexUnavailable
from eprotocol.core.models import OUTBOX
from eprotocol.core.search import IndexDocument, SearchFilters, Visibility
from eprotocol.search import whoosh_index as whoosh_adapter
from eprotocol.search.analysis import GreekFilter
from eprotocol.search.whoosh_index import WhooshIndex, schema
from eprotocol.worker import Worker
from tests.support import FixedClock, PgServer, clean_env, free_port, run_cli

ALL = Visibility(all_confidential=True)


def cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, cwd=cwd)


def found(index_dir: Path, query: str) -> int:
    return WhooshIndex(index_dir).search(query, ALL, SearchFilters(), limit=1, offset=0).total


def test_embedded_server_makes_new_registrations_searchable_within_two_seconds(
    tmp_path: Path,
) -> None:
    env = clean_env()
    assert cli(tmp_path, env, "init", "--organisation", "Δήμος Χανίων").returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "eprotocol.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # the server is up and its indexer is polling
        latencies = []
        for word in ("Ηρακλείου", "Ρεθύμνου", "Λασιθίου"):
            result = cli(
                tmp_path,
                env,
                "register",
                "--direction",
                "internal",
                "--subject",
                f"Υπηρεσιακό σημείωμα Δήμου {word}",
            )
            assert result.returncode == 0, result.stderr
            registered = time.monotonic()
            while found(tmp_path / "var" / "index", word) == 0:
                assert time.monotonic() - registered < 10, "never indexed"
                time.sleep(0.05)
            latencies.append(time.monotonic() - registered)
        assert max(latencies) < 2.0, latencies
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _pending(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.exec_driver_sql(
            "SELECT count(*) FROM outbox_event WHERE processed_at IS NULL"
        ).scalar_one()
    engine.dispose()
    return int(count)


def test_killed_worker_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'eprotocol.db'}"
    config = ArchiveConfig(
        database_url=url,
        storage=LocalStorageConfig(tmp_path / "var" / "blobs"),
        index_dir=tmp_path / "var" / "index",
    )
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        for i in range(400):
            archive.register(
                NewRegistration(direction="incoming", subject=f"Αίτηση δημότη {i}"), by="admin"
            )
    env = clean_env()
    for delay in (0.4, 0.8):
        worker = subprocess.Popen(
            [sys.executable, "-m", "eprotocol.cli", "worker"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0 + delay)  # start-up, then part of the work
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-m", "eprotocol.cli", "worker"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 60
        while _pending(url) or "background jobs running" not in log.read_text():
            assert time.monotonic() < deadline, "the worker did not catch up"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    assert found(tmp_path / "var" / "index", "Αίτηση") == 400


def indexed_archive(tmp_path: Path) -> ArchiveConfig:
    """An embedded archive with three registrations, all indexed."""
    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'eprotocol.db'}",
        storage=LocalStorageConfig(tmp_path / "blobs"),
        index_dir=tmp_path / "index",
    )
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        for i in range(3):
            archive.register(
                NewRegistration(direction="incoming", subject=f"Αίτηση {i}"), by="admin"
            )
        archive.index_pending()
        assert archive.search("Αίτηση", by="admin").total == 3
    return config


def test_unreadable_index_is_rebuilt_not_served(tmp_path: Path) -> None:
    config = indexed_archive(tmp_path)
    for path in (tmp_path / "index").iterdir():
        path.write_bytes(b"\x00garbage")
    with Archive(config) as archive:
        assert archive.index_pending() == 3  # rebuilt from the database first
        assert archive.search("Αίτηση", by="admin").total == 3


def test_an_index_with_the_fields_of_an_older_version_is_rebuilt(tmp_path: Path) -> None:
    config = indexed_archive(tmp_path)
    shutil.rmtree(tmp_path / "index")
    (tmp_path / "index").mkdir()
    whoosh_index.create_in(tmp_path / "index", Schema(id=ID(stored=True, unique=True)))
    with Archive(config) as archive:
        assert archive.index_pending() == 3
        assert archive.search("Αίτηση", by="admin").total == 3


def test_an_index_made_with_older_word_analysis_is_searched_until_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as older:
        older.setattr(GreekFilter, "version", GreekFilter.version - 1)
        config = indexed_archive(tmp_path)
    assert WhooshIndex(tmp_path / "index").stale  # opening it rebuilds nothing...
    with Archive(config) as archive:
        assert archive.search("Αίτηση", by="admin").total == 3  # ...and it is still searched
        assert archive.index_pending() == 3  # until the indexer's first round rebuilds it
        assert archive.search("Αίτηση", by="admin").total == 3
    assert not WhooshIndex(tmp_path / "index").stale
    with Archive(config) as archive:
        assert archive.index_pending() == 0  # the current version's whole index is kept


def test_an_index_made_before_headings_were_counted_is_searched_until_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version before kept no column of headings: an upgrade searches its index as it was
    (without counts by heading) until the indexer has rebuilt it, instead of emptying it."""

    def older_schema() -> Schema:
        fields = schema()
        fields.remove("classification")
        fields.add("classification", ID)
        return fields

    with monkeypatch.context() as older:
        older.setattr(whoosh_adapter, "schema", older_schema)
        older.setattr(whoosh_adapter, "FACETS", ("year", "direction", "departments"))
        config = indexed_archive(tmp_path)
        with Archive(config) as archive:
            archive.add_classification(
                "Φ.600", "Οδοποιία", retention_years=10, disposal="transfer", by="admin"
            )
            archive.register(
                NewRegistration(
                    direction="incoming",
                    subject="Αίτηση για τον δρόμο",
                    classification_code="Φ.600",
                ),
                by="admin",
            )
            assert archive.index_pending() == 1
    assert WhooshIndex(tmp_path / "index").stale
    heading = SearchFilters(classification="Φ.600")
    with Archive(config) as archive:
        before = archive.search("Αίτηση", by="admin")
        assert (before.total, before.facets["classification"]) == (4, {})
        assert archive.search("Αίτηση", by="admin", filters=heading).total == 1
        assert archive.index_pending() == 4  # the indexer's first round rebuilds it
        after = archive.search("Αίτηση", by="admin")
        assert (after.total, after.facets["classification"]) == (4, {"Φ.600": 1})
    assert not WhooshIndex(tmp_path / "index").stale


def test_a_rebuild_keeps_the_old_index_searched_and_loses_no_change_made_meanwhile(
    tmp_path: Path,
) -> None:
    config = indexed_archive(tmp_path)
    with Archive(config) as rebuilding, Archive(config) as other:  # as two processes would
        assert other.search("Αίτηση", by="admin").total == 3
        seen: list[int] = []

        def meanwhile(done: int, total: int) -> None:
            # Halfway through the rebuild another indexer works as usual, on the old index.
            if seen:
                return  # (the rebuild reads on to the entry registered here)
            seen.append(other.search("Αίτηση", by="admin").total)
            other.register(NewRegistration(direction="incoming", subject="Αίτηση 3"), by="admin")
            assert other.index_pending() == 1
            seen.append(other.search("Αίτηση", by="admin").total)

        assert rebuilding.rebuild_index(meanwhile) == 3
        assert seen == [3, 4]
        assert rebuilding.search("Αίτηση", by="admin").total == 4  # caught up after the swap
        assert other.search("Αίτηση", by="admin").total == 4  # which the other one follows
        other.register(NewRegistration(direction="incoming", subject="Αίτηση 4"), by="admin")
        assert other.index_pending() == 1  # and writes to the new index
        assert rebuilding.search("Αίτηση", by="admin").total == 5
    live = (tmp_path / "index" / "LIVE").read_text().strip()
    left = {path.name for path in (tmp_path / "index").iterdir() if live not in path.name}
    assert left == {"LIVE", "REBUILD-LOCK"}  # the old index's files are gone


def test_a_rebuild_that_fails_leaves_the_old_index_searched_and_the_next_one_tidies_up(
    tmp_path: Path,
) -> None:
    config = indexed_archive(tmp_path)
    index_dir = tmp_path / "index"
    live = (index_dir / "LIVE").read_text()

    def disk_full(done: int, total: int) -> None:
        raise OSError(28, "No space left on device")

    with Archive(config) as archive:
        with pytest.raises(IndexUnavailable, match="No space left on device"):
            archive.rebuild_index(disk_full)
        assert (index_dir / "LIVE").read_text() == live
        assert archive.search("Αίτηση", by="admin").total == 3
        begun = [path.name for path in index_dir.iterdir() if live.strip() not in path.name]
        assert set(begun) > {"LIVE", "REBUILD-LOCK"}  # the new index it had begun is left
        assert archive.rebuild_index() == 3
        assert archive.search("Αίτηση", by="admin").total == 3
    live = (index_dir / "LIVE").read_text().strip()
    assert {path.name for path in index_dir.iterdir() if live not in path.name} == {
        "LIVE",
        "REBUILD-LOCK",
    }


def test_a_running_archive_follows_a_rebuild_made_by_eprotocol_reindex(tmp_path: Path) -> None:
    env = clean_env()
    assert cli(tmp_path, env, "init", "--organisation", "Δήμος Χανίων").returncode == 0
    for subject in ("Πρώτη αίτηση", "Δεύτερη αίτηση"):
        registered = cli(tmp_path, env, "register", "--direction", "incoming", "--subject", subject)
        assert registered.returncode == 0, registered.stderr
    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'var' / 'eprotocol.db'}",
        storage=LocalStorageConfig(tmp_path / "var" / "blobs"),
        index_dir=tmp_path / "var" / "index",
    )
    with Archive(config) as archive:
        archive.index_pending()
        assert archive.search("αιτηση", by="admin").total == 2
        before = (tmp_path / "var" / "index" / "LIVE").read_text()
        result = cli(tmp_path, env, "reindex")
        assert result.returncode == 0, result.stderr
        live = (tmp_path / "var" / "index" / "LIVE").read_text().strip()
        assert live != before.strip()
        assert not any(
            before.strip() in path.name for path in (tmp_path / "var" / "index").iterdir()
        )
        assert archive.search("αιτηση", by="admin").total == 2  # on the new index's files
        archive.register(NewRegistration(direction="incoming", subject="Τρίτη αίτηση"), by="admin")
        assert archive.index_pending() == 1
    assert found(tmp_path / "var" / "index", "αιτηση") == 3


def test_reindex_command(tmp_path: Path) -> None:
    env = clean_env()
    assert cli(tmp_path, env, "init", "--organisation", "Δήμος Χανίων").returncode == 0
    for subject in ("Πρώτη αίτηση", "Δεύτερη αίτηση"):
        assert (
            cli(
                tmp_path, env, "register", "--direction", "incoming", "--subject", subject
            ).returncode
            == 0
        )
    result = cli(tmp_path, env, "reindex")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 registrations indexed"
    searched = cli(tmp_path, env, "search", "αιτηση")
    assert searched.stdout.strip().endswith("2 found")


def test_workers_on_postgresql_share_the_outbox_without_taking_the_same_rows(
    pg_server: PgServer, tmp_path: Path
) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    config = ArchiveConfig(
        database_url=pg_server.create_database(name),
        storage=LocalStorageConfig(tmp_path / "blobs"),
        index_dir=tmp_path / "index",
    )
    try:
        with Archive(config) as first, Archive(config) as second:
            first.initialise(organisation="Δήμος Χανίων")
            first.index_pending()  # the fresh index's first rebuild
            for i in range(120):
                first.register(
                    NewRegistration(direction="incoming", subject=f"Αίτηση αριθμός {i}"),
                    by="admin",
                )
            # While one worker holds a batch, another takes the next rows at once; the
            # first then dies, and its rows go back to the outbox.
            with pytest.raises(RuntimeError), first._indexer()._claim(10) as held:
                assert second.index_pending(batch=10) == 10
                engine = sa.create_engine(config.database_url)
                with engine.connect() as conn:
                    done = set(
                        conn.execute(
                            sa.select(OUTBOX.c.id).where(OUTBOX.c.processed_at.is_not(None))
                        ).scalars()
                    )
                engine.dispose()
                assert len(done) == 10
                assert not done & {row.id for row in held}
                raise RuntimeError("the worker died")
            with ThreadPoolExecutor(2) as pool:
                drained = [pool.submit(drain, archive) for archive in (first, second)]
                assert sum(f.result() for f in drained) == 120 - 10
            result = first.search("αίτηση", by="admin", limit=500)
            assert result.total == 120
            assert sorted(hit.number for hit in result.hits) == list(range(1, 121))
    finally:
        pg_server.drop_database(name)


def drain(archive: Archive) -> int:
    handled = 0
    while n := archive.index_pending(batch=7):
        handled += n
    return handled


def test_each_search_sees_the_latest_commit(tmp_path: Path) -> None:
    index = WhooshIndex(tmp_path / "index")

    def documents(number: int) -> list[IndexDocument]:
        return [
            IndexDocument(
                registration_id=number,
                book="general",
                year=2026,
                number=number,
                direction="incoming",
                status="active",
                local_time=datetime(2026, 3, 2, 10, 0),  # noqa: DTZ001 - wall-clock time
                subject=f"Αίτηση αριθμός {number}",
                correspondents="",
                classification="",
                departments=(),
                confidential=False,
            )
        ]

    for number in range(1, 6):  # the same thread refreshes its searcher after each commit
        index.upsert(lambda number=number: documents(number))  # type: ignore[misc]
        assert index.search("αίτηση", ALL, SearchFilters(), limit=10, offset=0).total == number


def _delete_index_directory(index_dir: Path) -> None:
    shutil.rmtree(index_dir)


def _delete_index_files(index_dir: Path) -> None:
    for path in index_dir.iterdir():
        if path.name != "LIVE":
            path.unlink()


@pytest.mark.parametrize("lose", [_delete_index_directory, _delete_index_files])
@pytest.mark.parametrize("first", ["search", "indexing"])
def test_an_index_deleted_under_a_running_archive_is_rebuilt_not_an_error(
    tmp_path: Path, lose: Callable[[Path], None], first: str
) -> None:
    config = indexed_archive(tmp_path)
    with Archive(config) as archive:
        assert archive.search("Αίτηση", by="admin").total == 3
        lose(tmp_path / "index")
        if first == "search":
            lost = archive.search("Αίτηση", by="admin")
            assert (lost.total, lost.complete) == (0, False)  # nothing, and it says so
            assert WhooshIndex(tmp_path / "index").stale
        else:  # the indexer writes a new registration into an empty index, then rebuilds it
            archive.register(NewRegistration(direction="incoming", subject="Αίτηση 3"), by="admin")
        drain(archive)
        rebuilt = archive.search("Αίτηση", by="admin")
        assert (rebuilt.total, rebuilt.complete) == (3 if first == "search" else 4, True)
    assert not WhooshIndex(tmp_path / "index").stale


def _rebuilt(worker: Worker) -> None:
    deadline = time.monotonic() + 30
    while worker.rebuilding:
        assert time.monotonic() < deadline, "the rebuild did not end"
        time.sleep(0.05)


@pytest.fixture
def outdated_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Archive]:
    """An archive of three registrations whose index an older version analysed."""
    with monkeypatch.context() as older:
        older.setattr(GreekFilter, "version", GreekFilter.version - 1)
        config = indexed_archive(tmp_path)
    with Archive(config) as archive:
        assert archive.search_index_stale
        yield archive


def test_the_worker_goes_on_indexing_while_it_rebuilds_the_index(
    outdated_archive: Archive, tmp_path: Path
) -> None:
    archive = outdated_archive
    another = FileStorage(str(tmp_path / "index")).lock("REBUILD-LOCK")
    assert another.acquire()  # another process is rebuilding: this worker's rebuild waits
    worker = Worker(archive, archive.clock, archive.timezone)
    try:
        worker.run_round()
        assert worker.rebuilding
        archive.register(NewRegistration(direction="incoming", subject="Αίτηση 3"), by="admin")
        worker.run_round()  # meanwhile new registrations are indexed as usual
        assert archive.search("Αίτηση", by="admin").total == 4
        assert archive.search_index_stale
    finally:
        another.release()
    _rebuilt(worker)
    assert not archive.search_index_stale
    assert archive.search("Αίτηση", by="admin").total == 4


def test_a_rebuild_in_the_background_ends_when_the_jobs_stop(
    outdated_archive: Archive, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="eprotocol.worker")
    archive = outdated_archive
    live = (tmp_path / "index" / "LIVE").read_text()
    another = FileStorage(str(tmp_path / "index")).lock("REBUILD-LOCK")
    assert another.acquire()
    worker = Worker(archive, archive.clock, archive.timezone)
    try:
        worker.run_round()
        worker.stop_rebuilding(timeout=0.1)  # told while it waits: it stops once it reads
    finally:
        another.release()
    _rebuilt(worker)
    assert "search index rebuild stopped" in caplog.text
    assert archive.search_index_stale
    assert (tmp_path / "index" / "LIVE").read_text() == live  # the old index is still searched
    assert archive.search("Αίτηση", by="admin").total == 3


def test_a_rebuild_waiting_for_another_process_s_ends_when_the_jobs_stop(
    outdated_archive: Archive, tmp_path: Path
) -> None:
    """Without waiting for the other to finish: a service stop must not hang on it."""
    archive = outdated_archive
    another = FileStorage(str(tmp_path / "index")).lock("REBUILD-LOCK")
    assert another.acquire()
    worker = Worker(archive, archive.clock, archive.timezone)
    try:
        worker.run_round()
        assert worker.rebuilding
        worker.stop_rebuilding(timeout=5)
        assert not worker.rebuilding  # while the other still holds the lock
    finally:
        another.release()
    _rebuilt(worker)
    assert archive.search_index_stale


def test_a_failed_rebuild_in_the_background_is_tried_again_later(
    outdated_archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = outdated_archive
    attempts: list[bool] = []

    def failing(progress: object, *, if_stale: bool) -> int:
        attempts.append(if_stale)
        raise IndexUnavailable("No space left on device")

    monkeypatch.setattr(archive, "rebuild_index", failing)
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    worker = Worker(archive, clock, archive.timezone, retry_after=timedelta(minutes=5))
    worker.run_round()
    _rebuilt(worker)
    worker.run_round()  # not at once: a full disk would fill the log twice a second
    _rebuilt(worker)
    assert attempts == [True]
    clock.set(datetime(2026, 3, 2, 9, 5, tzinfo=UTC))
    worker.run_round()
    _rebuilt(worker)
    assert attempts == [True, True]


def test_the_search_index_status_is_reported_for_monitoring(tmp_path: Path) -> None:
    config = indexed_archive(tmp_path)
    with Archive(config) as archive:
        assert archive.search_index_status() == "ready"
    with Archive(config) as archive:
        for path in (tmp_path / "index").iterdir():
            if path.suffix == ".toc":
                path.write_bytes(b"\x00garbage")  # damaged under the running archive
        assert archive.search_index_status() == "unavailable"
        with pytest.raises(IndexUnavailable):
            archive.search("Αίτηση", by="admin")
    with Archive(config) as archive:  # opened again, it is emptied and waits for its rebuild
        assert archive.search_index_status() == "rebuilding"
        drain(archive)
        assert archive.search_index_status() == "ready"
    with Archive(replace(config, index_dir=None)) as archive:
        assert archive.search_index_status() is None


def test_an_index_written_again_after_its_directory_was_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed update leaves no lock behind (Whoosh's writer left it to the collector)."""
    monkeypatch.setattr("eprotocol.search.whoosh_index.WRITE_LOCK_TIMEOUT", 1.0)
    config = indexed_archive(tmp_path)
    index_dir = tmp_path / "index"
    with Archive(config) as archive:
        archive.register(NewRegistration(direction="incoming", subject="Αίτηση 3"), by="admin")
        gc.disable()  # as long as the collector happens not to run
        try:
            subprocess.run(["chattr", "+i", str(index_dir)], check=True)
            try:
                with pytest.raises(IndexUnavailable, match="Operation not permitted"):
                    archive.index_pending()
            finally:
                subprocess.run(["chattr", "-i", str(index_dir)], check=True)
            assert archive.index_pending() == 1  # not a wait for a lock nobody holds
        finally:
            gc.enable()
        assert archive.search("Αίτηση", by="admin").total == 4


def test_an_index_that_cannot_be_made_again_is_named_unavailable(tmp_path: Path) -> None:
    """Lost, in a directory that cannot be written: one clear error, not an OSError."""
    config = indexed_archive(tmp_path)
    index_dir = tmp_path / "index"
    with Archive(config) as archive:
        for path in index_dir.iterdir():
            path.unlink()
        subprocess.run(["chattr", "+i", str(index_dir)], check=True)
        try:
            with pytest.raises(IndexUnavailable, match="cannot be made: Operation not permitted"):
                archive.search("Αίτηση", by="admin")
            with pytest.raises(IndexUnavailable, match="cannot be made"):
                archive.index_pending()
        finally:
            subprocess.run(["chattr", "-i", str(index_dir)], check=True)
        assert archive.search("Αίτηση", by="admin").complete is False  # made now, and empty
        drain(archive)
        assert archive.search("Αίτηση", by="admin").total == 3
