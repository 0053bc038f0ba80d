"""Registry operations against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from eprotocol import (
    AlreadyCancelled,
    Archive,
    ArchiveConfig,
    Conflict,
    Direction,
    FileInput,
    FileRole,
    Forbidden,
    ImmutableField,
    InvalidInput,
    InvalidReference,
    NewRegistration,
    ProtocolBook,
    ProtocolRef,
    RegistrationFilter,
    RegistrationNotFound,
    Status,
    UnknownBook,
)
from eprotocol.core import registry as registry_module
from tests.pdfs import make_pdf
from tests.support import FixedClock, local_root

PDF = make_pdf(2)
YEAR = 2026


def incoming(
    subject: str = "Αίτηση χορήγησης βεβαίωσης μόνιμης κατοικίας", **kw: Any
) -> NewRegistration:
    return NewRegistration(
        direction=Direction.INCOMING, subject=subject, sender="Μαρία Παπαδάκη", **kw
    )


def table_counts(config: ArchiveConfig) -> dict[str, int]:
    engine = sa.create_engine(config.database_url)
    tables = [
        "registration",
        "registration_file",
        "registration_relation",
        "book_counter",
        "cancellation",
        "correction",
        "audit_event",
        "outbox_event",
    ]
    with engine.connect() as conn:
        counts = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in tables}
        counts["last_numbers"] = conn.exec_driver_sql(
            "SELECT coalesce(sum(last_number), 0) FROM book_counter"
        ).scalar_one()
    engine.dispose()
    return counts


def blob_count(config: ArchiveConfig) -> int:
    root = local_root(config) / "sha256"
    return sum(1 for _ in root.glob("*/*/*")) if root.exists() else 0


def test_register_assigns_numbers_and_system_fields(archive: Archive, clock: FixedClock) -> None:
    archive.add_classification(
        "Φ.12", "Βεβαιώσεις κατοικίας", retention_years=5, disposal="destroy", by="admin"
    )
    first = archive.register(
        incoming(
            recipients=["Τμήμα Δημοτικής Κατάστασης"],
            sender_reference="ΑΠ 44",
            sender_date=date(2026, 2, 27),
            channel="counter",
            classification_code="Φ.12",
        ),
        [FileInput("αίτηση.pdf", PDF, FileRole.MAIN), FileInput("ταυτότητα.txt", "ΑΔΤ".encode())],
        by="clerk1",
    )
    second = archive.register(incoming("Δεύτερη"), by="clerk2")

    assert (first.year, first.number, second.number) == (YEAR, 1, 2)
    assert first.protocol_number == "1/2026"
    assert first.book == "general"
    assert first.registered_at == clock.now()
    assert first.registered_at.utcoffset() == timedelta(hours=2)  # shown in Athens time
    assert first.registered_by == "clerk1"
    assert first.status is Status.ACTIVE
    assert [f.filename for f in first.files] == ["αίτηση.pdf", "ταυτότητα.txt"]
    assert [f.role for f in first.files] == [FileRole.MAIN, FileRole.ATTACHMENT]
    assert first.files[0].media_type == "application/pdf"
    assert first.files[1].media_type == "text/plain"
    assert first.files[0].size == len(PDF)

    stored = archive.get("general", YEAR, 1)
    assert stored == first
    meta, chunks = archive.read_file("general", YEAR, 1, stored.files[0].id)
    assert b"".join(chunks) == PDF
    assert meta.sha256 == stored.files[0].sha256


def test_identical_files_are_stored_once(archive: Archive, config: ArchiveConfig) -> None:
    archive.register(incoming(), [FileInput("a.pdf", PDF, FileRole.MAIN)], by="clerk")
    archive.register(incoming(), [FileInput("b.pdf", PDF, FileRole.MAIN)], by="clerk")
    assert blob_count(config) == 1


def test_related_references(archive: Archive) -> None:
    original = archive.register(incoming(), by="clerk")
    reply = archive.register(
        NewRegistration(
            direction="outgoing", subject="Απάντηση", related=[original.protocol_number]
        ),
        by="clerk",
    )
    assert reply.related == (original.ref,)
    assert archive.get("general", YEAR, reply.number).related == (original.ref,)
    answered = archive.get("general", YEAR, original.number)  # the other way: its replies
    assert (answered.related, answered.referenced_by) == ((), (reply.ref,))
    listed = {e.number: e for e in archive.list().items}
    assert listed[original.number].referenced_by == (reply.ref,)
    assert listed[reply.number].referenced_by == ()
    secret = archive.register(
        NewRegistration(
            direction="internal",
            subject="Εμπιστευτικό υπόμνημα",
            confidential=True,
            related=[original.protocol_number],
        ),
        by="clerk",
    )
    assert secret.related == (original.ref,)  # its readers see what it names
    shown = archive.get("general", YEAR, original.number)  # it does not show itself
    assert shown.referenced_by == (reply.ref,)


def test_a_confidential_reply_is_shown_to_those_who_may_read_it(org: Archive) -> None:
    original = org.register(incoming(), by="clerk")
    reply = org.register(
        NewRegistration(direction="outgoing", subject="Απάντηση", related=[str(original.ref)]),
        by="clerk",
    )
    secret = org.register(
        NewRegistration(
            direction="internal",
            subject="Εμπιστευτικό υπόμνημα",
            confidential=True,
            related=[str(original.ref)],
        ),
        by="clerk",
        route=["TECH.ROADS"],
    )
    entry = org.get("general", YEAR, original.number)
    assert entry.referenced_by == (reply.ref,)  # for whoever reads the entry

    shown = {
        name: org.referenced_by(entry, org.user(name)) for name in ("clerk", "kostas", "maria")
    }

    assert shown == {
        "clerk": (reply.ref, secret.ref),  # the protocol office reads confidential entries
        "kostas": (reply.ref, secret.ref),  # his section is routed the confidential one
        "maria": (reply.ref,),
    }


def test_year_rollover_follows_athens_calendar(archive: Archive, clock: FixedClock) -> None:
    clock.set(datetime(2026, 12, 31, 21, 59, 59, tzinfo=UTC))  # 23:59:59 in Athens
    last_of_2026 = archive.register(incoming(), by="clerk")
    clock.set(datetime(2026, 12, 31, 22, 0, 0, tzinfo=UTC))  # 00:00:00 1 Jan 2027 in Athens
    first_of_2027 = archive.register(incoming(), by="clerk")
    second_of_2027 = archive.register(incoming(), by="clerk")

    assert (last_of_2026.year, last_of_2026.number) == (2026, 1)
    assert (first_of_2027.year, first_of_2027.number) == (2027, 1)
    assert second_of_2027.protocol_number == "2/2027"
    assert first_of_2027.registered_at.isoformat() == "2027-01-01T00:00:00+02:00"


def test_failed_transaction_consumes_no_number(
    archive: Archive, config: ArchiveConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.register(incoming(), by="clerk")
    before = table_counts(config)

    def broken_emit(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated crash after the number was taken")

    monkeypatch.setattr(registry_module, "emit_all", broken_emit)
    with pytest.raises(RuntimeError):
        archive.register(incoming(), by="clerk")
    monkeypatch.undo()

    assert table_counts(config) == before
    assert archive.register(incoming(), by="clerk").number == 2


def _pdf_input(content: bytes = PDF) -> list[FileInput]:
    return [FileInput("αίτηση.pdf", content, FileRole.MAIN)]


def test_a_submission_sent_again_registers_once(archive: Archive, config: ArchiveConfig) -> None:
    """A double click or a retried request: the same entry, no second number."""
    first = archive.register(incoming(), _pdf_input(), by="clerk", submission="form-7f3a")
    before = table_counts(config)
    again = archive.register(incoming(), _pdf_input(), by="clerk", submission="form-7f3a")
    assert again == first
    assert table_counts(config) == before
    # Another user's key is another submission, whatever it is.
    assert archive.register(incoming(), by="kostas", submission="form-7f3a").number == 2
    assert archive.register(incoming(), by="clerk").number == 3
    with pytest.raises(InvalidInput, match="submission must not be empty"):
        archive.register(incoming(), by="clerk", submission=" ")


@pytest.mark.parametrize(
    ("change", "files"),
    [
        ({"subject": "Αίτηση άλλου πολίτη"}, _pdf_input()),
        ({"sender": "Γιώργος Μαρκάκης"}, _pdf_input()),
        ({"recipients": ["ΚΕΠ Χανίων"]}, _pdf_input()),
        ({}, _pdf_input(make_pdf(3))),
        ({}, []),
    ],
    ids=["subject", "sender", "recipients", "another file", "no file"],
)
def test_a_used_submission_with_other_contents_is_refused(
    archive: Archive, config: ArchiveConfig, change: dict[str, Any], files: list[FileInput]
) -> None:
    """A key reused for another document: refused, rather than answered with the first."""
    archive.register(incoming(), _pdf_input(), by="clerk", submission="form-1")
    before = table_counts(config)
    data = dataclasses.replace(incoming(), **change)
    with pytest.raises(Conflict, match=r"already registered 1/\d{4}, with other contents"):
        archive.register(data, files, by="clerk", submission="form-1")
    assert table_counts(config) == before


def test_a_submission_sent_twice_at_once_registers_once(
    archive: Archive, config: ArchiveConfig
) -> None:
    """Both copies reach the numbering together: one number, both see it."""
    for round_ in range(5):
        key = f"double-click-{round_}"
        start = threading.Barrier(2)

        def send(key: str = key, start: threading.Barrier = start) -> int:
            start.wait()
            return archive.register(incoming(), _pdf_input(), by="clerk", submission=key).number

        with ThreadPoolExecutor(2) as pool:
            numbers = {f.result() for f in [pool.submit(send), pool.submit(send)]}
        assert numbers == {round_ + 1}
    assert table_counts(config)["last_numbers"] == 5


def test_cancel_keeps_entry_readable_and_number_unused(archive: Archive, clock: FixedClock) -> None:
    entry = archive.register(incoming(), by="clerk")
    clock.set(clock.now() + timedelta(hours=1))
    cancelled = archive.cancel(
        "general",
        YEAR,
        entry.number,
        reason="Διπλοκαταχώριση",
        authorisation="Απόφαση Δημάρχου 17/2026",
        by="head",
    )
    assert cancelled.status is Status.CANCELLED
    assert cancelled.cancellation is not None
    assert cancelled.cancellation.reason == "Διπλοκαταχώριση"
    assert cancelled.cancellation.authorisation == "Απόφαση Δημάρχου 17/2026"
    assert cancelled.cancellation.cancelled_by == "head"
    assert cancelled.cancellation.cancelled_at == clock.now()
    assert cancelled.subject == entry.subject
    assert archive.register(incoming(), by="clerk").number == 2

    with pytest.raises(AlreadyCancelled):
        archive.cancel("general", YEAR, entry.number, reason="again", authorisation="x", by="head")
    with pytest.raises(AlreadyCancelled):
        archive.correct("general", YEAR, entry.number, {"subject": "νέο"}, reason="r", by="head")


def test_cancel_requires_reason_and_authorisation(archive: Archive, config: ArchiveConfig) -> None:
    entry = archive.register(incoming(), by="clerk")
    before = table_counts(config)
    with pytest.raises(InvalidInput):
        archive.cancel(
            "general", YEAR, entry.number, reason=" ", authorisation="Απόφαση", by="head"
        )
    with pytest.raises(InvalidInput):
        archive.cancel("general", YEAR, entry.number, reason="λάθος", authorisation="", by="head")
    with pytest.raises(RegistrationNotFound):
        archive.cancel("general", YEAR, 99, reason="λάθος", authorisation="Απόφαση", by="head")
    assert table_counts(config) == before


def test_correction_keeps_old_values(archive: Archive, clock: FixedClock) -> None:
    entry = archive.register(incoming(recipients=["Α"]), by="clerk")
    clock.set(clock.now() + timedelta(minutes=5))
    corrected = archive.correct(
        "general",
        YEAR,
        entry.number,
        {
            "subject": "Αίτηση βεβαίωσης (ορθή επανάληψη)",
            "recipients": ["Α", "Β"],
            "sender_date": "2026-02-01",
        },
        reason="Λάθος θέμα",
        by="clerk2",
    )
    assert corrected.subject == "Αίτηση βεβαίωσης (ορθή επανάληψη)"
    assert corrected.recipients == ("Α", "Β")
    assert corrected.sender_date == date(2026, 2, 1)
    history = {c.field: c for c in corrected.corrections}
    assert history["subject"].old_value == entry.subject
    assert history["recipients"].old_value == ["Α"]
    assert history["sender_date"].old_value is None
    assert history["sender_date"].new_value == "2026-02-01"
    assert {c.corrected_by for c in corrected.corrections} == {"clerk2"}
    assert all(c.corrected_at == clock.now() for c in corrected.corrections)
    assert corrected.registered_at == entry.registered_at
    assert corrected.number == entry.number


def test_a_reply_is_related_later_by_a_correction(
    archive: Archive, config: ArchiveConfig, clock: FixedClock
) -> None:
    """The clerk forgot to relate a reply: a correction names the earlier entries it answers."""
    first, second = (archive.register(incoming(f"Αίτηση {i}"), by="clerk") for i in (1, 2))
    clock.set(clock.now() + timedelta(minutes=5))
    reply = archive.register(NewRegistration(direction="outgoing", subject="Απάντηση"), by="clerk")

    related = archive.correct(
        "general",
        YEAR,
        reply.number,
        {"related": [second.protocol_number, str(first.ref)]},
        reason="Ξεχάστηκαν τα σχετικά",
        by="clerk2",
    )

    assert related.related == (first.ref, second.ref)
    assert archive.get("general", YEAR, first.number).referenced_by == (reply.ref,)
    [correction] = related.corrections
    assert (correction.field, correction.old_value, correction.new_value) == (
        "related",
        [],
        [str(first.ref), str(second.ref)],
    )
    trail = archive.audit_trail(related)
    assert trail[-1].action == "registration.corrected"
    assert trail[-1].details["changes"]["related"]["new"] == [str(first.ref), str(second.ref)]

    unrelated = archive.correct(
        "general", YEAR, reply.number, {"related": [first.protocol_number]},
        reason="Δεν απαντά στη δεύτερη", by="clerk",
    )  # fmt: skip
    assert unrelated.related == (first.ref,)
    assert archive.get("general", YEAR, second.number).referenced_by == ()
    assert unrelated.corrections[-1].old_value == [str(first.ref), str(second.ref)]

    before = table_counts(config)
    for changes, error in (
        ({"related": [first.protocol_number]}, InvalidInput),  # changes nothing
        ({"related": [reply.protocol_number]}, InvalidInput),  # itself
        ({"related": ["99/2026"]}, InvalidReference),
        ({"related": "1/2026"}, InvalidInput),  # not a list
        ({"related": [first.protocol_number, "πέντε"]}, InvalidReference),
    ):
        with pytest.raises(error) as refused:
            archive.correct("general", YEAR, reply.number, changes, reason="r", by="clerk")
        assert refused.value.field in {"related", "changes"}
    with pytest.raises(InvalidInput, match="registered after"):
        archive.correct(
            "general", YEAR, first.number, {"related": [reply.protocol_number]},
            reason="Ανάποδα", by="clerk",
        )  # fmt: skip
    assert table_counts(config) == before
    archive.cancel("general", YEAR, second.number, reason="Διπλή", authorisation="Α", by="clerk")
    before = table_counts(config)
    with pytest.raises(AlreadyCancelled):
        archive.correct(
            "general", YEAR, second.number, {"related": [first.protocol_number]},
            reason="r", by="clerk",
        )  # fmt: skip
    assert table_counts(config) == before


@pytest.mark.parametrize(
    "field",
    ["number", "year", "book", "registered_at", "registered_by", "files", "sha256", "status"],
)
def test_system_fields_never_change(archive: Archive, config: ArchiveConfig, field: str) -> None:
    entry = archive.register(incoming(), [FileInput("a.pdf", PDF, FileRole.MAIN)], by="clerk")
    before = table_counts(config)
    with pytest.raises(ImmutableField):
        archive.correct(
            "general", YEAR, entry.number, {field: 7, "subject": "x"}, reason="r", by="x"
        )
    assert table_counts(config) == before
    assert archive.get("general", YEAR, entry.number) == entry


LONG = "α" * 1001


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (NewRegistration(direction="incoming", subject=""), InvalidInput),
        (NewRegistration(direction="incoming", subject="   \n "), InvalidInput),
        (NewRegistration(direction="sideways", subject="Θέμα"), InvalidInput),
        (NewRegistration(direction="incoming", subject="Θέμα", book="nosuchbook"), UnknownBook),
        (NewRegistration(direction="incoming", subject=LONG), InvalidInput),
        (NewRegistration(direction="incoming", subject="Θέμα", sender="σ" * 501), InvalidInput),
        (
            NewRegistration(direction="incoming", subject="Θέμα", recipients=["ρ" * 501]),
            InvalidInput,
        ),
        (
            NewRegistration(direction="incoming", subject="Θέμα", sender_reference="9" * 101),
            InvalidInput,
        ),
        (NewRegistration(direction="incoming", subject="Θέμα", channel="pigeon"), InvalidInput),
        (
            NewRegistration(direction="incoming", subject="Θέμα", related=["5/2026"]),
            InvalidReference,
        ),
        (
            NewRegistration(direction="incoming", subject="Θέμα", related=["πέντε"]),
            InvalidReference,
        ),
        (
            NewRegistration(direction="incoming", subject="Θέμα", related=["other:1/2026"]),
            InvalidReference,
        ),
        (NewRegistration(direction="incoming", subject="Θέ\x00μα"), InvalidInput),
        (
            NewRegistration(
                direction="incoming",
                subject="Θέμα",
                sender_date="31/02/2026",  # type: ignore[arg-type]
            ),
            InvalidInput,
        ),
        (
            NewRegistration(
                direction="incoming",
                subject="Θέμα",
                confidential="yes",  # type: ignore[arg-type]
            ),
            InvalidInput,
        ),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    archive: Archive, config: ArchiveConfig, data: NewRegistration, error: type[Exception]
) -> None:
    archive.register(incoming(), by="clerk")
    before = table_counts(config), blob_count(config)
    with pytest.raises(error):
        archive.register(data, [FileInput("νέο.pdf", make_pdf(3), FileRole.MAIN)], by="clerk")
    assert (table_counts(config), blob_count(config)) == before


def test_bad_actor_and_files_are_refused(archive: Archive, config: ArchiveConfig) -> None:
    before = table_counts(config), blob_count(config)
    with pytest.raises(InvalidInput):
        archive.register(incoming(), by="")
    with pytest.raises(InvalidInput):
        archive.register(incoming(), [FileInput("../", PDF)], by="clerk")
    with pytest.raises(InvalidInput):
        archive.register(
            incoming(),
            [FileInput("a.pdf", PDF, FileRole.MAIN), FileInput("b.pdf", PDF, FileRole.MAIN)],
            by="clerk",
        )
    assert (table_counts(config), blob_count(config)) == before


def test_unknown_classification_is_refused(archive: Archive, config: ArchiveConfig) -> None:
    before = table_counts(config), blob_count(config)
    with pytest.raises(InvalidInput, match="filing plan"):
        archive.register(
            incoming(classification_code="Χ.99"), [FileInput("a.pdf", PDF, FileRole.MAIN)], by="c"
        )
    assert (table_counts(config), blob_count(config)) == before


def test_list_filters_and_pages(archive: Archive, clock: FixedClock) -> None:
    for i in range(7):
        clock.set(datetime(2026, 3, 1 + i, 9, tzinfo=UTC))
        direction = "outgoing" if i % 2 else "incoming"
        archive.register(NewRegistration(direction=direction, subject=f"Θέμα {i}"), by="clerk")
    archive.cancel("general", YEAR, 1, reason="λάθος", authorisation="Απόφαση", by="head")

    seen: list[int] = []
    cursor = None
    while True:
        page = archive.list(limit=3, cursor=cursor)
        seen.extend(r.number for r in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [7, 6, 5, 4, 3, 2, 1]

    outgoing = archive.list(RegistrationFilter(direction="outgoing"))
    assert [r.number for r in outgoing.items] == [6, 4, 2]
    cancelled = archive.list(RegistrationFilter(status=Status.CANCELLED))
    assert [r.number for r in cancelled.items] == [1]
    window = archive.list(
        RegistrationFilter(
            registered_from=datetime(2026, 3, 2, tzinfo=UTC),
            registered_to=datetime(2026, 3, 4, tzinfo=UTC),
        )
    )
    assert [r.number for r in window.items] == [3, 2]
    assert archive.list(RegistrationFilter(year=2025)).items == ()
    with pytest.raises(InvalidInput):
        archive.list(cursor="not a cursor")
    with pytest.raises(InvalidInput):
        archive.list(limit=0)


def test_books_number_independently(archive: Archive) -> None:
    archive.create_book("confidential", "Εμπιστευτικό πρωτόκολλο", by="admin")
    archive.register(incoming(), by="clerk")
    secret = archive.register(incoming(book="confidential", confidential=True), by="clerk")
    assert (secret.book, secret.number) == ("confidential", 1)
    assert archive.get("confidential", YEAR, 1).confidential is True
    with pytest.raises(RegistrationNotFound):
        archive.get("general", YEAR, 2)


def test_books_are_added_by_administrators_with_codes_references_can_name(org: Archive) -> None:
    with pytest.raises(Forbidden, match="clerk may not"):
        org.create_book("confidential", "Εμπιστευτικό πρωτόκολλο", by="clerk")
    # "Conf" could never be named: references are read as lower-case book codes.
    for bad in ("Conf", "εμπιστευτικό", "a:b", "x" * 33):
        with pytest.raises(InvalidInput) as caught:
            org.create_book(bad, "Εμπιστευτικό πρωτόκολλο", by="admin")
        assert caught.value.field == "code"
    assert [b.code for b in org.books()] == ["general"]

    added = org.create_book("confidential", "Εμπιστευτικό πρωτόκολλο", by="admin")
    assert added == ProtocolBook("confidential", "Εμπιστευτικό πρωτόκολλο")
    assert org.books()[0] == added
    with pytest.raises(Conflict, match="'confidential' already exists"):
        org.create_book("confidential", "Άλλο", by="admin")
    secret = org.register(incoming(book="confidential"), by="clerk")
    assert ProtocolRef.parse(f"confidential:{secret.protocol_number}").book == "confidential"


def test_initialise_is_idempotent(archive: Archive, config: ArchiveConfig) -> None:
    archive.register(incoming(), by="clerk")
    before = table_counts(config)
    archive.initialise(organisation="Δήμος Χανίων")
    assert table_counts(config) == before


def test_the_same_main_document_registered_again_is_pointed_out(org: Archive) -> None:
    """By email and at the counter: the later entry names the earlier, to whoever may read it."""
    application = make_pdf(1, text="Application 7731")
    main = FileInput("αίτηση.pdf", application, FileRole.MAIN)
    by_email = org.register(incoming(channel="email"), [main], by="clerk")
    unrelated = org.register(incoming(), [FileInput("άλλη.pdf", PDF, FileRole.MAIN)], by="clerk")
    # The same bytes as an attachment of another entry are not the same document.
    org.register(
        incoming(),
        [FileInput("κύρια.pdf", make_pdf(3), FileRole.MAIN), FileInput("συν.pdf", application)],
        by="clerk",
    )
    at_counter = org.register(incoming(channel="counter"), [main], by="clerk")
    secret = org.register(incoming(confidential=True), [main], by="clerk")
    clerk, maria = org.user("clerk"), org.user("maria")

    assert [e.number for e in org.same_main_document(at_counter, clerk)] == [
        by_email.number,
        secret.number,
    ]
    assert [e.number for e in org.same_main_document(at_counter, maria)] == [by_email.number]
    assert org.same_main_document(at_counter, None) == org.same_main_document(at_counter, clerk)
    assert [e.number for e in org.same_main_document(by_email, clerk)] == [
        at_counter.number,
        secret.number,
    ]
    assert org.same_main_document(unrelated, clerk) == ()
    org.cancel(
        "general", YEAR, at_counter.number, reason="Διπλή καταχώριση", authorisation="-", by="clerk"
    )
    (cancelled, _) = org.same_main_document(by_email, clerk)
    assert cancelled.status is Status.CANCELLED
