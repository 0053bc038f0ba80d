"""The :class:`Archive` facade: the one object applications use.

It builds the adapters from an :class:`~eprotocol.config.ArchiveConfig`, or
takes injected ones (tests, other deployments), and exposes the protocol book
operations of :mod:`eprotocol.core.registry`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from eprotocol import migrate
from eprotocol.bags import BagReader, BagWriter
from eprotocol.config import ArchiveConfig, is_web_address
from eprotocol.core import days, filing_plan, validation
from eprotocol.core.accounts import Accounts
from eprotocol.core.audit import events, events_about, lock_chain, to_event, verify_chain
from eprotocol.core.certificates import (
    CertificateSheet,
    CertificateTemplate,
    DocumentRenderer,
    PdfVerification,
    Seal,
    Signer,
    Verification,
    load_templates,
    normalise_code,
    pick,
    recipients,
)
from eprotocol.core.daily_register import DailyRegister, DailyRegisters, registers_of_years
from eprotocol.core.database import Database
from eprotocol.core.digest import DigestReport, DigestSender
from eprotocol.core.disposal import DisposalDecision, DisposalGroup, Disposals, DueForDisposal
from eprotocol.core.errors import (
    Conflict,
    IndexUnavailable,
    InvalidInput,
    InvalidTransfer,
    MailUnavailable,
    NotFound,
    SchemaOutOfDate,
    SigningUnavailable,
    Unavailable,
)
from eprotocol.core.filing_plan import FilingPlan
from eprotocol.core.fsck import FsckReport, check_blobs, default_grace, find_orphans
from eprotocol.core.intake import PdfInspector
from eprotocol.core.models import BOOK, ORGANISATION
from eprotocol.core.organisation import (
    ADMIN_USERNAME,
    NO_DEPARTMENT,
    UNNAMED_ORGANISATION,
    Organisation,
    administrator,
)
from eprotocol.core.permissions import Action, allowed, holds, may_read, refusal
from eprotocol.core.ports import (
    BlobStore,
    Clock,
    ContentSniffer,
    Mailer,
    Progress,
    SystemClock,
    blob_key,
)
from eprotocol.core.queries import organisation_name
from eprotocol.core.registry import Issue, Registry
from eprotocol.core.routing import WORK_SHOWN, InboxEntry, Routing, WorkList
from eprotocol.core.rules import RoutingRule, RoutingRules, Suggestion
from eprotocol.core.search import (
    FileTexts,
    Indexer,
    SearchFilters,
    SearchIndex,
    SearchIndexStatus,
    SearchResult,
    TextExtractor,
    Visibility,
    departments_by_history,
)
from eprotocol.core.statistics import YearStatistics, totals_by_year, year_statistics
from eprotocol.core.transfer import FORMAT, Transfer, TransferReport
from eprotocol.core.types import (
    BOOK_CODE,
    BOOK_CODE_MAX,
    BOOK_CODE_RULE,
    BOOK_EXISTS,
    OPEN_STATES,
    ApiToken,
    Assignment,
    AssignmentState,
    AuditEvent,
    ChainReport,
    Channel,
    Classification,
    Department,
    Direction,
    Disposal,
    FileInput,
    FileRole,
    NewRegistration,
    Page,
    ProtocolBook,
    ProtocolRef,
    Purpose,
    Registration,
    RegistrationFilter,
    Role,
    RouteTo,
    SigningIdentity,
    StoredFile,
    User,
)
from eprotocol.core.verification import Verifier
from eprotocol.intake import MagicSniffer
from eprotocol.intake.pdf import SandboxedPdfInspector
from eprotocol.mail import SmtpMailer
from eprotocol.pdf.render import ReportlabRenderer
from eprotocol.search.extract import SandboxedTextExtractor
from eprotocol.search.whoosh_index import WhooshIndex
from eprotocol.storage import open_blob_store

#: How many other entries holding the same main document are named (see ``same_main_document``).
SAME_DOCUMENT_SHOWN = 10


class Archive:
    """An electronic protocol book and its document archive.

    Open one per process and share it between threads; close it (or use it as a
    context manager) when done::

        with Archive(config) as archive:
            entry = archive.register(NewRegistration(direction="incoming", subject="..."),
                                     files=[FileInput("αίτηση.pdf", pdf_bytes, FileRole.MAIN)],
                                     by="clerk")
            print(entry.protocol_number)   # "1/2026"
    """

    def __init__(
        self,
        config: ArchiveConfig,
        *,
        blob_store: BlobStore | None = None,
        clock: Clock | None = None,
        sniffer: ContentSniffer | None = None,
        pdf_inspector: PdfInspector | None = None,
        mailer: Mailer | None = None,
        search_index: SearchIndex | None = None,
        text_extractor: TextExtractor | None = None,
        signer: Signer | None = None,
        renderer: DocumentRenderer | None = None,
    ) -> None:
        try:
            ZoneInfo(config.timezone)  # fail early, with our error, on a bad zone name
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"unknown time zone {config.timezone!r}", field="timezone") from None
        if not is_web_address(config.public_url):  # printed in every QR code: fail now, not there
            raise InvalidInput(
                f"the public URL must be an http:// or https:// address such as "
                f"https://protocol.example.gr, not {config.public_url!r}",
                field="public_url",
            )
        self.config = config
        self._db = Database(
            config.database_url,
            busy_timeout=config.sqlite_busy_timeout,
            **config.extra_engine_options,
        )
        self._store = blob_store if blob_store is not None else open_blob_store(config.storage)
        self._clock: Clock = clock if clock is not None else SystemClock()
        if signer is None and config.signing is not None:
            from eprotocol.pdf.signing import PadesSigner  # pyHanko loads slowly: only if needed

            signer = PadesSigner(config.signing)
        self._signer = signer
        self._renderer = renderer if renderer is not None else ReportlabRenderer()
        self._templates = load_templates(config.templates_dir)
        # The archive stops the PDF worker processes it starts, not an injected inspector.
        self._owned_inspector: SandboxedPdfInspector | None = None
        if pdf_inspector is None:
            pdf_inspector = self._owned_inspector = SandboxedPdfInspector(
                config.intake,
                trust_roots_pem=signer.trust_roots_pem if signer else b"",
                ours_pem=signer.certificate_pem if signer else b"",
            )
        self._pdf = pdf_inspector
        self._tz = tz = ZoneInfo(config.timezone)
        # As with the PDF workers: the archive closes the mailer it makes, not an injected one.
        self._owned_mailer: SmtpMailer | None = None
        if mailer is None and config.mail is not None:
            mailer = self._owned_mailer = SmtpMailer(config.mail)
        self._mailer = mailer
        self._routing = Routing(self._db, self._clock, tz)
        self._organisation = Organisation(self._db, self._clock)
        self._accounts = Accounts(self._db, self._clock)
        self._rules = RoutingRules(self._db, self._clock)
        self._plan = FilingPlan(self._db, self._clock)
        if search_index is None and config.index_dir is not None:
            search_index = WhooshIndex(config.index_dir, local_now=self._local_now)
        self._index = search_index
        self._owned_extractor: SandboxedTextExtractor | None = None
        if text_extractor is None:
            text_extractor = self._owned_extractor = SandboxedTextExtractor(config.extraction)
        self._texts = FileTexts(
            self._db,
            self._store,
            text_extractor,
            self._clock,
            config.spool_dir,
            parallel=config.extraction.workers,
        )
        self._registry = Registry(
            config,
            self._db,
            self._store,
            sniffer if sniffer is not None else MagicSniffer(),
            pdf_inspector,
            self._clock,
            self._routing,
            self._rules,
            signer,
            self._renderer,
        )
        self._transfer = Transfer(
            self._db,
            self._store,
            self._clock,
            self._registry,
            timezone=config.timezone,
            default_retention_years=config.default_retention_years,
        )

    # -- lifecycle -----------------------------------------------------------

    def initialise(self, *, organisation: str | None = None, by: str = "system") -> None:
        """Create or upgrade the schema; make sure the organisation, default book and admin exist.

        Safe to run again: an existing archive is only migrated forward and keeps its
        organisation's name. A new archive without ``organisation`` is named
        :data:`UNNAMED_ORGANISATION` until :meth:`rename_organisation`.
        """
        name = (
            UNNAMED_ORGANISATION
            if organisation is None
            else validation.required_text(organisation, "organisation", 200)
        )
        self._store.check()
        self._db.create_directory()
        migrate.upgrade(self._db.engine)
        with self._db.write() as conn:
            chain = lock_chain(conn)
            now = self._clock.now()
            if conn.execute(sa.select(ORGANISATION.c.id)).first() is None:
                conn.execute(sa.insert(ORGANISATION), {"name": name, "created_at": now})
                chain.append(
                    actor=by, action="organisation.created", target=name, details={}, at=now
                )
            code = self.config.default_book
            if conn.execute(sa.select(BOOK.c.id).where(BOOK.c.code == code)).first() is None:
                book_name = "Γενικό πρωτόκολλο"
                conn.execute(sa.insert(BOOK), {"code": code, "name": book_name, "created_at": now})
                chain.append(
                    actor=by,
                    action="book.created",
                    target=code,
                    details={"name": book_name},
                    at=now,
                )
            if self._organisation.ensure_admin(conn, now):
                chain.append(
                    actor=by,
                    action="user.created",
                    target=ADMIN_USERNAME,
                    details={"department": None, "roles": [Role.ADMIN.value]},
                    at=now,
                )

    def create_book(self, code: str, name: str, *, by: str) -> ProtocolBook:
        """Add a protocol book (an independent numbering series such as ``confidential``).

        Administrators only. Its code, lower-case Latin letters, digits, ``-`` and ``_``,
        names it in references (``confidential:12/2026``) and in ``--book``.
        """
        code = validation.required_text(code, "code", BOOK_CODE_MAX)
        if not re.fullmatch(BOOK_CODE, code):
            raise InvalidInput(BOOK_CODE_RULE(code=code, max=BOOK_CODE_MAX), field="code")
        name = validation.required_text(name, "name", 200)
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            if conn.execute(sa.select(BOOK.c.id).where(BOOK.c.code == code)).first() is not None:
                raise Conflict(BOOK_EXISTS(code=code))
            now = self._clock.now()
            conn.execute(sa.insert(BOOK), {"code": code, "name": name, "created_at": now})
            chain.append(
                actor=actor.username,
                action="book.created",
                target=code,
                details={"name": name},
                at=now,
            )
        return ProtocolBook(code, name)

    def books(self) -> tuple[ProtocolBook, ...]:
        """The protocol books, by code."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(BOOK.c.code, BOOK.c.name).order_by(BOOK.c.code))
            return tuple(ProtocolBook(code, name) for code, name in rows)

    def add_classification(
        self, code: str, title: str, *, retention_years: int, disposal: Disposal | str, by: str
    ) -> Classification:
        """Add a heading to the filing plan; its files are kept ``retention_years`` years.

        Administrators only; a heading of that code already there with other values is
        a ``Conflict`` (its retention is not changed once files are filed under it; see
        :meth:`retitle_classification` for its title).
        """
        wanted = filing_plan.heading(code, title, retention_years, disposal)
        self._plan.add([wanted], by=by)
        return wanted

    def add_classifications(
        self, headings: Iterable[Classification], *, by: str
    ) -> tuple[Classification, ...]:
        """Add many headings to the filing plan at once, all or none; those really added.

        Headings already in the plan as given are skipped, so a plan's file loads again
        after lines are added to it (see :func:`eprotocol.core.filing_plan.read_plan_csv`).
        """
        return self._plan.add(headings, by=by)

    def retitle_classification(self, code: str, title: str, *, by: str) -> Classification:
        """Correct the title of a heading of the filing plan (administrators only).

        Its retention and disposal are not changed; the audit trail keeps the old title.
        """
        return self._plan.retitle(code, title, by=by)

    def disposal_summary(
        self, on: date | None = None, *, since: date | None = None, by: str
    ) -> list[DisposalGroup]:
        """By book, year and heading, what has reached the end of retention by the end of ``on``.

        What the archive committee decides on (destruction, transfer to the General State
        Archives, another look), as each heading says; ``on`` is today if not given. With
        ``since`` (the day after the committee's last list, say), only what has come due
        from the start of that day. The archive deletes nothing itself. Administrators only.
        """
        return self._disposals().summary(self._end_of(on), since=self._start_of(since), by=by)

    def due_for_disposal(
        self, on: date | None = None, *, since: date | None = None, by: str
    ) -> Iterator[DueForDisposal]:
        """The registrations of :meth:`disposal_summary`, oldest first, a page at a time."""
        return self._disposals().registrations(self._end_of(on), since=self._start_of(since), by=by)

    def decide_disposal(
        self,
        on: date,
        *,
        since: date | None = None,
        reference: str,
        decided_on: date,
        by: str,
    ) -> DisposalDecision:
        """Record the archive committee's decision on the list of :meth:`disposal_summary`.

        ``reference`` names its act («Πρακτικό 3/2036»), ``decided_on`` its date. The list
        is kept as it stands; each registration is decided on once, so a new list starts
        the day after the last decision's ``on`` (``Conflict`` if not). Nothing is deleted.
        Administrators only.
        """
        return self._disposals().decide(
            on,
            since,
            reference=reference,
            decided_on=decided_on,
            by=by,
            now=self._clock.now(),
            tz=self._tz,
        )

    def disposal_decisions(self, *, by: str) -> tuple[DisposalDecision, ...]:
        """The archive committee's decisions, the latest list first. Administrators only."""
        return self._disposals().decisions(by=by)

    def _disposals(self) -> Disposals:
        return Disposals(self._db, default_years=self.config.default_retention_years)

    def _end_of(self, day: date | None) -> datetime:
        """The first moment after ``day`` (today if not given) in the archive's time zone."""
        return days.bounds(day if day is not None else self.today(), self._tz)[1]

    def _start_of(self, day: date | None) -> datetime | None:
        """The first moment of ``day`` in the archive's time zone; ``None`` for no day."""
        return None if day is None else days.midnight(day, self._tz)

    def check(self) -> None:
        """Raise an ``Unavailable`` error unless the database and the store answer.

        A database whose schema is not the one this version expects is not ready
        either (``SchemaOutOfDate``).
        """
        self.check_schema()
        self._store.check()

    def check_schema(self) -> None:
        """Raise ``SchemaOutOfDate`` unless :meth:`initialise` has brought the schema up to date.

        ``DatabaseUnavailable`` if the database does not answer. An SQLite file that does
        not exist is not made by asking (a mistyped path would leave an empty one).
        """
        if self._db.file is not None and not self._db.file.exists():
            raise SchemaOutOfDate(
                f"there is no database at {self._db.file} yet: run `eprotocol init`"
            )
        with self._db.read() as conn:
            migrate.check_current(conn)

    def _local_now(self) -> datetime:
        """The archive clock's time in the archive's zone, without the zone (as indexed)."""
        return self._clock.now().astimezone(self._tz).replace(tzinfo=None)

    @property
    def clock(self) -> Clock:
        """The clock the archive reads (the system clock unless one was injected)."""
        return self._clock

    @property
    def has_search_index(self) -> bool:
        """Whether a search index is configured."""
        return self._index is not None

    @property
    def has_signer(self) -> bool:
        """Whether a signing key is configured.

        Certificates, daily registers and checking uploaded files need it; verification
        by code does not.
        """
        return self._signer is not None

    def signing_identity(self) -> SigningIdentity | None:
        """Whose name the archive signs in and until when (``None`` without a signing key)."""
        if self._signer is None:
            return None
        until = self._signer.valid_until
        left = (until - self._clock.now()) // timedelta(days=1)
        return SigningIdentity(self._signer.signer_name, until.astimezone(self._tz), left)

    @property
    def has_mailer(self) -> bool:
        """Whether a mail server is configured (needed for digests)."""
        return self._mailer is not None

    @property
    def timezone(self) -> ZoneInfo:
        """The zone whose calendar numbers the book and dates the digests."""
        return self._tz

    def today(self) -> date:
        """Today's date on the archive's calendar (its clock, in its time zone)."""
        return self._clock.now().astimezone(self._tz).date()

    def close(self) -> None:
        """Release database and mail connections and stop the file-parsing processes."""
        self._db.dispose()
        if self._owned_inspector is not None:
            self._owned_inspector.close()
        if self._owned_extractor is not None:
            self._owned_extractor.close()
        if self._owned_mailer is not None:
            self._owned_mailer.close()

    def __enter__(self) -> Archive:
        """Use the archive in a ``with`` block that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the archive."""
        self.close()

    # -- the protocol book ---------------------------------------------------

    def register(
        self,
        data: NewRegistration,
        files: Sequence[FileInput] = (),
        *,
        by: str,
        seal: bool = False,
        route: Sequence[RouteTo | str] = (),
        submission: str | None = None,
    ) -> Registration:
        """Register a document: store its files, give it the next number, record it.

        Either everything is recorded, or nothing is and no number is used. With
        ``seal``, the main PDF of an outgoing document is stamped with the
        organisation, its number and date, a verification code and a QR code, then
        signed; the stored file is the signed one. ``route`` assigns it (χρέωση) to
        departments — a code alone is for action — in the same transaction, beside
        the automatic routing rules; ``by`` must be a user allowed to assign to
        them (``Forbidden``), and an unknown department refuses the registration.

        ``submission`` is a key of the form or request (up to 100 characters, e.g.
        an ``Idempotency-Key``): sent again by the same user with the same contents,
        it returns the entry it registered and registers nothing; with other
        contents it is refused (``Conflict``).
        """
        return self._registry.register(
            data, files, by=by, seal=seal, route=route, submission=submission
        )

    def get(self, book: str, year: int, number: int) -> Registration:
        """One registration (cancelled ones too), with its files and history."""
        return self._registry.get(ProtocolRef(book, year, number))

    def list(
        self,
        filters: RegistrationFilter | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Registrations matching ``filters``, newest first; page with ``next_cursor``."""
        return self._registry.page(filters or RegistrationFilter(), limit=limit, cursor=cursor)

    def cancel(
        self, book: str, year: int, number: int, *, reason: str, authorisation: str, by: str
    ) -> Registration:
        """Cancel a registration for ever; it stays readable and its number is never reused.

        Its open assignments end with it (state ``withdrawn``), so it leaves every inbox.
        """
        return self._registry.cancel(
            ProtocolRef(book, year, number), reason=reason, authorisation=authorisation, by=by
        )

    def correct(
        self,
        book: str,
        year: int,
        number: int,
        changes: Mapping[str, Any],
        *,
        reason: str,
        by: str,
    ) -> Registration:
        """Correct non-system fields; the old values are kept with who and when."""
        return self._registry.correct(
            ProtocolRef(book, year, number), changes, reason=reason, by=by
        )

    def read_file(
        self, book: str, year: int, number: int, file_id: int
    ) -> tuple[StoredFile, Iterator[bytes]]:
        """A registration's file and a stream of its bytes, verified against its SHA-256."""
        return self._registry.read_file(ProtocolRef(book, year, number), file_id)

    # -- organisation ----------------------------------------------------------

    def rename_organisation(self, name: str, *, by: str) -> str:
        """Rename the organisation on what is issued from now on; admins only. Returns the old name.

        Documents already stamped and signed keep theirs; running servers show the
        new name in their page headers after a restart.
        """
        return self._organisation.rename(name, by=by)

    def add_department(
        self,
        code: str,
        name: str,
        *,
        parent: str | None = None,
        digest_email: str | None = None,
        by: str,
    ) -> Department:
        """Add a department (Διεύθυνση, Τμήμα) under ``parent``; admins only."""
        return self._organisation.add_department(
            code, name, parent=parent, digest_email=digest_email, by=by
        )

    def add_user(
        self,
        username: str,
        full_name: str,
        *,
        department: str | None = None,
        roles: Iterable[Role | str] = (Role.STAFF,),
        email: str | None = None,
        by: str,
    ) -> User:
        """Add a member of staff; admins only."""
        return self._organisation.add_user(
            username, full_name, department=department, roles=roles, email=email, by=by
        )

    def change_user(self, username: str, changes: Mapping[str, Any], *, by: str) -> User:
        """Change a user's ``full_name``, ``email``, ``department`` or ``roles``; admins only.

        ``None`` clears the email or the department. Their open assignments stay
        theirs (see :meth:`inbox` with ``assignee``); a head can forward them.
        """
        return self._organisation.change_user(username, changes, by=by)

    def deactivate_user(self, username: str, *, by: str) -> User:
        """Deactivate a user who has left; admins only, never themselves or the last admin.

        They can no longer log in or act through an API token, from their next
        request on; what they did stays in the book and the audit trail.
        """
        return self._organisation.set_user_active(username, False, by=by)

    def reactivate_user(self, username: str, *, by: str) -> User:
        """Let a deactivated user log in again (with their old password); admins only."""
        return self._organisation.set_user_active(username, True, by=by)

    def change_department(self, code: str, changes: Mapping[str, Any], *, by: str) -> Department:
        """Change a department's ``name``, ``digest_email`` or ``parent``; admins only.

        ``None`` clears the email, or moves the department to the top. The code stays.
        """
        return self._organisation.change_department(code, changes, by=by)

    def close_department(self, code: str, *, by: str) -> Department:
        """Close a department abolished in a reorganisation (admins); its history stays.

        Nothing is routed to it, nobody placed in it, no department put under it any
        more. Refused (``Conflict``, saying what) while it has open work, active users,
        open departments below it or routing rules sending work to it.
        """
        return self._organisation.close_department(code, by=by)

    def reopen_department(self, code: str, *, by: str) -> Department:
        """Open a closed department again (admins); refused below a closed department."""
        return self._organisation.reopen_department(code, by=by)

    def departments(self, *, closed: bool | None = None) -> tuple[Department, ...]:
        """Every department, or only the open (``closed=False``) or closed ones, by code."""
        return tuple(
            d
            for d in self._organisation.departments()
            if closed is None or (d.closed_at is not None) == closed
        )

    def organisation_name(self) -> str:
        """The name of the organisation this archive belongs to (``""`` before ``initialise``)."""
        with self._db.read() as conn:
            return organisation_name(conn)

    def users(self, *, active: bool | None = None) -> tuple[User, ...]:
        """Every user, or only the active (or the deactivated) ones, ordered by user name."""
        return self._organisation.users(active=active)

    def classifications(self, codes: Iterable[str] | None = None) -> tuple[Classification, ...]:
        """The headings of the filing plan, or those of ``codes`` it has, by code."""
        return self._plan.headings(codes)

    def statistics(self, year: int, *, by: str) -> YearStatistics:
        """The figures of ``year`` (registrations, routing, certificates, overdue work today)."""
        self._reader(by)
        with self._db.read() as conn:
            return year_statistics(conn, year, self._tz, self.today())

    def yearly_totals(self, *, by: str) -> dict[int, int]:
        """Registrations (not cancelled) per year, as the municipality publishes them."""
        self._reader(by)
        with self._db.read() as conn:
            return totals_by_year(conn)

    def _reader(self, by: str) -> None:
        user = self._organisation.user(validation.actor(by))
        if not holds(user, Action.READ):
            raise refusal(user, Action.READ)

    def user(self, username: str) -> User:
        """One user."""
        return self._organisation.user(username)

    def may_read(self, entry: Registration, user: User) -> bool:
        """Whether ``user`` may read ``entry`` and download its files (see ``may_read``)."""
        return bool(self.readable_by(user, [entry]))

    def readable_by(self, user: User, entries: Iterable[Registration]) -> tuple[Registration, ...]:
        """The ``entries`` that ``user`` may read, in order (the department tree read once)."""
        paths = self._organisation.paths()
        return tuple(e for e in entries if may_read(user, e, lambda code: paths.get(code, [code])))

    def permitted_on(
        self, user: User, assignments: Iterable[Assignment], *actions: Action
    ) -> dict[Action, frozenset[int]]:
        """By action, the ids of those ``assignments`` on which ``user`` may do it.

        For ``Action.WORK`` (accept, complete, return) and ``Action.FORWARD``, whose scope
        depends on the assignment's department and assignee: the pages offer a step only
        where the library would allow it. The department tree is read once.
        """
        paths = self._organisation.paths()
        listed = tuple(assignments)
        return {
            action: frozenset(
                a.id
                for a in listed
                if allowed(
                    user,
                    action,
                    department_path=paths.get(a.department, [a.department]),
                    assignee=a.assignee,
                )
            )
            for action in actions
        }

    def routable_departments(self, user: User) -> tuple[Department, ...]:
        """The departments ``user`` may route work to, by code.

        Every open department for the protocol office; a head's own and those below it;
        none for staff.
        """
        paths = self._organisation.paths()
        return tuple(
            d
            for d in self.departments(closed=False)
            if allowed(user, Action.ASSIGN, department_path=paths[d.code])
        )

    def referenced_by(self, entry: Registration, user: User) -> tuple[ProtocolRef, ...]:
        """The later entries naming ``entry`` that ``user`` may read.

        ``entry.referenced_by`` leaves confidential entries out for everyone; this
        adds those ``user`` may read (the protocol office, the departments they are
        routed to).
        """
        hidden = self._registry.confidential_referrers(entry.id)
        if not hidden:
            return entry.referenced_by
        shown = {e.ref for e in self.readable_by(user, hidden)}
        return tuple(sorted({*entry.referenced_by, *shown}))

    def same_main_document(
        self, entry: Registration, user: User | None
    ) -> tuple[Registration, ...]:
        """Other entries, that ``user`` may read, whose main document is ``entry``'s byte for byte.

        The same document registered twice (it came by email and at the counter, say) is
        a mistake the protocol office cancels; the pages point it out. Oldest first, at
        most :data:`SAME_DOCUMENT_SHOWN`. ``user`` None: all of them, for the operator
        at the command line, who reads the whole database anyway.
        """
        main = next((f for f in entry.files if f.role is FileRole.MAIN), None)
        if main is None:
            return ()
        others = self._registry.with_main_document(
            main.sha256, other_than=entry.id, limit=SAME_DOCUMENT_SHOWN
        )
        return tuple(others) if user is None else self.readable_by(user, others)

    def department_path(self, code: str) -> tuple[str, ...]:
        """Codes from the top of the tree down to department ``code`` (``NotFound`` if none)."""
        paths = self._organisation.paths()
        if code not in paths:
            raise NotFound(NO_DEPARTMENT(code=code))
        return tuple(paths[code])

    def record_access(
        self, action: str, target: str, details: Mapping[str, Any], *, by: str
    ) -> None:
        """Add a read access (a download, a search) to the audit trail."""
        with self._db.write() as conn:
            lock_chain(conn).append(
                actor=validation.actor(by),
                action=action,
                target=target,
                details=dict(details),
                at=self._clock.now(),
            )

    # -- credentials -----------------------------------------------------------

    def set_password(self, username: str, password: str, *, by: str) -> None:
        """Set a user's password (Argon2id hash); users set their own, admins anybody's."""
        self._accounts.set_password(username, password, by=by)

    def authenticate(self, username: str, password: str) -> User:
        """The active user with this user name and password, or ``Unauthenticated``."""
        return self._accounts.authenticate(username, password)

    def create_api_token(
        self, username: str, name: str, *, by: str, expires_at: datetime | None = None
    ) -> str:
        """A long-lived token for an application acting as ``username``; shown only now."""
        return self._accounts.create_token(username, name, by=by, expires_at=expires_at)

    def user_for_login(self, username: str, issued_at: datetime) -> User:
        """The active user of a login made at ``issued_at``, or ``Unauthenticated``.

        Logins made before the user's password was last set are void.
        """
        return self._accounts.user_for_login(username, issued_at)

    def api_tokens(self, *, by: str, username: str | None = None) -> tuple[ApiToken, ...]:
        """API tokens, newest first: everybody's (admins), or those of ``username``."""
        return self._accounts.tokens(by=by, username=username)

    def revoke_api_token(self, token_id: int, *, by: str) -> ApiToken:
        """Revoke an API token for good (its owner or an admin); again, it changes nothing."""
        return self._accounts.revoke_token(token_id, by=by)

    def user_for_api_token(self, secret: str) -> User:
        """The user an API token acts as, or ``Unauthenticated``."""
        return self._accounts.user_for_token(secret)

    # -- routing ---------------------------------------------------------------

    def assign(
        self,
        book: str,
        year: int,
        number: int,
        *,
        department: str,
        purpose: Purpose | str = Purpose.ACTION,
        assignee: str | None = None,
        due: date | None = None,
        note: str | None = None,
        by: str,
    ) -> Assignment:
        """Route a registration to a department, for action or for information."""
        return self._routing.assign(
            ProtocolRef(book, year, number),
            department=department,
            purpose=purpose,
            assignee=assignee,
            due=due,
            note=note,
            by=by,
        )

    def add_routing_rule(
        self,
        name: str,
        *,
        department: str,
        priority: int = 100,
        purpose: Purpose | str = Purpose.ACTION,
        automatic: bool = False,
        sender_contains: str | None = None,
        subject_words: Iterable[str] = (),
        classification_code: str | None = None,
        channel: Channel | str | None = None,
        by: str,
    ) -> RoutingRule:
        """Add a routing rule (admins only).

        Registrations that match are suggested to ``department`` when registered or,
        with ``automatic``, assigned to it in the registration's own transaction.
        """
        return self._rules.add(
            name,
            department=department,
            priority=priority,
            purpose=purpose,
            automatic=automatic,
            sender_contains=sender_contains,
            subject_words=subject_words,
            classification_code=classification_code,
            channel=channel,
            by=by,
        )

    def remove_routing_rule(self, rule_id: int, *, by: str) -> RoutingRule:
        """Remove a routing rule (admins only); returns what it was, as the audit keeps it.

        Other server processes stop applying it within half a minute.
        """
        return self._rules.remove(rule_id, by=by)

    def routing_rules(self) -> tuple[RoutingRule, ...]:
        """Every routing rule, in priority order."""
        return self._rules.all()

    def rule_names(self, actors: Iterable[str]) -> dict[str, str]:
        """The rule's name for each ``rule:ID`` among ``actors`` (removed rules' too).

        Automatic rules act as ``rule:ID``; pages and registers name them instead.
        An id no rule ever had is left out.
        """
        ids = {
            int(actor.removeprefix("rule:"))
            for actor in actors
            if actor.startswith("rule:") and actor.removeprefix("rule:").isdecimal()
        }
        return {f"rule:{i}": name for i, name in self._rules.names(ids).items()}

    def suggest_routing(self, data: NewRegistration) -> tuple[Suggestion, ...]:
        """Departments for a registration about to be made.

        First those of the matching routing rules, then, when there is a search
        index, those that similar past registrations were routed to.
        """
        clean = validation.clean_registration(data, default_book=self.config.default_book)
        suggestions = [
            Suggestion(rule.department, rule.purpose, rule.name, rule.automatic)
            for rule in self._rules.matching(clean.values)
        ]
        if self._index is not None:
            named = {s.department for s in suggestions}
            suggestions += [
                Suggestion(department, Purpose.ACTION, "παρόμοιες προηγούμενες χρεώσεις", False)
                for department in departments_by_history(self._index, clean.values["subject"])
                if department not in named
            ]
        return tuple(suggestions)

    def assignment(self, assignment_id: int) -> Assignment:
        """One assignment."""
        return self._routing.get(assignment_id)

    def accept(self, assignment_id: int, *, by: str) -> Assignment:
        """Acknowledge a pending assignment."""
        return self._routing.accept(assignment_id, by=by)

    def complete(
        self, assignment_id: int, *, by: str, reply: ProtocolRef | None = None
    ) -> Assignment:
        """Complete an accepted assignment, optionally naming the reply registration."""
        return self._routing.complete(assignment_id, by=by, reply=reply)

    def return_assignment(self, assignment_id: int, *, reason: str, by: str) -> Assignment:
        """Send an open assignment back with the reason."""
        return self._routing.return_(assignment_id, reason=reason, by=by)

    def forward(
        self,
        assignment_id: int,
        *,
        department: str,
        by: str,
        assignee: str | None = None,
        note: str | None = None,
    ) -> Assignment:
        """Move an open assignment to another department; returns the new assignment."""
        return self._routing.forward(
            assignment_id, department=department, by=by, assignee=assignee, note=note
        )

    def inbox(
        self,
        *,
        department: str | None = None,
        assignee: str | None = None,
        states: Iterable[AssignmentState | str] = OPEN_STATES,
        overdue_on: date | None = None,
        closed_from: datetime | None = None,
        closed_to: datetime | None = None,
    ) -> tuple[InboxEntry, ...]:
        """Work of a department (with the departments below it) or of one user."""
        return self._routing.inbox(
            department=department,
            assignee=assignee,
            states=states,
            overdue_on=overdue_on,
            closed_from=closed_from,
            closed_to=closed_to,
        )

    def ended_by_cancellation(self, user: User, *, days_back: int = 7) -> tuple[InboxEntry, ...]:
        """Work of ``user``, and of their department, ended lately with its entry's cancellation.

        It left their lists without a step of theirs; the inbox says so for ``days_back``
        days (from midnight, today included), the latest first.
        """
        since = days.midnight(self.today() - timedelta(days=days_back - 1), self._tz)
        return self._routing.withdrawn_since(
            since, assignee=user.username, department=user.department
        )

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

        Open work unless ``states`` say otherwise: overdue first, then by due date, then
        the rest oldest first; then ended work, the latest ended first, only what ended
        at or after ``ended_since`` if given (a time without a zone is the archive's).
        """
        if ended_since is not None and ended_since.tzinfo is None:
            ended_since = ended_since.replace(tzinfo=self._tz)
        return self._routing.work(
            department=department,
            assignee=assignee,
            states=states,
            ended_since=ended_since,
            offset=offset,
            limit=limit,
        )

    def returned_to(self, user: User) -> WorkList:
        """Work sent back that ``user`` should route again, the latest returned first.

        The protocol office, who may route anywhere, is given all of it; anyone else
        who routes work (a head) what they routed themselves; the rest nothing.
        """
        if not holds(user, Action.ASSIGN):
            return WorkList((), 0)
        # Without a department path only an ANY scope allows: the protocol office, admins.
        everywhere = allowed(user, Action.ASSIGN)
        return self._routing.returned(routed_by=None if everywhere else user.username)

    # -- search --------------------------------------------------------------

    def _search_index(self) -> SearchIndex:
        if self._index is None:
            raise Unavailable("no search index is configured (EPROTOCOL_INDEX_DIR)")
        return self._index

    def _indexer(self) -> Indexer:
        return Indexer(
            self._db,
            self._search_index(),
            self._texts,
            self._registry.by_ids,
            self._registry.ids_after,
            self._clock,
            self._tz,
        )

    def search_index_status(self) -> SearchIndexStatus | None:
        """How the search index is (see :data:`SearchIndexStatus`); ``None`` without one."""
        if self._index is None:
            return None
        try:
            self._index.check()
        except IndexUnavailable:
            return "unavailable"
        return "rebuilding" if self._index.stale else "ready"

    @property
    def search_index_stale(self) -> bool:
        """Whether the search index needs a rebuild: new, emptied, or of an older version."""
        return self._search_index().stale

    def index_pending(self, batch: int = 500, *, rebuild_stale: bool = True) -> int:
        """Bring the search index up to date with the next ``batch`` changes; return how many.

        An index that needs a rebuild (see :attr:`search_index_stale`) is first rebuilt
        from the database, unless ``rebuild_stale`` is false: then it is updated as it
        is, for a caller that rebuilds it meanwhile (as the worker does, in a thread).
        """
        return self._indexer().run_once(batch, rebuild_stale=rebuild_stale)

    def rebuild_index(self, progress: Progress | None = None, *, if_stale: bool = False) -> int:
        """Rebuild the search index from the database; return how many entries it holds.

        The new index is built beside the old one, which is searched until it is done.
        With ``if_stale``, nothing is done (0 is returned) unless the index still needs
        a rebuild once another process's rebuild, if one is running, has ended.
        """
        return self._indexer().rebuild(progress, if_stale=if_stale)

    def search(
        self,
        query: str,
        *,
        by: str,
        filters: SearchFilters | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResult:
        """Registrations matching ``query`` and ``filters`` that user ``by`` may see, best first.

        Words are matched in any Greek form and in Latin letters, in the subject,
        the correspondents and the text of the files; ``"phrases"``,
        ``AND``/``OR``/``NOT``, ``-word`` (leave it out), field filters
        (``year:2026``, ``θέμα:άδεια``) and date ranges
        (``date:[20260101 to 20260131]``) work; a protocol number
        (``123/2026``) ranks its entry first. An empty ``query`` with ``filters``
        lists what they choose, newest first. Confidential entries count only
        for those allowed to see them.
        """
        if not 1 <= limit <= 500 or offset < 0:
            raise InvalidInput("limit must be 1 to 500 and offset not negative", field="limit")
        chosen = filters if filters is not None else SearchFilters()
        validation.period(chosen.registered_from, chosen.registered_to)
        user = self._organisation.user(validation.actor(by))
        return self._search_index().search(
            query,
            Visibility.of(user),
            chosen,
            limit=limit,
            offset=offset,
        )

    # -- certificates and verification -----------------------------------------

    def certificate_templates(self) -> tuple[CertificateTemplate, ...]:
        """The certificate templates this archive offers, by code."""
        return tuple(self._templates[code] for code in sorted(self._templates))

    def issue_certificate(
        self,
        template: str,
        fields: Mapping[str, object],
        *,
        by: str,
        submission: str | None = None,
    ) -> Registration:
        """Issue a certificate now: render, register as outgoing, stamp, sign, store.

        All in the registration's transaction: on any failure nothing is recorded
        and no number is used. The result's ``verification_code`` is printed on
        the PDF (its main file) with a QR code of the verify link. ``submission``
        makes a form or request sent twice issue once, as in :meth:`register`.
        """
        kind = pick(self._templates, template)
        values = kind.clean(fields)
        user = self._organisation.user(validation.actor(by))
        if not allowed(user, Action.ISSUE_CERTIFICATE):
            raise refusal(user, Action.ISSUE_CERTIFICATE)
        paragraphs = kind.paragraphs(values)
        renderer = self._renderer

        def render(seal: Seal) -> bytes:
            return renderer.certificate(CertificateSheet(seal, kind.title, paragraphs))

        data = NewRegistration(
            direction=Direction.OUTGOING,
            subject=kind.title,
            recipients=tuple(recipients(kind, values)),
            classification_code=kind.classification,
            channel=Channel.COUNTER,
        )
        issue = Issue(
            title=kind.title,
            filename=f"{kind.code}.pdf",
            make=render,
            template=kind.code,
            fields=values,
        )
        return self._registry.register(
            data, (), by=user.username, issue=issue, submission=submission
        )

    def verify_code(self, code: str) -> Verification:
        """The public facts of the sealed document with this verification code.

        A code nobody issued gives status ``unknown``; a malformed one ``InvalidInput``.
        """
        return self._verifier().by_code(normalise_code(code))

    def verify_pdf(self, content: bytes) -> PdfVerification:
        """Whether ``content`` is a document we issued, unchanged, validly signed and in force.

        Needs the signing identity (its certificate tells our signature from
        others); ``SigningUnavailable`` without it.
        """
        return self._verifier().by_file(content)

    def _verifier(self) -> Verifier:
        # No signer is needed to answer by code (a look-up): a public verification
        # server can then run without the private key.
        return Verifier(self._db, self._signer, self._pdf, self._tz, self.config.spool_dir)

    # -- daily register ----------------------------------------------------------

    def _daily_registers(self) -> DailyRegisters:
        if self._signer is None:
            raise SigningUnavailable("no signing key is configured (EPROTOCOL_SIGNING_P12)")
        return DailyRegisters(
            self._db, self._store, self._clock, self._tz, self._renderer, self._signer
        )

    def produce_daily_register(self, day: date | None = None, *, by: str) -> DailyRegister:
        """Make and store the register of a finished day (yesterday by default).

        For a day already stored nothing is written: the day's records are read
        again and ``unchanged`` says whether they still give the stored JSON.
        """
        day = day or self.today() - timedelta(days=1)
        return self._daily_registers().produce(day, by=validation.actor(by))

    def daily_register(self, day: date) -> DailyRegister:
        """The stored register of ``day``."""
        return self._daily_registers().get(day)

    def read_daily_register(self, day: date, kind: Literal["json", "pdf"]) -> Iterator[bytes]:
        """The stored JSON or signed PDF of the register of ``day``, verified as it streams."""
        return self._daily_registers().read(day, kind)

    def missing_daily_registers(self, *, back: int = 7) -> tuple[date, ...]:
        """Finished days of the last ``back`` days that have entries but no stored register."""
        today = self.today()
        return tuple(self._daily_registers().missing_days(today, back=back))

    # -- digests -------------------------------------------------------------

    def send_digests(self, day: date | None = None) -> DigestReport:
        """Send each department its daily digest for ``day`` (today by default), once.

        Safe to run again: departments already sent for that day are skipped, and
        those whose mail failed are tried again.
        """
        if self._mailer is None:
            raise MailUnavailable("no mail server is configured (EPROTOCOL_SMTP_URL)")
        sender = DigestSender(
            self._db,
            self._routing,
            self._mailer,
            self.config.digest,
            self._tz,
            self.config.public_url,
        )
        return sender.send(day or self.today())

    # -- audit ---------------------------------------------------------------

    def verify_audit_chain(self) -> ChainReport:
        """Recompute the audit hash chain; the report names the first broken event."""
        with self._db.read() as conn:
            return verify_chain(conn)

    def fsck(
        self,
        *,
        grace: timedelta | None = None,
        sweep_orphans: bool = False,
        progress: Progress | None = None,
    ) -> FsckReport:
        """Check the audit chain and every stored file; optionally delete old orphan blobs.

        Orphans are blobs no registration refers to (left by a registration that
        failed after storing its files) that are older than ``grace`` (a day by
        default). Only those are ever deleted, and only with ``sweep_orphans``.
        """
        chain = self.verify_audit_chain()
        checked, problems = check_blobs(self._db, self._store, progress)
        older_than = self._clock.now() - (grace if grace is not None else default_grace())
        orphans = find_orphans(self._db, self._store, older_than)
        if sweep_orphans:
            for key in orphans:
                self._store.delete(key)
        return FsckReport(
            chain=chain,
            blobs_checked=checked,
            problems=tuple(problems),
            orphans=tuple(orphans),
            swept=len(orphans) if sweep_orphans else 0,
        )

    # -- transfer ------------------------------------------------------------

    def _administrator(self, by: str) -> str:
        user = self._organisation.user(validation.actor(by))
        if not holds(user, Action.MANAGE):
            raise refusal(user, Action.MANAGE)
        return user.username

    def export(
        self,
        directory: Path,
        *,
        by: str,
        book: str | None = None,
        year: int | None = None,
        progress: Progress | None = None,
    ) -> TransferReport:
        """Write whole protocol years with their files and history as a BagIt bag in ``directory``.

        For transfer to another archive (see :meth:`import_export`) or to the
        archival service, and as a copy anyone can read and check without
        eprotocol (``docs/export-format.md``). ``book``/``year`` narrow it;
        ``directory`` must not exist or be empty, and holds the bag only once
        every file in it has been written and checked.
        """
        self._administrator(by)
        series = self._transfer.series(book, year)
        if not series:
            raise NotFound("there are no registrations to export")
        files: dict[str, int] = {}

        def records() -> Iterator[dict[str, Any]]:
            for s in series:
                for record in self._transfer.records(s):
                    files.update((f["sha256"], f["size"]) for f in record["files"])
                    yield record

        with BagWriter(directory) as bag:
            count = bag.add_json_lines("registrations.jsonl", records())
            bag.add_json("reference.json", self._transfer.reference())
            for done, sha in enumerate(sorted(files), 1):
                bag.add(f"files/{sha[:2]}/{sha}", self._store.read(blob_key(sha), sha256=sha))
                if progress is not None:
                    progress(done, len(files))
            self._export_daily_registers(bag, {s.year for s in series})
            head = self._export_audit_chain(bag)
            bag.finish(
                {
                    "Source-Organization": self.organisation_name(),
                    "External-Description": "Εξαγωγή ηλεκτρονικού πρωτοκόλλου: "
                    + "; ".join(str(s) for s in series),
                    "Bag-Software-Agent": "eprotocol",
                    "EProtocol-Format": FORMAT,
                    "EProtocol-Audit-Head": head,
                }
            )
        return TransferReport(series, count, len(files), sum(files.values()))

    def _export_daily_registers(self, bag: BagWriter, years: set[int]) -> None:
        """Write the signed daily registers of the exported years, as the evidence they are."""
        with self._db.read() as conn:
            registers = registers_of_years(conn, years)
        for register in registers:
            for kind, sha in (("json", register.json_sha256), ("pdf", register.pdf_sha256)):
                bag.add(
                    f"daily-registers/{register.day}.{kind}",
                    self._store.read(blob_key(sha), sha256=sha),
                )
        bag.add_json_lines(
            "daily-registers.jsonl",
            (
                {
                    "day": register.day.isoformat(),
                    "entries": register.entries,
                    "audit_head": register.audit_head,
                    "json_sha256": register.json_sha256,
                    "pdf_sha256": register.pdf_sha256,
                    "created_at": register.created_at.astimezone(UTC).isoformat(
                        timespec="microseconds"
                    ),
                }
                for register in registers
            ),
        )

    def _export_audit_chain(self, bag: BagWriter, batch: int = 1000) -> str:
        """Write the whole audit chain, each event's details verbatim as hashed; return its head."""
        head = ""

        def rows() -> Iterator[dict[str, Any]]:
            nonlocal head
            after = 0
            while True:
                with self._db.read() as conn:
                    found = events(conn, after=after, limit=batch)
                for row in found:
                    head = row["hash"]
                    when = row["occurred_at"].astimezone(UTC).isoformat(timespec="microseconds")
                    yield {**row, "occurred_at": when}
                if len(found) < batch:
                    return
                after = found[-1]["seq"]

        bag.add_json_lines("audit.jsonl", rows())
        return head

    def import_export(self, directory: Path, *, by: str) -> TransferReport:
        """Take in an export made by :meth:`export` (or written to its layout by another system).

        The bag is validated first (every file re-hashed); numbers, dates and who
        registered are kept, each imported protocol year must be whole and empty
        here, and nothing is recorded unless everything is.
        """
        actor = self._administrator(by)
        bag = BagReader(directory)
        reference = bag.json("reference.json")
        if not isinstance(reference, dict):
            raise InvalidTransfer("data/reference.json is not a JSON object")
        return self._transfer.take_in(
            reference,
            lambda: bag.json_lines("registrations.jsonl"),
            lambda sha: bag.open(f"files/{sha[:2]}/{sha}"),
            by=actor,
            source={
                "organisation": bag.info.get("Source-Organization", ""),
                "exported": bag.info.get("Bagging-Date", ""),
                "audit_head": bag.info.get("EProtocol-Audit-Head", ""),
            },
        )

    def audit_trail(self, entry: Registration, *, limit: int = 200) -> tuple[AuditEvent, ...]:
        """The newest ``limit`` audit events about a registration, its assignments and files."""
        targets = [str(entry.ref), *(f"assignment:{a.id}" for a in entry.assignments)]
        with self._db.read() as conn:
            return tuple(to_event(r) for r in events_about(conn, targets, limit=limit))

    def audit_events(self, *, after: int = 0, limit: int = 100) -> tuple[AuditEvent, ...]:
        """Audit events with ``seq`` greater than ``after``, oldest first."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000", field="limit")
        if not 0 <= after < 2**31:
            raise InvalidInput("after must be an event number (0 for the first)", field="after")
        with self._db.read() as conn:
            return tuple(to_event(r) for r in events(conn, after=after, limit=limit))
