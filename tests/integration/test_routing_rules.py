"""Routing rules make (or suggest) the expected assignments for a table of sample registrations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sqlalchemy as sa

from eprotocol import (
    Archive,
    ArchiveConfig,
    AssignmentState,
    Forbidden,
    InvalidInput,
    NewRegistration,
    Purpose,
    RouteTo,
)
from tests.support import FixedClock


@pytest.fixture
def ruled(org: Archive) -> Archive:
    org.add_classification("Φ.600", "Οδοποιία", retention_years=10, disposal="transfer", by="admin")
    org.add_routing_rule(
        "Πιστοποιητικά στο ΚΕΠ",
        department="DIOIK.KEP",
        priority=10,
        automatic=True,
        subject_words=["πιστοποιητικό"],
        by="admin",
    )
    org.add_routing_rule(
        "Δρόμοι",
        department="TECH.ROADS",
        priority=20,
        automatic=True,
        classification_code="Φ.600",
        by="admin",
    )
    org.add_routing_rule(
        "Περιφέρεια ενημερώνεται η Διεύθυνση",
        department="DIOIK",
        priority=30,
        purpose=Purpose.INFORMATION,
        automatic=True,
        sender_contains="Περιφέρεια Κρήτης",
        by="admin",
    )
    org.add_routing_rule(
        "Email στην Τεχνική (πρόταση)",
        department="TECH",
        priority=40,
        channel="email",
        by="admin",
    )
    org.add_routing_rule(
        "Δεύτερος κανόνας για το ΚΕΠ",
        department="DIOIK.KEP",
        priority=50,
        automatic=True,
        sender_contains="ΚΕΠ",
        by="admin",
    )
    return org


SAMPLES = [
    # (subject, sender, classification, channel, expected automatic assignments)
    (
        "Αίτηση για ΠΙΣΤΟΠΟΙΗΤΙΚΟ οικογενειακής κατάστασης",
        "Μαρία",
        None,
        "counter",
        [("DIOIK.KEP", Purpose.ACTION)],
    ),
    # Another form of the rule's word: «πιστοποιητικά» does not contain «πιστοποιητικό».
    ("Αιτήσεις για πιστοποιητικά γέννησης", "Νίκος", None, None, [("DIOIK.KEP", Purpose.ACTION)]),
    ("Αποκατάσταση οδοστρώματος", "Σύλλογος", "Φ.600", None, [("TECH.ROADS", Purpose.ACTION)]),
    (
        "Εγκύκλιος για την έκδοση πιστοποιητικού",
        "Περιφέρεια Κρήτης — Δ/νση Υγείας",
        "Φ.600",
        "email",
        [
            ("DIOIK.KEP", Purpose.ACTION),
            ("TECH.ROADS", Purpose.ACTION),
            ("DIOIK", Purpose.INFORMATION),
        ],
    ),
    ("Ερώτημα πολίτη", "Γιάννης", None, "email", []),  # only a suggestion matches
    ("Διαβιβαστικό", "ΚΕΠ Πλατανιά", None, None, [("DIOIK.KEP", Purpose.ACTION)]),
    ("Πιστοποιητικό", "ΚΕΠ Χανίων", None, None, [("DIOIK.KEP", Purpose.ACTION)]),  # once
]


@pytest.mark.parametrize(("subject", "sender", "classification", "channel", "expected"), SAMPLES)
def test_rules_create_the_expected_assignments(
    ruled: Archive,
    subject: str,
    sender: str,
    classification: str | None,
    channel: str | None,
    expected: list[tuple[str, Purpose]],
) -> None:
    data = NewRegistration(
        direction="incoming",
        subject=subject,
        sender=sender,
        classification_code=classification,
        channel=channel,
    )
    entry = ruled.register(data, by="clerk")
    stored = ruled.get(entry.book, entry.year, entry.number)
    assert [(a.department, a.purpose) for a in stored.assignments] == expected
    assert entry.assignments == stored.assignments  # what registering answers is what is kept
    assert all(a.state is AssignmentState.PENDING for a in stored.assignments)
    assert all(a.created_by.startswith("rule:") for a in stored.assignments)
    suggested = {s.department for s in ruled.suggest_routing(data)}
    assert {d for d, _ in expected} <= suggested
    assert ("TECH" in suggested) == (channel == "email")
    assert ruled.verify_audit_chain().ok
    if expected:
        (work,) = [
            e
            for e in ruled.inbox(department=expected[0][0])
            if e.assignment.registration == stored.ref
        ]
        assert work.subject == subject


def test_departments_asked_for_are_routed_in_the_registration_itself(ruled: Archive) -> None:
    """`register(route=...)` assigns in the numbering transaction, beside the automatic rules."""
    entry = ruled.register(
        NewRegistration(direction="incoming", subject="Πιστοποιητικό"),
        by="clerk",
        route=[
            "TECH.ROADS",
            RouteTo("DIOIK", Purpose.INFORMATION),
            RouteTo("TECH.ROADS", Purpose.INFORMATION),  # asked twice: for action wins
        ],
    )
    routed = [(a.department, a.purpose, a.created_by) for a in entry.assignments]
    assert routed == [
        ("TECH.ROADS", Purpose.ACTION, "clerk"),
        ("DIOIK", Purpose.INFORMATION, "clerk"),
        ("DIOIK.KEP", Purpose.ACTION, routed[2][2]),
    ]
    assert routed[2][2].startswith("rule:")
    assert ruled.get(entry.book, entry.year, entry.number).assignments == entry.assignments
    events = ruled.audit_events(limit=1000)[-4:]
    assert [(e.action, e.actor) for e in events] == [
        ("registration.created", "clerk"),
        ("assignment.created", "clerk"),
        ("assignment.created", "clerk"),
        ("assignment.created", routed[2][2]),
    ]
    assert events[1].details == {
        "registration": str(entry.ref),
        "department": "TECH.ROADS",
        "purpose": "action",
    }
    assert events[3].details["rule"] == "Πιστοποιητικά στο ΚΕΠ"
    assert ruled.verify_audit_chain().ok
    assert [e.assignment.registration for e in ruled.inbox(department="TECH.ROADS")] == [entry.ref]


def test_a_registration_reads_what_it_needs_in_one_transaction_before_numbering(
    ruled: Archive,
) -> None:
    """Departments and user, related entries and the filing heading's retention: one read."""
    earlier = ruled.register(NewRegistration(direction="incoming", subject="Αίτηση"), by="clerk")
    checkouts: list[int] = []

    def count(*_: object) -> None:
        checkouts.append(1)

    sa.event.listen(ruled._db.engine, "checkout", count)  # every transaction takes a connection
    try:
        ruled.register(
            NewRegistration(
                direction="outgoing",
                subject="Απάντηση για τον δρόμο",
                classification_code="Φ.600",
                related=[earlier.protocol_number],
            ),
            by="clerk",
            route=["DIOIK"],
        )
    finally:
        sa.event.remove(ruled._db.engine, "checkout", count)
    # The look-up before the files are stored, the numbering, the new assignments read back.
    assert len(checkouts) == 3


def test_a_route_asked_for_wins_over_a_rule_for_the_same_department(ruled: Archive) -> None:
    data = NewRegistration(direction="incoming", subject="Εγκύκλιος", sender="Περιφέρεια Κρήτης")
    informed = ruled.register(data, by="clerk")
    assert [(a.department, a.purpose) for a in informed.assignments] == [
        ("DIOIK", Purpose.INFORMATION)
    ]
    entry = ruled.register(data, by="clerk", route=["DIOIK"])
    assert [(a.department, a.purpose, a.created_by) for a in entry.assignments] == [
        ("DIOIK", Purpose.ACTION, "clerk")
    ]


def test_a_route_that_cannot_be_made_refuses_the_registration(ruled: Archive) -> None:
    """An unknown department, or one the user may not assign to: no entry, no number used."""
    data = NewRegistration(direction="incoming", subject="Αίτηση")
    last = ruled.register(data, by="clerk").number
    with pytest.raises(InvalidInput, match="there is no department 'NOPE'") as unknown:
        ruled.register(data, by="clerk", route=["DIOIK.KEP", "NOPE"])
    assert unknown.value.field == "assignments"
    with pytest.raises(InvalidInput, match="purpose"):
        ruled.register(data, by="clerk", route=[RouteTo("DIOIK.KEP", "urgent")])
    with pytest.raises(Forbidden, match=r"head\.dioik may not assign work to TECH"):
        ruled.register(data, by="head.dioik", route=["TECH"])
    below = ruled.register(data, by="head.dioik", route=["DIOIK.KEP"])  # a head: their own subtree
    assert below.number == last + 1
    assert [a.department for a in below.assignments] == ["DIOIK.KEP"]
    alone = ruled.register(data, by="clerk", route="TECH")  # one code, not T, E, C, H
    assert [a.department for a in alone.assignments] == ["TECH"]


def test_rules_are_audited_and_ordered(ruled: Archive) -> None:
    assert [r.priority for r in ruled.routing_rules()] == [10, 20, 30, 40, 50]
    entry = ruled.register(
        NewRegistration(direction="incoming", subject="Πιστοποιητικό"), by="clerk"
    )
    actions = [e.action for e in ruled.audit_events(limit=1000)][-2:]
    assert actions == ["registration.created", "assignment.created"]
    assert ruled.get("general", entry.year, entry.number).assignments[0].department == "DIOIK.KEP"


def test_only_admins_add_rules_and_rules_need_a_condition(ruled: Archive) -> None:
    with pytest.raises(Forbidden):
        ruled.add_routing_rule("x", department="TECH", subject_words=["α"], by="clerk")
    with pytest.raises(InvalidInput):
        ruled.add_routing_rule("x", department="TECH", by="admin")
    # A heading the filing plan lacks would never match: refused, not kept as a dead rule.
    with pytest.raises(InvalidInput, match=r"'Φ\.999' is not a heading") as caught:
        ruled.add_routing_rule("x", department="TECH", classification_code="Φ.999", by="admin")
    assert caught.value.field == "classification_code"


def test_history_suggests_where_similar_registrations_went(
    org: Archive, config: ArchiveConfig, clock: FixedClock, tmp_path: Path
) -> None:
    indexed = dataclasses.replace(config, index_dir=tmp_path / "index")
    with Archive(indexed, clock=clock) as archive:
        for subject in (
            "Αίτηση κοπής δέντρου σε πεζοδρόμιο",
            "Κοπή δέντρων στην πλατεία",
            "Αίτηση για κλάδεμα και κοπή δέντρου",
        ):
            entry = archive.register(
                NewRegistration(direction="incoming", subject=subject), by="clerk"
            )
            archive.assign("general", entry.year, entry.number, department="TECH.ROADS", by="clerk")
        archive.index_pending()
        suggested = archive.suggest_routing(
            NewRegistration(direction="incoming", subject="Κοπή δέντρου μπροστά στο σχολείο")
        )
        assert [(s.department, s.automatic) for s in suggested] == [("TECH.ROADS", False)]
        assert suggested[0].reason == "παρόμοιες προηγούμενες χρεώσεις"
        unrelated = archive.suggest_routing(
            NewRegistration(direction="incoming", subject="Βεβαίωση μόνιμης κατοικίας")
        )
        assert unrelated == ()
