"""Every file is checked on its bytes before anything is stored; hostile files leave no trace."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from minio.commonconfig import ENABLED
from minio.versioningconfig import VersioningConfig

from eprotocol import (
    Archive,
    ArchiveConfig,
    Classification,
    Disposal,
    FileInput,
    FileRole,
    IntakePolicy,
    InvalidInput,
    LocalStorageConfig,
    NewRegistration,
    RefusedFile,
    Registration,
    storage_config_from_url,
)
from eprotocol.config import StorageConfig
from eprotocol.intake.pdf import SandboxedPdfInspector
from tests import pdfs
from tests.integration.test_registry import table_counts
from tests.support import SeaweedServer

GOOD = pdfs.make_pdf(2)
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 200


@pytest.fixture(params=["local", "s3"])
def intake_archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Archive]:
    """An archive on SQLite with local or S3 storage and its own spool directory."""
    storage: StorageConfig
    if request.param == "local":
        storage = LocalStorageConfig(tmp_path / "blobs")
    else:
        seaweed: SeaweedServer = request.getfixturevalue("seaweed")
        bucket = seaweed.make_bucket(f"intake-{uuid.uuid4().hex[:8]}")
        storage = storage_config_from_url(seaweed.storage_url(bucket))
    (tmp_path / "spool").mkdir()
    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'eprotocol.db'}",
        storage=storage,
        spool_dir=tmp_path / "spool",
        intake=IntakePolicy(max_file_bytes=2 * 1024 * 1024, pdf_timeout_seconds=15),
    )
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        yield archive


def traces(archive: Archive) -> tuple[dict[str, int], int, list[Path]]:
    config = archive.config
    assert config.spool_dir is not None
    blobs = len(list(archive._store.list()))
    return table_counts(config), blobs, sorted(config.spool_dir.iterdir())


def incoming() -> NewRegistration:
    return NewRegistration(direction="incoming", subject="Αίτηση πολίτη")


HOSTILE = [
    ("empty attachment", "κενό.txt", b"", FileRole.ATTACHMENT, "is empty"),
    ("0-byte PDF", "αίτηση.pdf", b"", FileRole.MAIN, "is empty"),
    ("truncated PDF", "αίτηση.pdf", pdfs.truncated(), FileRole.MAIN, "truncated"),
    ("huge declared stream", "a.pdf", pdfs.huge_declared_stream(), FileRole.MAIN, "safety limit"),
    ("flate bomb", "a.pdf", pdfs.flate_bomb(), FileRole.MAIN, "bomb"),
    ("HTML named .pdf", "αίτηση.pdf", pdfs.HTML, FileRole.MAIN, "is an HTML page"),
    ("polyglot PDF + ZIP", "a.pdf", pdfs.polyglot(), FileRole.MAIN, "after the end of the PDF"),
    ("encrypted PDF", "a.pdf", pdfs.encrypted(), FileRole.MAIN, "encrypted"),
    ("program as attachment", "photo.jpg", ELF, FileRole.ATTACHMENT, "not accepted"),
    ("path traversal name", "../../etc/passwd", GOOD, FileRole.MAIN, "contains a path"),
    ("right-to-left override", "αίτηση\u202efdp.exe", GOOD, FileRole.MAIN, "reverse"),
    ("too large", "big.txt", b"a" * (2 * 1024 * 1024 + 1), FileRole.ATTACHMENT, "larger than 2 MB"),
]


@pytest.mark.parametrize(
    ("filename", "content", "role", "reason"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_file_is_refused_without_trace(
    intake_archive: Archive, filename: str, content: bytes, role: FileRole, reason: str
) -> None:
    intake_archive.register(incoming(), [FileInput("καλό.pdf", GOOD, FileRole.MAIN)], by="clerk")
    before = traces(intake_archive)
    files = [FileInput(filename, content, role)]
    if role is FileRole.ATTACHMENT:
        files.insert(0, FileInput("κύριο.pdf", pdfs.make_pdf(3), FileRole.MAIN))
    with pytest.raises(RefusedFile, match=reason):
        intake_archive.register(incoming(), files, by="clerk")
    assert traces(intake_archive) == before


@pytest.mark.parametrize(
    ("content", "warning"),
    [
        (pdfs.with_javascript(), "JavaScript"),
        (pdfs.with_launch_action(), "launches a program"),
        (pdfs.with_embedded_file(), "embedded files"),
        (pdfs.opening_a_website(), "runs an action when opened (OpenAction)"),
    ],
)
def test_active_content_is_kept_and_flagged(
    intake_archive: Archive, content: bytes, warning: str
) -> None:
    entry = intake_archive.register(
        incoming(), [FileInput("a.pdf", content, FileRole.MAIN)], by="c"
    )
    (stored,) = entry.files
    assert any(warning in w for w in stored.warnings)
    assert (
        intake_archive.get("general", entry.year, entry.number).files[0].warnings == stored.warnings
    )
    _, chunks = intake_archive.read_file("general", entry.year, entry.number, stored.id)
    assert b"".join(chunks) == content  # never modified


def test_a_pdf_that_only_says_where_to_open_has_no_warning(intake_archive: Archive) -> None:
    content = pdfs.greek_pdf("Αίτηση")  # fpdf2 writes /OpenAction [page /FitH null]
    assert b"/OpenAction" in content
    entry = intake_archive.register(
        incoming(), [FileInput("a.pdf", content, FileRole.MAIN)], by="c"
    )
    assert entry.files[0].warnings == ()


def test_accepted_types_by_role(intake_archive: Archive) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
    entry = intake_archive.register(
        incoming(),
        [
            FileInput("αίτηση.pdf", GOOD, FileRole.MAIN),
            FileInput("φωτογραφία.png", png),
            FileInput("σημείωμα.txt", "Καλημέρα σας".encode()),
            FileInput("δεδομένα.xml", b'<?xml version="1.0"?><a>1</a>'),
        ],
        by="clerk",
    )
    assert [f.media_type for f in entry.files] == [
        "application/pdf",
        "image/png",
        "text/plain",
        "text/xml",
    ]
    with pytest.raises(RefusedFile, match="main document"):
        intake_archive.register(incoming(), [FileInput("x.png", png, FileRole.MAIN)], by="c")


def test_a_bad_file_among_good_ones_stores_none_of_them(intake_archive: Archive) -> None:
    before = traces(intake_archive)
    with pytest.raises(RefusedFile, match="truncated"):
        intake_archive.register(
            incoming(),
            [
                FileInput("κύριο.pdf", pdfs.make_pdf(5), FileRole.MAIN),
                FileInput("συνημμένο.pdf", pdfs.make_pdf(6)),
                FileInput("χαλασμένο.pdf", pdfs.truncated()),
            ],
            by="clerk",
        )
    assert traces(intake_archive) == before


@pytest.mark.parametrize("bucket_kind", ["plain", "versioned", "object lock"])
def test_identical_files_are_stored_once(
    seaweed: SeaweedServer, tmp_path: Path, bucket_kind: str
) -> None:
    """The same bytes registered twice are one object, also where the bucket keeps versions."""
    bucket = seaweed.make_bucket(
        f"dedup-{uuid.uuid4().hex[:8]}", object_lock=bucket_kind == "object lock"
    )
    if bucket_kind == "versioned":
        seaweed.client().set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'eprotocol.db'}",
        storage=storage_config_from_url(seaweed.storage_url(bucket)),
    )
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        first, second = (
            archive.register(incoming(), [FileInput("αίτηση.pdf", GOOD, FileRole.MAIN)], by="c")
            for _ in range(2)
        )
    assert first.files[0].storage_key == second.files[0].storage_key
    client = seaweed.client()
    versions = list(
        client.list_objects(bucket, prefix="sha256/", recursive=True, include_version=True)
    )
    assert [v.object_name for v in versions] == [first.files[0].storage_key]


def locked_archive(
    seaweed: SeaweedServer, tmp_path: Path
) -> tuple[ArchiveConfig, Callable[[Registration], list[int]]]:
    """An archive on a new S3 Object Lock bucket, and how many years each file of an entry
    is locked for (counted from the year it was registered)."""
    bucket = seaweed.make_bucket(f"locked-{uuid.uuid4().hex[:8]}", object_lock=True)
    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'eprotocol.db'}",
        storage=storage_config_from_url(seaweed.storage_url(bucket)),
    )
    client = seaweed.client()

    def years_locked(entry: Registration) -> list[int]:
        years = []
        for f in entry.files:
            retention = client.get_object_retention(bucket, f.storage_key)
            assert retention is not None and retention.retain_until_date is not None
            years.append(retention.retain_until_date.year - entry.registered_at.year)
        return years

    return config, years_locked


def test_a_shared_file_stays_locked_as_long_as_its_longest_lived_registration(
    seaweed: SeaweedServer, tmp_path: Path
) -> None:
    """Bytes registered again under a longer retention get the later lock date."""
    config, years_locked = locked_archive(seaweed, tmp_path)
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        for code, years in (("Φ.1", 2), ("Φ.2", 20), ("Φ.3", 5)):
            archive.add_classification(
                code, "Αιτήσεις", retention_years=years, disposal="destroy", by="admin"
            )
        kept_until = []
        for code in ("Φ.1", "Φ.2", "Φ.3"):
            entry = archive.register(
                NewRegistration(
                    direction="incoming", subject="Αίτηση πολίτη", classification_code=code
                ),
                [FileInput("αίτηση.pdf", GOOD, FileRole.MAIN)],
                by="c",
            )
            kept_until.append(years_locked(entry)[0])
    assert kept_until == [2, 20, 20]  # extended for Φ.2, never shortened for Φ.3


def test_a_registration_filed_again_under_a_longer_heading_keeps_its_files_longer(
    seaweed: SeaweedServer, tmp_path: Path
) -> None:
    """A correction of the heading moves the files' locks to the new heading's retention."""
    config, kept_for = locked_archive(seaweed, tmp_path)
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        archive.add_classifications(
            [
                Classification("Φ.1", "Αιτήσεις", 2, Disposal.DESTROY),
                Classification("Φ.2", "Άδειες", 20, Disposal.TRANSFER),
            ],
            by="admin",
        )
        entry = archive.register(
            NewRegistration(direction="incoming", subject="Αίτηση", classification_code="Φ.1"),
            [FileInput("αίτηση.pdf", GOOD, FileRole.MAIN), FileInput("σημείωμα.txt", b"ok")],
            by="c",
        )
        assert kept_for(entry) == [2, 2]
        with pytest.raises(InvalidInput, match=r"'Φ\.9' is not a heading"):
            archive.correct(
                entry.book,
                entry.year,
                entry.number,
                {"classification_code": "Φ.9"},
                reason="x",
                by="c",
            )
        moved = archive.correct(
            entry.book, entry.year, entry.number, {"classification_code": "Φ.2"}, reason="x", by="c"
        )
        assert moved.classification_code == "Φ.2"
        assert kept_for(moved) == [20, 20]
        # Filed back under the shorter heading, the files stay locked as long as they were.
        back = archive.correct(
            entry.book, entry.year, entry.number, {"classification_code": "Φ.1"}, reason="x", by="c"
        )
        assert kept_for(back) == [20, 20]
        assert [c.new_value for c in back.corrections] == ["Φ.2", "Φ.1"]


def test_a_pdf_the_checking_process_cannot_open_is_refused_saying_so(tmp_path: Path) -> None:
    """A spooled file gone before its check is a refusal of its own kind, not a crash."""
    inspector = SandboxedPdfInspector(IntakePolicy(pdf_workers=1))
    try:
        report = inspector.inspect(tmp_path / "gone.pdf")
    finally:
        inspector.close()
    assert report.refusal == "could not be opened for checking (No such file or directory)"
    assert report.refusal.kind == "pdf-not-opened"
