"""Exports of protocol books and their import into another archive.

An export holds, for whole (book, year) series, every registration with its
files, cancellation, corrections, relations, assignments and seal, plus the
books, filing plan and departments they name — as plain records (JSON-ready
dicts, laid out in ``docs/export-format.md``). This module turns the database
rows into those records and records back into rows; packaging them on disk is
:mod:`eprotocol.bags`.

An import keeps what the system assigned: numbers, registration times, who
registered, file digests. So that the protocol book stays gap-free, each
imported (book, year) must run from 1 without a gap and must be empty in the
archive that takes it; everything is checked before anything is written, and
the registrations are written in one transaction or not at all.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from itertools import islice
from typing import IO, Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from eprotocol.core import validation
from eprotocol.core.audit import Entry, lock_chain
from eprotocol.core.certificates import describe
from eprotocol.core.database import Database
from eprotocol.core.errors import Conflict, InvalidInput, InvalidTransfer, RegistrationNotFound
from eprotocol.core.filing_plan import years_later
from eprotocol.core.models import (
    ASSIGNMENT,
    BOOK,
    CANCELLATION,
    CLASSIFICATION,
    CORRECTION,
    COUNTER,
    DEPARTMENT,
    FILE,
    REGISTRATION,
    RELATION,
    SEAL,
)
from eprotocol.core.organisation import DepartmentTree
from eprotocol.core.outbox import emit_all
from eprotocol.core.ports import BlobStore, Clock, already_stored, blob_key
from eprotocol.core.queries import registration_row
from eprotocol.core.registry import INSERT_REGISTRATIONS, Registry
from eprotocol.core.types import (
    BOOK_CODE_MAX,
    DEPARTMENT_CODE_MAX,
    OPEN_STATES,
    AssignmentState,
    Disposal,
    ProtocolRef,
    Purpose,
    Registration,
    Status,
)

#: The version of the record layout; an import refuses any other.
FORMAT = "1"
_PARALLEL_STORES = 4
_BATCH = 500
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REGISTRATION_FIELDS = (
    "year",
    "number",
    "registered_by",
    "direction",
    "subject",
    "sender",
    "recipients",
    "sender_reference",
    "channel",
    "classification_code",
    "confidential",
    "status",
)
_CORRECTION_FIELDS = ("field", "old_value", "new_value", "reason", "corrected_by")
_SEAL_FIELDS = ("verification_code", "title", "sha256", "template", "fields")


@dataclass(frozen=True, slots=True)
class Series:
    """The numbers of one book in one year that an export or import covers."""

    book: str
    year: int
    count: int

    def __str__(self) -> str:
        return f"{self.book} {self.year}: 1–{self.count}"


@dataclass(frozen=True, slots=True)
class TransferReport:
    """What an export wrote or an import took in."""

    series: tuple[Series, ...]
    registrations: int
    #: Distinct stored files (a file several registrations share counts once), and their size.
    files: int
    bytes: int


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _record(entry: Registration, seal: dict[str, Any] | None) -> dict[str, Any]:
    """A registration as the record of ``docs/export-format.md``."""
    return {
        "book": entry.book,
        "year": entry.year,
        "number": entry.number,
        "registered_at": _instant(entry.registered_at),
        "registered_by": entry.registered_by,
        "direction": entry.direction.value,
        "subject": entry.subject,
        "sender": entry.sender,
        "recipients": list(entry.recipients),
        "sender_reference": entry.sender_reference,
        "sender_date": _day(entry.sender_date),
        "channel": None if entry.channel is None else entry.channel.value,
        "classification_code": entry.classification_code,
        "confidential": entry.confidential,
        "status": entry.status.value,
        "related": [str(ref) for ref in entry.related],
        "files": [
            {
                "role": f.role.value,
                "filename": f.filename,
                "media_type": f.media_type,
                "size": f.size,
                "sha256": f.sha256,
                "warnings": list(f.warnings),
                "signatures": describe(f.signatures),
            }
            for f in entry.files
        ],
        "cancellation": None
        if (cancelled := entry.cancellation) is None
        else {
            "reason": cancelled.reason,
            "authorisation": cancelled.authorisation,
            "cancelled_by": cancelled.cancelled_by,
            "cancelled_at": _instant(cancelled.cancelled_at),
        },
        "corrections": [
            {
                "field": c.field,
                "old_value": c.old_value,
                "new_value": c.new_value,
                "reason": c.reason,
                "corrected_by": c.corrected_by,
                "corrected_at": _instant(c.corrected_at),
            }
            for c in entry.corrections
        ],
        "assignments": [
            {
                "id": a.id,
                "department": a.department,
                "assignee": a.assignee,
                "purpose": a.purpose.value,
                "state": a.state.value,
                "due": _day(a.due),
                "note": a.note,
                "created_by": a.created_by,
                "created_at": _instant(a.created_at),
                "accepted_by": a.accepted_by,
                "accepted_at": _instant(a.accepted_at),
                "closed_by": a.closed_by,
                "closed_at": _instant(a.closed_at),
                "return_reason": a.return_reason,
                "reply": None if a.reply is None else str(a.reply),
                "forwarded_from_id": a.forwarded_from,
            }
            for a in entry.assignments
        ],
        "seal": seal,
    }


class Transfer:
    """Reads whole book-years out as records, and writes records in as registrations."""

    def __init__(
        self,
        db: Database,
        store: BlobStore,
        clock: Clock,
        registry: Registry,
        *,
        timezone: str,
        default_retention_years: int,
    ) -> None:
        self._db = db
        self._store = store
        self._clock = clock
        self._registry = registry
        self._tz = ZoneInfo(timezone)
        self._default_retention = default_retention_years

    # -- export ----------------------------------------------------------------

    def series(self, book: str | None, year: int | None) -> tuple[Series, ...]:
        """The (book, year) series that hold registrations, narrowed to ``book``/``year``."""
        query = (
            sa.select(BOOK.c.code, REGISTRATION.c.year, sa.func.count())
            .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
            .group_by(BOOK.c.code, REGISTRATION.c.year)
            .order_by(BOOK.c.code, REGISTRATION.c.year)
        )
        if book is not None:
            query = query.where(BOOK.c.code == book)
        if year is not None:
            query = query.where(REGISTRATION.c.year == year)
        with self._db.read() as conn:
            return tuple(Series(code, y, count) for code, y, count in conn.execute(query))

    def reference(self) -> dict[str, Any]:
        """The format, and the books, filing plan and departments (whole: they are small)."""
        with self._db.read() as conn:
            books = conn.execute(sa.select(BOOK.c.code, BOOK.c.name).order_by(BOOK.c.code))
            plan = conn.execute(sa.select(CLASSIFICATION).order_by(CLASSIFICATION.c.code))
            tree = DepartmentTree(conn)
            return {
                "format": FORMAT,
                "books": [dict(r) for r in books.mappings()],
                "classifications": [dict(r) for r in plan.mappings()],
                # In the order they were made, so a parent comes before its departments.
                "departments": [
                    {**asdict(d), "closed_at": _instant(d.closed_at)}
                    for d in (tree.department(i) for i in sorted(tree.by_id))
                ],
            }

    def records(self, series: Series, batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every registration of ``series`` as a record, in number order."""
        for first in range(1, series.count + 1, batch):
            with self._db.read() as conn:
                ids = list(
                    conn.execute(
                        sa.select(REGISTRATION.c.id)
                        .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
                        .where(
                            BOOK.c.code == series.book,
                            REGISTRATION.c.year == series.year,
                            REGISTRATION.c.number.between(first, first + batch - 1),
                        )
                    ).scalars()
                )
                seals = {
                    s["registration_id"]: {n: s[n] for n in _SEAL_FIELDS}
                    for s in conn.execute(
                        sa.select(SEAL).where(SEAL.c.registration_id.in_(ids))
                    ).mappings()
                }
            entries = sorted(self._registry.by_ids(ids), key=lambda e: e.number)
            yield from (_record(entry, seals.get(entry.id)) for entry in entries)

    # -- import ----------------------------------------------------------------

    def take_in(
        self,
        reference: Mapping[str, Any],
        records: Callable[[], Iterable[Mapping[str, Any]]],
        open_file: Callable[[str], IO[bytes]],
        *,
        by: str,
        source: Mapping[str, str],
    ) -> TransferReport:
        """Import the registration records ``records()`` yields, files read by ``open_file(sha)``.

        ``records`` is called twice: a first pass checks every record and keeps
        only what the checks need, a second writes them — so a migration of many
        years does not hold them all in memory. ``reference`` holds the export's
        books, filing plan and departments; those the archive lacks are created.
        ``source`` describes the export (organisation, date, audit-chain head)
        for the audit events.
        """
        actor = validation.actor(by)
        if reference.get("format") != FORMAT:
            raise InvalidTransfer(f"the export is not in the layout of format {FORMAT}")
        plan = _Plan(reference, self._retention_years(), self._default_retention)
        for ref, entry in _entries(records(), self._tz):
            plan.note(ref, entry)
        series = plan.finish()
        with self._db.read() as conn:
            plan.check_target(conn)

        def store(sha: str) -> None:
            size, until = plan.blobs[sha]
            # Where every PUT keeps a version, bytes already there (an import run again after
            # a failed one) would be kept twice, and under retention for years.
            if self._store.keeps_versions and already_stored(self._store, sha, size, until):
                return
            with open_file(sha) as source_file:
                self._store.put(source_file, sha256=sha, size=size, retain_until=until)

        # Each store waits on a disk flush or a round trip; several at once keep the disk or
        # the S3 server busy (a year of a municipality is over 100,000 files). The first
        # failure stops the rest: a storage outage must not wait out every timeout.
        pool = ThreadPoolExecutor(_PARALLEL_STORES)
        try:
            for _ in pool.map(store, plan.blobs):
                pass
        finally:
            pool.shutdown(cancel_futures=True)
        with self._db.write() as conn:
            chain = lock_chain(conn)
            now = self._clock.now()
            created = plan.create_reference(conn, now)
            chain.append_all(
                [Entry(actor, action, target, details, now) for action, target, details in created]
            )
            plan.check_target(conn)  # again, under the write lock: nothing may have slipped in
            writer = _Writer(conn, plan.imported)
            checked = iter(plan.imported)
            for chunk in _chunks(_entries(records(), self._tz), _BATCH):
                if [ref for ref, _ in chunk] != list(islice(checked, len(chunk))):
                    raise InvalidTransfer("the export changed while it was being imported")
                writer.write(chunk)
                chain.append_all(
                    [_imported(actor, ref, entry, source, now) for ref, entry in chunk]
                )
                emit_all(
                    conn,
                    [
                        ("registration.created", {"registration_id": writer.ids[ref]}, now)
                        for ref, _ in chunk
                    ],
                )
            if next(checked, None) is not None:
                raise InvalidTransfer("the export changed while it was being imported")
            writer.finish(series)
        return TransferReport(
            series=series,
            registrations=len(plan.imported),
            files=len(plan.blobs),
            bytes=sum(size for size, _ in plan.blobs.values()),
        )

    def _retention_years(self) -> dict[str, int]:
        with self._db.read() as conn:
            query = sa.select(CLASSIFICATION.c.code, CLASSIFICATION.c.retention_years)
            return dict(conn.execute(query).all())


_Entry = tuple[ProtocolRef, dict[str, Any]]
_T = TypeVar("_T")


def _entries(records: Iterable[Mapping[str, Any]], tz: ZoneInfo) -> Iterator[_Entry]:
    """Each record checked by the rules a new registration meets, with its reference."""
    for line, record in enumerate(records, 1):
        try:
            entry = _registration(record, tz)
        except (InvalidInput, KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = exc.message if isinstance(exc, InvalidInput) else f"{exc!r}"
            raise InvalidTransfer(f"registration record {line}: {problem}") from exc
        yield ProtocolRef(entry["book"], entry["year"], entry["number"]), entry


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    chunk: list[_T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _imported(
    actor: str, ref: ProtocolRef, entry: Mapping[str, Any], source: Mapping[str, str], at: datetime
) -> Entry:
    """The audit event of one imported registration."""
    return Entry(
        actor,
        "registration.imported",
        str(ref),
        {
            "source": dict(source),
            "registered_at": _instant(entry["registered_at"]),
            "registered_by": entry["registered_by"],
            "status": entry["status"],
            "files": [{"filename": f["filename"], "sha256": f["sha256"]} for f in entry["files"]],
        },
        at,
    )


class _Plan:
    """What the checks of an import need from its records, gathered in one pass over them."""

    def __init__(
        self, reference: Mapping[str, Any], retention: Mapping[str, int], default_years: int
    ) -> None:
        self.books = _items(
            reference, "books", {"code": (BOOK_CODE_MAX, True), "name": (200, True)}
        )
        self.plan = _items(
            reference,
            "classifications",
            {"code": (validation.CLASSIFICATION_MAX, True), "title": (300, True)},
        )
        if not all(
            c.get("disposal") in set(Disposal) and isinstance(c.get("retention_years"), int)
            for c in self.plan
        ):
            raise InvalidTransfer("the export's filing plan has an unknown disposal or retention")
        self.departments = _items(
            reference,
            "departments",
            {
                "code": (DEPARTMENT_CODE_MAX, True),
                "name": (200, True),
                "parent": (DEPARTMENT_CODE_MAX, False),
                "digest_email": (254, False),
            },
        )
        try:  # exports made before 2026-12-02 know no closed departments
            for d in self.departments:
                d["closed_at"] = _optional_when(d.get("closed_at"), "closed_at")
        except (InvalidInput, ValueError) as exc:
            raise InvalidTransfer(f"the export's departments: closed_at {exc}") from exc
        # Retention by heading: the archive's where it has the heading, else the export's.
        self._retention = {**{c["code"]: int(c["retention_years"]) for c in self.plan}, **retention}
        self._default_years = default_years
        self._names = {
            "book": {b["code"] for b in self.books},
            "heading": {c["code"] for c in self.plan},
            "department": {d["code"] for d in self.departments},
        }
        #: Every imported registration, in the order of the records.
        self.imported: list[ProtocolRef] = []
        #: The (book, year) series, known once :meth:`finish` has checked them.
        self.series: tuple[Series, ...] = ()
        #: Each distinct file: its size and the latest retention date any entry gives it.
        self.blobs: dict[str, tuple[int, datetime]] = {}
        self._codes: list[str] = []
        self._referred: set[str] = set()
        self._assignments: set[int] = set()

    def note(self, ref: ProtocolRef, entry: Mapping[str, Any]) -> None:
        """Check one record against those before it and remember what later checks need."""
        wanted = [("book", ref.book), ("heading", entry["classification_code"])]
        wanted += [("department", a["department"]) for a in entry["assignments"]]
        missing = [
            f"{kind} {name}"
            for kind, name in wanted
            if name is not None and name not in self._names[kind]
        ]
        if missing:
            raise InvalidTransfer(
                f"registration {ref} names {', '.join(missing)}, which the export does not describe"
            )
        code = entry["classification_code"]
        years = self._retention[code] if code is not None else self._default_years
        until = years_later(entry["registered_at"], years)
        for f in entry["files"]:
            size, kept = self.blobs.get(f["sha256"], (f["size"], until))
            if size != f["size"]:
                raise InvalidTransfer(f"file {f['sha256']} is given two different sizes")
            self.blobs[f["sha256"]] = (size, max(kept, until))
        for a in entry["assignments"]:
            forwarded = a["forwarded_from_id"]
            if forwarded is not None and forwarded not in self._assignments:
                raise InvalidTransfer(
                    f"assignment {a['id']} of {ref} was forwarded from an assignment "
                    "the export does not hold before it"
                )
            self._assignments.add(a["id"])
        self._referred.update(entry["related"])
        self._referred.update(a["reply"] for a in entry["assignments"] if a["reply"])
        if entry["seal"] is not None:
            self._codes.append(entry["seal"]["verification_code"])
        self.imported.append(ref)

    def finish(self) -> tuple[Series, ...]:
        """The series of the import, once every record is noted; refuse any that is not whole."""
        if not self.imported:
            raise InvalidTransfer("the export holds no registrations")
        numbers: dict[tuple[str, int], list[int]] = defaultdict(list)
        for ref in self.imported:
            numbers[ref.book, ref.year].append(ref.number)
        series = []
        for (book, year), taken in sorted(numbers.items()):
            if sorted(taken) != list(range(1, len(taken) + 1)):
                raise InvalidTransfer(
                    f"the numbers of book {book} in {year} do not run from 1 without gaps "
                    "or repeats; only whole protocol years can be imported"
                )
            series.append(Series(book, year, len(taken)))
        self.series = tuple(series)
        mine = {str(ref) for ref in self.imported}
        self._referred -= mine
        return self.series

    def check_target(self, conn: sa.Connection) -> None:
        """Refuse what would not fit this archive.

        Every imported series must be empty here, no verification code taken, and
        every registration the records refer to outside the export must be here.
        """
        for s in self.series:
            taken = conn.execute(
                sa.select(REGISTRATION.c.id)
                .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
                .where(BOOK.c.code == s.book, REGISTRATION.c.year == s.year)
                .limit(1)
            ).first()
            if taken:
                raise Conflict(
                    f"this archive already has registrations in book {s.book} for {s.year}; "
                    "a protocol year is imported whole, into an empty year"
                )
        for codes in _chunks(self._codes, _BATCH):
            used = conn.execute(
                sa.select(SEAL.c.verification_code).where(SEAL.c.verification_code.in_(codes))
            ).first()
            if used is not None:
                raise Conflict(f"verification code {used[0]} is already used in this archive")
        for text in sorted(self._referred):
            _registration_id(conn, ProtocolRef.parse(text))

    def create_reference(
        self, conn: sa.Connection, now: datetime
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """Create the books, headings and departments the archive lacks; return audit events."""
        events: list[tuple[str, str, dict[str, Any]]] = []
        have = set(conn.execute(sa.select(BOOK.c.code)).scalars())
        for b in self.books:
            if b["code"] not in have:
                conn.execute(
                    sa.insert(BOOK), {"code": b["code"], "name": b["name"], "created_at": now}
                )
                events.append(("book.created", b["code"], {"name": b["name"], "imported": True}))
        have = set(conn.execute(sa.select(CLASSIFICATION.c.code)).scalars())
        for c in self.plan:
            if c["code"] not in have:
                row = {k: c[k] for k in ("code", "title", "retention_years", "disposal")}
                conn.execute(sa.insert(CLASSIFICATION), row)
                events.append(("classification.created", c["code"], {**row, "imported": True}))
        ids = _codes(conn, DEPARTMENT)
        waiting = [d for d in self.departments if d["code"] not in ids]
        while waiting:
            ready = [d for d in waiting if d["parent"] is None or d["parent"] in ids]
            if not ready:
                raise InvalidTransfer("the export's departments do not form a tree")
            for d in ready:
                ids[d["code"]] = conn.execute(
                    sa.insert(DEPARTMENT).returning(DEPARTMENT.c.id),
                    {
                        "code": d["code"],
                        "name": d["name"],
                        "parent_id": ids[d["parent"]] if d["parent"] else None,
                        "digest_email": d["digest_email"],
                        "created_at": now,
                        "closed_at": d["closed_at"],
                    },
                ).scalar_one()
                events.append(
                    ("department.created", d["code"], {"name": d["name"], "imported": True})
                )
            waiting = [d for d in waiting if d not in ready]
        return events


class _Writer:
    """Writes checked entries, a chunk at a time, inside the import's one transaction."""

    def __init__(self, conn: sa.Connection, imported: Iterable[ProtocolRef]) -> None:
        self._conn = conn
        self._books = _codes(conn, BOOK)
        self._departments = _codes(conn, DEPARTMENT)
        self._imported = set(imported)
        #: New ids of the entries written so far.
        self.ids: dict[ProtocolRef, int] = {}
        self._assignments: dict[int, int] = {}
        # References to imported entries not written yet (a later book or year of the export).
        self._relations: list[tuple[int, ProtocolRef]] = []
        self._replies: list[tuple[int, ProtocolRef]] = []

    def _id(self, ref: ProtocolRef) -> int | None:
        """The id of ``ref`` if written or in the archive already; None if still to come."""
        if ref in self.ids:
            return self.ids[ref]
        return None if ref in self._imported else _registration_id(self._conn, ref)

    def write(self, chunk: Sequence[_Entry]) -> None:
        """Insert ``chunk``'s registrations, then their files and history."""
        rows = [
            {
                **{name: entry[name] for name in (*_REGISTRATION_FIELDS, "sender_date")},
                "book_id": self._books[ref.book],
                "registered_at": entry["registered_at"],
            }
            for ref, entry in chunk
        ]
        new = {
            (book_id, year, number): reg_id
            for book_id, year, number, reg_id in self._conn.execute(INSERT_REGISTRATIONS, rows)
        }
        for ref, _ in chunk:
            self.ids[ref] = new[self._books[ref.book], ref.year, ref.number]
        history: dict[sa.Table, list[dict[str, Any]]] = defaultdict(list)
        for ref, entry in chunk:
            reg_id = self.ids[ref]
            history[FILE].extend(
                {
                    **f,
                    "registration_id": reg_id,
                    "position": i,
                    "storage_key": blob_key(f["sha256"]),
                }
                for i, f in enumerate(entry["files"])
            )
            for text in entry["related"]:
                related = ProtocolRef.parse(text)
                related_id = self._id(related)
                if related_id is None:
                    self._relations.append((reg_id, related))
                else:
                    history[RELATION].append({"registration_id": reg_id, "related_id": related_id})
            if entry["cancellation"] is not None:
                history[CANCELLATION].append({**entry["cancellation"], "registration_id": reg_id})
            history[CORRECTION].extend(
                {**c, "registration_id": reg_id} for c in entry["corrections"]
            )
            if entry["seal"] is not None:
                history[SEAL].append({**entry["seal"], "registration_id": reg_id})
        for table, batch in history.items():
            if batch:
                self._conn.execute(sa.insert(table), batch)
        for ref, entry in chunk:
            for a in entry["assignments"]:
                self._assign(self.ids[ref], a)

    def _assign(self, reg_id: int, a: Mapping[str, Any]) -> None:
        reply = ProtocolRef.parse(a["reply"]) if a["reply"] else None
        reply_id = self._id(reply) if reply is not None else None
        forwarded = a["forwarded_from_id"]
        new_id = self._conn.execute(
            sa.insert(ASSIGNMENT).returning(ASSIGNMENT.c.id),
            {
                **{k: v for k, v in a.items() if k not in ("id", "department", "reply")},
                "registration_id": reg_id,
                "department_id": self._departments[a["department"]],
                "forwarded_from_id": self._assignments[forwarded] if forwarded else None,
                "reply_registration_id": reply_id,
            },
        ).scalar_one()
        self._assignments[a["id"]] = new_id
        if reply is not None and reply_id is None:
            self._replies.append((new_id, reply))

    def finish(self, series: Iterable[Series]) -> None:
        """Write the references that pointed ahead, and the counters of the imported years."""
        if self._relations:
            self._conn.execute(
                sa.insert(RELATION),
                [{"registration_id": r, "related_id": self.ids[ref]} for r, ref in self._relations],
            )
        for assignment_id, ref in self._replies:
            self._conn.execute(
                sa.update(ASSIGNMENT)
                .where(ASSIGNMENT.c.id == assignment_id)
                .values(reply_registration_id=self.ids[ref])
            )
        self._conn.execute(
            sa.insert(COUNTER),
            [
                {"book_id": self._books[s.book], "year": s.year, "last_number": s.count}
                for s in series
            ],
        )


def _codes(conn: sa.Connection, table: sa.Table) -> dict[str, int]:
    """The ids of a table's rows by their codes (books, departments)."""
    return dict(conn.execute(sa.select(table.c.code, table.c.id)).all())


def _registration_id(conn: sa.Connection, ref: ProtocolRef) -> int:
    """The id of a registration of this archive that imported records refer to."""
    try:
        return int(registration_row(conn, ref)["id"])
    except RegistrationNotFound as exc:
        raise InvalidTransfer(
            f"the export refers to {ref}, which neither it nor this archive holds"
        ) from exc


def _items(
    reference: Mapping[str, Any], name: str, texts: Mapping[str, tuple[int, bool]]
) -> list[dict[str, Any]]:
    """The list ``name`` of the reference data; each text field ``key: (max length, required)``."""
    items = reference.get(name)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidTransfer(f"the export's {name} are not a list of records")
    try:
        return [
            {
                **item,
                **{
                    key: validation.text(item.get(key), key, limit, required=required)
                    for key, (limit, required) in texts.items()
                },
            }
            for item in items
        ]
    except InvalidInput as exc:
        raise InvalidTransfer(f"the export's {name}: {exc.message}") from exc


def _when(value: object, field: str) -> datetime:
    """An ISO 8601 instant with its offset."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an ISO 8601 date-time", field=field)
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise InvalidInput(f"{field} must carry its UTC offset", field=field)
    return instant.astimezone(UTC)


def _optional_when(value: object, field: str) -> datetime | None:
    return None if value is None else _when(value, field)


def _registration(record: Mapping[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """One registration record, checked by the rules a new registration meets."""
    values: dict[str, Any] = {
        name: rule(record[name]) for name, rule in validation.CORRECTABLE.items()
    }
    registered_at = _when(record["registered_at"], "registered_at")
    year, number = record["year"], record["number"]
    if not isinstance(year, int) or not isinstance(number, int) or number < 1:
        raise InvalidInput("year and number must be whole numbers", field="number")
    if registered_at.astimezone(tz).year != year:
        raise InvalidInput(
            f"number {number}/{year} was registered in {registered_at.astimezone(tz).year}",
            field="registered_at",
        )
    files = [_file(f) for f in record["files"]]
    cancellation = record["cancellation"]
    status = validation.choice(record["status"], Status, "status")
    if (status == Status.CANCELLED) != (cancellation is not None):
        raise InvalidInput("a cancelled registration, and only one, has a cancellation")
    cancelled = (
        None
        if cancellation is None
        else {
            "reason": validation.required_text(
                cancellation["reason"], "reason", validation.REASON_MAX, multiline=True
            ),
            "authorisation": validation.required_text(
                cancellation["authorisation"], "authorisation", validation.AUTHORISATION_MAX
            ),
            "cancelled_by": validation.actor(cancellation["cancelled_by"]),
            "cancelled_at": _when(cancellation["cancelled_at"], "cancelled_at"),
        }
    )
    assignments = [_assignment(a) for a in record["assignments"]]
    if cancelled is not None:
        # Archives before 2026-12-02 left a cancelled entry's work open; it ends as it does now.
        for a in assignments:
            if a["state"] in OPEN_STATES:
                a.update(
                    state=AssignmentState.WITHDRAWN.value,
                    closed_by=cancelled["cancelled_by"],
                    closed_at=cancelled["cancelled_at"],
                )
    return {
        **values,
        "book": validation.required_text(record["book"], "book", BOOK_CODE_MAX),
        "year": year,
        "number": number,
        "registered_at": registered_at,
        "registered_by": validation.actor(record["registered_by"]),
        "status": status.value,
        "related": [str(ProtocolRef.parse(r)) for r in record["related"]],
        "files": files,
        "cancellation": cancelled,
        "corrections": [
            {
                **{n: c[n] for n in _CORRECTION_FIELDS},
                "field": _correctable(c["field"]),
                "corrected_by": validation.actor(c["corrected_by"]),
                "corrected_at": _when(c["corrected_at"], "corrected_at"),
            }
            for c in record["corrections"]
        ],
        "assignments": assignments,
        "seal": _seal(record["seal"]),
    }


def _correctable(field: object) -> str:
    if field not in validation.CORRECTABLE_FIELDS:
        raise InvalidInput(f"{field!r} is not a correctable field", field="corrections")
    return str(field)


def _list_of(value: object, kind: type, field: str) -> list[Any]:
    if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
        raise InvalidInput(f"{field} must be a list", field=field)
    return value


def _sha256(value: object) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InvalidInput("a SHA-256 must be 64 lower-case hex digits", field="sha256")
    return value


def _file(record: Mapping[str, Any]) -> dict[str, Any]:
    sha = _sha256(record["sha256"])
    size = record["size"]
    if not isinstance(size, int) or size < 1:
        raise InvalidInput("a file's size must be a positive whole number", field="size")
    return {
        "role": validation.file_role(record["role"]).value,
        "filename": validation.required_text(record["filename"], "filename", 255),
        "media_type": validation.required_text(record["media_type"], "media_type", 255),
        "size": size,
        "sha256": sha,
        "warnings": _list_of(record["warnings"], str, "warnings"),
        "signatures": _list_of(record["signatures"], dict, "signatures"),
    }


def _whole(value: object, field: str, *, required: bool = True) -> int | None:
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{field} must be a whole number", field=field)
    return value


def _assignment(record: Mapping[str, Any]) -> dict[str, Any]:
    due = record["due"]
    return {
        "id": _whole(record["id"], "id"),
        "forwarded_from_id": _whole(record["forwarded_from_id"], "forwarded_from", required=False),
        "department": validation.required_text(
            record["department"], "department", DEPARTMENT_CODE_MAX
        ),
        "assignee": validation.text(record["assignee"], "assignee", 64, required=False),
        "purpose": validation.choice(record["purpose"], Purpose, "purpose").value,
        "state": validation.choice(record["state"], AssignmentState, "state").value,
        "note": validation.text(record["note"], "note", 1000, required=False, multiline=True),
        "return_reason": validation.text(
            record["return_reason"], "return_reason", validation.REASON_MAX, required=False
        ),
        "created_by": validation.actor(record["created_by"]),
        "created_at": _when(record["created_at"], "created_at"),
        "accepted_by": validation.text(record["accepted_by"], "accepted_by", 64, required=False),
        "accepted_at": _optional_when(record["accepted_at"], "accepted_at"),
        "closed_by": validation.text(record["closed_by"], "closed_by", 64, required=False),
        "closed_at": _optional_when(record["closed_at"], "closed_at"),
        "due": None if due is None else date.fromisoformat(due),
        "reply": None if record["reply"] is None else str(ProtocolRef.parse(record["reply"])),
    }


def _seal(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    fields = record["fields"]
    if fields is not None and not (
        isinstance(fields, dict) and all(isinstance(v, str) for v in fields.values())
    ):
        raise InvalidInput("a seal's fields must be texts by name", field="seal")
    return {
        "verification_code": validation.required_text(
            record["verification_code"], "verification_code", 32
        ),
        "title": validation.required_text(record["title"], "title", 1000),
        "sha256": _sha256(record["sha256"]),
        "template": validation.text(record["template"], "template", 64, required=False),
        "fields": fields,
    }
