"""The protocol book: registering, reading, listing, cancelling and correcting entries.

This is the registration transaction of DESIGN.md: validate, store blobs
(content-addressed, nothing numbered yet), then one database transaction that
takes the number and writes the entry, its files, its audit event and its
outbox rows together.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from eprotocol.config import PDF, ArchiveConfig
from eprotocol.core import intake, validation
from eprotocol.core.audit import Entry, lock_chain
from eprotocol.core.batching import GroupCommitter
from eprotocol.core.certificates import (
    DocumentRenderer,
    Seal,
    Signer,
    checks_from_json,
    describe,
    new_verification_code,
    ready_to_sign,
)
from eprotocol.core.database import Database
from eprotocol.core.errors import (
    AlreadyCancelled,
    Conflict,
    ImmutableField,
    InvalidInput,
    InvalidReference,
    NotFound,
    Phrase,
    RefusedFile,
    RegistrationNotFound,
    SigningUnavailable,
    UnknownBook,
)
from eprotocol.core.filing_plan import retention_years, years_later
from eprotocol.core.intake import PdfInspector
from eprotocol.core.models import (
    ASSIGNMENT,
    BOOK,
    CANCELLATION,
    CORRECTION,
    FILE,
    FILE_TEXT,
    ORGANISATION,
    REGISTRATION,
    RELATION,
    SEAL,
    Row,
)
from eprotocol.core.numbering import take_numbers
from eprotocol.core.organisation import NO_DEPARTMENT, DepartmentTree, load_user
from eprotocol.core.outbox import emit, emit_all
from eprotocol.core.ports import BlobInfo, BlobStore, Clock, ContentSniffer, already_stored
from eprotocol.core.queries import registration_row
from eprotocol.core.routing import Routing, assignable, withdraw_open_work
from eprotocol.core.rules import RoutingRules
from eprotocol.core.types import (
    Assignment,
    AssignmentState,
    Cancellation,
    Channel,
    Correction,
    Direction,
    FileInput,
    FileRole,
    NewRegistration,
    Page,
    ProtocolRef,
    Purpose,
    Registration,
    RegistrationFilter,
    RouteTo,
    SignatureCheck,
    Status,
    StoredFile,
)

_CHUNK = 1024 * 1024
_MAX_ID = 2**31 - 1  # ids are PostgreSQL integers
MAX_PAGE = 500

ONE_MAIN = Phrase("one-main-document", "a registration has at most one main document")
FORM_REUSED = Phrase(
    "form-reused",
    "this form (or Idempotency-Key) already registered {number}, with other contents: "
    "a new document needs a new form (or key)",
)
ALREADY_CANCELLED = Phrase("already-cancelled", "registration {ref} is already cancelled")
SELF_RELATED = Phrase("self-related", "a registration cannot be related to itself")
NOT_CORRECTABLE = Phrase(
    "cancelled-not-correctable", "registration {ref} is cancelled and cannot be corrected"
)
NO_CHANGE = Phrase("no-change", "the correction changes nothing")
RELATED_LATER = Phrase(
    "related-later", "{ref} was registered after this entry: relate it to this one instead"
)
NO_RELATED = Phrase("no-related", "related registration {ref} does not exist")

#: A multi-row insert of registrations that returns each new id beside the row's natural key,
#: so the rows need not come back in order (an ordered RETURNING runs row by row on SQLite).
INSERT_REGISTRATIONS = sa.insert(REGISTRATION).returning(
    REGISTRATION.c.book_id, REGISTRATION.c.year, REGISTRATION.c.number, REGISTRATION.c.id
)
_INSERT_FILES = sa.insert(FILE).returning(FILE.c.registration_id, FILE.c.position, FILE.c.id)
_INSERT_RELATIONS = sa.insert(RELATION)
_INSERT_ASSIGNMENTS = sa.insert(ASSIGNMENT)
_NEW_ASSIGNMENTS = (
    sa.select(ASSIGNMENT.c.registration_id, ASSIGNMENT.c.department_id, ASSIGNMENT.c.id)
    .where(ASSIGNMENT.c.registration_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(ASSIGNMENT.c.id)
)
_KNOWN = sa.select(FILE.c.sha256).where(FILE.c.sha256.in_(sa.bindparam("shas", expanding=True)))


@dataclass(frozen=True, slots=True)
class _SpooledFile:
    """An upload copied to a temporary file and accepted by the intake checks."""

    role: FileRole
    filename: str
    media_type: str
    spool: IO[bytes]
    sha256: str
    size: int
    warnings: tuple[str, ...]
    signatures: tuple[SignatureCheck, ...]


@dataclass(frozen=True, slots=True)
class _StagedFile:
    """A checked file, now in the blob store."""

    role: FileRole
    filename: str
    media_type: str
    blob: BlobInfo
    warnings: tuple[str, ...] = ()
    signatures: tuple[SignatureCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class Issue:
    """A document the archive makes once its entry's number is known.

    ``make`` returns the unsigned PDF carrying the seal (a rendered certificate,
    or the clerk's PDF with the seal stamped on); it is signed and stored inside
    the registration's transaction, so a failure consumes no number.
    """

    title: str
    filename: str
    make: Callable[[Seal], bytes]
    template: str | None = None
    fields: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class _Route:
    """A department a registration is routed to in its own transaction."""

    department_id: int
    department: str
    purpose: Purpose
    #: The person registering, or ``rule:ID`` for an automatic rule.
    created_by: str
    #: The automatic rule's name, if a rule routed it.
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class _Pending:
    """A validated registration whose files are stored, waiting for its number."""

    book: str
    book_id: int
    actor: str
    values: dict[str, Any]
    related_ids: list[int]
    staged: list[_StagedFile]
    #: The assignments made in the same transaction.
    routes: list[_Route]
    #: Until when storage keeps the entry's files (a document made in the transaction too).
    retain_until: datetime
    issue: Issue | None = None
    #: The key of the form or request, recorded so that sending it again registers nothing.
    submission: str | None = None


@dataclass(frozen=True, slots=True)
class _Committed:
    """The registration and file rows as written."""

    values: dict[str, Any]
    files: list[dict[str, Any]]
    #: The code of a sealed document made in the transaction.
    verification_code: str | None = None


def _chunks(content: bytes | BinaryIO) -> Iterator[bytes]:
    if isinstance(content, bytes | bytearray | memoryview):
        yield bytes(content)
        return
    while chunk := content.read(_CHUNK):
        yield chunk


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _stored_file(row: Row) -> StoredFile:
    return StoredFile(
        id=row["id"],
        role=FileRole(row["role"]),
        filename=row["filename"],
        media_type=row["media_type"],
        size=row["size"],
        sha256=row["sha256"],
        storage_key=row["storage_key"],
        warnings=tuple(row["warnings"]),
        text_extracted=bool(row.get("text_extracted")),
        text_failure=row.get("text_failure"),
        signatures=checks_from_json(row.get("signatures") or ()),
    )


class Registry:
    """Operations on the protocol books of one archive."""

    def __init__(
        self,
        config: ArchiveConfig,
        db: Database,
        store: BlobStore,
        sniffer: ContentSniffer,
        pdf: PdfInspector,
        clock: Clock,
        routing: Routing,
        rules: RoutingRules,
        signer: Signer | None = None,
        renderer: DocumentRenderer | None = None,
    ) -> None:
        self._db = db
        self._signer = signer
        self._renderer = renderer
        self._public_url = config.public_url.rstrip("/")
        self._routing = routing
        self._rules = rules
        self._store = store
        self._sniffer = sniffer
        self._pdf = pdf
        self._clock = clock
        self._tz = ZoneInfo(config.timezone)
        self._default_book = config.default_book
        self._policy = config.intake
        self._spool_dir = config.spool_dir
        self._default_retention = config.default_retention_years
        # Books are few and almost never change: cache code <-> id, reload on a miss.
        self._books: dict[str, int] = {}
        self._book_codes: dict[int, str] = {}
        # Concurrent registrations share transactions (one lock, one fsync for many entries).
        self._committer: GroupCommitter[_Pending, _Committed] = GroupCommitter(self._commit)

    # -- books ---------------------------------------------------------------

    def _refresh_books(self) -> None:
        with self._db.read() as conn:
            books = {code: i for i, code in conn.execute(sa.select(BOOK.c.id, BOOK.c.code))}
        self._book_codes = {book_id: code for code, book_id in books.items()}
        self._books = books

    def _book_id(self, code: str) -> int:
        if code not in self._books:
            self._refresh_books()
        try:
            return self._books[code]
        except KeyError:
            raise UnknownBook(f"there is no protocol book {code!r}", field="book") from None

    def _code(self, book_id: int) -> str:
        if book_id not in self._book_codes:
            self._refresh_books()
        return self._book_codes[book_id]

    def _retention_years(self, conn: sa.Connection, code: str | None) -> int:
        """Retention of a registration's files: its classification's, or the default."""
        return self._default_retention if code is None else retention_years(conn, code)

    def year_of(self, instant: datetime) -> int:
        """The protocol year of an instant: its calendar year in the archive's time zone."""
        return instant.astimezone(self._tz).year

    # -- register ------------------------------------------------------------

    def _spool(self, file: FileInput, stack: ExitStack) -> _SpooledFile:
        """Copy an upload to a temporary file, hashing it, and run every intake check on it."""
        filename = intake.clean_filename(file.filename)
        role = validation.file_role(file.role)
        spool = stack.enter_context(
            tempfile.NamedTemporaryFile(prefix="eprotocol-upload-", dir=self._spool_dir)  # noqa: SIM115 - closed by the caller's stack
        )
        digest = hashlib.sha256()
        size = 0
        head = b""
        for chunk in _chunks(file.content):
            size += len(chunk)
            if size > self._policy.max_file_bytes:
                raise intake.too_large(filename, self._policy)
            digest.update(chunk)
            spool.write(chunk)
            if len(head) < intake.SNIFF_BYTES:
                head += chunk[: intake.SNIFF_BYTES - len(head)]
        spool.flush()
        if size == 0:
            raise RefusedFile(intake.EMPTY_FILE(file=filename), filename=filename)
        media_type = self._sniffer.media_type(head)
        intake.check_type(filename, role, media_type, self._policy)
        warnings: tuple[str, ...] = ()
        signatures: tuple[SignatureCheck, ...] = ()
        if media_type == PDF:
            report = self._pdf.inspect(Path(spool.name))
            if report.refusal is not None:
                refusal = intake.PDF_REFUSED(file=filename, why=report.refusal)
                raise RefusedFile(refusal, filename=filename)
            warnings, signatures = report.warnings, report.signatures
        return _SpooledFile(
            role, filename, media_type, spool, digest.hexdigest(), size, warnings, signatures
        )

    def _stage(self, files: Sequence[FileInput], retain_until: datetime) -> list[_StagedFile]:
        """Check every file, then store them all: a refused file leaves nothing in storage."""
        with ExitStack() as stack:
            spooled = [self._spool(f, stack) for f in files]
            # Bytes the archive already has are not uploaded again. Only a store that keeps
            # every version would keep a second copy, so only there is it worth a read
            # transaction per registration to find them; elsewhere a second PUT of a key
            # replaces identical bytes.
            known = self._known([s.sha256 for s in spooled]) if self._store.keeps_versions else ()
            staged = []
            for s in spooled:
                blob = (
                    already_stored(self._store, s.sha256, s.size, retain_until)
                    if s.sha256 in known
                    else None
                )
                if blob is None:
                    s.spool.seek(0)
                    blob = self._store.put(
                        s.spool, sha256=s.sha256, size=s.size, retain_until=retain_until
                    )
                staged.append(
                    _StagedFile(s.role, s.filename, s.media_type, blob, s.warnings, s.signatures)
                )
            return staged

    def _known(self, shas: Sequence[str]) -> set[str]:
        """Which of these digests files of the archive already have."""
        with self._db.read() as conn:
            return set(conn.execute(_KNOWN, {"shas": shas}).scalars())

    def _look_up(
        self, clean: validation.CleanRegistration, asked: Sequence[RouteTo | str], actor: str
    ) -> tuple[list[_Route], list[int], int]:
        """What a registration reads before its files are stored, in one read transaction.

        Its routes, the ids of the entries it relates to and its files' retention in
        years; no transaction when it asks for none of them.
        """
        if isinstance(asked, str):  # one code, not its letters
            asked = (asked,)
        code = clean.values["classification_code"]
        routes: dict[int, _Route] = {}
        related: list[int] = []
        years = self._default_retention
        if asked or clean.related or code is not None:
            with self._db.read() as conn:
                if asked:
                    routes = _asked_routes(conn, asked, actor)
                related = [row["id"] for row in _related_rows(conn, clean.related)]
                years = self._retention_years(conn, code)
        # The rules are read (when their copy is stale) outside that transaction.
        for rule in self._rules.matching(clean.values):
            if rule.automatic and rule.department_id not in routes:
                routes[rule.department_id] = _Route(
                    rule.department_id, rule.department, rule.purpose, f"rule:{rule.id}", rule.name
                )
        return list(routes.values()), related, years

    def _sealing(self) -> tuple[Signer, DocumentRenderer]:
        if self._signer is None or self._renderer is None:
            raise SigningUnavailable(
                "no signing key is configured (EPROTOCOL_SIGNING_P12); run `eprotocol init`"
            )
        return self._signer, self._renderer

    def _seal_main(
        self, values: Mapping[str, Any], files: Sequence[FileInput]
    ) -> tuple[Issue, list[FileInput]]:
        """An issue stamping and signing the main PDF of an outgoing entry; the other files."""
        _, renderer = self._sealing()
        if values["direction"] != Direction.OUTGOING:
            raise InvalidInput("only outgoing documents are sealed", field="seal")
        main = [f for f in files if f.role == FileRole.MAIN]
        if len(main) != 1:
            raise InvalidInput("sealing needs the main document (a PDF)", field="files")
        with ExitStack() as stack:
            spooled = self._spool(main[0], stack)
            if spooled.media_type != PDF:
                raise InvalidInput("only a PDF main document can be sealed", field="files")
            spooled.spool.seek(0)
            content = spooled.spool.read()

        def stamp(seal: Seal) -> bytes:
            return renderer.stamp(content, seal)

        issue = Issue(title=values["subject"], filename=spooled.filename, make=stamp)
        return issue, [f for f in files if f.role != FileRole.MAIN]

    def register(
        self,
        data: NewRegistration,
        files: Sequence[FileInput],
        *,
        by: str,
        seal: bool = False,
        issue: Issue | None = None,
        route: Sequence[RouteTo | str] = (),
        submission: str | None = None,
    ) -> Registration:
        """Number and record a new entry; see the module docstring for the steps.

        With ``seal`` the main PDF of an outgoing entry is stamped (organisation,
        number, date, verification code, QR code) and signed; ``issue`` makes the
        main document from scratch (certificates). ``route`` names departments
        (codes are for action) to assign it to in the same transaction, beside
        those of automatic routing rules. ``submission`` is the key of the form or
        request (see :meth:`_resubmitted`).
        """
        clean = validation.clean_registration(data, default_book=self._default_book)
        actor = validation.actor(by)
        key = None
        if submission is not None:
            key = validation.required_text(submission, "submission", 100)
        if sum(1 for f in files if f.role == FileRole.MAIN) > (0 if issue else 1):
            raise InvalidInput(ONE_MAIN(), field="files")
        book_id = self._book_id(clean.book)
        routes, related_ids, years = self._look_up(clean, route, actor)
        retain_until = years_later(self._clock.now(), years)
        if seal:
            issue, files = self._seal_main(clean.values, files)
        elif issue is not None:
            self._sealing()
        staged = self._stage(files, retain_until) if files else []
        if key is not None and (earlier := self._submitted(actor, key)) is not None:
            return self._resubmitted(earlier, clean.values, staged, issue)
        if issue is not None:  # a form sent again gets what it got, even if signing cannot now
            ready_to_sign(self._sealing()[0], self._clock.now().astimezone(self._tz))
        pending = _Pending(
            clean.book,
            book_id,
            actor,
            clean.values,
            related_ids,
            staged,
            routes,
            retain_until,
            issue,
            key,
        )
        try:
            done = self._committer.submit(pending)
        except sa.exc.IntegrityError:
            # The same form sent twice at once: the other copy took the key first.
            if key is None or (earlier := self._submitted(actor, key)) is None:
                raise
            return self._resubmitted(earlier, clean.values, staged, issue)
        assignments: Sequence[Assignment] = ()
        if routes:  # show the assignments made in the same transaction
            with self._db.read() as conn:
                reg_id = done.values["id"]
                assignments = self._routing.for_registrations(conn, [reg_id])[reg_id]
        return self._view(
            done.values,
            clean.book,
            related=clean.related,
            files=done.files,
            cancellation=None,
            corrections=(),
            assignments=assignments,
            verification_code=done.verification_code,
        )

    def _submitted(self, actor: str, key: str) -> Registration | None:
        """The entry ``actor`` registered with submission ``key``, if any."""
        with self._db.read() as conn:
            row = (
                conn.execute(
                    sa.select(REGISTRATION).where(
                        REGISTRATION.c.registered_by == actor,
                        REGISTRATION.c.submission_key == key,
                    )
                )
                .mappings()
                .first()
            )
            return None if row is None else self._views(conn, [row])[0]

    def _resubmitted(
        self,
        earlier: Registration,
        values: Mapping[str, Any],
        staged: Sequence[_StagedFile],
        issue: Issue | None,
    ) -> Registration:
        """``earlier``, if the submission that registered it is the one sent again now.

        A form sent twice (a double click, a reload) or a request retried after a
        lost answer registers once: the second gets the first's entry. The same key
        with another subject, sender, recipients, files or certificate fields is a
        different document under a used key (a client reusing its key by mistake):
        ``Conflict``, rather than either answer silently being wrong. A main document
        the archive made or sealed is compared by what it was made from, not by its
        bytes.
        """
        stored = [f.sha256 for f in earlier.files]
        if issue is not None:
            stored = stored[1:]  # the document made in the registration: not sent
        then = (
            earlier.direction.value,
            earlier.subject,
            earlier.sender,
            list(earlier.recipients),
            stored,
            None if issue is None else self._made_from(earlier.id),
        )
        now = (
            values["direction"],
            values["subject"],
            values["sender"],
            values["recipients"],
            [f.blob.sha256 for f in staged],
            None if issue is None else (issue.template, issue.fields),
        )
        if then != now:
            raise Conflict(FORM_REUSED(number=earlier.protocol_number))
        return earlier

    def _made_from(self, registration_id: int) -> tuple[object, object] | None:
        """The template and fields a registration's sealed document was made from."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(SEAL.c.template, SEAL.c.fields).where(
                    SEAL.c.registration_id == registration_id
                )
            ).first()
        return None if row is None else (row.template, row.fields)

    def _commit(self, batch: Sequence[_Pending]) -> list[_Committed]:
        """Record ``batch`` in one transaction, numbering the entries in order."""
        with self._db.write() as conn:
            chain = lock_chain(conn)
            stamped = [(p, now, self.year_of(now)) for p in batch for now in [self._clock.now()]]
            wanted = Counter((p.book_id, year) for p, _, year in stamped)
            first = {key: take_numbers(conn, *key, count) for key, count in wanted.items()}
            next_free = dict(first)
            rows = []
            for p, now, year in stamped:
                key = (p.book_id, year)
                rows.append(
                    {
                        **p.values,
                        "book_id": p.book_id,
                        "year": key[1],
                        "number": next_free[key],
                        "registered_at": now,
                        "registered_by": p.actor,
                        "status": Status.ACTIVE.value,
                        "submission_key": p.submission,
                    }
                )
                next_free[key] += 1
            ids = {
                (book_id, year, number): reg_id
                for book_id, year, number, reg_id in conn.execute(INSERT_REGISTRATIONS, rows)
            }
            for row in rows:
                row["id"] = ids[row["book_id"], row["year"], row["number"]]
            issued = [
                self._issue(conn, p, row) if p.issue is not None else (p.staged, None)
                for p, row in zip(batch, rows, strict=True)
            ]
            staged = [entry_files for entry_files, _ in issued]
            relations = [
                {"registration_id": row["id"], "related_id": related_id}
                for p, row in zip(batch, rows, strict=True)
                for related_id in p.related_ids
            ]
            if relations:
                conn.execute(_INSERT_RELATIONS, relations)
            files = [
                [
                    {
                        "registration_id": row["id"],
                        "position": position,
                        "role": f.role.value,
                        "filename": f.filename,
                        "media_type": f.media_type,
                        "size": f.blob.size,
                        "sha256": f.blob.sha256,
                        "storage_key": f.blob.key,
                        "warnings": list(f.warnings),
                        "signatures": describe(f.signatures),
                    }
                    for position, f in enumerate(entry_files)
                ]
                for entry_files, row in zip(staged, rows, strict=True)
            ]
            flat = [f for per_entry in files for f in per_entry]
            if flat:
                file_ids = {
                    (reg_id, position): file_id
                    for reg_id, position, file_id in conn.execute(_INSERT_FILES, flat)
                }
                for f in flat:
                    f["id"] = file_ids[f["registration_id"], f["position"]]
            routed = self._route(conn, batch, rows)
            entries = []
            for p, row, entry_files in zip(batch, rows, staged, strict=True):
                entries.append(
                    Entry(
                        actor=p.actor,
                        action="registration.created",
                        target=str(ProtocolRef(p.book, row["year"], row["number"])),
                        details={
                            "direction": row["direction"],
                            "subject": row["subject"],
                            "files": [
                                {"filename": f.filename, "sha256": f.blob.sha256}
                                for f in entry_files
                            ],
                            **({"sealed": True} if p.issue is not None else {}),
                        },
                        at=row["registered_at"],
                    )
                )
                entries.extend(routed.get(row["id"], ()))
            chain.append_all(entries)
            emit_all(
                conn,
                [
                    ("registration.created", {"registration_id": row["id"]}, row["registered_at"])
                    for row in rows
                ],
            )
        return [
            _Committed(row, f, code) for row, f, (_, code) in zip(rows, files, issued, strict=True)
        ]

    def _issue(
        self, conn: sa.Connection, p: _Pending, row: dict[str, Any]
    ) -> tuple[list[_StagedFile], str]:
        """Make, sign and store the document of ``p.issue`` now that ``row`` has its number.

        Returns the entry's files (the made document first) and its verification code.
        """
        assert p.issue is not None  # noqa: S101 - only called for entries with an issue
        signer, _ = self._sealing()
        code = new_verification_code()
        organisation = conn.execute(sa.select(ORGANISATION.c.name)).scalar_one()
        seal = Seal(
            organisation=organisation,
            protocol_number=ProtocolRef(p.book, row["year"], row["number"]).protocol_number,
            registered_at=row["registered_at"].astimezone(self._tz),
            verification_code=code,
            verify_url=f"{self._public_url}/verify/{code}",
        )
        signed = signer.sign(p.issue.make(seal))
        sha256 = hashlib.sha256(signed).hexdigest()
        blob = self._store.put(
            io.BytesIO(signed), sha256=sha256, size=len(signed), retain_until=p.retain_until
        )
        conn.execute(
            sa.insert(SEAL),
            {
                "registration_id": row["id"],
                "verification_code": code,
                "title": p.issue.title,
                "sha256": sha256,
                "template": p.issue.template,
                "fields": p.issue.fields,
            },
        )
        # Its signature, validated as an upload's is, for the entry's page to show.
        made = _StagedFile(
            FileRole.MAIN, p.issue.filename, PDF, blob, (), signer.check_issued(signed)
        )
        return [made, *p.staged], code

    def _route(
        self, conn: sa.Connection, batch: Sequence[_Pending], rows: Sequence[dict[str, Any]]
    ) -> dict[int, list[Entry]]:
        """Insert the entries' assignments; return their audit entries by entry id."""
        routes = {
            (row["id"], route.department_id): (p, row, route)
            for p, row in zip(batch, rows, strict=True)
            for route in p.routes
        }
        if not routes:
            return {}
        conn.execute(
            _INSERT_ASSIGNMENTS,
            [
                {
                    "registration_id": row["id"],
                    "department_id": route.department_id,
                    "purpose": route.purpose.value,
                    "state": AssignmentState.PENDING.value,
                    "created_by": route.created_by,
                    "created_at": row["registered_at"],
                }
                for _, row, route in routes.values()
            ],
        )
        entries: dict[int, list[Entry]] = {}
        outbox: list[tuple[str, dict[str, Any], datetime]] = []
        for reg_id, department_id, assignment_id in conn.execute(
            _NEW_ASSIGNMENTS, {"ids": [row["id"] for row in rows]}
        ):
            p, row, route = routes[reg_id, department_id]
            at = row["registered_at"]
            entries.setdefault(reg_id, []).append(
                Entry(
                    actor=route.created_by,
                    action="assignment.created",
                    target=f"assignment:{assignment_id}",
                    details={
                        "registration": str(ProtocolRef(p.book, row["year"], row["number"])),
                        "department": route.department,
                        "purpose": route.purpose.value,
                        **({"rule": route.rule} if route.rule is not None else {}),
                    },
                    at=at,
                )
            )
            outbox.append(("assignment.changed", {"assignment_id": assignment_id}, at))
        emit_all(conn, outbox)
        return entries

    # -- read ----------------------------------------------------------------

    def ids_after(self, after: int, limit: int) -> list[int]:
        """Up to ``limit`` registration ids greater than ``after``, ascending (for rebuilds)."""
        with self._db.read() as conn:
            query = (
                sa.select(REGISTRATION.c.id)
                .where(REGISTRATION.c.id > after)
                .order_by(REGISTRATION.c.id)
                .limit(limit)
            )
            return list(conn.execute(query).scalars())

    def by_ids(self, ids: Sequence[int]) -> list[Registration]:
        """The registrations with these database ids (for the indexer)."""
        with self._db.read() as conn:
            rows = list(
                conn.execute(sa.select(REGISTRATION).where(REGISTRATION.c.id.in_(ids))).mappings()
            )
            return self._views(conn, rows)

    def get(self, ref: ProtocolRef) -> Registration:
        """One entry with its files, cancellation and corrections."""
        with self._db.read() as conn:
            return self._views(conn, [registration_row(conn, ref)])[0]

    def confidential_referrers(self, registration_id: int) -> list[Registration]:
        """The confidential entries naming entry ``registration_id`` among their related ones.

        ``referenced_by`` leaves them out; whoever may read one can be shown it.
        """
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(REGISTRATION)
                .join(RELATION, RELATION.c.registration_id == REGISTRATION.c.id)
                .where(
                    RELATION.c.related_id == registration_id,
                    REGISTRATION.c.confidential.is_(True),
                )
            ).mappings()
            return self._views(conn, list(rows))

    def with_main_document(self, sha256: str, *, other_than: int, limit: int) -> list[Registration]:
        """Up to ``limit`` other entries whose main document has these bytes, oldest first."""
        with self._db.read() as conn:
            ids = list(
                conn.execute(
                    sa.select(FILE.c.registration_id)
                    .where(
                        FILE.c.sha256 == sha256,
                        FILE.c.role == FileRole.MAIN.value,
                        FILE.c.registration_id != other_than,
                    )
                    .order_by(FILE.c.registration_id)
                    .limit(limit)
                ).scalars()
            )
            if not ids:
                return []
            rows = conn.execute(
                sa.select(REGISTRATION)
                .where(REGISTRATION.c.id.in_(ids))
                .order_by(REGISTRATION.c.id)
            ).mappings()
            return self._views(conn, list(rows))

    def page(
        self, filters: RegistrationFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Entries matching ``filters``, newest first, ``limit`` at a time."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        validation.period(filters.registered_from, filters.registered_to)
        reg = REGISTRATION.c
        with self._db.read() as conn:
            query = sa.select(REGISTRATION)
            if filters.book is not None:
                query = query.where(reg.book_id == self._book_id(filters.book))
            if filters.year is not None:
                query = query.where(reg.year == filters.year)
            if filters.direction is not None:
                direction = validation.choice(filters.direction, Direction, "direction")
                query = query.where(reg.direction == direction.value)
            if filters.status is not None:
                status = validation.choice(filters.status, Status, "status")
                query = query.where(reg.status == status.value)
            if filters.registered_from is not None:
                query = query.where(reg.registered_at >= filters.registered_from)
            if filters.registered_to is not None:
                query = query.where(reg.registered_at < filters.registered_to)
            if filters.department is not None:
                departments = DepartmentTree(conn).subtree(filters.department)
                query = query.where(
                    reg.id.in_(
                        sa.select(ASSIGNMENT.c.registration_id).where(
                            ASSIGNMENT.c.department_id.in_(departments)
                        )
                    )
                )
            if cursor is not None:
                query = query.where(reg.id < _decode_cursor(cursor))
            rows = list(conn.execute(query.order_by(reg.id.desc()).limit(limit + 1)).mappings())
            more = len(rows) > limit
            rows = rows[:limit]
            items = self._views(conn, rows)
        next_cursor = _encode_cursor(rows[-1]["id"]) if more else None
        return Page(items=tuple(items), next_cursor=next_cursor)

    def _views(self, conn: sa.Connection, rows: Sequence[sa.RowMapping]) -> list[Registration]:
        """Build full values for ``rows``, loading each related table once for all of them."""
        ids = [r["id"] for r in rows]
        files: dict[int, list[sa.RowMapping]] = {i: [] for i in ids}
        for f in conn.execute(
            sa.select(
                FILE,
                FILE_TEXT.c.sha256.is_not(None).label("text_extracted"),
                FILE_TEXT.c.failure.label("text_failure"),
            )
            .outerjoin(FILE_TEXT, FILE_TEXT.c.sha256 == FILE.c.sha256)
            .where(FILE.c.registration_id.in_(ids))
            .order_by(FILE.c.position)
        ).mappings():
            files[f["registration_id"]].append(f)
        related = self._relations(conn, ids, RELATION.c.registration_id, RELATION.c.related_id)
        # A confidential entry naming this one would reveal itself to this one's readers.
        referenced_by = self._relations(
            conn, ids, RELATION.c.related_id, RELATION.c.registration_id, public_only=True
        )
        cancellations = {
            c["registration_id"]: c
            for c in conn.execute(
                sa.select(CANCELLATION).where(CANCELLATION.c.registration_id.in_(ids))
            ).mappings()
        }
        assignments = self._routing.for_registrations(conn, ids)
        codes = dict(
            conn.execute(
                sa.select(SEAL.c.registration_id, SEAL.c.verification_code).where(
                    SEAL.c.registration_id.in_(ids)
                )
            ).all()
        )
        corrections: dict[int, list[sa.RowMapping]] = {i: [] for i in ids}
        for c in conn.execute(
            sa.select(CORRECTION)
            .where(CORRECTION.c.registration_id.in_(ids))
            .order_by(CORRECTION.c.id)
        ).mappings():
            corrections[c["registration_id"]].append(c)
        return [
            self._view(
                r,
                self._code(r["book_id"]),
                related=sorted(related[r["id"]]),
                referenced_by=sorted(referenced_by[r["id"]]),
                files=files[r["id"]],
                cancellation=cancellations.get(r["id"]),
                corrections=corrections[r["id"]],
                assignments=assignments[r["id"]],
                verification_code=codes.get(r["id"]),
            )
            for r in rows
        ]

    def _relations(
        self,
        conn: sa.Connection,
        ids: Sequence[int],
        of: sa.ColumnElement[int],
        to: sa.ColumnElement[int],
        *,
        public_only: bool = False,
    ) -> dict[int, list[ProtocolRef]]:
        """For each id, the entries the relation table pairs it with (``of`` → ``to``)."""
        found: dict[int, list[ProtocolRef]] = {i: [] for i in ids}
        other = REGISTRATION.alias("other")
        query = (
            sa.select(of, other.c.book_id, other.c.year, other.c.number)
            .join(other, other.c.id == to)
            .where(of.in_(ids))
        )
        if public_only:
            query = query.where(other.c.confidential.is_(False))
        for reg_id, book_id, year, number in conn.execute(query):
            found[reg_id].append(ProtocolRef(self._code(book_id), year, number))
        return found

    def _view(
        self,
        row: Row,
        book: str,
        *,
        related: Iterable[ProtocolRef],
        referenced_by: Iterable[ProtocolRef] = (),
        files: Iterable[Row],
        cancellation: Row | None,
        corrections: Iterable[Row],
        assignments: Iterable[Assignment] = (),
        verification_code: str | None = None,
    ) -> Registration:
        return Registration(
            id=row["id"],
            book=book,
            year=row["year"],
            number=row["number"],
            registered_at=row["registered_at"].astimezone(self._tz),
            registered_by=row["registered_by"],
            direction=Direction(row["direction"]),
            subject=row["subject"],
            sender=row["sender"],
            recipients=tuple(row["recipients"]),
            sender_reference=row["sender_reference"],
            sender_date=row["sender_date"],
            channel=Channel(row["channel"]) if row["channel"] else None,
            classification_code=row["classification_code"],
            confidential=row["confidential"],
            status=Status(row["status"]),
            related=tuple(related),
            referenced_by=tuple(referenced_by),
            files=tuple(_stored_file(f) for f in files),
            cancellation=None
            if cancellation is None
            else Cancellation(
                reason=cancellation["reason"],
                authorisation=cancellation["authorisation"],
                cancelled_by=cancellation["cancelled_by"],
                cancelled_at=cancellation["cancelled_at"].astimezone(self._tz),
            ),
            corrections=tuple(
                Correction(
                    field=c["field"],
                    old_value=c["old_value"],
                    new_value=c["new_value"],
                    reason=c["reason"],
                    corrected_by=c["corrected_by"],
                    corrected_at=c["corrected_at"].astimezone(self._tz),
                )
                for c in corrections
            ),
            assignments=tuple(assignments),
            verification_code=verification_code,
        )

    def read_file(self, ref: ProtocolRef, file_id: int) -> tuple[StoredFile, Iterator[bytes]]:
        """A file's record and a verifying stream of its bytes."""
        with self._db.read() as conn:
            reg_id = registration_row(conn, ref)["id"]
            row = (
                conn.execute(
                    sa.select(FILE).where(FILE.c.id == file_id, FILE.c.registration_id == reg_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"registration {ref} has no file {file_id}")
        stored = _stored_file(row)
        return stored, self._store.read(stored.storage_key, sha256=stored.sha256)

    # -- change --------------------------------------------------------------

    def cancel(self, ref: ProtocolRef, *, reason: str, authorisation: str, by: str) -> Registration:
        """Mark an entry cancelled, for ever; its number is never reused.

        Its open assignments end with it (``withdrawn``): nobody is to work on it any more.
        """
        reason = validation.required_text(reason, "reason", validation.REASON_MAX, multiline=True)
        authorisation = validation.required_text(
            authorisation, "authorisation", validation.AUTHORISATION_MAX
        )
        actor = validation.actor(by)
        with self._db.write() as conn:
            chain = lock_chain(conn)
            row = registration_row(conn, ref)
            if row["status"] == Status.CANCELLED:
                raise AlreadyCancelled(ALREADY_CANCELLED(ref=ref))
            now = self._clock.now()
            conn.execute(
                sa.update(REGISTRATION)
                .where(REGISTRATION.c.id == row["id"])
                .values(status=Status.CANCELLED.value)
            )
            conn.execute(
                sa.insert(CANCELLATION),
                {
                    "registration_id": row["id"],
                    "reason": reason,
                    "authorisation": authorisation,
                    "cancelled_by": actor,
                    "cancelled_at": now,
                },
            )
            chain.append(
                actor=actor,
                action="registration.cancelled",
                target=str(ref),
                details={"reason": reason, "authorisation": authorisation},
                at=now,
            )
            withdraw_open_work(conn, chain, row["id"], actor=actor, now=now)
            emit(conn, "registration.cancelled", {"registration_id": row["id"]}, at=now)
        return self.get(ref)

    def correct(
        self, ref: ProtocolRef, changes: Mapping[str, Any], *, reason: str, by: str
    ) -> Registration:
        """Change non-system fields, keeping every old value with who and when.

        ``related`` takes the whole new list of related registrations (to add one,
        name those already related too).
        """
        for name in changes:
            if name in validation.SYSTEM_FIELDS:
                raise ImmutableField(
                    f"{name} is assigned by the system and never changes", field=name
                )
            if name not in validation.CORRECTABLE_FIELDS:
                raise InvalidInput(f"{name} is not a field of a registration", field=name)
        if not changes:
            raise InvalidInput("a correction must change at least one field", field="changes")
        new_values = {
            name: validation.CORRECTABLE[name](value)
            for name, value in changes.items()
            if name in validation.CORRECTABLE
        }
        related = (
            sorted(validation.related_refs(changes["related"], default_book=ref.book))
            if "related" in changes
            else None
        )
        if related and ref in related:
            raise InvalidInput(SELF_RELATED(), field="related")
        reason = validation.required_text(reason, "reason", validation.REASON_MAX, multiline=True)
        actor = validation.actor(by)
        if "classification_code" in new_values:
            self._keep_files_for(ref, new_values["classification_code"])
        with self._db.write() as conn:
            chain = lock_chain(conn)
            row = registration_row(conn, ref)
            if row["status"] == Status.CANCELLED:
                raise AlreadyCancelled(NOT_CORRECTABLE(ref=ref))
            now = self._clock.now()
            diff = {
                name: (_jsonable(row[name]), _jsonable(value))
                for name, value in new_values.items()
                if _jsonable(row[name]) != _jsonable(value)
            }
            if diff:
                conn.execute(
                    sa.update(REGISTRATION)
                    .where(REGISTRATION.c.id == row["id"])
                    .values({name: new_values[name] for name in diff})
                )
            if related is not None and (change := self._relate(conn, row, related)):
                diff["related"] = change
            if not diff:
                raise InvalidInput(NO_CHANGE(), field="changes")
            conn.execute(
                sa.insert(CORRECTION),
                [
                    {
                        "registration_id": row["id"],
                        "field": name,
                        "old_value": old,
                        "new_value": new,
                        "reason": reason,
                        "corrected_by": actor,
                        "corrected_at": now,
                    }
                    for name, (old, new) in diff.items()
                ],
            )
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
            emit(conn, "registration.corrected", {"registration_id": row["id"]}, at=now)
        return self.get(ref)

    def _keep_files_for(self, ref: ProtocolRef, code: str | None) -> None:
        """Lock the entry's files as long as heading ``code`` keeps them, before filing it there.

        ``InvalidInput`` if ``code`` is not a heading. Done before the correction's
        transaction, outside its locks: a correction that then fails leaves the files
        locked longer, never shorter, than their heading says.
        """
        with self._db.read() as conn:
            years = self._retention_years(conn, code)
            row = registration_row(conn, ref)
            keys = list(
                conn.execute(
                    sa.select(FILE.c.storage_key).where(FILE.c.registration_id == row["id"])
                ).scalars()
            )
        until = years_later(row["registered_at"], years)
        for key in keys:
            self._store.extend_retention(key, until)

    def _relate(
        self, conn: sa.Connection, row: sa.RowMapping, related: Sequence[ProtocolRef]
    ) -> tuple[list[str], list[str]] | None:
        """Make ``related`` the earlier entries ``row`` relates to; the old and new lists."""
        current = sorted(
            self._relations(conn, [row["id"]], RELATION.c.registration_id, RELATION.c.related_id)[
                row["id"]
            ]
        )
        if current == list(related):
            return None
        rows = _related_rows(conn, related)
        for ref, other in zip(related, rows, strict=True):
            # What an entry relates to came before it; the later entry names the earlier one.
            if (other["registered_at"], other["id"]) >= (row["registered_at"], row["id"]):
                raise InvalidInput(RELATED_LATER(ref=ref), field="related")
        conn.execute(sa.delete(RELATION).where(RELATION.c.registration_id == row["id"]))
        if rows:
            conn.execute(
                _INSERT_RELATIONS,
                [{"registration_id": row["id"], "related_id": other["id"]} for other in rows],
            )
        return [str(r) for r in current], [str(r) for r in related]


def _asked_routes(
    conn: sa.Connection, asked: Sequence[RouteTo | str], actor: str
) -> dict[int, _Route]:
    """The assignments asked for with a new entry, by department id.

    A department gets one: asked for twice, for action wins over for information.
    ``Forbidden`` if ``actor`` may not assign to one, ``InvalidInput`` if there is none or
    it is closed.
    """
    tree = DepartmentTree(conn)
    user = load_user(conn, actor, tree)
    routes: dict[int, _Route] = {}
    for item in asked:
        target = item if isinstance(item, RouteTo) else RouteTo(item)
        try:
            purpose = validation.choice(target.purpose, Purpose, "purpose")
            department_id = assignable(tree, user, target.department)
        except NotFound:
            raise InvalidInput(NO_DEPARTMENT(code=target.department), field="assignments") from None
        except InvalidInput as exc:  # a purpose it does not have, or a closed department
            raise InvalidInput(exc.message, field="assignments") from None
        earlier = routes.get(department_id)
        if earlier is None or earlier.purpose != Purpose.ACTION:
            routes[department_id] = _Route(department_id, target.department, purpose, user.username)
    return routes


def _related_rows(conn: sa.Connection, refs: Sequence[ProtocolRef]) -> list[sa.RowMapping]:
    """The rows of ``refs``; ``InvalidReference`` (field ``related``) if one does not exist."""
    rows = []
    for ref in refs:
        try:
            rows.append(registration_row(conn, ref))
        except (RegistrationNotFound, UnknownBook):
            raise InvalidReference(NO_RELATED(ref=ref), field="related") from None
    return rows


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": last_id}).encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))["before"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInput("the paging cursor is not valid", field="cursor") from None
    if not isinstance(value, int) or not 0 < value <= _MAX_ID:
        raise InvalidInput("the paging cursor is not valid", field="cursor")
    return value
