"""The filing plan: loaded from a spreadsheet all at once or not at all, by administrators."""

from __future__ import annotations

import pytest

from eprotocol import (
    Archive,
    Classification,
    Conflict,
    Disposal,
    Forbidden,
    InvalidInput,
    NewRegistration,
    read_plan_csv,
)
from eprotocol.api.web.messages import in_page_language

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
    # Only the headings asked for, of those the plan has (a page names a few of hundreds).
    assert [h.code for h in org.classifications(["Φ.600", "Φ.20", "Φ.999"])] == ["Φ.20", "Φ.600"]

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
