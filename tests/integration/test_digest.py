"""Daily digests delivered to a real SMTP server (aiosmtpd), once per department and day."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from eprotocol import Archive, ArchiveConfig, MailUnavailable, NewRegistration
from eprotocol.config import DigestPolicy, SmtpConfig
from eprotocol.core.digest import DigestReport, previous_working_day
from eprotocol.core.models import DIGEST_DELIVERY
from eprotocol.core.ports import Mail
from eprotocol.mail import SmtpMailer
from eprotocol.worker import Worker
from tests.support import FixedClock, MailSink, local_root, run_cli

THURSDAY = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
FRIDAY = date(2026, 3, 6)


@pytest.fixture
def sink() -> Iterator[MailSink]:
    server = MailSink().start()
    yield server
    server.stop()


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content())


def mail_config(config: ArchiveConfig, sink: MailSink) -> ArchiveConfig:
    return dataclasses.replace(
        config,
        mail=SmtpConfig(host="127.0.0.1", port=sink.port, sender="protocol@chania.gr"),
        digest=DigestPolicy(attempts=3, backoff_seconds=0.01),
        public_url="https://eprotocol.chania.gr",
    )


@pytest.fixture
def routed(org: Archive, clock: FixedClock) -> Archive:
    """Thursday's routings, plus an older one that is overdue by Friday."""
    clock.set(datetime(2026, 3, 4, 9, tzinfo=UTC))  # Wednesday
    org.assign("general", 2026, 3, department="DIOIK.KEP", due=date(2026, 3, 5), by="clerk")
    clock.set(THURSDAY)
    org.register(
        NewRegistration(direction="incoming", subject="<script>alert(1)</script> αίτηση"),
        by="clerk",
    )
    org.assign("general", 2026, 1, department="DIOIK.KEP", due=date(2026, 3, 20), by="clerk")
    org.assign("general", 2026, 2, department="DIOIK.KEP", purpose="information", by="clerk")
    org.assign("general", 2026, 4, department="DIOIK.KEP", assignee="maria", by="clerk")
    org.assign("general", 2026, 1, department="DIOIK", purpose="information", by="clerk")
    org.assign("general", 2026, 2, department="TECH.ROADS", by="clerk")  # no digest address
    return org


def digest_archive(config: ArchiveConfig, sink: MailSink, clock: FixedClock) -> Archive:
    return Archive(mail_config(config, sink), clock=clock)


def test_digest_content(
    routed: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    with digest_archive(config, sink, clock) as archive:
        report = archive.send_digests(FRIDAY)
    assert report.sent == ["DIOIK", "DIOIK.KEP"]
    assert report.no_address == ["TECH", "TECH.ROADS"]
    by_recipient = {tuple(rcpt): message for rcpt, message in sink.messages}
    assert set(by_recipient) == {("dioik@chania.gr",), ("kep@chania.gr",)}

    kep = by_recipient[("kep@chania.gr",)]
    assert kep["Subject"] == "Ημερήσια ενημέρωση πρωτοκόλλου: Τμήμα ΚΕΠ, 06/03/2026"
    assert kep["From"] == "protocol@chania.gr"
    assert kep["Message-ID"].startswith("<digest-2026-03-06-")
    text = body(kep, "plain")
    new, overdue = text.split("Εκπρόθεσμες χρεώσεις")
    assert "Νέες χρεώσεις από 05/03/2026: 3" in new
    for number in ("1/2026", "2/2026", "4/2026"):
        assert new.count(f"* {number} ") == 1
    assert "* 3/2026 " not in new
    assert "(κοινοποίηση)" in new and "προθεσμία 20/03/2026" in new
    assert "(προς ενέργεια, υπάλληλος: Μαρία Κ.)" in new  # by name, not her user name
    assert ": 1" in overdue.splitlines()[0]
    assert overdue.count("* 3/2026 ") == 1
    assert "https://eprotocol.chania.gr/registrations/general/2026/1" in text
    html = body(kep, "html")
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "ακύρωση" not in text  # no section of ended work when none ended

    dioik_text = body(by_recipient[("dioik@chania.gr",)], "plain")
    assert "* 1/2026 " in dioik_text and "* 2/2026 " not in dioik_text  # not the KEP subtree


def test_a_confidential_subject_is_not_emailed(
    org: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    """A department's mailbox may be a list: the entry is named, its subject is behind the link."""
    clock.set(THURSDAY)
    secret = org.register(
        NewRegistration(
            direction="incoming",
            subject="Καταγγελία για τον υπάλληλο Γ. Σηφάκη",
            confidential=True,
        ),
        by="clerk",
        route=["DIOIK.KEP"],
    )
    with digest_archive(config, sink, clock) as archive:
        assert archive.send_digests(FRIDAY).sent == ["DIOIK.KEP"]
    ((_, message),) = sink.messages
    for subtype in ("plain", "html"):
        text = body(message, subtype)
        assert f"{secret.protocol_number} — [εμπιστευτικό] (προς ενέργεια)" in text
        assert "Σηφάκη" not in text and "Καταγγελία" not in text


def test_work_of_a_cancelled_registration_is_said_to_have_ended(
    org: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    """Not as new work, nor overdue: apart, so that the department knows why it left its list."""
    clock.set(datetime(2026, 3, 4, 9, tzinfo=UTC))
    org.assign("general", 2026, 3, department="DIOIK.KEP", due=date(2026, 3, 5), by="clerk")
    clock.set(THURSDAY)
    for number in (1, 2):
        org.assign("general", 2026, number, department="DIOIK.KEP", by="clerk")
    for number in (1, 3):
        org.cancel("general", 2026, number, reason="Διπλή", authorisation="Πράξη 1", by="clerk")
    mistaken = org.register(
        NewRegistration(direction="incoming", subject="Αίτηση"), by="clerk", route=["DIOIK"]
    )
    clock.set(THURSDAY + timedelta(days=1))  # on Friday: the digest of Monday says it
    org.cancel(
        "general",
        2026,
        mistaken.number,
        reason="Εκ παραδρομής",
        authorisation="Πράξη 2",
        by="clerk",
    )
    with digest_archive(config, sink, clock) as archive:
        assert archive.send_digests(FRIDAY).sent == ["DIOIK.KEP"]
        assert archive.send_digests(FRIDAY + timedelta(days=3)).sent == ["DIOIK"]
    (_, kep), (_, dioik) = sink.messages
    new, overdue = body(kep, "plain").split("Εκπρόθεσμες χρεώσεις")
    assert "Νέες χρεώσεις από 05/03/2026: 1" in new and "* 2/2026 " in new
    overdue, ended = overdue.split("Έληξαν με την ακύρωση της καταχώρισης")
    assert overdue.startswith(": 0")
    assert ended.startswith(": 2") and "* 1/2026 " in ended and "* 3/2026 " in ended
    assert "Έληξαν με την ακύρωση της καταχώρισης: 2" in body(kep, "html")
    # A department whose only news is that its work ended is told so.
    assert "Έληξαν με την ακύρωση της καταχώρισης: 1" in body(dioik, "plain")


def test_raw_subject_is_encoded(
    routed: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    with digest_archive(config, sink, clock) as archive:
        archive.send_digests(FRIDAY)
    raw = sink.messages[0][1].as_bytes()
    subject_line = next(line for line in raw.splitlines() if line.startswith(b"Subject:"))
    assert subject_line.isascii() and b"=?utf-8?" in subject_line


def test_second_run_sends_nothing(
    routed: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    with digest_archive(config, sink, clock) as archive:
        archive.send_digests(FRIDAY)
        again = archive.send_digests(FRIDAY)
    assert again.sent == [] and again.already_sent == ["DIOIK", "DIOIK.KEP"]
    assert len(sink.messages) == 2


def test_crash_after_first_department_then_rerun(
    routed: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    real = SmtpMailer(mail_config(config, sink).mail)  # type: ignore[arg-type]

    class DiesAfterOne:
        sent = 0

        def send(self, mail: Mail) -> None:
            if self.sent == 1:
                raise SystemExit("killed")  # the process dies before the second department
            real.send(mail)
            self.sent += 1

    crashing = Archive(mail_config(config, sink), clock=clock, mailer=DiesAfterOne())
    with crashing as archive, pytest.raises(SystemExit):
        archive.send_digests(FRIDAY)
    assert len(sink.messages) == 1
    with digest_archive(config, sink, clock) as archive:
        report = archive.send_digests(FRIDAY)
    assert report.already_sent == ["DIOIK"] and report.sent == ["DIOIK.KEP"]
    assert sorted(tuple(r) for r, _ in sink.messages) == [("dioik@chania.gr",), ("kep@chania.gr",)]


def test_smtp_down_is_retried_reported_and_resumed(
    routed: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    sink.stop()
    with digest_archive(config, sink, clock) as archive:
        report = archive.send_digests(FRIDAY)
        assert report.sent == []
        assert set(report.failed) == {"DIOIK", "DIOIK.KEP"}
        assert "did not take the message" in report.failed["DIOIK"]
        sink.start()
        report = archive.send_digests(FRIDAY)
    assert report.sent == ["DIOIK", "DIOIK.KEP"]
    assert len(sink.messages) == 2
    assert deliveries(config) == [("sent", 2, None)] * 2  # one row each, counting both runs


def deliveries(config: ArchiveConfig) -> list[tuple[str, int, str | None]]:
    """The recorded digest deliveries: state, attempts and last error, by department."""
    engine = sa.create_engine(config.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    DIGEST_DELIVERY.c.state,
                    DIGEST_DELIVERY.c.attempts,
                    DIGEST_DELIVERY.c.last_error,
                ).order_by(DIGEST_DELIVERY.c.department_id)
            ).all()
    finally:
        engine.dispose()
    return [(state, attempts, error) for state, attempts, error in rows]


def test_a_run_beside_another_neither_fails_nor_undoes_its_deliveries(
    routed: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    """A hand run of the day's digests while the worker's run is sending them."""
    real = SmtpMailer(mail_config(config, sink).mail)  # type: ignore[arg-type]
    other: list[DigestReport] = []

    class OtherRunMeanwhile:
        def send(self, mail: Mail) -> None:
            if not other:  # the other run sends everything while ours is at its first
                with digest_archive(config, sink, clock) as archive:
                    other.append(archive.send_digests(FRIDAY))
                real.send(mail)
            else:
                raise MailUnavailable("the mail server did not take the message")

    with Archive(mail_config(config, sink), clock=clock, mailer=OtherRunMeanwhile()) as archive:
        ours = archive.send_digests(FRIDAY)
    assert other[0].sent == ["DIOIK", "DIOIK.KEP"]
    # Ours failed on DIOIK.KEP, which the other had sent: nothing is left to retry.
    assert (ours.sent, ours.already_sent, ours.failed) == (["DIOIK"], ["DIOIK.KEP"], {})
    # Both runs sent DIOIK's (the same Message-ID says it is one message); the other run's
    # delivery to DIOIK.KEP stands though ours then failed, so no later run sends it again.
    assert [to for to, _ in sink.messages] == [
        ["dioik@chania.gr"],
        ["kep@chania.gr"],
        ["dioik@chania.gr"],
    ]
    assert sink.messages[0][1]["Message-ID"] == sink.messages[2][1]["Message-ID"]
    assert deliveries(config) == [("sent", 1, None)] * 2
    with digest_archive(config, sink, clock) as archive:
        assert archive.send_digests(FRIDAY).already_sent == ["DIOIK", "DIOIK.KEP"]
    assert len(sink.messages) == 3


def test_cli_reports_failures(routed: Archive, config: ArchiveConfig, sink: MailSink) -> None:
    sink.stop()
    env = {
        **os.environ,
        "EPROTOCOL_DATABASE_URL": config.database_url,
        "EPROTOCOL_STORAGE_URL": f"file://{local_root(config)}",
        "EPROTOCOL_SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
    }

    def digest_send() -> subprocess.CompletedProcess[str]:
        return run_cli("digest", "send", "--date", "2026-03-06", env=env)

    result = digest_send()
    assert result.returncode == 1
    assert result.stderr.startswith("eprotocol: digest not sent (run again to retry) to DIOIK: ")
    assert "; DIOIK.KEP: " in result.stderr
    sink.start()
    result = digest_send()
    assert result.returncode == 0, result.stderr
    assert "sent: DIOIK, DIOIK.KEP" in result.stdout


def test_quiet_departments_get_nothing_unless_asked(
    org: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    with digest_archive(config, sink, clock) as archive:
        assert archive.send_digests(FRIDAY).nothing_to_report == ["DIOIK", "DIOIK.KEP"]
    assert sink.messages == []
    noisy = dataclasses.replace(mail_config(config, sink), digest=DigestPolicy(send_empty=True))
    with Archive(noisy, clock=clock) as archive:
        assert archive.send_digests(FRIDAY).sent == ["DIOIK", "DIOIK.KEP"]
        # A department closed in a reorganisation is written to no more, even when asked.
        for username in ("maria", "giorgos"):
            archive.change_user(username, {"department": "DIOIK"}, by="admin")
        archive.close_department("DIOIK.KEP", by="admin")
        later = archive.send_digests(FRIDAY + timedelta(days=3))
        assert later.sent == ["DIOIK"] and later.closed == ["DIOIK.KEP"]
        assert "DIOIK.KEP" not in later.nothing_to_report


def test_no_mail_server_configured(org: Archive) -> None:
    with pytest.raises(MailUnavailable):
        org.send_digests(FRIDAY)


@pytest.mark.parametrize(
    ("day", "previous"),
    [
        (date(2026, 3, 6), date(2026, 3, 5)),  # Friday → Thursday
        (date(2026, 3, 9), date(2026, 3, 6)),  # Monday → Friday (and the weekend)
        (date(2026, 3, 8), date(2026, 3, 6)),  # Sunday → Friday
    ],
)
def test_previous_working_day(day: date, previous: date) -> None:
    assert previous_working_day(day) == previous


def test_worker_sends_on_working_days_at_seven(
    routed: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    athens = ZoneInfo("Europe/Athens")
    with digest_archive(config, sink, clock) as archive:
        worker = Worker(archive, clock, athens)
        clock.set(datetime(2026, 3, 6, 6, 59, tzinfo=athens))  # Friday, before seven
        assert worker.due() is None and not worker.run_pending()
        assert worker.next_run() == datetime(2026, 3, 6, 7, 0, tzinfo=athens)
        sink.stop()
        clock.set(datetime(2026, 3, 6, 7, 0, tzinfo=athens))
        assert not worker.run_pending()  # mail server down: not done, tried again later
        sink.start()
        assert worker.run_pending()
        assert len(sink.messages) == 2
        assert not worker.run_pending()  # once a day
        assert worker.next_run() == datetime(2026, 3, 9, 7, 0, tzinfo=athens)  # Monday
        clock.set(datetime(2026, 3, 7, 8, 0, tzinfo=athens))  # Saturday
        assert worker.due() is None


def test_worker_started_late_sends_at_once(
    routed: Archive, config: ArchiveConfig, sink: MailSink, clock: FixedClock
) -> None:
    athens = ZoneInfo("Europe/Athens")
    clock.set(datetime(2026, 3, 6, 15, 0, tzinfo=athens))
    with digest_archive(config, sink, clock) as archive:
        stop = threading.Event()
        runner = threading.Thread(target=Worker(archive, clock, athens).run, args=(stop,))
        runner.start()
        deadline = time.monotonic() + 20
        while len(sink.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive()
    assert len(sink.messages) == 2


def test_worker_command_stops_on_sigterm(
    config: ArchiveConfig, archive: Archive, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "EPROTOCOL_DATABASE_URL": config.database_url,
        "EPROTOCOL_STORAGE_URL": f"file://{local_root(config)}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "eprotocol.cli", "worker"],
        cwd=tmp_path,  # its index and secret key, by default in ./var
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
