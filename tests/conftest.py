"""Fixtures: one archive per test, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eprotocol import Archive, ArchiveConfig, LocalStorageConfig, NewRegistration, Role
from eprotocol.config import SigningConfig
from eprotocol.core.ports import Clock
from eprotocol.pdf.signing import create_development_identity
from tests.support import FixedClock, PgServer, SeaweedServer

ORGANISATION = "Δήμος Χανίων"


@pytest.fixture(scope="session", autouse=True)
def _no_archive_made_in_the_working_directory() -> Iterator[None]:
    """No test makes an archive in the directory pytest runs in (the defaults' ``./var``).

    Commands run there would use a developer's own archive (``make serve``'s), whose
    index may be of another version, and leave theirs behind for the next run; on a
    clean clone, as in CI, the directory is not there before and must not be after.
    """
    existed = Path("var").exists()
    yield
    assert existed or not Path("var").exists(), "a test made ./var: give it a directory"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    server = SeaweedServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def signing(tmp_path_factory: pytest.TempPathFactory) -> SigningConfig:
    """One development signing key for the whole session (making keys is not what is tested)."""
    path = tmp_path_factory.mktemp("signing") / "signing.p12"
    create_development_identity(path, b"test-password", ORGANISATION)
    return SigningConfig(p12_path=path, password=b"test-password")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each supported kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'eprotocol.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    try:
        yield url
    finally:
        server.drop_database(name)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> ArchiveConfig:
    return ArchiveConfig(database_url=database_url, storage=LocalStorageConfig(tmp_path / "blobs"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


@pytest.fixture
def open_archive(config: ArchiveConfig) -> Iterator[Callable[..., Archive]]:
    """Open (and later close) archives on the test's database; the first one initialises it."""
    opened: list[Archive] = []

    def factory(clock: Clock | None = None) -> Archive:
        archive = Archive(config, clock=clock)
        if not opened:
            archive.initialise(organisation=ORGANISATION)
        opened.append(archive)
        return archive

    yield factory
    for archive in opened:
        archive.close()


@pytest.fixture
def archive(open_archive: Callable[..., Archive], clock: FixedClock) -> Archive:
    """An initialised archive whose clock the test controls."""
    return open_archive(clock=clock)


@pytest.fixture
def org(archive: Archive) -> Archive:
    """Two directorates with a section each, and their people."""
    a = archive
    a.add_department(
        "DIOIK", "Διεύθυνση Διοικητικών Υπηρεσιών", digest_email="dioik@chania.gr", by="admin"
    )
    a.add_department(
        "DIOIK.KEP", "Τμήμα ΚΕΠ", parent="DIOIK", digest_email="kep@chania.gr", by="admin"
    )
    a.add_department("TECH", "Διεύθυνση Τεχνικών Υπηρεσιών", by="admin")
    a.add_department("TECH.ROADS", "Τμήμα Οδοποιίας", parent="TECH", by="admin")
    a.add_user("clerk", "Ελένη Πρωτοκόλλου", roles=[Role.CLERK], by="admin")
    a.add_user(
        "head.dioik", "Νίκος Προϊστάμενος", department="DIOIK", roles=[Role.HEAD], by="admin"
    )
    a.add_user("maria", "Μαρία Κ.", department="DIOIK.KEP", roles=[Role.STAFF], by="admin")
    a.add_user("giorgos", "Γιώργος Λ.", department="DIOIK.KEP", roles=[Role.STAFF], by="admin")
    a.add_user("kostas", "Κώστας Τ.", department="TECH.ROADS", roles=[Role.STAFF], by="admin")
    for i in range(3):
        a.register(NewRegistration(direction="incoming", subject=f"Αίτηση πολίτη {i}"), by="clerk")
    return a
