"""The end of retention: what the archive committee is given, by heading and year and one by one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from eprotocol import (
    Archive,
    Conflict,
    Disposal,
    DisposalGroup,
    FileInput,
    FileRole,
    Forbidden,
    InvalidInput,
    NewRegistration,
    read_plan_csv,
)
from eprotocol.core import disposal
from tests.integration import test_filing_plan as filing_plan_test
from tests.pdfs import greek_pdf
from tests.support import FixedClock

PLAN = filing_plan_test.PLAN + "Φ.20;Προσλήψεις;50;review\n"
LEAP_DAY = datetime(2016, 2, 29, 10, 0, tzinfo=UTC)  # 12:00 in Athens
PDF = greek_pdf("Βεβαίωση μόνιμης κατοικίας")


class Book:
    """A protocol book filled over the years by moving the archive's clock."""

    def __init__(self, archive: Archive, clock: FixedClock) -> None:
        self.archive, self.clock = archive, clock
        archive.add_classifications(read_plan_csv(PLAN.encode()), by="admin")

    def register(
        self,
        at: datetime,
        code: str | None,
        subject: str = "Αίτηση",
        *,
        confidential: bool = False,
        files: int = 0,
    ) -> str:
        self.clock.set(at)
        new = NewRegistration(
            direction="incoming",
            subject=subject,
            classification_code=code,
            confidential=confidential,
        )
        pdfs = [
            FileInput(f"έγγραφο-{n}.pdf", PDF, FileRole.MAIN if n == 0 else FileRole.ATTACHMENT)
            for n in range(files)
        ]
        return self.archive.register(new, pdfs, by="admin").protocol_number

    def cancel(self, protocol_number: str) -> None:
        number, year = map(int, protocol_number.split("/"))
        self.archive.cancel(
            "general", year, number, reason="Διπλή", authorisation="Απόφαση 1", by="admin"
        )

    def due(self, on: date) -> list[str]:
        return [d.ref.protocol_number for d in self.archive.due_for_disposal(on, by="admin")]


@pytest.fixture
def book(archive: Archive, clock: FixedClock) -> Book:
    return Book(archive, clock)


def test_registrations_are_due_when_their_heading_s_years_end(book: Book) -> None:
    """Retention runs from the registration for its heading's years (10 without one)."""
    certificate = book.register(LEAP_DAY, "Φ.12", "Βεβαίωση", files=1)
    road = book.register(LEAP_DAY, "Φ.600", "Τομή οδοστρώματος")
    secret = book.register(
        datetime(2016, 3, 1, 8, 0, tzinfo=UTC), None, "Πειθαρχική υπόθεση", confidential=True
    )
    book.register(datetime(2016, 5, 1, 8, 0, tzinfo=UTC), "Φ.20", "Πρόσληψη")
    mistaken = book.register(datetime(2016, 6, 1, 8, 0, tzinfo=UTC), "Φ.600", "Διπλή τομή")
    book.cancel(mistaken)
    book.register(datetime(2026, 3, 2, 9, 30, tzinfo=UTC), None, "Αίτηση του 2026")

    # Five years from 29 February 2016 end on 28 February 2021.
    assert book.due(date(2021, 2, 27)) == []
    assert book.due(date(2021, 2, 28)) == [certificate]
    assert book.due(date(2026, 2, 27)) == [certificate]
    assert book.due(date(2026, 2, 28)) == [certificate, road]
    assert book.due(date(2026, 3, 1)) == [certificate, road, secret]
    assert book.due(date(2026, 6, 1)) == [certificate, road, secret, mistaken]

    listed = {
        d.ref.protocol_number: d
        for d in book.archive.due_for_disposal(date(2026, 6, 1), by="admin")
    }
    first = listed[certificate]
    assert (first.heading and first.heading.code, first.disposal, first.files, first.size) == (
        "Φ.12",
        Disposal.DESTROY,
        1,
        len(PDF),
    )
    assert first.kept_until == datetime(2021, 2, 28, 10, 0, tzinfo=UTC)
    assert (listed[road].disposal, listed[road].files) == (Disposal.TRANSFER, 0)
    # Without a heading: the default years, then another look; a confidential subject is hidden.
    assert (listed[secret].heading, listed[secret].disposal) == (None, Disposal.REVIEW)
    assert listed[secret].subject == "[εμπιστευτικό]"
    assert listed[mistaken].cancelled and not listed[road].cancelled


def test_the_committee_s_summary_counts_by_year_and_heading(book: Book) -> None:
    for day in (1, 2, 3):
        book.register(datetime(2015, 3, day, 9, 0, tzinfo=UTC), "Φ.12", files=day % 2)
    book.cancel(book.register(datetime(2016, 1, 4, 9, 0, tzinfo=UTC), "Φ.12", files=1))
    book.register(LEAP_DAY, "Φ.12", files=2)  # ends on 28 February 2021, near the line
    book.register(datetime(2016, 3, 5, 9, 0, tzinfo=UTC), None)
    book.register(datetime(2016, 3, 6, 9, 0, tzinfo=UTC), "Φ.20")

    summary = book.archive.disposal_summary(date(2021, 2, 28), by="admin")

    plan = {h.code: h for h in book.archive.classifications()}
    assert summary == [
        DisposalGroup(
            book="general",
            year=2015,
            heading=plan["Φ.12"],
            disposal=Disposal.DESTROY,
            registrations=3,
            cancelled=0,
            files=2,
            size=2 * len(PDF),
            ended=datetime(2020, 3, 3, 9, 0, tzinfo=UTC),
        ),
        DisposalGroup(
            book="general",
            year=2016,
            heading=plan["Φ.12"],
            disposal=Disposal.DESTROY,
            registrations=2,
            cancelled=1,
            files=3,
            size=3 * len(PDF),
            ended=datetime(2021, 2, 28, 10, 0, tzinfo=UTC),
        ),
    ]
    # Ten years on, the entry without a heading too, to be looked at again.
    later = book.archive.disposal_summary(date(2026, 12, 31), by="admin")
    assert [(g.year, g.heading and g.heading.code, g.disposal) for g in later] == [
        (2015, "Φ.12", Disposal.DESTROY),
        (2016, None, Disposal.REVIEW),
        (2016, "Φ.12", Disposal.DESTROY),
    ]


def test_the_registrations_come_a_page_at_a_time_in_order(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many registered in the same instant: a page ends between them, none is lost or repeated."""
    monkeypatch.setattr(disposal, "PAGE", 3)
    same_moment = datetime(2015, 6, 1, 9, 0, tzinfo=UTC)
    numbers = [book.register(same_moment, "Φ.12") for _ in range(7)]
    numbers.append(book.register(LEAP_DAY, "Φ.12"))
    book.register(datetime(2016, 3, 1, 9, 0, tzinfo=UTC), "Φ.12")  # not yet, on 28/2/2021

    assert book.due(date(2021, 2, 28)) == numbers
    counted = book.archive.disposal_summary(date(2021, 2, 28), by="admin")
    assert sum(g.registrations for g in counted) == len(numbers)


def test_the_committee_is_given_what_came_due_since_its_last_list(book: Book) -> None:
    """Its list up to 28 February 2024 is dealt with: the next one starts on 29 February."""
    dealt_with = book.register(datetime(2019, 2, 28, 10, 0, tzinfo=UTC), "Φ.12")  # ends 28/2/2024
    march = book.register(datetime(2019, 3, 1, 10, 0, tzinfo=UTC), "Φ.12")  # ends 1/3/2024
    unfiled = book.register(datetime(2014, 3, 2, 10, 0, tzinfo=UTC), None)  # ten years: 2/3/2024
    later = book.register(datetime(2019, 6, 1, 10, 0, tzinfo=UTC), "Φ.12")  # ends 1/6/2024
    assert book.due(date(2024, 3, 31)) == [unfiled, dealt_with, march]

    def since(day: date, on: date = date(2024, 3, 31)) -> list[str]:
        due = book.archive.due_for_disposal(on, since=day, by="admin")
        return [d.ref.protocol_number for d in due]

    # Five years before 29 February 2024 is 28 February 2019 to the database, which ended
    # on the 28th: checked one by one, it is not given again.
    assert since(date(2024, 2, 29)) == [unfiled, march]
    assert since(date(2024, 3, 2)) == [unfiled]
    assert since(date(2024, 3, 3)) == []
    assert since(date(2024, 2, 28)) == [unfiled, dealt_with, march]
    assert since(date(2024, 3, 2), on=date(2024, 12, 31)) == [unfiled, later]
    summary = book.archive.disposal_summary(date(2024, 3, 31), since=date(2024, 2, 29), by="admin")
    assert [(g.year, g.heading and g.heading.code, g.registrations) for g in summary] == [
        (2014, None, 1),
        (2019, "Φ.12", 1),
    ]
    with pytest.raises(InvalidInput, match="the first day comes after the last") as refused:
        book.archive.disposal_summary(date(2024, 3, 1), since=date(2024, 3, 3), by="admin")
    assert refused.value.field == "since"


def test_the_committee_s_decision_is_recorded_and_each_entry_decided_once(book: Book) -> None:
    """Its decision on the list to 31 December 2021 keeps that list; the next starts after."""
    book.register(datetime(2015, 3, 1, 9, 0, tzinfo=UTC), "Φ.12", files=1)  # ends 1/3/2020
    book.cancel(book.register(datetime(2016, 5, 1, 9, 0, tzinfo=UTC), "Φ.12"))  # 1/5/2021
    book.register(datetime(2012, 1, 2, 9, 0, tzinfo=UTC), None)  # ten years: 2/1/2022
    archive, clock = book.archive, book.clock
    clock.set(datetime(2022, 2, 10, 9, 0, tzinfo=UTC))
    assert archive.disposal_decisions(by="admin") == ()

    for refused, field, kwargs in (
        ("decision's date 2022-02-11 has not come yet", "decided_on", {"day": date(2022, 2, 11)}),
        ("nothing reached the end of retention", "until", {"until": date(2019, 12, 31)}),
        ("reference must not be empty", "reference", {"reference": " "}),
    ):
        args: dict[str, Any] = {"until": date(2021, 12, 31), "day": date(2022, 2, 9)}
        args["reference"] = "Πρακτικό 1/2022"
        args |= kwargs
        with pytest.raises(InvalidInput) as error:
            archive.decide_disposal(
                args["until"], reference=args["reference"], decided_on=args["day"], by="admin"
            )
        assert (refused in str(error.value), error.value.field) == (True, field), error.value
    with pytest.raises(Forbidden):
        archive.decide_disposal(
            date(2021, 12, 31), reference="Πρακτικό 1/2022", decided_on=date(2022, 2, 9), by="clerk"
        )
    assert archive.disposal_decisions(by="admin") == ()  # nothing half-recorded

    decided = archive.decide_disposal(
        date(2021, 12, 31), reference="Πρακτικό 1/2022", decided_on=date(2022, 2, 9), by="admin"
    )
    assert (decided.reference, decided.since, decided.until) == (
        "Πρακτικό 1/2022",
        None,
        date(2021, 12, 31),
    )
    assert [(g.year, g.heading_code, g.registrations, g.cancelled) for g in decided.groups] == [
        (2015, "Φ.12", 1, 0),
        (2016, "Φ.12", 1, 1),
    ]
    assert archive.disposal_decisions(by="admin") == (decided,)  # as it was recorded
    event = archive.audit_events(after=0, limit=1000)[-1]
    assert (event.action, event.target, event.details["registrations"]) == (
        "disposal.decided",
        f"disposal_decision:{decided.id}",
        2,
    )
    assert archive.verify_audit_chain().ok

    # Decided once: a list overlapping it is refused, the next one starts the day after.
    for since in (None, date(2021, 12, 31)):
        with pytest.raises(
            Conflict, match="covers up to 2021-12-31: a new list starts on 2022-01-01"
        ):
            archive.decide_disposal(
                date(2022, 1, 31),
                since=since,
                reference="Πρακτικό 2/2022",
                decided_on=date(2022, 2, 10),
                by="admin",
            )
    with pytest.raises(Conflict, match="or what ended between would never be decided on"):
        archive.decide_disposal(
            date(2022, 1, 31),
            since=date(2022, 1, 2),  # 1 January would be left out
            reference="Πρακτικό 2/2022",
            decided_on=date(2022, 2, 10),
            by="admin",
        )
    second = archive.decide_disposal(
        date(2022, 1, 31),
        since=date(2022, 1, 1),
        reference="Πρακτικό 2/2022",
        decided_on=date(2022, 2, 10),
        by="admin",
    )
    assert [(g.year, g.heading_code, g.disposal) for g in second.groups] == [
        (2012, None, Disposal.REVIEW)
    ]
    assert archive.disposal_decisions(by="admin") == (second, decided)  # the latest first
    assert len(book.due(date(2022, 1, 31))) == 3  # nothing is deleted


def test_only_administrators_are_given_the_lists(book: Book) -> None:
    with pytest.raises(Forbidden):
        book.archive.disposal_summary(by="clerk")
    with pytest.raises(Forbidden):
        book.archive.due_for_disposal(by="clerk")  # at once, before the first page
