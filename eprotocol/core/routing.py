"""Routing (χρέωση): assigning registrations to departments and working them to completion.

States: ``pending`` → ``accepted`` → ``completed``; ``pending``/``accepted`` →
``returned`` (with a reason) or ``forwarded`` (a new pending assignment in the
other department, linked to this one). Who may take each step follows
:mod:`eprotocol.core.permissions`; every step is an audit event and an outbox
row, written in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from eprotocol.core import validation
from eprotocol.core.audit import ChainWriter, Entry, lock_chain
from eprotocol.core.database import Database
from eprotocol.core.errors import (
    AlreadyCancelled,
    Forbidden,
    InvalidInput,
    InvalidReference,
    InvalidTransition,
    NotFound,
    Phrase,
    RegistrationNotFound,
    UnknownBook,
)
from eprotocol.core.models import ASSIGNMENT, BOOK, REGISTRATION, Row
from eprotocol.core.organisation import DepartmentTree, find_user, load_user
from eprotocol.core.outbox import emit, emit_all
from eprotocol.core.permissions import Action, allowed
from eprotocol.core.ports import Clock
from eprotocol.core.queries import registration_row
from eprotocol.core.types import (
    DEPARTMENT_CODE_MAX,
    OPEN_STATES,
    Assignment,
    AssignmentState,
    ProtocolRef,
    Purpose,
    Status,
    User,
)

NOTE_MAX = 1000
#: The most returned assignments :meth:`Routing.returned` lists.
RETURNED_SHOWN = 200
#: Assignments :meth:`Routing.work` gives at a time.
WORK_SHOWN = 100
MAY_NOT_ASSIGN = Phrase("may-not-assign", "{who} may not assign work to {department}")
NOT_IN_DEPARTMENT = Phrase("not-in-department", "{who} does not work in {department}")
#: A workflow ``step`` (accept, complete, return, forward) of an assignment, and its ``verb``.
MAY_NOT_STEP = Phrase("may-not-step", "{who} may not {step} assignment {id} of {department}")
NO_ASSIGNMENT = Phrase("no-assignment", "there is no assignment {id}")
ASSIGN_CANCELLED = Phrase("assign-cancelled", "registration {ref} is cancelled")
NO_REPLY = Phrase("no-reply", "the reply {ref} does not exist")
NOT_FROM_STATE = Phrase("not-from-state", "assignment {id} is {state}; it cannot be {verb}")

_reply = REGISTRATION.alias("reply")
_reply_book = BOOK.alias("reply_book")
#: Assignments with what is needed to describe them: registration, book, reply.
_ASSIGNMENTS = (
    sa.select(
        ASSIGNMENT,
        BOOK.c.code.label("book"),
        REGISTRATION.c.year.label("reg_year"),
        REGISTRATION.c.number.label("reg_number"),
        REGISTRATION.c.subject.label("subject"),
        REGISTRATION.c.confidential.label("confidential"),
        _reply_book.c.code.label("reply_book"),
        _reply.c.year.label("reply_year"),
        _reply.c.number.label("reply_number"),
    )
    .join(REGISTRATION, REGISTRATION.c.id == ASSIGNMENT.c.registration_id)
    .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
    .outerjoin(_reply, _reply.c.id == ASSIGNMENT.c.reply_registration_id)
    .outerjoin(_reply_book, _reply_book.c.id == _reply.c.book_id)
)


def _closing(state: AssignmentState, **extra: Any) -> dict[str, Any]:
    """Column values of a step that closes an assignment (who and when are filled in later)."""
    return {
        "state": state.value,
        "closed_by": lambda actor, now, row: actor.username,
        "closed_at": lambda actor, now, row: now,
        **extra,
    }


def withdraw_open_work(
    conn: sa.Connection, chain: ChainWriter, registration_id: int, *, actor: str, now: datetime
) -> None:
    """End the open assignments of a registration being cancelled, in the caller's transaction.

    Nobody is to work on a cancelled entry: each becomes ``withdrawn``, closed by who
    cancelled it, with an audit event of its own, and leaves every list of open work.
    """
    ids = (
        conn.execute(
            sa.select(ASSIGNMENT.c.id)
            .where(
                ASSIGNMENT.c.registration_id == registration_id,
                ASSIGNMENT.c.state.in_(OPEN_STATES),
            )
            .order_by(ASSIGNMENT.c.id)
        )
        .scalars()
        .all()
    )
    if not ids:
        return
    conn.execute(
        sa.update(ASSIGNMENT)
        .where(ASSIGNMENT.c.id.in_(ids))
        .values(state=AssignmentState.WITHDRAWN.value, closed_by=actor, closed_at=now)
    )
    chain.append_all(
        [Entry(actor, "assignment.withdrawn", f"assignment:{i}", {}, now) for i in ids]
    )
    emit_all(conn, [("assignment.changed", {"assignment_id": i}, now) for i in ids])


def assignable(tree: DepartmentTree, actor: User, department: str) -> int:
    """The id of ``department`` if ``actor`` may route work to it.

    ``Forbidden`` if they may not, ``NotFound`` if there is no such department,
    ``InvalidInput`` if it is closed.
    """
    code = validation.required_text(department, "department", DEPARTMENT_CODE_MAX)
    department_id = tree.open_id_of(code, "department")
    if not allowed(actor, Action.ASSIGN, department_path=tree.path(department_id)):
        raise Forbidden(MAY_NOT_ASSIGN(who=actor.username, department=department))
    return department_id


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """An assignment with the subject of its registration, for lists of work."""

    assignment: Assignment
    subject: str
    #: Whether the registration is confidential: lists sent outside the archive (the daily
    #: digest by email) leave its subject out.
    confidential: bool = False


@dataclass(frozen=True, slots=True)
class WorkList:
    """A page of a list of work (open, or sent back), and how many there are in all."""

    entries: tuple[InboxEntry, ...]
    total: int
    #: How many come before the first of ``entries``.
    offset: int = 0


def _closed_as(
    row: Row, state: AssignmentState, actor: User, *, by_column: str = "closed_by"
) -> bool:
    """Whether the assignment's ``row`` is in ``state``, put there by ``actor``."""
    return bool(row["state"] == state.value and row[by_column] == actor.username)


def _in_states(states: Iterable[AssignmentState | str]) -> sa.Select[Any]:
    """The assignments in ``states``; ``InvalidInput`` (field ``state``) for one there is not."""
    wanted = [validation.choice(s, AssignmentState, "state").value for s in states]
    return _ASSIGNMENTS.where(ASSIGNMENT.c.state.in_(wanted))


def _of(
    query: sa.Select[Any], tree: DepartmentTree, department: str | None, assignee: str | None
) -> sa.Select[Any]:
    """``query`` kept to a department (with those below it) and to one user, when given."""
    if department is not None:
        query = query.where(ASSIGNMENT.c.department_id.in_(tree.subtree(department)))
    if assignee is not None:
        query = query.where(ASSIGNMENT.c.assignee == assignee)
    return query


class Routing:
    """Assignments of registrations to departments and their workflow."""

    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo) -> None:
        self._db = db
        self._clock = clock
        self._tz = tz

    # -- reading ---------------------------------------------------------------

    def _value(self, row: Row, tree: DepartmentTree) -> Assignment:
        def local(instant: datetime | None) -> datetime | None:
            return None if instant is None else instant.astimezone(self._tz)

        reply = (
            None
            if row["reply_number"] is None
            else ProtocolRef(row["reply_book"], row["reply_year"], row["reply_number"])
        )
        return Assignment(
            id=row["id"],
            registration=ProtocolRef(row["book"], row["reg_year"], row["reg_number"]),
            department=tree.by_id[row["department_id"]]["code"],
            assignee=row["assignee"],
            purpose=Purpose(row["purpose"]),
            state=AssignmentState(row["state"]),
            due=row["due"],
            note=row["note"],
            created_by=row["created_by"],
            created_at=row["created_at"].astimezone(self._tz),
            accepted_by=row["accepted_by"],
            accepted_at=local(row["accepted_at"]),
            closed_by=row["closed_by"],
            closed_at=local(row["closed_at"]),
            return_reason=row["return_reason"],
            reply=reply,
            forwarded_from=row["forwarded_from_id"],
        )

    def for_registrations(
        self, conn: sa.Connection, ids: Sequence[int]
    ) -> dict[int, list[Assignment]]:
        """The assignments of each registration in ``ids``, oldest first."""
        tree = DepartmentTree(conn)
        found: dict[int, list[Assignment]] = {i: [] for i in ids}
        query = _ASSIGNMENTS.where(ASSIGNMENT.c.registration_id.in_(ids)).order_by(ASSIGNMENT.c.id)
        for row in conn.execute(query).mappings():
            found[row["registration_id"]].append(self._value(row, tree))
        return found

    def get(self, assignment_id: int) -> Assignment:
        """One assignment."""
        with self._db.read() as conn:
            row = conn.execute(_ASSIGNMENTS.where(ASSIGNMENT.c.id == assignment_id)).mappings()
            found = row.first()
            if found is None:
                raise NotFound(NO_ASSIGNMENT(id=assignment_id))
            return self._value(found, DepartmentTree(conn))

    def _entries(
        self, rows: Iterable[sa.RowMapping], tree: DepartmentTree
    ) -> tuple[InboxEntry, ...]:
        """Rows of ``_ASSIGNMENTS`` as entries of a list of work."""
        return tuple(
            InboxEntry(self._value(r, tree), r["subject"], r["confidential"]) for r in rows
        )

    def inbox(
        self,
        *,
        department: str | None = None,
        assignee: str | None = None,
        states: Iterable[AssignmentState | str] = OPEN_STATES,
        overdue_on: date | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        closed_from: datetime | None = None,
        closed_to: datetime | None = None,
        limit: int | None = 5000,
    ) -> tuple[InboxEntry, ...]:
        """Assignments of a department (with those below it) or of one user; ``limit=None``: all.

        ``overdue_on`` keeps only open assignments whose due date is before that
        day; ``created_*`` and ``closed_*`` select those made, or ended (completed,
        returned, forwarded or withdrawn), in a period.
        """
        in_states = _in_states(states)
        with self._db.read() as conn:
            tree = DepartmentTree(conn)
            query = _of(in_states, tree, department, assignee)
            if overdue_on is not None:
                query = query.where(
                    ASSIGNMENT.c.due < overdue_on,
                    ASSIGNMENT.c.state.in_(OPEN_STATES),
                )
            if created_from is not None:
                query = query.where(ASSIGNMENT.c.created_at >= created_from)
            if created_to is not None:
                query = query.where(ASSIGNMENT.c.created_at < created_to)
            if closed_from is not None:
                query = query.where(ASSIGNMENT.c.closed_at >= closed_from)
            if closed_to is not None:
                query = query.where(ASSIGNMENT.c.closed_at < closed_to)
            rows = conn.execute(query.order_by(ASSIGNMENT.c.id).limit(limit)).mappings()
            return self._entries(rows, tree)

    def withdrawn_since(
        self, since: datetime, *, assignee: str, department: str | None
    ) -> tuple[InboxEntry, ...]:
        """Work of ``assignee``, or of ``department`` and those below it, withdrawn since ``since``.

        The latest first: what ended with the cancellation of its registration.
        """
        with self._db.read() as conn:
            tree = DepartmentTree(conn)
            whose = ASSIGNMENT.c.assignee == assignee
            if department is not None:
                whose = whose | ASSIGNMENT.c.department_id.in_(tree.subtree(department))
            rows = conn.execute(
                _ASSIGNMENTS.where(
                    ASSIGNMENT.c.state == AssignmentState.WITHDRAWN.value,
                    ASSIGNMENT.c.closed_at >= since,
                    whose,
                ).order_by(ASSIGNMENT.c.closed_at.desc(), ASSIGNMENT.c.id.desc())
            ).mappings()
            return self._entries(rows, tree)

    def work(
        self,
        *,
        department: str | None = None,
        assignee: str | None = None,
        states: Iterable[AssignmentState | str] = OPEN_STATES,
        ended_since: datetime | None = None,
        offset: int = 0,
        limit: int = WORK_SHOWN,
    ) -> WorkList:
        """Work of a department (with those below it) or of one user, a page at a time.

        Open work comes first — the most overdue first, then by due date, then that
        without one, oldest first — then ended work, the latest ended first:
        a department with thousands of assignments is read ``limit`` at a time.
        ``ended_since`` keeps of the ended work only what ended then or later.
        """
        if limit < 1 or offset < 0:
            raise InvalidInput("limit must be at least 1 and offset not negative", field="offset")
        query = _in_states(states)
        if ended_since is not None:
            query = query.where(
                ASSIGNMENT.c.closed_at.is_(None) | (ASSIGNMENT.c.closed_at >= ended_since)
            )
        ended = ASSIGNMENT.c.closed_at.is_not(None)
        return self._work_list(
            lambda tree: _of(query, tree, department, assignee),
            (
                ended,
                sa.case((ended, None), else_=ASSIGNMENT.c.due.is_(None)),
                sa.case((ended, None), else_=ASSIGNMENT.c.due),
                ASSIGNMENT.c.closed_at.desc(),
                sa.case((ended, -ASSIGNMENT.c.id), else_=ASSIGNMENT.c.id),
            ),
            offset,
            limit,
        )

    def _work_list(
        self,
        select: Callable[[DepartmentTree], sa.Select[Any]],
        order: tuple[sa.ColumnElement[Any], ...],
        offset: int,
        limit: int,
    ) -> WorkList:
        """``limit`` of the assignments ``select`` chooses, from ``offset`` in ``order``."""
        with self._db.read() as conn:
            tree = DepartmentTree(conn)
            query = select(tree)
            total = conn.execute(
                sa.select(sa.func.count()).select_from(query.subquery())
            ).scalar_one()
            rows = conn.execute(query.order_by(*order).offset(offset).limit(limit)).mappings()
            entries = self._entries(rows, tree)
        return WorkList(entries, total, offset)

    def returned(self, *, routed_by: str | None = None, limit: int = RETURNED_SHOWN) -> WorkList:
        """Work sent back and not routed again yet, the latest returned first, with the total.

        A returned assignment stays here until its registration is routed again (an
        assignment made at or after the return) or cancelled. ``routed_by`` keeps
        those that user made: the head who forwarded the work is told it came back.
        """
        later = ASSIGNMENT.alias("later")
        routed_again = (
            sa.select(later.c.id)
            .where(
                later.c.registration_id == ASSIGNMENT.c.registration_id,
                later.c.created_at >= ASSIGNMENT.c.closed_at,
            )
            .exists()
        )
        query = _ASSIGNMENTS.where(
            ASSIGNMENT.c.state == AssignmentState.RETURNED.value,
            REGISTRATION.c.status == Status.ACTIVE.value,
            ~routed_again,
        )
        if routed_by is not None:
            query = query.where(ASSIGNMENT.c.created_by == routed_by)
        return self._work_list(
            lambda tree: query, (ASSIGNMENT.c.closed_at.desc(), ASSIGNMENT.c.id.desc()), 0, limit
        )

    # -- changing --------------------------------------------------------------

    def _check_assignee(
        self, conn: sa.Connection, tree: DepartmentTree, assignee: str | None, department_id: int
    ) -> str | None:
        if assignee is None:
            return None
        name = validation.required_text(assignee, "assignee", validation.ACTOR_MAX)
        user = find_user(conn, name, tree)
        code = tree.by_id[department_id]["code"]
        if user is None or user.department != code or not user.active:
            raise InvalidInput(NOT_IN_DEPARTMENT(who=name, department=code), field="assignee")
        return user.username

    def _insert(
        self,
        conn: sa.Connection,
        chain: ChainWriter,
        *,
        registration_id: int,
        ref: ProtocolRef,
        department_id: int,
        tree: DepartmentTree,
        purpose: Purpose,
        assignee: str | None,
        due: date | None,
        note: str | None,
        actor: User,
        forwarded_from: int | None,
        now: datetime,
    ) -> int:
        new_id = conn.execute(
            sa.insert(ASSIGNMENT).returning(ASSIGNMENT.c.id),
            {
                "registration_id": registration_id,
                "department_id": department_id,
                "assignee": assignee,
                "purpose": purpose.value,
                "state": AssignmentState.PENDING.value,
                "due": due,
                "note": note,
                "created_by": actor.username,
                "created_at": now,
                "forwarded_from_id": forwarded_from,
            },
        ).scalar_one()
        chain.append(
            actor=actor.username,
            action="assignment.created",
            target=f"assignment:{new_id}",
            details={
                "registration": str(ref),
                "department": tree.by_id[department_id]["code"],
                "purpose": purpose.value,
                "assignee": assignee,
                "due": None if due is None else due.isoformat(),
                "forwarded_from": forwarded_from,
            },
            at=now,
        )
        emit(conn, "assignment.changed", {"assignment_id": new_id}, at=now)
        return int(new_id)

    def assign(
        self,
        ref: ProtocolRef,
        *,
        department: str,
        purpose: Purpose | str,
        assignee: str | None,
        due: date | None,
        note: str | None,
        by: str,
    ) -> Assignment:
        """Route a registration to a department (optionally to one of its staff).

        Sent again by the same user with the same values while that assignment is still
        open (a form sent twice, a request retried after a lost answer), it answers with
        that assignment and makes no other.
        """
        kind = validation.choice(purpose, Purpose, "purpose")
        note = validation.text(note, "note", NOTE_MAX, required=False, multiline=True)
        if due is not None and not isinstance(due, date):
            raise InvalidInput("due must be a date", field="due")
        with self._db.write() as conn:
            chain = lock_chain(conn)
            tree = DepartmentTree(conn)
            actor = load_user(conn, validation.actor(by), tree)
            registration = registration_row(conn, ref)
            if registration["status"] == Status.CANCELLED:
                raise AlreadyCancelled(ASSIGN_CANCELLED(ref=ref))
            department_id = assignable(tree, actor, department)
            checked = self._check_assignee(conn, tree, assignee, department_id)
            earlier = conn.execute(
                sa.select(ASSIGNMENT.c.id).where(
                    ASSIGNMENT.c.registration_id == registration["id"],
                    ASSIGNMENT.c.department_id == department_id,
                    ASSIGNMENT.c.state.in_(OPEN_STATES),
                    ASSIGNMENT.c.created_by == actor.username,
                    ASSIGNMENT.c.forwarded_from_id.is_(None),
                    ASSIGNMENT.c.purpose == kind.value,
                    # Asked of nobody in particular: whoever has taken it since.
                    *([ASSIGNMENT.c.assignee == checked] if checked is not None else []),
                    ASSIGNMENT.c.due == due,
                    ASSIGNMENT.c.note == note,
                )
            ).scalar()
            new_id = earlier or self._insert(
                conn,
                chain,
                registration_id=registration["id"],
                ref=ref,
                department_id=department_id,
                tree=tree,
                purpose=kind,
                assignee=checked,
                due=due,
                note=note,
                actor=actor,
                forwarded_from=None,
                now=self._clock.now(),
            )
        return self.get(new_id)

    def _step(
        self,
        assignment_id: int,
        *,
        by: str,
        action: Action,
        step: str,
        verb: str,
        allowed_from: tuple[AssignmentState, ...],
        values: dict[str, Any],
        details: dict[str, Any],
        then: Any = None,
        taken: Callable[[sa.Connection, DepartmentTree, User, Row], bool] | None = None,
    ) -> None:
        """One workflow step: permission, legal state, update, audit and outbox, atomically.

        ``taken`` tells whether the row shows this very step already taken by the same
        user with the same values: a request sent again (a retry after a timeout, a form
        sent twice) writes nothing. The callers answer with the assignment as it then is
        (forwarding, with the new one it made).
        """
        with self._db.write() as conn:
            chain = lock_chain(conn)
            tree = DepartmentTree(conn)
            actor = load_user(conn, validation.actor(by), tree)
            row = (
                conn.execute(sa.select(ASSIGNMENT).where(ASSIGNMENT.c.id == assignment_id))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(NO_ASSIGNMENT(id=assignment_id))
            path = tree.path(row["department_id"])
            if not allowed(actor, action, department_path=path, assignee=row["assignee"]):
                raise Forbidden(
                    MAY_NOT_STEP(
                        who=actor.username, step=step, id=assignment_id, department=path[-1]
                    )
                )
            state = AssignmentState(row["state"])
            # A step already taken by the same user with the same values: a request sent again.
            repeated = state not in allowed_from and bool(taken and taken(conn, tree, actor, row))
            if state not in allowed_from and not repeated:
                raise InvalidTransition(
                    NOT_FROM_STATE(id=assignment_id, state=state.value, verb=verb, step=step)
                )
            if not repeated:
                now = self._clock.now()
                # Callables get the acting user, the time and the row as read under the lock.
                resolved = {
                    k: (v(actor, now, row) if callable(v) else v) for k, v in values.items()
                }
                conn.execute(
                    sa.update(ASSIGNMENT).where(ASSIGNMENT.c.id == assignment_id).values(resolved)
                )
                chain.append(
                    actor=actor.username,
                    action=f"assignment.{verb}",
                    target=f"assignment:{assignment_id}",
                    details=details,
                    at=now,
                )
                emit(conn, "assignment.changed", {"assignment_id": assignment_id}, at=now)
                if then is not None:
                    then(conn, chain, tree, actor, row, now)

    def accept(self, assignment_id: int, *, by: str) -> Assignment:
        """Acknowledge an assignment; the one who accepts it becomes its assignee if it had none."""
        self._step(
            assignment_id,
            by=by,
            action=Action.WORK,
            step="accept",
            verb="accepted",
            allowed_from=(AssignmentState.PENDING,),
            values={
                "state": AssignmentState.ACCEPTED.value,
                "accepted_by": lambda actor, now, row: actor.username,
                "accepted_at": lambda actor, now, row: now,
                "assignee": lambda actor, now, row: row["assignee"] or actor.username,
            },
            details={},
            taken=lambda conn, tree, actor, row: _closed_as(
                row, AssignmentState.ACCEPTED, actor, by_column="accepted_by"
            ),
        )
        return self.get(assignment_id)

    def complete(
        self, assignment_id: int, *, by: str, reply: ProtocolRef | None = None
    ) -> Assignment:
        """Finish an accepted assignment, optionally naming the outgoing reply registration."""
        reply_id = None
        if reply is not None:
            with self._db.read() as conn:
                try:
                    reply_id = registration_row(conn, reply)["id"]
                except (RegistrationNotFound, UnknownBook):
                    raise InvalidReference(NO_REPLY(ref=reply), field="reply") from None
        self._step(
            assignment_id,
            by=by,
            action=Action.WORK,
            step="complete",
            verb="completed",
            allowed_from=(AssignmentState.ACCEPTED,),
            values=_closing(AssignmentState.COMPLETED, reply_registration_id=reply_id),
            details={"reply": None if reply is None else str(reply)},
            taken=lambda conn, tree, actor, row: (
                _closed_as(row, AssignmentState.COMPLETED, actor)
                and row["reply_registration_id"] == reply_id
            ),
        )
        return self.get(assignment_id)

    def return_(self, assignment_id: int, *, reason: str, by: str) -> Assignment:
        """Send an assignment back (not this department's work), with the reason."""
        reason = validation.required_text(reason, "reason", validation.REASON_MAX, multiline=True)
        self._step(
            assignment_id,
            by=by,
            action=Action.WORK,
            step="return",
            verb="returned",
            allowed_from=OPEN_STATES,
            values=_closing(AssignmentState.RETURNED, return_reason=reason),
            details={"reason": reason},
            taken=lambda conn, tree, actor, row: (
                _closed_as(row, AssignmentState.RETURNED, actor) and row["return_reason"] == reason
            ),
        )
        return self.get(assignment_id)

    def forward(
        self,
        assignment_id: int,
        *,
        department: str,
        by: str,
        assignee: str | None = None,
        note: str | None = None,
    ) -> Assignment:
        """Move an open assignment to another department; the old one stays as the trail.

        Returns the new assignment.
        """
        note = validation.text(note, "note", NOTE_MAX, required=False, multiline=True)

        def create_new(
            conn: sa.Connection,
            chain: ChainWriter,
            tree: DepartmentTree,
            actor: User,
            row: Row,
            now: datetime,
        ) -> None:
            target = assignable(tree, actor, department)
            reg = conn.execute(
                sa.select(BOOK.c.code, REGISTRATION.c.year, REGISTRATION.c.number)
                .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
                .where(REGISTRATION.c.id == row["registration_id"])
            ).one()
            self._insert(
                conn,
                chain,
                registration_id=row["registration_id"],
                ref=ProtocolRef(reg.code, reg.year, reg.number),
                department_id=target,
                tree=tree,
                purpose=Purpose(row["purpose"]),
                assignee=self._check_assignee(conn, tree, assignee, target),
                due=row["due"],
                note=note,
                actor=actor,
                forwarded_from=row["id"],
                now=now,
            )

        def forwarded_alike(
            conn: sa.Connection, tree: DepartmentTree, actor: User, row: Row
        ) -> bool:
            if not _closed_as(row, AssignmentState.FORWARDED, actor):
                return False
            new = conn.execute(
                sa.select(ASSIGNMENT.c.department_id, ASSIGNMENT.c.assignee).where(
                    ASSIGNMENT.c.forwarded_from_id == row["id"]
                )
            ).first()
            return new is not None and (
                tree.by_id[new.department_id]["code"],
                new.assignee,
            ) == (department, assignee)

        self._step(
            assignment_id,
            by=by,
            action=Action.FORWARD,
            step="forward",
            verb="forwarded",
            allowed_from=OPEN_STATES,
            values=_closing(AssignmentState.FORWARDED),
            details={"to": department},
            then=create_new,
            taken=forwarded_alike,
        )
        with self._db.read() as conn:
            forwarded_to = conn.execute(
                sa.select(ASSIGNMENT.c.id).where(ASSIGNMENT.c.forwarded_from_id == assignment_id)
            ).scalar_one()
        return self.get(forwarded_to)
