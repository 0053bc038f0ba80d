"""The filing plan: loaded from a spreadsheet all at once or not at all, by administrators."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from eprotocol import (
    Archive,
    Classification,
    Conflict,
    Disposal,
    FileInput,
    FileRole,
    Forbidden,
    InvalidInput,
    NewRegistration,
    read_plan_csv,
)
from eprotocol.api.web.messages import in_page_language
from tests.pdfs import greek_pdf
from tests.support import FixedClock

PLAN = (
    "code;title;retention_years;disposal\n"
    "Φ.600;Οδοποιία;10;transfer\n"
    "Φ.12;Βεβαιώσεις μόνιμης κατοικίας;5;destroy\n"
)


def created(archive: Archive, after: int) -> list[tuple[str, str, dict[str, object]]]:
    """The filing-plan events of the audit trail after event ``after``."""
    return [
        (e.actor, e.target, e.details)
        for e in archive.audit_events(after=after, limit=1000)
        if e.action == "classification.created"
    ]


def last_event(archive: Archive) -> int:
    return archive.audit_events(limit=1000)[-1].seq


def test_a_plan_loads_whole_and_again_after_lines_are_added(org: Archive) -> None:
    before = last_event(org)
    added = org.add_classifications(read_plan_csv(PLAN.encode()), by="admin")

    assert [h.code for h in added] == ["Φ.600", "Φ.12"]
    assert org.classifications() == (
        Classification("Φ.12", "Βεβαιώσεις μόνιμης κατοικίας", 5, Disposal.DESTROY),
        Classification("Φ.600", "Οδοποιία", 10, Disposal.TRANSFER),
    )
    assert created(org, before) == [
        (
            "admin",
            "Φ.600",
            {"code": "Φ.600", "title": "Οδοποιία", "retention_years": 10, "disposal": "transfer"},
        ),
        (
            "admin",
            "Φ.12",
            {
                "code": "Φ.12",
                "title": "Βεβαιώσεις μόνιμης κατοικίας",
                "retention_years": 5,
                "disposal": "destroy",
            },
        ),
    ]

    # The same file with a line more: only that line is added, and recorded.
    before = last_event(org)
    grown = read_plan_csv((PLAN + "Φ.20;Προσλήψεις;50;\n").encode())
    assert org.add_classifications(grown, by="admin") == (
        Classification("Φ.20", "Προσλήψεις", 50, Disposal.REVIEW),
    )
    assert [target for _, target, _ in created(org, before)] == ["Φ.20"]

    # Registrations are filed under the loaded headings.
    entry = org.register(
        NewRegistration(direction="incoming", subject="Αίτηση", classification_code="Φ.20"),
        by="clerk",
    )
    assert entry.classification_code == "Φ.20"


def test_a_plan_that_would_change_a_heading_adds_nothing(org: Archive) -> None:
    org.add_classifications(read_plan_csv(PLAN.encode()), by="admin")
    before, plan = last_event(org), org.classifications()
    changed = PLAN.replace("Οδοποιία;10", "Οδοποιία;20") + "Φ.20;Προσλήψεις;50;review\n"

    with pytest.raises(Conflict) as caught:
        org.add_classifications(read_plan_csv(changed.encode()), by="admin")

    assert "already has a heading 'Φ.600' (Οδοποιία, 10 years, transfer)" in caught.value.message
    assert in_page_language(caught.value.message, "el") == (
        "Το σχέδιο αρχειοθέτησης έχει ήδη τη θέση 'Φ.600' («Οδοποιία», 10 έτη, "
        "παράδοση στα ΓΑΚ)· η διατήρηση μιας θέσης δεν αλλάζει (ο τίτλος της διορθώνεται)."
    )
    assert org.classifications() == plan  # not even the new Φ.20
    assert last_event(org) == before


def test_one_code_given_twice_differently_is_refused(org: Archive) -> None:
    twice = [
        Classification("Φ.1", "Α", 5, Disposal.DESTROY),
        Classification("Φ.2", "Β", 5, Disposal.DESTROY),
        Classification("Φ.1", "Α", 6, Disposal.DESTROY),
    ]
    with pytest.raises(InvalidInput, match=r"'Φ\.1' is given twice"):
        org.add_classifications(twice, by="admin")
    assert org.classifications() == ()
    # Given twice the same, it is one heading.
    assert len(org.add_classifications([twice[0], twice[0]], by="admin")) == 1


def test_only_administrators_change_the_plan(org: Archive) -> None:
    before = last_event(org)
    with pytest.raises(Forbidden, match="clerk may not"):
        org.add_classification("Φ.1", "Α", retention_years=5, disposal="destroy", by="clerk")
    with pytest.raises(Forbidden):
        org.add_classifications(read_plan_csv(PLAN.encode()), by="nobody")
    assert org.classifications() == ()
    assert last_event(org) == before


def test_a_heading_s_title_is_corrected_and_its_retention_kept(org: Archive) -> None:
    org.add_classification("Φ.600", "Οδοποϊα", retention_years=10, disposal="transfer", by="admin")
    before = last_event(org)

    corrected = org.retitle_classification("Φ.600", " Οδοποιία ", by="admin")

    assert corrected == Classification("Φ.600", "Οδοποιία", 10, Disposal.TRANSFER)
    assert org.classifications() == (corrected,)
    events = org.audit_events(after=before, limit=10)
    assert [(e.actor, e.action, e.target, e.details) for e in events] == [
        (
            "admin",
            "classification.retitled",
            "Φ.600",
            {"title": "Οδοποιία", "previous_title": "Οδοποϊα"},
        )
    ]
    # The same title again changes nothing and records nothing.
    assert org.retitle_classification("Φ.600", "Οδοποιία", by="admin") == corrected
    assert last_event(org) == events[-1].seq


def test_a_title_correction_is_refused_without_a_heading_a_title_or_the_right(
    org: Archive,
) -> None:
    org.add_classification("Φ.600", "Οδοποιία", retention_years=10, disposal="transfer", by="admin")
    before, plan = last_event(org), org.classifications()

    with pytest.raises(InvalidInput, match=r"'Φ\.601' is not a heading") as unknown:
        org.retitle_classification("Φ.601", "Πεζοδρόμια", by="admin")
    assert unknown.value.field == "code"
    with pytest.raises(InvalidInput) as empty:
        org.retitle_classification("Φ.600", "  ", by="admin")
    assert empty.value.field == "title"
    with pytest.raises(Forbidden, match="clerk may not"):
        org.retitle_classification("Φ.600", "Πεζοδρόμια", by="clerk")

    assert org.classifications() == plan
    assert last_event(org) == before


def test_registrations_are_listed_for_disposal_when_their_heading_s_years_end(
    archive: Archive, clock: FixedClock
) -> None:
    """Retention runs from the registration for its heading's years (10 without one)."""
    archive.add_classifications(
        read_plan_csv((PLAN + "Φ.20;Προσλήψεις;50;review\n").encode()), by="admin"
    )
    plan = {h.code: h for h in archive.classifications()}

    def register(
        at: datetime, subject: str, code: str | None, *, confidential: bool = False
    ) -> str:
        clock.set(at)
        new = NewRegistration(
            direction="incoming",
            subject=subject,
            classification_code=code,
            confidential=confidential,
        )
        return archive.register(new, by="admin").protocol_number

    leap_day = datetime(2016, 2, 29, 10, 0, tzinfo=UTC)  # 12:00 in Athens
    clock.set(leap_day)
    pdf = greek_pdf("Βεβαίωση μόνιμης κατοικίας")
    certificate = archive.register(
        NewRegistration(direction="outgoing", subject="Βεβαίωση", classification_code="Φ.12"),
        [FileInput("βεβαίωση.pdf", pdf, FileRole.MAIN)],
        by="admin",
    ).protocol_number
    road = register(leap_day, "Τομή οδοστρώματος", "Φ.600")
    secret = register(
        datetime(2016, 3, 1, 8, 0, tzinfo=UTC), "Πειθαρχική υπόθεση", None, confidential=True
    )
    register(datetime(2016, 5, 1, 8, 0, tzinfo=UTC), "Πρόσληψη", "Φ.20")
    mistaken = register(datetime(2016, 6, 1, 8, 0, tzinfo=UTC), "Διπλή τομή", "Φ.600")
    archive.cancel(
        archive.config.default_book, 2016, 5, reason="Διπλή", authorisation="-", by="admin"
    )
    assert mistaken == "5/2016"
    clock.set(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    register(clock.now(), "Αίτηση του 2026", None)

    def due(on: date) -> list[str]:
        return [d.ref.protocol_number for d in archive.due_for_disposal(on, by="admin")]

    # Five years from 29 February 2016 end on 28 February 2021.
    assert due(date(2021, 2, 27)) == []
    assert due(date(2021, 2, 28)) == [certificate]
    assert due(date(2026, 2, 27)) == [certificate]
    assert due(date(2026, 2, 28)) == [certificate, road]
    assert due(date(2026, 3, 1)) == [certificate, road, secret]
    assert due(date(2026, 6, 1)) == [certificate, road, secret, mistaken]

    listed = {
        d.ref.protocol_number: d for d in archive.due_for_disposal(date(2026, 6, 1), by="admin")
    }
    first = listed[certificate]
    assert (first.heading, first.disposal, first.files, first.size) == (
        plan["Φ.12"],
        Disposal.DESTROY,
        1,
        len(pdf),
    )
    assert first.kept_until == datetime(2021, 2, 28, 10, 0, tzinfo=UTC)
    assert (listed[road].disposal, listed[road].files) == (Disposal.TRANSFER, 0)
    # Without a heading: the default years, then another look; a confidential subject is hidden.
    assert (listed[secret].heading, listed[secret].disposal) == (None, Disposal.REVIEW)
    assert listed[secret].subject == "[εμπιστευτικό]"
    assert listed[mistaken].cancelled and not listed[road].cancelled

    with pytest.raises(Forbidden):
        archive.due_for_disposal(date(2026, 6, 1), by="clerk")
