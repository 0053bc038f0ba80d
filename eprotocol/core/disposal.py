"""The end of retention (εκκαθάριση αρχείου): what the archive committee decides on.

A registration is kept, from the moment it was registered, for the years of its heading
in the filing plan, or the archive's default years without one: the dates its files'
S3 retention locks were given. Then its heading's disposal says what happens —
destruction, transfer to the General State Archives, or another look. The committee
decides by book, year and heading (:meth:`Disposals.summary`), with the registrations
themselves as an annex (:meth:`Disposals.registrations`). The archive deletes nothing.

A municipality registers some 120,000 entries a year, so neither is read whole into
memory: the summary is counted by the database, and the registrations come a page at a
time. Only entries registered within two days of a retention's end are checked one by
one, for the 29th of February.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa

from eprotocol.core import days, validation
from eprotocol.core.audit import lock_chain
from eprotocol.core.database import Database
from eprotocol.core.errors import Conflict, InvalidInput, Phrase
from eprotocol.core.filing_plan import DEFAULT_DISPOSAL, headings_by_code, years_later
from eprotocol.core.labels import CONFIDENTIAL
from eprotocol.core.models import BOOK, DISPOSAL_DECISION, FILE, REGISTRATION
from eprotocol.core.organisation import administrator
from eprotocol.core.types import Classification, Disposal, ProtocolRef, Status

#: Registrations listed per read transaction.
PAGE = 1000
#: How near to its retention's end a registration is checked one by one: years later is
#: the 28th of February for the 29th, and the database does not know that rule.
_NEAR = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class DueForDisposal:
    """A registration whose retention has ended: one line of the committee's annex.

    ``heading`` is ``None`` for one filed under no heading (kept the archive's default
    years, then looked at again). A confidential entry's subject reads as
    :data:`~eprotocol.core.labels.CONFIDENTIAL`: the list is printed and passed around.
    ``files`` and ``size`` (bytes) say what its files take.
    """

    ref: ProtocolRef
    registered_at: datetime
    subject: str
    heading: Classification | None
    disposal: Disposal
    kept_until: datetime
    cancelled: bool
    files: int
    size: int


@dataclass(frozen=True, slots=True)
class DisposalGroup:
    """The registrations of one book's year under one heading whose retention has ended.

    What the committee decides on, a line each: how many (``cancelled`` of them
    cancelled), their files and bytes, and when the last of their retentions ended.
    """

    book: str
    year: int
    heading: Classification | None
    disposal: Disposal
    registrations: int
    cancelled: int
    files: int
    size: int
    ended: datetime


@dataclass(frozen=True, slots=True)
class DecidedGroup:
    """One line of the list a committee decided on, as it stood then."""

    book: str
    year: int
    heading_code: str | None
    heading_title: str | None
    disposal: Disposal
    registrations: int
    cancelled: int
    files: int
    size: int


@dataclass(frozen=True, slots=True)
class DisposalDecision:
    """A decision of the archive committee (its act: «Πρακτικό 3/2036») on one list.

    The list is what reached the end of retention from ``since`` (from the first
    registration, if ``None``) to the end of ``until``; ``groups`` keep it as it was decided.
    Recording a decision deletes nothing; the next list starts the day after ``until``.
    """

    id: int
    reference: str
    decided_on: date
    since: date | None
    until: date
    groups: tuple[DecidedGroup, ...]
    recorded_by: str
    recorded_at: datetime

    @property
    def registrations(self) -> int:
        """How many registrations the decision covers."""
        return sum(g.registrations for g in self.groups)


#: The longest act of a committee a decision names («Πρακτικό 3/2036 της Επιτροπής...»).
REFERENCE_MAX = 200
ALREADY_DECIDED = Phrase(
    "already-decided",
    "the committee's decision {reference} covers up to {until}: a new list starts on {next}",
)
SKIPPED = Phrase(
    "decision-skips-days",
    "the committee's decision {reference} covers up to {until}: a new list starts on {next}, "
    "or what ended between would never be decided on",
)
NOTHING_TO_DECIDE = Phrase("nothing-to-decide", "nothing reached the end of retention then")
DECIDED_LATER = Phrase("decided-in-the-future", "the decision's date {day} has not come yet")


#: The columns of the registrations' list as a spreadsheet takes it (:func:`csv_lines`).
CSV_COLUMNS = (
    "protocol_number",
    "registered",
    "heading",
    "heading_title",
    "disposal",
    "kept_until",
    "cancelled",
    "files",
    "bytes",
    "subject",
)


def csv_lines(due: Iterable[DueForDisposal], *, tz: tzinfo, book: str) -> Iterator[str]:
    """``due`` as CSV lines (UTF-8 with the BOM spreadsheets look for), the columns first.

    Dates are the archive's (``tz``), as 31/12/2026; numbers of ``book`` are printed as
    123/2026, others with their book.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")

    def line(values: Iterable[object]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(values)
        return out.getvalue()

    yield "\ufeff" + line(CSV_COLUMNS)
    for d in due:
        yield line(
            (
                d.ref.printed_in(book),
                f"{d.registered_at.astimezone(tz):%d/%m/%Y}",
                d.heading.code if d.heading else "",
                d.heading.title if d.heading else "",
                d.disposal.value,
                f"{d.kept_until.astimezone(tz):%d/%m/%Y}",
                "cancelled" if d.cancelled else "",
                d.files,
                d.size,
                d.subject,
            )
        )


_FILES = (
    sa.select(
        FILE.c.registration_id,
        sa.func.count().label("files"),
        sa.func.sum(FILE.c.size).label("size"),
    )
    .group_by(FILE.c.registration_id)
    .subquery()
)
_CANCELLED = sa.case((REGISTRATION.c.status == Status.CANCELLED, 1), else_=0)
_ENTRIES = sa.select(
    REGISTRATION.c.id,
    BOOK.c.code.label("book"),
    REGISTRATION.c.year,
    REGISTRATION.c.number,
    REGISTRATION.c.registered_at,
    REGISTRATION.c.subject,
    REGISTRATION.c.confidential,
    REGISTRATION.c.classification_code,
    REGISTRATION.c.status,
    # Per entry, by its files' index: a page must not group every file of the archive.
    sa.select(sa.func.count())
    .where(FILE.c.registration_id == REGISTRATION.c.id)
    .scalar_subquery()
    .label("files"),
    sa.select(sa.func.coalesce(sa.func.sum(FILE.c.size), 0))
    .where(FILE.c.registration_id == REGISTRATION.c.id)
    .scalar_subquery()
    .label("size"),
).join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)


class Disposals:
    """Lists what the end of retention has reached (administrators only)."""

    def __init__(self, db: Database, *, default_years: int) -> None:
        self._db = db
        self._default_years = default_years

    def summary(
        self, before: datetime, *, since: datetime | None = None, by: str
    ) -> list[DisposalGroup]:
        """By book, year and heading, the registrations whose retention ends before ``before``.

        With ``since``, only those whose retention ends at or after it: what has come due
        since the committee's last list.
        """
        validation.period(since, before, field="since")
        tally: dict[tuple[str, int, str | None], _Tally] = defaultdict(_Tally)
        with self._db.read() as conn:
            administrator(conn, by)
            plan = headings_by_code(conn)
            surely, near = self._conditions(plan, before, since)
            counted = conn.execute(
                sa.select(
                    BOOK.c.code.label("book"),
                    REGISTRATION.c.year,
                    REGISTRATION.c.classification_code,
                    sa.func.count().label("registrations"),
                    sa.func.sum(_CANCELLED).label("cancelled"),
                    sa.func.sum(sa.func.coalesce(_FILES.c.files, 0)).label("files"),
                    sa.func.sum(sa.func.coalesce(_FILES.c.size, 0)).label("size"),
                    sa.func.max(REGISTRATION.c.registered_at).label("last"),
                )
                .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
                .outerjoin(_FILES, _FILES.c.registration_id == REGISTRATION.c.id)
                .where(surely)
                .group_by(BOOK.c.code, REGISTRATION.c.year, REGISTRATION.c.classification_code)
            )
            for row in counted:
                tally[row.book, row.year, row.classification_code].add(row)
            for due in self._ended(conn.execute(_ENTRIES.where(near)), plan, before, since):
                code = due.heading.code if due.heading else None
                tally[due.ref.book, due.ref.year, code].add_one(due)
        return [
            self._group(book, year, plan.get(code) if code else None, t)
            for (book, year, code), t in sorted(
                tally.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
            )
        ]

    def registrations(
        self, before: datetime, *, since: datetime | None = None, by: str
    ) -> Iterator[DueForDisposal]:
        """The registrations whose retention ends before ``before``, oldest first.

        With ``since``, only those whose retention ends at or after it. ``Forbidden`` at
        once for a non-administrator; then a page at a time, each in a read transaction
        of its own.
        """
        validation.period(since, before, field="since")
        with self._db.read() as conn:
            administrator(conn, by)
            plan = headings_by_code(conn)
        return self._pages(plan, before, since)

    def _pages(
        self, plan: dict[str, Classification], before: datetime, since: datetime | None
    ) -> Iterator[DueForDisposal]:
        surely, near = self._conditions(plan, before, since)
        query = _ENTRIES.where(sa.or_(surely, near)).order_by(
            REGISTRATION.c.registered_at, REGISTRATION.c.id
        )
        after: tuple[datetime, int] | None = None
        while True:
            page = query if after is None else query.where(_after(*after))
            with self._db.read() as conn:
                rows = conn.execute(page.limit(PAGE)).all()
            yield from self._ended(rows, plan, before, since)
            if len(rows) < PAGE:
                return
            after = (rows[-1].registered_at, rows[-1].id)

    def decide(
        self,
        until: date,
        since: date | None,
        *,
        reference: str,
        decided_on: date,
        by: str,
        now: datetime,
        tz: tzinfo,
    ) -> DisposalDecision:
        """Record the committee's decision on the list from ``since`` to the end of ``until``.

        Each registration is decided on once, and none is left out: a list starts the day
        after the last decision's ``until`` (``Conflict`` if not). An empty list, or a
        decision dated after today, is refused (``InvalidInput``). The list is kept as it
        stands, in the audit trail too.
        """
        reference = validation.required_text(reference, "reference", REFERENCE_MAX)
        validation.period(since, until, field="since")
        if decided_on > now.astimezone(tz).date():
            raise InvalidInput(DECIDED_LATER(day=decided_on), field="decided_on")
        groups = self.summary(
            days.bounds(until, tz)[1],
            since=None if since is None else days.midnight(since, tz),
            by=by,
        )
        if not groups:
            raise InvalidInput(NOTHING_TO_DECIDE(), field="until")
        decided = tuple(
            DecidedGroup(
                g.book,
                g.year,
                g.heading.code if g.heading else None,
                g.heading.title if g.heading else None,
                g.disposal,
                g.registrations,
                g.cancelled,
                g.files,
                g.size,
            )
            for g in groups
        )
        with self._db.write() as conn:
            chain = lock_chain(conn)  # decisions are recorded one at a time
            actor = administrator(conn, by)
            last = conn.execute(
                sa.select(DISPOSAL_DECISION).order_by(DISPOSAL_DECISION.c.until.desc()).limit(1)
            ).first()
            following = None if last is None else last.until + timedelta(days=1)
            if last is not None and since != following:
                # Before it: decided twice; after it: what ended between never decided on.
                phrase = ALREADY_DECIDED if since is None or since <= last.until else SKIPPED
                raise Conflict(phrase(reference=last.reference, until=last.until, next=following))
            values = {
                "reference": reference,
                "decided_on": decided_on,
                "since": since,
                "until": until,
                "groups": [{**asdict(g), "disposal": g.disposal.value} for g in decided],
                "recorded_by": actor.username,
                "recorded_at": now,
            }
            new_id = conn.execute(
                sa.insert(DISPOSAL_DECISION).returning(DISPOSAL_DECISION.c.id), values
            ).scalar_one()
            chain.append(
                actor=actor.username,
                action="disposal.decided",
                target=f"disposal_decision:{new_id}",
                details={
                    "reference": reference,
                    "decided_on": decided_on.isoformat(),
                    "since": None if since is None else since.isoformat(),
                    "until": until.isoformat(),
                    "groups": len(decided),
                    "registrations": sum(g.registrations for g in decided),
                },
                at=now,
            )
        return DisposalDecision(
            new_id, reference, decided_on, since, until, decided, actor.username, now
        )

    def decisions(self, *, by: str) -> tuple[DisposalDecision, ...]:
        """The committee's decisions, the latest list first (administrators only)."""
        with self._db.read() as conn:
            administrator(conn, by)
            rows = conn.execute(
                sa.select(DISPOSAL_DECISION).order_by(DISPOSAL_DECISION.c.until.desc())
            ).all()
        return tuple(
            DisposalDecision(
                r.id,
                r.reference,
                r.decided_on,
                r.since,
                r.until,
                tuple(DecidedGroup(**{**g, "disposal": Disposal(g["disposal"])}) for g in r.groups),
                r.recorded_by,
                r.recorded_at,
            )
            for r in rows
        )

    def _conditions(
        self, plan: dict[str, Classification], before: datetime, since: datetime | None
    ) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
        """Registrations whose retention surely ends between ``since`` and ``before``; those near.

        The second are those near either end, to be checked one by one; the two sets are
        disjoint, so that none is counted twice.
        """
        codes: dict[int, list[str]] = defaultdict(list)
        for h in plan.values():
            codes[h.retention_years].append(h.code)
        filed = [(REGISTRATION.c.classification_code.in_(c), years) for years, c in codes.items()]
        unfiled = (REGISTRATION.c.classification_code.is_(None), self._default_years)
        at = REGISTRATION.c.registered_at
        surely, near = [], []
        for which, years in [*filed, unfiled]:
            last = years_later(before, -years)
            inside = [at < last - _NEAR]
            near.append(sa.and_(which, at >= last - _NEAR, at < last + _NEAR))
            if since is not None:
                first = years_later(since, -years)
                inside.append(at >= first + _NEAR)
                near.append(sa.and_(which, at >= first - _NEAR, at < first + _NEAR))
            surely.append(sa.and_(which, *inside))
        return sa.or_(*surely), sa.or_(*near)

    def _ended(
        self,
        rows: Iterable[Any],
        plan: dict[str, Classification],
        before: datetime,
        since: datetime | None,
    ) -> Iterator[DueForDisposal]:
        """Those of ``rows`` (entries) whose retention ends before ``before``, from ``since``."""
        for r in rows:
            heading = plan.get(r.classification_code) if r.classification_code else None
            years = heading.retention_years if heading else self._default_years
            kept_until = years_later(r.registered_at, years)
            if kept_until < before and (since is None or since <= kept_until):
                yield DueForDisposal(
                    ref=ProtocolRef(r.book, r.year, r.number),
                    registered_at=r.registered_at,
                    subject=CONFIDENTIAL if r.confidential else r.subject,
                    heading=heading,
                    disposal=heading.disposal if heading else DEFAULT_DISPOSAL,
                    kept_until=kept_until,
                    cancelled=r.status == Status.CANCELLED,
                    files=int(r.files),
                    size=int(r.size),
                )

    def _group(
        self, book: str, year: int, heading: Classification | None, tally: _Tally
    ) -> DisposalGroup:
        years = heading.retention_years if heading else self._default_years
        return DisposalGroup(
            book=book,
            year=year,
            heading=heading,
            disposal=heading.disposal if heading else DEFAULT_DISPOSAL,
            registrations=tally.registrations,
            cancelled=tally.cancelled,
            files=tally.files,
            size=tally.size,
            ended=years_later(tally.last, years),
        )


def _after(at: datetime, row_id: int) -> sa.ColumnElement[bool]:
    """Entries after the one registered at ``at`` with id ``row_id``, in listing order."""
    return sa.and_(
        REGISTRATION.c.registered_at >= at,  # the index's range; the pair breaks the ties
        sa.tuple_(REGISTRATION.c.registered_at, REGISTRATION.c.id) > sa.tuple_(at, row_id),
    )


class _Tally:
    """Counts of one group, from the database's sums and the entries checked one by one."""

    def __init__(self) -> None:
        self.registrations = self.cancelled = self.files = self.size = 0
        self.last = datetime.min.replace(tzinfo=UTC)  # when the latest was registered

    def add(self, row: sa.Row[Any]) -> None:
        self.registrations += int(row.registrations)
        self.cancelled += int(row.cancelled or 0)
        self.files += int(row.files or 0)
        self.size += int(row.size or 0)
        self.last = max(self.last, row.last)

    def add_one(self, due: DueForDisposal) -> None:
        self.registrations += 1
        self.cancelled += due.cancelled
        self.files += due.files
        self.size += due.size
        self.last = max(self.last, due.registered_at)
