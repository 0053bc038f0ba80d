"""Routing (χρέωση) and its workflow, with the roles' permissions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from eprotocol import (
    AlreadyCancelled,
    Archive,
    ArchiveConfig,
    Assignment,
    AssignmentState,
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidReference,
    InvalidTransition,
    NewRegistration,
    NotFound,
    ProtocolRef,
    Purpose,
    RegistrationFilter,
    Role,
)
from eprotocol.api.web.messages import in_page_language
from eprotocol.core.routing import WorkList
from eprotocol.core.types import OPEN_STATES
from tests.support import FixedClock

YEAR = 2026


def counts(config: ArchiveConfig) -> tuple[int, int, int]:
    engine = sa.create_engine(config.database_url)
    with engine.connect() as conn:
        result = tuple(
            conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
            for t in ("assignment", "audit_event", "outbox_event")
        )
    engine.dispose()
    return result[0], result[1], result[2]


def test_full_workflow(org: Archive, clock: FixedClock) -> None:
    assignment = org.assign(
        "general",
        YEAR,
        1,
        department="DIOIK.KEP",
        purpose="action",
        due=date(2026, 3, 10),
        note="Να απαντηθεί εντός 7 ημερών",
        by="clerk",
    )
    assert assignment.state is AssignmentState.PENDING
    assert assignment.purpose is Purpose.ACTION
    assert (assignment.department, assignment.assignee, assignment.created_by) == (
        "DIOIK.KEP",
        None,
        "clerk",
    )

    clock.set(clock.now() + timedelta(hours=1))
    accepted = org.accept(assignment.id, by="maria")
    assert accepted.state is AssignmentState.ACCEPTED
    assert (accepted.assignee, accepted.accepted_by) == ("maria", "maria")
    assert accepted.accepted_at == clock.now()

    reply = org.register(NewRegistration(direction="outgoing", subject="Απάντηση"), by="maria")
    for missing in (ProtocolRef("general", YEAR, 999), ProtocolRef("nobook", YEAR, 1)):
        with pytest.raises(InvalidReference, match="does not exist") as refused:
            org.complete(assignment.id, by="maria", reply=missing)
        assert refused.value.field == "reply"
    done = org.complete(assignment.id, by="maria", reply=reply.ref)
    assert done.state is AssignmentState.COMPLETED
    assert done.reply == reply.ref
    assert done.closed_by == "maria"

    entry = org.get("general", YEAR, 1)
    assert [a.id for a in entry.assignments] == [assignment.id]
    actions = [e.action for e in org.audit_events(limit=1000)]
    assert actions[-3:] == [
        "assignment.accepted",
        "registration.created",
        "assignment.completed",
    ]
    assert "assignment.created" in actions
    assert org.verify_audit_chain().ok


def test_information_copies_and_several_departments(org: Archive) -> None:
    org.assign("general", YEAR, 1, department="DIOIK.KEP", by="clerk")
    org.assign("general", YEAR, 1, department="TECH", purpose=Purpose.INFORMATION, by="clerk")
    entry = org.get("general", YEAR, 1)
    assert [(a.department, a.purpose) for a in entry.assignments] == [
        ("DIOIK.KEP", Purpose.ACTION),
        ("TECH", Purpose.INFORMATION),
    ]


@pytest.mark.parametrize(
    ("setup", "step", "error"),
    [
        ("pending", lambda a, i: a.complete(i, by="maria"), InvalidTransition),
        ("returned", lambda a, i: a.complete(i, by="maria"), InvalidTransition),
        ("returned", lambda a, i: a.accept(i, by="maria"), InvalidTransition),
        (
            "completed",
            lambda a, i: a.return_assignment(i, reason="λάθος", by="maria"),
            InvalidTransition,
        ),
        ("completed", lambda a, i: a.forward(i, department="TECH", by="clerk"), InvalidTransition),
        ("pending", lambda a, i: a.accept(i, by="kostas"), Forbidden),  # staff of another dept
        ("pending", lambda a, i: a.forward(i, department="DIOIK", by="maria"), Forbidden),
        ("pending", lambda a, i: a.forward(i, department="TECH", by="head.dioik"), Forbidden),
        ("pending", lambda a, i: a.accept(i, by="nobody"), Forbidden),
        ("pending", lambda a, i: a.return_assignment(i, reason=" ", by="maria"), InvalidInput),
        ("accepted", lambda a, i: a.complete(i, by="giorgos"), Forbidden),  # maria's work
        ("accepted", lambda a, i: a.accept(i, by="head.dioik"), InvalidTransition),  # maria did
        (
            "returned",
            lambda a, i: a.return_assignment(i, reason="Άλλο", by="maria"),
            InvalidTransition,
        ),
        ("pending", lambda a, i: a.accept(i + 100, by="maria"), NotFound),
    ],
)
def test_illegal_steps_are_refused_and_leave_no_trace(
    org: Archive, config: ArchiveConfig, setup: str, step: object, error: type[Exception]
) -> None:
    assignment = org.assign("general", YEAR, 1, department="DIOIK.KEP", by="clerk")
    if setup in {"accepted", "completed"}:
        org.accept(assignment.id, by="maria")
    if setup == "completed":
        org.complete(assignment.id, by="maria")
    if setup == "returned":
        org.return_assignment(assignment.id, reason="Δεν αφορά το τμήμα", by="maria")
    before_state = org.assignment(assignment.id)
    before = counts(config)
    with pytest.raises(error):
        step(org, assignment.id)  # type: ignore[operator]
    assert counts(config) == before
    assert org.assignment(assignment.id) == before_state


def test_who_may_assign(org: Archive, config: ArchiveConfig) -> None:
    assert (
        org.assign("general", YEAR, 1, department="DIOIK.KEP", by="head.dioik").state
        is AssignmentState.PENDING
    )
    before = counts(config)
    with pytest.raises(Forbidden):
        org.assign("general", YEAR, 1, department="TECH", by="head.dioik")  # outside the subtree
    with pytest.raises(Forbidden):
        org.assign("general", YEAR, 1, department="DIOIK.KEP", by="maria")  # staff do not route
    with pytest.raises(NotFound):
        org.assign("general", YEAR, 1, department="NOPE", by="clerk")
    with pytest.raises(InvalidInput):
        org.assign("general", YEAR, 1, department="DIOIK.KEP", assignee="kostas", by="clerk")
    with pytest.raises(InvalidInput):
        org.assign("general", YEAR, 1, department="DIOIK.KEP", purpose="gossip", by="clerk")
    # What is wrong in what was asked is named, not taken for the caller's lack of rights.
    for bad, field, message in (
        ({"assignee": "nobody"}, "assignee", "nobody does not work in DIOIK.KEP"),
        ({"assignee": " "}, "assignee", "assignee must not be empty"),
        ({"department": ""}, "department", "department must not be empty"),
    ):
        asked: dict[str, Any] = {"department": "DIOIK.KEP", **bad}
        with pytest.raises(InvalidInput, match=message) as refused:
            org.assign("general", YEAR, 1, by="clerk", **asked)
        assert refused.value.field == field
    assert counts(config) == before
    org.cancel("general", YEAR, 2, reason="λάθος", authorisation="Απόφαση 1", by="clerk")
    with pytest.raises(AlreadyCancelled):
        org.assign("general", YEAR, 2, department="DIOIK.KEP", by="clerk")


def test_assigned_to_one_person_is_theirs(org: Archive) -> None:
    assignment = org.assign(
        "general", YEAR, 1, department="DIOIK.KEP", assignee="maria", by="clerk"
    )
    with pytest.raises(Forbidden):
        org.accept(assignment.id, by="giorgos")
    assert org.accept(assignment.id, by="head.dioik").assignee == "maria"  # the head may act


def test_refused_steps_read_in_greek_on_the_pages(org: Archive) -> None:
    """The library's own messages, as the registration page shows them."""
    assignment = org.assign(
        "general", YEAR, 1, department="DIOIK.KEP", assignee="maria", by="clerk"
    )
    with pytest.raises(Forbidden) as not_theirs:
        org.accept(assignment.id, by="giorgos")
    assert in_page_language(not_theirs.value.message, "el") == (
        f"Ο χρήστης giorgos δεν μπορεί να παραλάβει τη χρέωση {assignment.id} "
        "του τμήματος DIOIK.KEP."
    )
    with pytest.raises(InvalidTransition) as too_early:
        org.complete(assignment.id, by="maria")
    assert in_page_language(too_early.value.message, "el") == (
        f"Η χρέωση {assignment.id} είναι «εκκρεμεί»· δεν μπορεί να ολοκληρωθεί."
    )


def test_a_step_sent_again_by_its_user_is_answered_as_it_stands(
    org: Archive, config: ArchiveConfig
) -> None:
    """A retry after a timeout, a form sent twice: the same answer, nothing written again."""
    first = org.assign("general", YEAR, 1, department="DIOIK.KEP", by="clerk")
    second = org.assign("general", YEAR, 2, department="DIOIK.KEP", by="clerk")
    accepted = org.accept(first.id, by="maria")
    before = counts(config)
    assert org.accept(first.id, by="maria") == accepted
    assert counts(config) == before
    completed = org.complete(first.id, by="maria", reply=ProtocolRef("general", YEAR, 3))
    returned = org.return_assignment(second.id, reason="Δεν αφορά το ΚΕΠ", by="giorgos")
    third = org.assign("general", YEAR, 3, department="DIOIK.KEP", by="clerk")
    forwarded = org.forward(third.id, department="TECH.ROADS", assignee="kostas", by="clerk")
    before = counts(config)
    assert org.complete(first.id, by="maria", reply=ProtocolRef("general", YEAR, 3)) == completed
    assert org.return_assignment(second.id, reason="Δεν αφορά το ΚΕΠ", by="giorgos") == returned
    again = org.forward(third.id, department="TECH.ROADS", assignee="kostas", by="clerk")
    assert again == forwarded
    assert counts(config) == before  # no assignment, audit event or outbox row more
    # Not the same step: refused as before.
    with pytest.raises(InvalidTransition):
        org.complete(first.id, by="maria")  # without the reply it named
    with pytest.raises(InvalidTransition):
        org.forward(third.id, department="TECH", by="clerk")  # elsewhere
    with pytest.raises(InvalidTransition):
        org.forward(third.id, department="TECH.ROADS", by="clerk")  # to nobody in particular


def test_an_assignment_sent_again_while_open_is_answered_with_the_first(
    org: Archive, config: ArchiveConfig
) -> None:
    """The routing form sent twice, an API call retried: the department gets the work once."""

    def route(
        number: int = 1,
        *,
        purpose: str = "action",
        assignee: str | None = None,
        note: str = "Επείγον",
        by: str = "clerk",
    ) -> Assignment:
        return org.assign(
            "general", YEAR, number, department="DIOIK.KEP", purpose=purpose,
            assignee=assignee, due=date(2026, 4, 1), note=note, by=by,
        )  # fmt: skip

    first = route()
    before = counts(config)
    assert route() == first
    assert counts(config) == before  # no assignment, audit event or outbox row more
    org.accept(first.id, by="maria")  # taken by her since: the same answer, as it now stands
    before = counts(config)
    assert route() == org.assignment(first.id)
    assert counts(config) == before
    # Anything else is another assignment, as before: other values, another user, or the
    # first one closed.
    others = [
        route(note="Άλλη σημείωση"),
        route(purpose="information"),
        route(2),
        route(by="head.dioik"),
    ]
    org.complete(first.id, by="maria")
    others.append(route())
    others.append(route(assignee="giorgos"))  # of someone in particular, who has none of it
    assert len({first.id, *(a.id for a in others)}) == 7
    assert counts(config)[0] == before[0] + 6


def test_forward_keeps_the_trail(org: Archive) -> None:
    first = org.assign("general", YEAR, 1, department="DIOIK.KEP", due=date(2026, 4, 1), by="clerk")
    second = org.forward(
        first.id, department="DIOIK", by="head.dioik", note="Αρμοδιότητα Διεύθυνσης"
    )
    assert org.assignment(first.id).state is AssignmentState.FORWARDED
    assert (second.department, second.state, second.forwarded_from) == (
        "DIOIK",
        AssignmentState.PENDING,
        first.id,
    )
    assert second.due == date(2026, 4, 1)
    third = org.forward(second.id, department="TECH.ROADS", assignee="kostas", by="clerk")
    assert third.assignee == "kostas"
    trail = org.get("general", YEAR, 1).assignments
    assert [(a.department, a.state) for a in trail] == [
        ("DIOIK.KEP", AssignmentState.FORWARDED),
        ("DIOIK", AssignmentState.FORWARDED),
        ("TECH.ROADS", AssignmentState.PENDING),
    ]


def test_work_sent_back_waits_for_whoever_routes_it_again(org: Archive, clock: FixedClock) -> None:
    clerk, head = org.user("clerk"), org.user("head.dioik")
    by_clerk = org.assign("general", YEAR, 1, department="DIOIK", by="clerk")
    by_head = org.forward(by_clerk.id, department="DIOIK.KEP", assignee="maria", by="head.dioik")
    other = org.assign("general", YEAR, 2, department="DIOIK.KEP", by="clerk")
    cancelled = org.assign("general", YEAR, 3, department="DIOIK.KEP", by="clerk")
    clock.set(datetime(2026, 3, 5, 10, tzinfo=UTC))
    org.return_assignment(by_head.id, reason="Δεν αφορά το ΚΕΠ", by="maria")
    clock.set(datetime(2026, 3, 5, 11, tzinfo=UTC))
    org.return_assignment(other.id, reason="Λάθος τμήμα", by="giorgos")
    org.return_assignment(cancelled.id, reason="Διπλή καταχώριση", by="giorgos")
    org.cancel(
        "general", YEAR, 3, reason="Διπλή καταχώριση", authorisation="Απόφαση 12/2026", by="clerk"
    )

    def ids(work: WorkList) -> list[int]:
        assert work.total == len(work.entries)
        return [e.assignment.id for e in work.entries]

    assert ids(org.returned_to(clerk)) == [other.id, by_head.id]  # the latest first
    assert ids(org.returned_to(head)) == [by_head.id]  # what he routed himself
    assert ids(org.returned_to(org.user("maria"))) == []  # routes nothing
    assert org.returned_to(clerk).entries[1].assignment.return_reason == "Δεν αφορά το ΚΕΠ"

    # Routed again (at the very time of its return, even): no longer waiting.
    clock.set(datetime(2026, 3, 5, 11, tzinfo=UTC))
    org.assign("general", YEAR, 2, department="TECH.ROADS", by="clerk")
    assert ids(org.returned_to(clerk)) == [by_head.id]
    org.assign("general", YEAR, 1, department="DIOIK", by="head.dioik")
    assert ids(org.returned_to(head)) == ids(org.returned_to(clerk)) == []


def test_cancelling_a_registration_ends_its_open_work(
    org: Archive, clock: FixedClock, config: ArchiveConfig
) -> None:
    pending = org.assign("general", YEAR, 1, department="DIOIK.KEP", by="clerk")
    accepted = org.assign(
        "general", YEAR, 1, department="TECH.ROADS", due=date(2026, 3, 1), by="clerk"
    )
    org.accept(accepted.id, by="kostas")
    done = org.assign("general", YEAR, 1, department="DIOIK", purpose="information", by="clerk")
    org.accept(done.id, by="head.dioik")
    completed_at = org.complete(done.id, by="head.dioik").closed_at
    other = org.assign("general", YEAR, 2, department="DIOIK.KEP", by="clerk")
    before = counts(config)

    clock.set(datetime(2026, 3, 5, 10, tzinfo=UTC))
    org.cancel("general", YEAR, 1, reason="Διπλή καταχώριση", authorisation="Απόφαση 7", by="clerk")

    entry = org.get("general", YEAR, 1)
    assert [(a.id, a.state, a.closed_by, a.closed_at) for a in entry.assignments] == [
        (pending.id, AssignmentState.WITHDRAWN, "clerk", clock.now()),
        (accepted.id, AssignmentState.WITHDRAWN, "clerk", clock.now()),
        (done.id, AssignmentState.COMPLETED, "head.dioik", completed_at),
    ]
    assert org.assignment(accepted.id).accepted_by == "kostas"  # the trail is kept
    # One audit event and one outbox event for the cancellation and for each ended assignment.
    assert counts(config) == (before[0], before[1] + 3, before[2] + 3)
    assert [(e.action, e.target) for e in org.audit_trail(entry)][-3:] == [
        ("registration.cancelled", "general:1/2026"),
        ("assignment.withdrawn", f"assignment:{pending.id}"),
        ("assignment.withdrawn", f"assignment:{accepted.id}"),
    ]
    assert org.verify_audit_chain().ok

    # Nobody finds it among their work any more, nor works on it.
    assert [e.assignment.id for e in org.inbox(department="DIOIK")] == [other.id]
    assert org.inbox(department="TECH") == ()
    assert org.inbox(department="TECH", overdue_on=date(2026, 3, 10)) == ()
    assert org.work(department="TECH").total == 0
    with pytest.raises(InvalidTransition):
        org.complete(accepted.id, by="kostas")
    with pytest.raises(InvalidTransition):
        org.forward(pending.id, department="TECH", by="clerk")
    assert org.inbox(department="DIOIK", states=[AssignmentState.WITHDRAWN])[0].assignment.id == (
        pending.id
    )

    # For a week their inboxes say that it ended, and why: it was no step of theirs.
    def ended() -> dict[str, list[int]]:
        return {
            who: [e.assignment.id for e in org.ended_by_cancellation(org.user(who))]
            for who in ("kostas", "maria", "head.dioik", "clerk")
        }

    assert ended() == {
        "kostas": [accepted.id],
        "maria": [pending.id],
        "head.dioik": [pending.id],  # a department below his
        "clerk": [],
    }
    clock.set(datetime(2026, 3, 11, 21, tzinfo=UTC))  # the 7th day, in Athens' calendar
    assert ended()["kostas"] == [accepted.id]
    clock.set(datetime(2026, 3, 11, 22, tzinfo=UTC))  # the 8th day, midnight in Athens
    assert not any(ended().values())


def test_inboxes_and_overdue(org: Archive, clock: FixedClock) -> None:
    a1 = org.assign("general", YEAR, 1, department="DIOIK.KEP", due=date(2026, 3, 1), by="clerk")
    a2 = org.assign("general", YEAR, 2, department="DIOIK.KEP", due=date(2026, 3, 20), by="clerk")
    a3 = org.assign("general", YEAR, 3, department="TECH.ROADS", by="clerk")
    org.accept(a2.id, by="giorgos")
    clock.set(datetime(2026, 3, 5, 10, tzinfo=UTC))
    org.accept(a1.id, by="maria")
    org.complete(a1.id, by="maria")

    kep = org.inbox(department="DIOIK.KEP")
    assert [e.assignment.id for e in kep] == [a2.id]
    assert kep[0].subject == "Αίτηση πολίτη 1"
    assert [e.assignment.id for e in org.inbox(department="DIOIK")] == [a2.id]  # the subtree
    assert [e.assignment.id for e in org.inbox(assignee="giorgos")] == [a2.id]
    assert [e.assignment.id for e in org.inbox(department="TECH")] == [a3.id]
    assert org.inbox(department="DIOIK.KEP", overdue_on=date(2026, 3, 10)) == ()
    overdue = org.inbox(department="DIOIK.KEP", overdue_on=date(2026, 3, 21))
    assert [e.assignment.id for e in overdue] == [a2.id]
    assert overdue[0].assignment.overdue(date(2026, 3, 21))
    completed = org.inbox(
        department="DIOIK",
        states=[AssignmentState.COMPLETED],
        closed_from=datetime(2026, 3, 1, tzinfo=UTC),
        closed_to=datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert [e.assignment.id for e in completed] == [a1.id]


def test_open_work_comes_most_overdue_first_a_page_at_a_time(
    org: Archive, clock: FixedClock
) -> None:
    for i in range(3, 8):
        org.register(
            NewRegistration(direction="incoming", subject=f"Αίτηση πολίτη {i}"), by="clerk"
        )
    dues = [None, date(2026, 3, 20), date(2026, 2, 1), None, date(2026, 2, 15), date(2026, 4, 1)]
    made = [
        org.assign("general", YEAR, n, department="DIOIK.KEP", due=due, by="clerk").id
        for n, due in enumerate(dues, start=1)
    ]
    org.accept(made[1], by="maria")  # accepted work is still open
    org.accept(made[5], by="maria")
    org.complete(made[5], by="maria")  # completed work is not
    org.assign("general", YEAR, 7, department="TECH.ROADS", by="clerk")  # another department's
    expected = [made[2], made[4], made[1], made[0], made[3]]  # by due date, undated oldest first

    def page(offset: int, limit: int, **whose: Any) -> tuple[list[int], int, int]:
        work = org.work(offset=offset, limit=limit, **whose)
        return [e.assignment.id for e in work.entries], work.total, work.offset

    assert page(0, 100, department="DIOIK") == (expected, 5, 0)  # with those below it
    assert page(0, 2, department="DIOIK.KEP") == (expected[:2], 5, 0)
    assert page(2, 2, department="DIOIK.KEP") == (expected[2:4], 5, 2)
    assert page(4, 2, department="DIOIK.KEP") == (expected[4:], 5, 4)
    assert page(0, 100, assignee="maria") == ([made[1]], 1, 0)
    with pytest.raises(InvalidInput, match="offset not negative"):
        org.work(department="DIOIK.KEP", offset=-1)
    assert org.work(department="DIOIK.KEP").entries[0].subject == "Αίτηση πολίτη 2"  # no. 3

    # Ended work, when asked for, comes after the open, the latest ended first.
    org.accept(made[3], by="maria")
    clock.set(datetime(2026, 3, 10, 9, tzinfo=UTC))  # 11:00 in Athens
    org.complete(made[3], by="maria")
    still_open = [made[2], made[4], made[1], made[0]]
    with_completed = [s.value for s in OPEN_STATES] + ["completed"]
    assert page(0, 100, department="DIOIK", states=with_completed) == (
        [*still_open, made[3], made[5]],
        6,
        0,
    )
    assert page(3, 2, department="DIOIK", states=with_completed) == ([made[0], made[3]], 6, 3)
    assert page(0, 100, department="DIOIK", states=["completed"]) == ([made[3], made[5]], 2, 0)
    # Since a time: an aware one, or one without a zone, in the archive's (Athens).
    athens = datetime(2026, 3, 10, 11)  # noqa: DTZ001 - what the archive is given to read
    for since in (datetime(2026, 3, 10, 9, tzinfo=UTC), athens):
        assert page(0, 100, department="DIOIK", states=with_completed, ended_since=since) == (
            [*still_open, made[3]],
            5,
            0,
        )
    later = athens + timedelta(seconds=1)
    assert page(0, 100, department="DIOIK", states=["completed"], ended_since=later) == ([], 0, 0)
    with pytest.raises(InvalidInput, match="state must be one of") as refused:
        org.work(department="DIOIK", states=["done"])
    assert refused.value.field == "state"


def test_only_admins_manage_the_organisation(org: Archive, config: ArchiveConfig) -> None:
    before = counts(config)
    with pytest.raises(Forbidden):
        org.add_department("X", "Χ", by="clerk")
    with pytest.raises(Forbidden):
        org.add_user("x", "Χ", department="TECH", by="head.dioik")
    with pytest.raises(InvalidInput):
        org.add_user("Bad Name", "Χ", department="TECH", by="admin")
    with pytest.raises(InvalidInput):
        org.add_user("lonely", "Χ", roles=[Role.STAFF], by="admin")  # staff need a department
    with pytest.raises(InvalidInput):
        org.add_department("Y", "Υ", digest_email="not-an-email", by="admin")
    with pytest.raises(Forbidden):
        org.rename_organisation("Δήμος Αποκορώνου", by="clerk")
    for lookalike in ("tech", "ΤΕCΗ"):  # lower case; Greek Τ, Ε, Η typed on a Greek keyboard
        with pytest.raises(Conflict, match="would be taken for 'TECH'"):
            org.add_department(lookalike, "Τεχνικές Υπηρεσίες", by="admin")
    assert counts(config) == before
    assert [d.code for d in org.departments()] == ["DIOIK", "DIOIK.KEP", "TECH", "TECH.ROADS"]
    assert org.departments()[1].parent == "DIOIK"
    assert org.user("maria").roles == frozenset({Role.STAFF})


def test_registrations_can_be_listed_by_department_and_those_below_it(org: Archive) -> None:
    org.assign("general", 2026, 1, department="DIOIK.KEP", by="clerk")
    org.assign("general", 2026, 2, department="TECH.ROADS", by="clerk")
    org.assign("general", 2026, 3, department="DIOIK", purpose="information", by="clerk")

    def numbers(department: str) -> list[int]:
        return [e.number for e in org.list(RegistrationFilter(department=department)).items]

    assert numbers("DIOIK") == [3, 1]  # the directorate and its section, newest first
    assert numbers("DIOIK.KEP") == [1]
    assert numbers("TECH") == [2]
    with pytest.raises(NotFound):
        numbers("NOPE")
