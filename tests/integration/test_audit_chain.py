"""The audit hash chain detects any direct edit of the database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from eprotocol import Archive, ArchiveConfig, NewRegistration
from tests.support import local_root, run_cli


def _fsck(config: ArchiveConfig, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "EPROTOCOL_DATABASE_URL": config.database_url,
        "EPROTOCOL_STORAGE_URL": f"file://{local_root(config)}",
    }
    return run_cli("fsck", env=env, cwd=cwd)


def _execute(config: ArchiveConfig, sql: str) -> None:
    engine = sa.create_engine(config.database_url)
    with engine.begin() as conn:
        assert conn.exec_driver_sql(sql).rowcount == 1
    engine.dispose()


@pytest.fixture
def populated(archive: Archive) -> Archive:
    for i in range(3):
        archive.register(NewRegistration(direction="incoming", subject=f"Θέμα {i}"), by="clerk")
    archive.cancel("general", 2026, 2, reason="λάθος", authorisation="Απόφαση 1", by="head")
    archive.correct("general", 2026, 3, {"subject": "Νέο θέμα"}, reason="τυπογραφικό", by="clerk")
    return archive


def test_untouched_chain_verifies(
    populated: Archive, config: ArchiveConfig, tmp_path: Path
) -> None:
    report = populated.verify_audit_chain()
    assert report.ok
    assert report.events_checked == 8  # organisation, book, admin, 3 registrations, cancel, correct
    events = populated.audit_events()
    assert [e.action for e in events][3:] == ["registration.created"] * 3 + [
        "registration.cancelled",
        "registration.corrected",
    ]
    assert events[-1].hash == report.head_hash
    assert events[-1].details["changes"]["subject"] == {"old": "Θέμα 2", "new": "Νέο θέμα"}
    result = _fsck(config, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "8 events" in result.stdout


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        ("UPDATE audit_event SET actor = 'mallory' WHERE seq = 5", 5),
        ("UPDATE audit_event SET action = 'registration.viewed' WHERE seq = 4", 4),
        ("UPDATE audit_event SET target = 'general:9/2026' WHERE seq = 6", 6),
        ("UPDATE audit_event SET details = '{}' WHERE seq = 7", 7),
        ("UPDATE audit_event SET occurred_at = occurred_at - INTERVAL '1 hour' WHERE seq = 5", 5),
        ("UPDATE audit_event SET prev_hash = hash WHERE seq = 6", 6),
        ("UPDATE audit_event SET hash = prev_hash WHERE seq = 8", 8),
        ("DELETE FROM audit_event WHERE seq = 4", 4),
        ("DELETE FROM audit_event WHERE seq = 8", 8),
    ],
)
def test_any_edit_is_named(
    populated: Archive, config: ArchiveConfig, tmp_path: Path, sql: str, bad_seq: int
) -> None:
    if config.database_url.startswith("sqlite"):
        sql = sql.replace("occurred_at - INTERVAL '1 hour'", "datetime(occurred_at, '-1 hour')")
    _execute(config, sql)

    report = populated.verify_audit_chain()
    assert not report.ok
    assert report.first_bad_seq == bad_seq
    assert report.problem

    result = _fsck(config, tmp_path)
    assert result.returncode == 1
    assert f"event {bad_seq}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_registrations_trail_is_its_own(archive: Archive) -> None:
    """The trail of 1/2026 of one book shows neither another book's 1/2026 nor a search for it."""
    archive.create_book("confidential", "Εμπιστευτικό πρωτόκολλο", by="admin")
    ours, theirs = (
        archive.register(NewRegistration(direction="incoming", subject="Θέμα", book=book), by="c")
        for book in ("general", "confidential")
    )
    assert ours.protocol_number == theirs.protocol_number
    archive.record_access("file.downloaded", str(theirs.ref), {"file_id": 1}, by="clerk")
    archive.record_access("search", ours.protocol_number, {"filters": {}}, by="clerk")
    archive.record_access("file.downloaded", str(ours.ref), {"file_id": 2}, by="clerk")
    trail = archive.audit_trail(ours)
    assert [(e.action, e.target) for e in trail] == [  # oldest first
        ("registration.created", "general:1/2026"),
        ("file.downloaded", "general:1/2026"),
    ]
