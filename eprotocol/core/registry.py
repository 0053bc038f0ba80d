"""The protocol book: registering, reading, listing, cancelling and correcting entries.

This is the registration transaction of DESIGN.md: validate, store blobs
(content-addressed, nothing numbered yet), then one database transaction that
takes the number and writes the entry, its files, its audit event and its
outbox rows together.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from eprotocol.core import validation
from eprotocol.core.audit import lock_chain
from eprotocol.core.database import Database
from eprotocol.core.errors import (
    AlreadyCancelled,
    ImmutableField,
    InvalidInput,
    InvalidReference,
    RegistrationNotFound,
    UnknownBook,
)
from eprotocol.core.models import (
    BookRow,
    CancellationRow,
    CorrectionRow,
    FileRow,
    RegistrationRow,
    RelationRow,
)
from eprotocol.core.numbering import next_number
from eprotocol.core.outbox import emit
from eprotocol.core.ports import BlobInfo, BlobStore, Clock, ContentSniffer
from eprotocol.core.types import (
    Cancellation,
    Channel,
    Correction,
    Direction,
    FileInput,
    FileRole,
    NewRegistration,
    Page,
    ProtocolRef,
    Registration,
    RegistrationFilter,
    Status,
    StoredFile,
)

_CHUNK = 1024 * 1024
_SNIFF = 64 * 1024
MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class _StagedFile:
    role: FileRole
    filename: str
    media_type: str
    blob: BlobInfo


def _chunks(content: bytes | Any) -> Iterator[bytes]:
    if isinstance(content, bytes | bytearray | memoryview):
        yield bytes(content)
        return
    while chunk := content.read(_CHUNK):
        yield chunk


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


class Registry:
    """Operations on the protocol books of one archive."""

    def __init__(
        self,
        db: Database,
        store: BlobStore,
        sniffer: ContentSniffer,
        clock: Clock,
        tz: ZoneInfo,
        default_book: str,
    ) -> None:
        self._db = db
        self._store = store
        self._sniffer = sniffer
        self._clock = clock
        self._tz = tz
        self._default_book = default_book
        # Books are few and almost never change: cache code <-> id, reload on a miss.
        self._books: dict[str, int] = {}
        self._book_codes: dict[int, str] = {}

    # -- books ---------------------------------------------------------------

    def _refresh_books(self, session: Session) -> None:
        books = {b.code: b.id for b in session.exec(select(BookRow)).all() if b.id is not None}
        self._book_codes = {book_id: code for code, book_id in books.items()}
        self._books = books

    def _book_id(self, session: Session, code: str) -> int:
        if code not in self._books:
            self._refresh_books(session)
        try:
            return self._books[code]
        except KeyError:
            raise UnknownBook(f"there is no protocol book {code!r}", field="book") from None

    def _code(self, session: Session, book_id: int) -> str:
        if book_id not in self._book_codes:
            self._refresh_books(session)
        return self._book_codes[book_id]

    def year_of(self, instant: datetime) -> int:
        """The protocol year of an instant: its calendar year in the archive's time zone."""
        return instant.astimezone(self._tz).year

    # -- register ------------------------------------------------------------

    def _stage(self, file: FileInput) -> _StagedFile:
        filename = validation.clean_filename(file.filename)
        role = validation.file_role(file.role)
        chunks = _chunks(file.content)
        head = b""
        for chunk in chunks:
            head += chunk
            if len(head) >= _SNIFF:
                break
        media_type = self._sniffer.media_type(head)
        blob = self._store.put(itertools.chain((head,), chunks))
        return _StagedFile(role=role, filename=filename, media_type=media_type, blob=blob)

    def _resolve(self, session: Session, refs: Sequence[ProtocolRef]) -> list[int]:
        ids = []
        for ref in refs:
            try:
                ids.append(self._row(session, ref).id or 0)
            except (RegistrationNotFound, UnknownBook):
                raise InvalidReference(
                    f"related registration {ref} does not exist", field="related"
                ) from None
        return ids

    def register(
        self, data: NewRegistration, files: Sequence[FileInput], *, by: str
    ) -> Registration:
        """Number and record a new entry; see the module docstring for the steps."""
        clean = validation.clean_registration(data, default_book=self._default_book)
        actor = validation.actor(by)
        if files and sum(1 for f in files if f.role == FileRole.MAIN) > 1:
            raise InvalidInput("a registration has at most one main document", field="files")
        with self._db.read() as session:
            book_id = self._book_id(session, clean.book)
            related_ids = self._resolve(session, clean.related)
        staged = [self._stage(f) for f in files]

        with self._db.write() as session:
            chain = lock_chain(session)
            now = self._clock.now()
            year = self.year_of(now)
            number = next_number(session, book_id, year)
            row = RegistrationRow(
                book_id=book_id,
                year=year,
                number=number,
                registered_at=now,
                registered_by=actor,
                status=Status.ACTIVE,
                **clean.values,
            )
            session.add(row)
            session.flush()
            assert row.id is not None  # noqa: S101 - flush assigns the key
            for related_id in related_ids:
                session.add(RelationRow(registration_id=row.id, related_id=related_id))
            file_rows = [
                FileRow(
                    registration_id=row.id,
                    position=position,
                    role=f.role,
                    filename=f.filename,
                    media_type=f.media_type,
                    size=f.blob.size,
                    sha256=f.blob.sha256,
                    storage_key=f.blob.key,
                )
                for position, f in enumerate(staged)
            ]
            session.add_all(file_rows)
            session.flush()
            ref = ProtocolRef(clean.book, year, number)
            chain.append(
                actor=actor,
                action="registration.created",
                target=str(ref),
                details={
                    "direction": row.direction,
                    "subject": row.subject,
                    "files": [{"filename": f.filename, "sha256": f.blob.sha256} for f in staged],
                },
                at=now,
            )
            emit(session, "registration.created", {"registration_id": row.id}, at=now)
        return self._view(
            row,
            clean.book,
            related=clean.related,
            files=file_rows,
            cancellation=None,
            corrections=[],
        )

    # -- read ----------------------------------------------------------------

    def _row(self, session: Session, ref: ProtocolRef) -> RegistrationRow:
        book_id = self._book_id(session, ref.book)
        row = session.exec(
            select(RegistrationRow).where(
                RegistrationRow.book_id == book_id,
                RegistrationRow.year == ref.year,
                RegistrationRow.number == ref.number,
            )
        ).first()
        if row is None:
            raise RegistrationNotFound(f"there is no registration {ref}")
        return row

    def get(self, ref: ProtocolRef) -> Registration:
        """One entry with its files, cancellation and corrections."""
        with self._db.read() as session:
            row = self._row(session, ref)
            return self._views(session, [row])[0]

    def page(
        self, filters: RegistrationFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Entries matching ``filters``, newest first, ``limit`` at a time."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        with self._db.read() as session:
            query = select(RegistrationRow)
            if filters.book is not None:
                query = query.where(RegistrationRow.book_id == self._book_id(session, filters.book))
            if filters.year is not None:
                query = query.where(RegistrationRow.year == filters.year)
            if filters.direction is not None:
                direction = validation.choice(filters.direction, Direction, "direction")
                query = query.where(RegistrationRow.direction == direction.value)
            if filters.status is not None:
                status = validation.choice(filters.status, Status, "status")
                query = query.where(RegistrationRow.status == status.value)
            if filters.registered_from is not None:
                query = query.where(col(RegistrationRow.registered_at) >= filters.registered_from)
            if filters.registered_to is not None:
                query = query.where(col(RegistrationRow.registered_at) < filters.registered_to)
            if cursor is not None:
                query = query.where(col(RegistrationRow.id) < _decode_cursor(cursor))
            rows = session.exec(
                query.order_by(col(RegistrationRow.id).desc()).limit(limit + 1)
            ).all()
            more = len(rows) > limit
            rows = rows[:limit]
            items = self._views(session, rows)
        next_cursor = _encode_cursor(rows[-1].id or 0) if more and rows else None
        return Page(items=tuple(items), next_cursor=next_cursor)

    def _views(self, session: Session, rows: Sequence[RegistrationRow]) -> list[Registration]:
        ids = [r.id for r in rows]
        files: dict[int, list[FileRow]] = {i: [] for i in ids if i}
        for f in session.exec(
            select(FileRow)
            .where(col(FileRow.registration_id).in_(ids))
            .order_by(col(FileRow.position))
        ):
            files[f.registration_id].append(f)
        related: dict[int, list[ProtocolRef]] = {i: [] for i in ids if i}
        for rel, target in session.exec(
            select(RelationRow, RegistrationRow)
            .join(RegistrationRow, col(RegistrationRow.id) == col(RelationRow.related_id))
            .where(col(RelationRow.registration_id).in_(ids))
        ):
            related[rel.registration_id].append(
                ProtocolRef(self._code(session, target.book_id), target.year, target.number)
            )
        cancellations = {
            c.registration_id: c
            for c in session.exec(
                select(CancellationRow).where(col(CancellationRow.registration_id).in_(ids))
            )
        }
        corrections: dict[int, list[CorrectionRow]] = {i: [] for i in ids if i}
        for c in session.exec(
            select(CorrectionRow)
            .where(col(CorrectionRow.registration_id).in_(ids))
            .order_by(col(CorrectionRow.id))
        ):
            corrections[c.registration_id].append(c)
        return [
            self._view(
                r,
                self._code(session, r.book_id),
                related=sorted(related[r.id or 0]),
                files=files[r.id or 0],
                cancellation=cancellations.get(r.id or 0),
                corrections=corrections[r.id or 0],
            )
            for r in rows
        ]

    def _view(
        self,
        row: RegistrationRow,
        book: str,
        *,
        related: Iterable[ProtocolRef],
        files: Iterable[FileRow],
        cancellation: CancellationRow | None,
        corrections: Iterable[CorrectionRow],
    ) -> Registration:
        return Registration(
            id=row.id or 0,
            book=book,
            year=row.year,
            number=row.number,
            registered_at=row.registered_at.astimezone(self._tz),
            registered_by=row.registered_by,
            direction=Direction(row.direction),
            subject=row.subject,
            sender=row.sender,
            recipients=tuple(row.recipients),
            sender_reference=row.sender_reference,
            sender_date=row.sender_date,
            channel=Channel(row.channel) if row.channel else None,
            classification_code=row.classification_code,
            confidential=row.confidential,
            status=Status(row.status),
            related=tuple(related),
            files=tuple(
                StoredFile(
                    id=f.id or 0,
                    role=FileRole(f.role),
                    filename=f.filename,
                    media_type=f.media_type,
                    size=f.size,
                    sha256=f.sha256,
                    storage_key=f.storage_key,
                )
                for f in files
            ),
            cancellation=None
            if cancellation is None
            else Cancellation(
                reason=cancellation.reason,
                authorisation=cancellation.authorisation,
                cancelled_by=cancellation.cancelled_by,
                cancelled_at=cancellation.cancelled_at.astimezone(self._tz),
            ),
            corrections=tuple(
                Correction(
                    field=c.field,
                    old_value=c.old_value,
                    new_value=c.new_value,
                    reason=c.reason,
                    corrected_by=c.corrected_by,
                    corrected_at=c.corrected_at.astimezone(self._tz),
                )
                for c in corrections
            ),
        )

    def read_file(self, ref: ProtocolRef, file_id: int) -> tuple[StoredFile, Iterator[bytes]]:
        """A file's record and a verifying stream of its bytes."""
        entry = self.get(ref)
        for stored in entry.files:
            if stored.id == file_id:
                return stored, self._store.read(stored.storage_key, sha256=stored.sha256)
        raise RegistrationNotFound(f"registration {ref} has no file {file_id}")

    # -- change --------------------------------------------------------------

    def cancel(self, ref: ProtocolRef, *, reason: str, authorisation: str, by: str) -> Registration:
        """Mark an entry cancelled, for ever; its number is never reused."""
        reason = validation.required_text(reason, "reason", validation.REASON_MAX, multiline=True)
        authorisation = validation.required_text(
            authorisation, "authorisation", validation.AUTHORISATION_MAX
        )
        actor = validation.actor(by)
        with self._db.write() as session:
            chain = lock_chain(session)
            row = self._row(session, ref)
            if row.status == Status.CANCELLED:
                raise AlreadyCancelled(f"registration {ref} is already cancelled")
            now = self._clock.now()
            row.status = Status.CANCELLED
            session.add(row)
            session.add(
                CancellationRow(
                    registration_id=row.id or 0,
                    reason=reason,
                    authorisation=authorisation,
                    cancelled_by=actor,
                    cancelled_at=now,
                )
            )
            chain.append(
                actor=actor,
                action="registration.cancelled",
                target=str(ref),
                details={"reason": reason, "authorisation": authorisation},
                at=now,
            )
            emit(session, "registration.cancelled", {"registration_id": row.id}, at=now)
        return self.get(ref)

    def correct(
        self, ref: ProtocolRef, changes: Mapping[str, Any], *, reason: str, by: str
    ) -> Registration:
        """Change non-system fields, keeping every old value with who and when."""
        for name in changes:
            if name in validation.SYSTEM_FIELDS:
                raise ImmutableField(
                    f"{name} is assigned by the system and never changes", field=name
                )
            if name not in validation.CORRECTABLE:
                raise InvalidInput(f"{name} is not a field of a registration", field=name)
        if not changes:
            raise InvalidInput("a correction must change at least one field", field="changes")
        new_values = {name: validation.CORRECTABLE[name](value) for name, value in changes.items()}
        reason = validation.required_text(reason, "reason", validation.REASON_MAX, multiline=True)
        actor = validation.actor(by)
        with self._db.write() as session:
            chain = lock_chain(session)
            row = self._row(session, ref)
            if row.status == Status.CANCELLED:
                raise AlreadyCancelled(f"registration {ref} is cancelled and cannot be corrected")
            now = self._clock.now()
            diff = {
                name: (_jsonable(getattr(row, name)), _jsonable(value))
                for name, value in new_values.items()
                if _jsonable(getattr(row, name)) != _jsonable(value)
            }
            if not diff:
                raise InvalidInput("the correction changes nothing", field="changes")
            for name in diff:
                setattr(row, name, new_values[name])
                session.add(
                    CorrectionRow(
                        registration_id=row.id or 0,
                        field=name,
                        old_value=diff[name][0],
                        new_value=diff[name][1],
                        reason=reason,
                        corrected_by=actor,
                        corrected_at=now,
                    )
                )
            session.add(row)
            chain.append(
                actor=actor,
                action="registration.corrected",
                target=str(ref),
                details={
                    "reason": reason,
                    "changes": {k: {"old": o, "new": n} for k, (o, n) in diff.items()},
                },
                at=now,
            )
            emit(session, "registration.corrected", {"registration_id": row.id}, at=now)
        return self.get(ref)


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": last_id}).encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))["before"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInput("the paging cursor is not valid", field="cursor") from None
    if not isinstance(value, int):
        raise InvalidInput("the paging cursor is not valid", field="cursor")
    return value
