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
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from eprotocol.core import validation
from eprotocol.core.audit import Entry, lock_chain
from eprotocol.core.database import Database
from eprotocol.core.errors import Conflict, InvalidInput, InvalidTransfer
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
from eprotocol.core.outbox import emit_all
from eprotocol.core.ports import BlobStore, Clock, blob_key
from eprotocol.core.registry import INSERT_REGISTRATIONS, years_later
from eprotocol.core.routing import Routing
from eprotocol.core.types import (
    AssignmentState,
    Disposal,
    ProtocolRef,
    Purpose,
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
_FILE_FIELDS = ("role", "filename", "media_type", "size", "sha256", "warnings", "signatures")
_CANCELLATION_FIELDS = ("reason", "authorisation", "cancelled_by")
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


def _ref(book: str | None, year: int | None, number: int | None) -> str | None:
    return None if book is None or year is None or number is None else f"{book}:{number}/{year}"


class Transfer:
    """Reads whole book-years out as records, and writes records in as registrations."""

    def __init__(
        self,
        db: Database,
        store: BlobStore,
        clock: Clock,
        routing: Routing,
        *,
        timezone: str,
        default_retention_years: int,
    ) -> None:
        self._db = db
        self._store = store
        self._clock = clock
        self._routing = routing
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

    def reference(self) -> dict[str, list[dict[str, Any]]]:
        """The books, filing plan and departments, as records (whole: they are small)."""
        parent = DEPARTMENT.alias("parent")
        with self._db.read() as conn:
            books = conn.execute(sa.select(BOOK.c.code, BOOK.c.name).order_by(BOOK.c.code))
            plan = conn.execute(sa.select(CLASSIFICATION).order_by(CLASSIFICATION.c.code))
            departments = conn.execute(
                sa.select(
                    DEPARTMENT.c.code,
                    DEPARTMENT.c.name,
                    parent.c.code.label("parent"),
                    DEPARTMENT.c.digest_email,
                )
                .outerjoin(parent, parent.c.id == DEPARTMENT.c.parent_id)
                .order_by(DEPARTMENT.c.id)
            )
            return {
                "books": [dict(r) for r in books.mappings()],
                "classifications": [dict(r) for r in plan.mappings()],
                "departments": [dict(r) for r in departments.mappings()],
            }

    def records(self, series: Series, batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every registration of ``series`` as a record, in number order."""
        for first in range(1, series.count + 1, batch):
            with self._db.read() as conn:
                yield from self._records(conn, series, first, first + batch - 1)

    def _records(
        self, conn: sa.Connection, series: Series, first: int, last: int
    ) -> list[dict[str, Any]]:
        rows = list(
            conn.execute(
                sa.select(REGISTRATION)
                .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
                .where(
                    BOOK.c.code == series.book,
                    REGISTRATION.c.year == series.year,
                    REGISTRATION.c.number.between(first, last),
                )
                .order_by(REGISTRATION.c.number)
            ).mappings()
        )
        ids = [r["id"] for r in rows]
        records: dict[int, dict[str, Any]] = {
            r["id"]: {
                "book": series.book,
                **{name: r[name] for name in _REGISTRATION_FIELDS},
                "registered_at": _instant(r["registered_at"]),
                "sender_date": _day(r["sender_date"]),
                "related": [],
                "files": [],
                "cancellation": None,
                "corrections": [],
                "assignments": [],
                "seal": None,
            }
            for r in rows
        }
        for f in conn.execute(
            sa.select(FILE).where(FILE.c.registration_id.in_(ids)).order_by(FILE.c.position)
        ).mappings():
            records[f["registration_id"]]["files"].append({n: f[n] for n in _FILE_FIELDS})
        target, target_book = REGISTRATION.alias("target"), BOOK.alias("target_book")
        for reg_id, code, year, number in conn.execute(
            sa.select(
                RELATION.c.registration_id, target_book.c.code, target.c.year, target.c.number
            )
            .join(target, target.c.id == RELATION.c.related_id)
            .join(target_book, target_book.c.id == target.c.book_id)
            .where(RELATION.c.registration_id.in_(ids))
            .order_by(target_book.c.code, target.c.year, target.c.number)
        ):
            records[reg_id]["related"].append(_ref(code, year, number))
        for c in conn.execute(
            sa.select(CANCELLATION).where(CANCELLATION.c.registration_id.in_(ids))
        ).mappings():
            records[c["registration_id"]]["cancellation"] = {
                **{n: c[n] for n in _CANCELLATION_FIELDS},
                "cancelled_at": _instant(c["cancelled_at"]),
            }
        for c in conn.execute(
            sa.select(CORRECTION)
            .where(CORRECTION.c.registration_id.in_(ids))
            .order_by(CORRECTION.c.id)
        ).mappings():
            records[c["registration_id"]]["corrections"].append(
                {
                    **{n: c[n] for n in _CORRECTION_FIELDS},
                    "corrected_at": _instant(c["corrected_at"]),
                }
            )
        for reg_id, assignments in self._routing.for_registrations(conn, ids).items():
            records[reg_id]["assignments"] = [
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
                for a in assignments
            ]
        for s in conn.execute(sa.select(SEAL).where(SEAL.c.registration_id.in_(ids))).mappings():
            records[s["registration_id"]]["seal"] = {n: s[n] for n in _SEAL_FIELDS}
        return list(records.values())

    # -- import ----------------------------------------------------------------

    def take_in(
        self,
        reference: Mapping[str, Any],
        records: Sequence[Mapping[str, Any]],
        open_file: Callable[[str], IO[bytes]],
        *,
        by: str,
        source: Mapping[str, str],
    ) -> TransferReport:
        """Import ``records`` (all checked first), their files read with ``open_file(sha256)``.

        ``reference`` holds the export's books, filing plan and departments; those
        the archive lacks are created. ``source`` describes the export (its
        organisation, date, audit-chain head) for the audit events.
        """
        actor = validation.actor(by)
        plan = _Plan(reference, records, self._tz)
        with self._db.read() as conn:
            plan.check_target(conn)
        blobs = plan.blobs(plan.retention_years(self._retention_years()), self._default_retention)

        def store(sha: str) -> None:
            size, until = blobs[sha]
            with open_file(sha) as source_file:
                self._store.put(source_file, sha256=sha, size=size, retain_until=until)

        # Each store waits on a disk flush or a round trip; several at once keep the disk or
        # the S3 server busy (a year of a municipality is over 100,000 files).
        # The first failure stops the rest: a storage outage must not wait out every timeout.
        pool = ThreadPoolExecutor(_PARALLEL_STORES)
        try:
            for _ in pool.map(store, blobs):
                pass
        finally:
            pool.shutdown(cancel_futures=True)
        with self._db.write() as conn:
            chain = lock_chain(conn)
            now = self._clock.now()
            created = plan.create_reference(conn, now)
            plan.check_target(conn)  # again, under the write lock: nothing may have slipped in
            ids = plan.insert(conn)
            chain.append_all(
                [Entry(actor, action, target, details, now) for action, target, details in created]
                + [
                    Entry(
                        actor,
                        "registration.imported",
                        str(ref),
                        {
                            "source": dict(source),
                            "registered_at": _instant(record["registered_at"]),
                            "registered_by": record["registered_by"],
                            "status": record["status"],
                            "files": [
                                {"filename": f["filename"], "sha256": f["sha256"]}
                                for f in record["files"]
                            ],
                        },
                        now,
                    )
                    for ref, record in plan.entries
                ]
            )
            emit_all(
                conn,
                [("registration.created", {"registration_id": i}, now) for i in ids],
            )
        return TransferReport(
            series=plan.series,
            registrations=len(plan.entries),
            files=len(blobs),
            bytes=sum(size for size, _ in blobs.values()),
        )

    def _retention_years(self) -> dict[str, int]:
        with self._db.read() as conn:
            query = sa.select(CLASSIFICATION.c.code, CLASSIFICATION.c.retention_years)
            return dict(conn.execute(query).all())


class _Plan:
    """The records of an import, checked against each other and against the archive."""

    def __init__(
        self, reference: Mapping[str, Any], records: Sequence[Mapping[str, Any]], tz: ZoneInfo
    ) -> None:
        self.books = _items(reference, "books", {"code": (32, True), "name": (200, True)})
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
                "code": (32, True),
                "name": (200, True),
                "parent": (32, False),
                "digest_email": (254, False),
            },
        )
        self.entries: list[tuple[ProtocolRef, dict[str, Any]]] = []
        numbers: dict[tuple[str, int], list[int]] = defaultdict(list)
        for line, record in enumerate(records, 1):
            try:
                entry = _registration(record, tz)
            except (InvalidInput, KeyError, TypeError, ValueError, AttributeError) as exc:
                problem = exc.message if isinstance(exc, InvalidInput) else f"{exc!r}"
                raise InvalidTransfer(f"registration record {line}: {problem}") from exc
            ref = ProtocolRef(entry["book"], entry["year"], entry["number"])
            self.entries.append((ref, entry))
            numbers[ref.book, ref.year].append(ref.number)
        if not self.entries:
            raise InvalidTransfer("the export holds no registrations")
        series = []
        for (book, year), taken in sorted(numbers.items()):
            if sorted(taken) != list(range(1, len(taken) + 1)):
                raise InvalidTransfer(
                    f"the numbers of book {book} in {year} do not run from 1 without gaps "
                    "or repeats; only whole protocol years can be imported"
                )
            series.append(Series(book, year, len(taken)))
        self.series = tuple(series)
        self.refs = {ref for ref, _ in self.entries}
        self._check_names()

    def _check_names(self) -> None:
        books = {b["code"] for b in self.books}
        plan = {c["code"] for c in self.plan}
        departments = {d["code"] for d in self.departments}
        for ref, entry in self.entries:
            missing = [f"book {ref.book}"] if ref.book not in books else []
            heading = entry["classification_code"]
            if heading is not None and heading not in plan:
                missing.append(f"heading {heading}")
            missing.extend(
                f"department {a['department']}"
                for a in entry["assignments"]
                if a["department"] not in departments
            )
            if missing:
                raise InvalidTransfer(
                    f"registration {ref} names {', '.join(missing)}, "
                    "which the export does not describe"
                )

    def retention_years(self, archive: Mapping[str, int]) -> dict[str, int]:
        """Retention by heading: the archive's where it has the heading, else the export's."""
        return {**{c["code"]: int(c["retention_years"]) for c in self.plan}, **archive}

    def blobs(
        self, retention: Mapping[str, int], default_years: int
    ) -> dict[str, tuple[int, datetime]]:
        """Each distinct file: its size and the latest retention date any entry gives it."""
        found: dict[str, tuple[int, datetime]] = {}
        for _, entry in self.entries:
            code = entry["classification_code"]
            years = retention[code] if code is not None else default_years
            until = years_later(entry["registered_at"], years)
            for f in entry["files"]:
                size, kept = found.get(f["sha256"], (f["size"], until))
                if size != f["size"]:
                    raise InvalidTransfer(f"file {f['sha256']} is given two different sizes")
                found[f["sha256"]] = (size, max(kept, until))
        return found

    def check_target(self, conn: sa.Connection) -> None:
        """Refuse unless every imported series is empty here and no code is taken."""
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
        codes = [e["seal"]["verification_code"] for _, e in self.entries if e["seal"]]
        if codes:
            used = conn.execute(
                sa.select(SEAL.c.verification_code).where(SEAL.c.verification_code.in_(codes))
            ).first()
            if used is not None:
                raise Conflict(f"verification code {used[0]} is already used in this archive")

    def create_reference(
        self, conn: sa.Connection, now: datetime
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """Create the books, headings and departments the archive lacks; return audit events."""
        events: list[tuple[str, str, dict[str, Any]]] = []
        have = set(conn.execute(sa.select(BOOK.c.code)).scalars())
        for b in self.books:
            if b["code"] not in have:
                conn.execute(sa.insert(BOOK), {**b, "created_at": now})
                events.append(("book.created", b["code"], {"name": b["name"], "imported": True}))
        have = set(conn.execute(sa.select(CLASSIFICATION.c.code)).scalars())
        for c in self.plan:
            if c["code"] not in have:
                conn.execute(sa.insert(CLASSIFICATION), c)
                events.append(("classification.created", c["code"], {**c, "imported": True}))
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
                        "parent_id": ids.get(d["parent"]) if d["parent"] else None,
                        "digest_email": d.get("digest_email"),
                        "created_at": now,
                    },
                ).scalar_one()
                events.append(
                    ("department.created", d["code"], {"name": d["name"], "imported": True})
                )
            waiting = [d for d in waiting if d not in ready]
        return events

    def insert(self, conn: sa.Connection) -> list[int]:
        """Write every entry with its history and set the counters; return the new ids."""
        books = _codes(conn, BOOK)
        departments = _codes(conn, DEPARTMENT)
        rows = [
            {
                **{name: entry[name] for name in (*_REGISTRATION_FIELDS, "sender_date")},
                "book_id": books[ref.book],
                "registered_at": entry["registered_at"],
            }
            for ref, entry in self.entries
        ]
        new_ids = {
            (book_id, year, number): reg_id
            for chunk in range(0, len(rows), _BATCH)
            for book_id, year, number, reg_id in conn.execute(
                INSERT_REGISTRATIONS, rows[chunk : chunk + _BATCH]
            )
        }
        ids = {ref: new_ids[books[ref.book], ref.year, ref.number] for ref, _ in self.entries}
        resolve = _Resolver(conn, ids)
        history: dict[sa.Table, list[dict[str, Any]]] = defaultdict(list)
        for ref, entry in self.entries:
            reg_id = ids[ref]
            history[FILE].extend(
                {
                    **f,
                    "registration_id": reg_id,
                    "position": position,
                    "storage_key": blob_key(f["sha256"]),
                }
                for position, f in enumerate(entry["files"])
            )
            history[RELATION].extend(
                {"registration_id": reg_id, "related_id": resolve(related)}
                for related in entry["related"]
            )
            if entry["cancellation"] is not None:
                history[CANCELLATION].append({**entry["cancellation"], "registration_id": reg_id})
            history[CORRECTION].extend(
                {**c, "registration_id": reg_id} for c in entry["corrections"]
            )
            if entry["seal"] is not None:
                history[SEAL].append({**entry["seal"], "registration_id": reg_id})
        for table, batch in history.items():
            if batch:
                conn.execute(sa.insert(table), batch)
        assignment_ids: dict[int, int] = {}
        for ref, entry in self.entries:
            reg_id = ids[ref]
            for a in entry["assignments"]:
                kept = {k: v for k, v in a.items() if k not in ("id", "department", "reply")}
                forwarded = a["forwarded_from_id"]
                if forwarded is not None and forwarded not in assignment_ids:
                    raise InvalidTransfer(
                        f"assignment {a['id']} of {ref} was forwarded from an assignment "
                        "the export does not hold"
                    )
                assignment_ids[a["id"]] = conn.execute(
                    sa.insert(ASSIGNMENT).returning(ASSIGNMENT.c.id),
                    {
                        **kept,
                        "registration_id": reg_id,
                        "department_id": departments[a["department"]],
                        "forwarded_from_id": assignment_ids.get(forwarded) if forwarded else None,
                        "reply_registration_id": resolve(a["reply"]) if a["reply"] else None,
                    },
                ).scalar_one()
        for s in self.series:
            conn.execute(
                sa.insert(COUNTER),
                {"book_id": books[s.book], "year": s.year, "last_number": s.count},
            )
        return list(ids.values())


def _codes(conn: sa.Connection, table: sa.Table) -> dict[str, int]:
    """The ids of a table's rows by their codes (books, departments)."""
    return dict(conn.execute(sa.select(table.c.code, table.c.id)).all())


class _Resolver:
    """Protocol references of an import: to imported entries, or to the archive's own."""

    def __init__(self, conn: sa.Connection, imported: Mapping[ProtocolRef, int]) -> None:
        self._conn = conn
        self._imported = imported

    def __call__(self, text: str) -> int:
        ref = ProtocolRef.parse(text)
        if ref in self._imported:
            return self._imported[ref]
        found = self._conn.execute(
            sa.select(REGISTRATION.c.id)
            .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
            .where(
                BOOK.c.code == ref.book,
                REGISTRATION.c.year == ref.year,
                REGISTRATION.c.number == ref.number,
            )
        ).scalar()
        if found is None:
            raise InvalidTransfer(
                f"the export refers to {ref}, which neither it nor this archive holds"
            )
        return int(found)


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
    return {
        **values,
        "book": validation.required_text(record["book"], "book", 32),
        "year": year,
        "number": number,
        "registered_at": registered_at,
        "registered_by": validation.actor(record["registered_by"]),
        "status": status.value,
        "related": [str(ProtocolRef.parse(r)) for r in record["related"]],
        "files": files,
        "cancellation": None
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
        },
        "corrections": [
            {
                **{n: c[n] for n in _CORRECTION_FIELDS},
                "field": _correctable(c["field"]),
                "corrected_by": validation.actor(c["corrected_by"]),
                "corrected_at": _when(c["corrected_at"], "corrected_at"),
            }
            for c in record["corrections"]
        ],
        "assignments": [_assignment(a) for a in record["assignments"]],
        "seal": _seal(record["seal"]),
    }


def _correctable(field: object) -> str:
    if field not in validation.CORRECTABLE:
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
        "department": validation.required_text(record["department"], "department", 32),
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
