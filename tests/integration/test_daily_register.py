"""The daily register (Ημερήσιο βιβλίο πρωτοκόλλου), issue #6."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader as PypdfReader

from eprotocol import Archive, ArchiveConfig, NewRegistration
from eprotocol.config import SigningConfig
from eprotocol.core.errors import InvalidInput, NotFound
from eprotocol.core.models import DAILY_REGISTER, REGISTRATION
from eprotocol.worker import JOBS_NICENESS, Worker
from tests.conftest import ORGANISATION
from tests.support import FixedClock, local_root, our_root

DAY1 = date(2026, 3, 2)
DAY2 = date(2026, 3, 3)


@pytest.fixture
def books(
    config: ArchiveConfig,
    signing: SigningConfig,
) -> Iterator[tuple[Archive, FixedClock]]:
    """Entries on two days (Athens time): day 2 cancels one and corrects one of day 1."""
    clock = FixedClock(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))  # 09:00 in Athens
    with Archive(dataclasses.replace(config, signing=signing), clock=clock) as archive:
        archive.initialise(organisation=ORGANISATION)
        archive.register(
            NewRegistration(direction="incoming", subject="Αίτηση για άδεια", sender="Α. Β."),
            by="admin",
        )
        archive.register(
            NewRegistration(direction="outgoing", subject="Απάντηση", recipients=("Γ. Δ.",)),
            by="admin",
        )
        clock.set(datetime(2026, 3, 2, 21, 59, tzinfo=UTC))  # 23:59 Athens: still day 1
        archive.register(
            NewRegistration(
                direction="internal", subject="Εμπιστευτικό υπηρεσιακό", confidential=True
            ),
            by="admin",
        )
        clock.set(datetime(2026, 3, 2, 22, 1, tzinfo=UTC))  # 00:01 Athens on day 2
        archive.register(NewRegistration(direction="incoming", subject="Καταγγελία"), by="admin")
        clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
        archive.cancel(
            "general", 2026, 4, reason="Διπλοεγγραφή", authorisation="Απόφαση 5/2026", by="admin"
        )
        archive.correct(
            "general",
            2026,
            1,
            {"subject": "Αίτηση για άδεια κατάληψης"},
            reason="Ελλιπές θέμα",
            by="admin",
        )
        clock.set(datetime(2026, 3, 4, 8, 0, tzinfo=UTC))
        yield archive, clock


def _json(archive: Archive, day: date) -> dict[str, Any]:
    data = json.loads(b"".join(archive.read_daily_register(day, "json")))
    assert isinstance(data, dict)
    return data


def test_the_register_of_a_day_lists_its_entries_cancellations_and_corrections(
    books: tuple[Archive, FixedClock],
    signing: SigningConfig,
) -> None:
    archive, _ = books
    record = archive.produce_daily_register(DAY2, by="admin")
    assert record.entries == 3 and record.unchanged
    data = _json(archive, DAY2)
    assert [r["protocol_number"] for r in data["registrations"]] == ["4/2026"]
    (cancelled,) = data["cancellations"]
    assert cancelled["protocol_number"] == "4/2026" and cancelled["reason"] == "Διπλοεγγραφή"
    (corrected,) = data["corrections"]
    assert corrected["protocol_number"] == "1/2026"  # an entry of an older day
    assert corrected["old_value"] == "Αίτηση για άδεια"
    head = archive.audit_events(limit=1000)
    at_end_of_day2 = [e for e in head if e.occurred_at < datetime(2026, 3, 3, 22, 0, tzinfo=UTC)]
    assert data["audit_head"] == {"seq": at_end_of_day2[-1].seq, "hash": at_end_of_day2[-1].hash}
    assert record.audit_head == at_end_of_day2[-1].hash

    pdf = b"".join(archive.read_daily_register(DAY2, "pdf"))
    (embedded,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    status = validate_pdf_signature(
        embedded, ValidationContext(trust_roots=[our_root(signing)], allow_fetching=False)
    )
    assert status.bottom_line


def test_the_printed_register_names_corrections_in_greek_and_keeps_confidential_ones_quiet(
    books: tuple[Archive, FixedClock],
) -> None:
    archive, clock = books
    clock.set(datetime(2026, 3, 3, 11, 0, tzinfo=UTC))  # day 2, after the fixture's correction
    archive.correct(
        "general", 2026, 3, {"subject": "Πειθαρχική υπόθεση Χ."}, reason="Όνομα Χ.", by="admin"
    )
    archive.correct("general", 2026, 2, {"recipients": []}, reason="Λάθος παραλήπτης", by="admin")
    clock.set(datetime(2026, 3, 4, 8, 0, tzinfo=UTC))
    archive.produce_daily_register(DAY2, by="admin")

    pdf = b"".join(archive.read_daily_register(DAY2, "pdf"))
    text = " ".join(page.extract_text() for page in PypdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(text.split())
    assert "Θέμα: «Αίτηση για άδεια» → «Αίτηση για άδεια κατάληψης» (Ελλιπές θέμα)" in text
    assert "Παραλήπτες: «Γ. Δ.» → «—» (Λάθος παραλήπτης)" in text
    assert "Θέμα: [εμπιστευτικό]" in text
    assert "Πειθαρχική" not in text and "Εμπιστευτικό υπηρεσιακό" not in text
    assert "Όνομα Χ." not in text


def test_day_one_shows_entries_as_registered_and_hides_confidential_subjects(
    books: tuple[Archive, FixedClock],
) -> None:
    archive, _ = books
    archive.produce_daily_register(DAY1, by="admin")
    data = _json(archive, DAY1)
    registrations = data["registrations"]
    assert isinstance(registrations, list)
    assert [r["protocol_number"] for r in registrations] == ["1/2026", "2/2026", "3/2026"]
    # Corrected on day 2, but day 1 recorded the subject as it was registered.
    assert registrations[0]["subject"] == "Αίτηση για άδεια"
    assert data["cancellations"] == [] and data["corrections"] == []


def test_producing_again_gives_the_same_bytes_and_detects_a_change(
    books: tuple[Archive, FixedClock],
) -> None:
    archive, _ = books
    first = archive.produce_daily_register(DAY1, by="admin")
    stored = b"".join(archive.read_daily_register(DAY1, "json"))
    # Later legitimate work (another correction, a cancellation) does not alter day 1.
    archive.correct(
        "general", 2026, 2, {"subject": "Απάντηση σε αίτηση"}, reason="Σαφήνεια", by="admin"
    )
    archive.cancel("general", 2026, 3, reason="Λάθος", authorisation="Πράξη 9", by="admin")
    again = archive.produce_daily_register(DAY1, by="admin")
    assert again.unchanged and again.json_sha256 == first.json_sha256
    assert b"".join(archive.read_daily_register(DAY1, "json")) == stored

    # A change made behind the protocol's back (a database edit) is detected.
    with archive._db.write() as conn:
        conn.execute(
            sa.update(REGISTRATION).where(REGISTRATION.c.number == 1).values(subject="Άλλο")
        )
    tampered = archive.produce_daily_register(DAY1, by="admin")
    assert not tampered.unchanged
    assert tampered.json_sha256 == first.json_sha256  # the stored record is never overwritten


def test_only_finished_days_and_stored_days_can_be_asked_for(
    books: tuple[Archive, FixedClock],
) -> None:
    archive, _ = books
    with pytest.raises(InvalidInput):
        archive.produce_daily_register(date(2026, 3, 4), by="admin")  # today
    with pytest.raises(NotFound):
        archive.daily_register(DAY1)
    assert archive.missing_daily_registers() == (DAY1, DAY2)
    archive.produce_daily_register(by="admin")  # yesterday by default
    assert archive.missing_daily_registers() == (DAY1,)
    assert archive.daily_register(DAY2).entries == 3


def test_fsck_counts_daily_register_blobs_as_referenced(
    books: tuple[Archive, FixedClock],
) -> None:
    archive, clock = books
    archive.produce_daily_register(DAY2, by="admin")
    clock.set(datetime(2026, 4, 1, tzinfo=UTC))
    assert archive.fsck().orphans == ()


def test_fsck_names_a_damaged_daily_register(books: tuple[Archive, FixedClock]) -> None:
    archive, _ = books
    archive.produce_daily_register(DAY1, by="admin")
    with archive._db.read() as conn:
        pdf_key = conn.execute(sa.select(DAILY_REGISTER.c.pdf_key)).scalar_one()
    assert archive.fsck().ok
    path = local_root(archive.config) / pdf_key
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(damaged))

    report = archive.fsck()
    assert report.blobs_checked == 2  # the register's JSON and PDF (the entries have no files)
    (problem,) = report.problems
    assert (problem.problem, problem.used_by) == ("corrupt", (f"daily register {DAY1} (PDF)",))


def test_the_worker_makes_the_missing_registers_after_ten_past_midnight(
    books: tuple[Archive, FixedClock],
) -> None:
    archive, clock = books
    worker = Worker(archive, clock, archive.timezone)
    clock.set(datetime(2026, 3, 3, 22, 5, tzinfo=UTC))  # 00:05 on 4 March in Athens
    assert worker.produce_daily_registers() == 0
    clock.set(datetime(2026, 3, 3, 22, 15, tzinfo=UTC))  # 00:15
    assert worker.produce_daily_registers() == 2
    assert archive.daily_register(DAY1).entries == 3 and archive.daily_register(DAY2).entries == 3
    assert worker.produce_daily_registers() == 0  # once a day


def test_the_worker_tells_of_a_signing_certificate_to_renew_then_expired(
    books: tuple[Archive, FixedClock], caplog: pytest.LogCaptureFixture
) -> None:
    """In the log once a day, from a month ahead: a server can run for months unwatched."""
    archive, clock = books
    caplog.set_level(logging.WARNING, logger="eprotocol.worker")
    identity = archive.signing_identity()
    assert identity is not None
    tz = archive.timezone

    def noon(instant: datetime) -> datetime:
        return datetime.combine(instant.astimezone(tz).date(), clock_time(12), tzinfo=tz)

    worker = Worker(archive, clock, tz)
    clock.set(noon(identity.valid_until - timedelta(days=40)))
    assert worker.produce_daily_registers() == 7  # the last week's, empty
    assert "signing certificate" not in caplog.text
    clock.set(noon(identity.valid_until - timedelta(days=10)))
    assert worker.produce_daily_registers() == 7
    (warning,) = [r for r in caplog.records if "signing certificate" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert "days: install the renewed one (EPROTOCOL_SIGNING_P12)" in warning.getMessage()
    clock.set(noon(identity.valid_until + timedelta(days=1)))
    assert worker.produce_daily_registers() == 0
    assert "daily register failed, will retry: the signing certificate of" in caplog.text
    assert f"expired on {identity.valid_until:%d/%m/%Y %H:%M}" in caplog.text


def test_the_background_jobs_give_way_to_requests(books: tuple[Archive, FixedClock]) -> None:
    archive, clock = books
    stop = threading.Event()
    jobs = threading.Thread(target=Worker(archive, clock, archive.timezone).run, args=(stop,))
    jobs.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            # Field 19 of /proc/.../stat is the nice value; the command name cannot hold ")".
            stat = Path(f"/proc/self/task/{jobs.native_id}/stat").read_text()
            nice = int(stat.rsplit(")", 1)[1].split()[16])
            if nice or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert nice == JOBS_NICENESS
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0  # ours is not
    finally:
        stop.set()
        jobs.join()
