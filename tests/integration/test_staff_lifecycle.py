"""Staff who leave, move or change role; tokens revoked; departments and rules changed.

On SQLite and PostgreSQL, through the library. Every change is audited, a refused
one leaves nothing behind, and the archive never loses its last administrator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from eprotocol import (
    Archive,
    ArchiveConfig,
    Conflict,
    Forbidden,
    InvalidInput,
    NewRegistration,
    NotFound,
    Purpose,
    Role,
    Unauthenticated,
)
from tests.integration.test_routing import counts
from tests.support import FixedClock

PASSWORD = "ένας καλός κωδικός"


def last_event(archive: Archive) -> tuple[str, str, dict[str, object]]:
    event = archive.audit_events(limit=1000)[-1]
    return event.action, event.target, dict(event.details)


def test_a_user_who_leaves_can_no_longer_log_in_or_use_a_token(org: Archive) -> None:
    org.set_password("maria", PASSWORD, by="admin")
    token = org.create_api_token("maria", "Σάρωση ΚΕΠ", by="admin")
    assert org.authenticate("maria", PASSWORD).username == "maria"

    user = org.deactivate_user("maria", by="admin")

    assert not user.active
    assert last_event(org) == ("user.deactivated", "maria", {})
    assert [u.username for u in org.users(active=False)] == ["maria"]
    assert "maria" not in [u.username for u in org.users(active=True)]
    assert len(org.users()) == len(org.users(active=True)) + 1
    with pytest.raises(Unauthenticated):
        org.authenticate("maria", PASSWORD)
    with pytest.raises(Unauthenticated):
        org.user_for_api_token(token)
    with pytest.raises(InvalidInput, match="does not work in"):
        org.assign("general", 2026, 1, department="DIOIK.KEP", assignee="maria", by="clerk")

    org.reactivate_user("maria", by="admin")
    assert org.authenticate("maria", PASSWORD).active
    assert org.user_for_api_token(token).username == "maria"
    assert last_event(org)[0] == "user.reactivated"


def test_a_password_change_ends_the_logins_made_before_it(org: Archive, clock: FixedClock) -> None:
    before = clock.now() - timedelta(hours=1)
    assert org.user_for_login("maria", before).username == "maria"
    just_before = clock.now()
    clock.set(clock.now() + timedelta(milliseconds=300))  # the same second

    org.set_password("maria", PASSWORD, by="admin")

    for made in (before, just_before):
        with pytest.raises(Unauthenticated, match="password has changed"):
            org.user_for_login("maria", made)
    assert org.user_for_login("maria", clock.now()).username == "maria"  # the new login
    org.deactivate_user("maria", by="admin")
    with pytest.raises(Unauthenticated, match="deactivated"):
        org.user_for_login("maria", clock.now())
    with pytest.raises(Unauthenticated):
        org.user_for_login("nobody", clock.now())


def test_the_archive_keeps_an_administrator(org: Archive, config: ArchiveConfig) -> None:
    before = counts(config)
    with pytest.raises(Conflict, match="cannot deactivate themselves"):
        org.deactivate_user("admin", by="admin")
    with pytest.raises(Conflict, match="last active administrator"):
        org.change_user("admin", {"roles": [Role.CLERK]}, by="admin")
    with pytest.raises(Forbidden):
        org.deactivate_user("maria", by="head.dioik")
    with pytest.raises(NotFound):
        org.deactivate_user("nobody", by="admin")
    assert counts(config) == before

    org.add_user("it.chania", "Τμήμα Πληροφορικής", roles=[Role.ADMIN], by="admin")
    org.deactivate_user("it.chania", by="admin")
    with pytest.raises(Conflict, match="last active administrator"):
        org.change_user("admin", {"roles": [Role.CLERK]}, by="admin")  # a deactivated one is none
    org.reactivate_user("it.chania", by="admin")
    org.deactivate_user("admin", by="it.chania")
    assert not org.user("admin").active
    with pytest.raises(Conflict, match="last active administrator"):
        org.change_user("it.chania", {"roles": [Role.CLERK]}, by="it.chania")


def test_a_transfer_and_a_promotion(org: Archive) -> None:
    maria = org.change_user(
        "maria",
        {"department": "TECH.ROADS", "roles": ["head"], "email": "m.k@chania.gr"},
        by="admin",
    )

    assert (maria.department, maria.roles, maria.email) == (
        "TECH.ROADS",
        frozenset({Role.HEAD}),
        "m.k@chania.gr",
    )
    assert last_event(org) == (
        "user.changed",
        "maria",
        {
            "department": ["DIOIK.KEP", "TECH.ROADS"],
            "roles": [["staff"], ["head"]],
            "email": [None, "m.k@chania.gr"],
        },
    )
    entry = org.assign("general", 2026, 1, department="TECH.ROADS", assignee="maria", by="clerk")
    assert entry.assignee == "maria"

    events = len(org.audit_events(limit=1000))
    assert org.change_user("maria", {"email": "m.k@chania.gr"}, by="admin") == maria
    assert len(org.audit_events(limit=1000)) == events  # nothing changed, nothing recorded
    assert org.change_user("maria", {"email": None}, by="admin").email is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "marie"}, "username"),
        ({"roles": []}, "roles"),
        ({"roles": "staff"}, "roles"),
        ({"roles": ["mayor"]}, "roles"),
        ({"department": None}, "department"),  # staff belong to a department
        ({"full_name": "  "}, "full_name"),
        ({"email": "maria at chania"}, "email"),
    ],
)
def test_bad_user_changes_are_refused_and_change_nothing(
    org: Archive, config: ArchiveConfig, changes: dict[str, object], field: str
) -> None:
    before = (counts(config), org.user("maria"))
    with pytest.raises(InvalidInput) as refused:
        org.change_user("maria", changes, by="admin")
    assert refused.value.field == field
    assert (counts(config), org.user("maria")) == before


def test_unknown_department_in_a_change_is_not_found(org: Archive) -> None:
    with pytest.raises(NotFound):
        org.change_user("maria", {"department": "NOPE"}, by="admin")


def test_revoked_tokens_are_refused_and_listed(org: Archive) -> None:
    kiosk = org.create_api_token("clerk", "Περίπτερο ΚΕΠ", by="admin")
    scanner = org.create_api_token("clerk", "Σαρωτής", by="clerk")
    tokens = org.api_tokens(by="admin")
    assert [(t.username, t.name, t.revoked_at) for t in tokens] == [
        ("clerk", "Σαρωτής", None),
        ("clerk", "Περίπτερο ΚΕΠ", None),
    ]
    assert kiosk not in repr(tokens) and scanner not in repr(tokens)

    revoked = org.revoke_api_token(tokens[1].id, by="clerk")  # owners revoke their own

    assert revoked.revoked_at is not None
    assert last_event(org) == (
        "api_token.revoked",
        "clerk",
        {"token_id": tokens[1].id, "name": "Περίπτερο ΚΕΠ"},
    )
    with pytest.raises(Unauthenticated):
        org.user_for_api_token(kiosk)
    assert org.user_for_api_token(scanner).username == "clerk"
    assert org.revoke_api_token(tokens[1].id, by="admin") == revoked  # again: unchanged
    assert [t.revoked_at is None for t in org.api_tokens(username="clerk", by="clerk")] == [
        True,
        False,
    ]
    with pytest.raises(Forbidden):
        org.revoke_api_token(tokens[0].id, by="maria")
    with pytest.raises(Forbidden):
        org.api_tokens(by="maria")
    with pytest.raises(Forbidden):
        org.api_tokens(username="clerk", by="maria")
    with pytest.raises(NotFound):
        org.revoke_api_token(9999, by="admin")


def test_departments_change_name_email_and_place(org: Archive, config: ArchiveConfig) -> None:
    kep = org.change_department(
        "DIOIK.KEP",
        {"name": "Τμήμα Κέντρων Εξυπηρέτησης", "digest_email": "kep-chania@chania.gr"},
        by="admin",
    )
    assert (kep.name, kep.digest_email, kep.parent) == (
        "Τμήμα Κέντρων Εξυπηρέτησης",
        "kep-chania@chania.gr",
        "DIOIK",
    )
    assert last_event(org) == (
        "department.changed",
        "DIOIK.KEP",
        {
            "name": ["Τμήμα ΚΕΠ", "Τμήμα Κέντρων Εξυπηρέτησης"],
            "digest_email": ["kep@chania.gr", "kep-chania@chania.gr"],
        },
    )
    moved = org.change_department("TECH.ROADS", {"parent": "DIOIK"}, by="admin")
    assert moved.parent == "DIOIK"
    assert org.department_path("TECH.ROADS") == ("DIOIK", "TECH.ROADS")
    assert org.change_department("TECH.ROADS", {"parent": None}, by="admin").parent is None

    before = counts(config)
    with pytest.raises(InvalidInput, match="cannot be placed there"):
        org.change_department("DIOIK", {"parent": "DIOIK.KEP"}, by="admin")
    with pytest.raises(InvalidInput, match="cannot be placed there"):
        org.change_department("DIOIK", {"parent": "DIOIK"}, by="admin")
    with pytest.raises(InvalidInput) as refused:
        org.change_department("DIOIK", {"code": "DIOIKISI"}, by="admin")
    assert refused.value.field == "code"
    with pytest.raises(Forbidden):
        org.change_department("DIOIK", {"name": "Χ"}, by="head.dioik")
    with pytest.raises(NotFound):
        org.change_department("NOPE", {"name": "Χ"}, by="admin")
    assert counts(config) == before


def test_a_removed_routing_rule_no_longer_routes(org: Archive, config: ArchiveConfig) -> None:
    rule = org.add_routing_rule(
        "Κλαδέματα",
        department="TECH.ROADS",
        subject_words=["κλάδεμα"],
        automatic=True,
        purpose=Purpose.ACTION,
        by="admin",
    )
    first = org.register(
        NewRegistration(direction="incoming", subject="Κλάδεμα δέντρου"), by="clerk"
    )
    assert [a.department for a in first.assignments] == ["TECH.ROADS"]
    with pytest.raises(Forbidden):
        org.remove_routing_rule(rule.id, by="clerk")

    assert org.remove_routing_rule(rule.id, by="admin") == rule

    assert org.routing_rules() == ()
    action, target, details = last_event(org)
    assert (action, target, details["name"], details["subject_words"]) == (
        "routing_rule.removed",
        f"routing_rule:{rule.id}",
        "Κλαδέματα",
        ["κλάδεμα"],
    )
    later = org.register(
        NewRegistration(direction="incoming", subject="Κλάδεμα δέντρου"), by="clerk"
    )
    assert later.assignments == ()
    before = counts(config)
    with pytest.raises(NotFound):
        org.remove_routing_rule(rule.id, by="admin")
    assert counts(config) == before


def test_a_rule_is_named_after_it_is_removed(org: Archive) -> None:
    """Pages name the rule that routed an entry from the audit trail once the rule is gone."""
    kept, removed = (
        org.add_routing_rule(
            name, department="TECH.ROADS", subject_words=[word], automatic=True, by="admin"
        )
        for name, word in (("Κλαδέματα", "κλάδεμα"), ("Λακκούβες", "λακκούβα"))
    )
    org.remove_routing_rule(removed.id, by="admin")

    names = org.rule_names([f"rule:{kept.id}", f"rule:{removed.id}", "rule:999", "maria", "rule:x"])

    assert names == {f"rule:{kept.id}": "Κλαδέματα", f"rule:{removed.id}": "Λακκούβες"}


def test_a_department_abolished_in_a_reorganisation_is_closed(
    org: Archive, config: ArchiveConfig, clock: FixedClock
) -> None:
    work = org.assign("general", 2026, 1, department="TECH.ROADS", by="clerk")
    rule = org.add_routing_rule(
        "Οδοποιία", department="TECH.ROADS", subject_words=["λακκούβα"], by="admin"
    )
    before = counts(config)
    # Whatever still points to it must go elsewhere first; each refusal says what.
    with pytest.raises(Forbidden):
        org.close_department("TECH.ROADS", by="clerk")
    with pytest.raises(Conflict, match=r"below TECH are open \(TECH.ROADS\)"):
        org.close_department("TECH", by="admin")
    with pytest.raises(Conflict, match="still has 1 open assignment"):
        org.close_department("TECH.ROADS", by="admin")
    assert counts(config) == before
    org.forward(work.id, department="DIOIK.KEP", by="clerk")
    with pytest.raises(Conflict, match="1 active user"):
        org.close_department("TECH.ROADS", by="admin")
    org.deactivate_user("kostas", by="admin")  # he has left
    with pytest.raises(Conflict, match="routing rules still send work"):
        org.close_department("TECH.ROADS", by="admin")
    org.remove_routing_rule(rule.id, by="admin")

    closed = org.close_department("TECH.ROADS", by="admin")
    assert closed.closed_at == clock.now()
    assert last_event(org) == ("department.closed", "TECH.ROADS", {})
    before = counts(config)
    assert org.close_department("TECH.ROADS", by="admin") == closed  # nothing more to do
    assert [d.code for d in org.departments(closed=True)] == ["TECH.ROADS"]
    assert "TECH.ROADS" not in [d.code for d in org.routable_departments(org.user("clerk"))]

    # Nothing is routed to it or placed in it any more; its history keeps its code.
    refused_changes: list[tuple[Callable[[], object], str]] = [
        (lambda: org.assign("general", 2026, 2, department="TECH.ROADS", by="clerk"), "department"),
        (
            lambda: org.register(
                NewRegistration(direction="incoming", subject="Λακκούβα"),
                by="clerk",
                route=["TECH.ROADS"],
            ),
            "assignments",
        ),
        (lambda: org.add_user("nikos", "Νίκος", department="TECH.ROADS", by="admin"), "department"),
        (lambda: org.change_user("maria", {"department": "TECH.ROADS"}, by="admin"), "department"),
        (
            lambda: org.add_department("TECH.ROADS.A", "Α", parent="TECH.ROADS", by="admin"),
            "parent",
        ),
        (lambda: org.change_department("DIOIK", {"parent": "TECH.ROADS"}, by="admin"), "parent"),
        (
            lambda: org.add_routing_rule(
                "Παλιός", department="TECH.ROADS", subject_words=["δρόμος"], by="admin"
            ),
            "department",
        ),
    ]
    for refused_change, field in refused_changes:
        with pytest.raises(InvalidInput, match=r"department TECH\.ROADS is closed") as refused:
            refused_change()
        assert refused.value.field == field
    assert counts(config) == before
    # Who left from there stays there; the form of their page sends their department as it is.
    renamed = org.change_user(
        "kostas", {"department": "TECH.ROADS", "full_name": "Κ. Τ."}, by="admin"
    )
    assert (renamed.department, renamed.full_name) == ("TECH.ROADS", "Κ. Τ.")
    with pytest.raises(InvalidInput, match=r"TECH\.ROADS is closed"):
        org.reactivate_user("kostas", by="admin")  # back, into another department
    assert [a.department for a in org.get("general", 2026, 1).assignments] == [
        "TECH.ROADS",
        "DIOIK.KEP",
    ]

    # Closed above, so closed below until the one above reopens.
    org.close_department("TECH", by="admin")
    # Its page sends its place as it is, under a closed department: kept, as the name changes.
    renamed_too = {"name": "Τμήμα Οδοποιίας (πρώην)", "parent": "TECH"}
    assert org.change_department("TECH.ROADS", renamed_too, by="admin").parent == "TECH"
    with pytest.raises(Conflict, match="below TECH, which is closed: reopen that first"):
        org.reopen_department("TECH.ROADS", by="admin")
    org.reopen_department("TECH", by="admin")
    assert org.reopen_department("TECH.ROADS", by="admin").closed_at is None
    assert last_event(org) == ("department.reopened", "TECH.ROADS", {})
    assert org.departments(closed=True) == ()
