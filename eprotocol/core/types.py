"""Value types the library accepts and returns.

They are frozen dataclasses, independent of the database session, so callers
(and the HTTP layer) can keep and serialise them freely.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, BinaryIO

from eprotocol.core.errors import InvalidReference, Phrase


class Direction(StrEnum):
    """Εισερχόμενο / Εξερχόμενο / Εσωτερικό."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"
    INTERNAL = "internal"


class Status(StrEnum):
    """Whether a registration stands or has been cancelled (ακυρωμένο)."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


class Channel(StrEnum):
    """How a document reached (or left) the organisation."""

    COUNTER = "counter"
    EMAIL = "email"
    POST = "post"
    COURIER = "courier"
    FAX = "fax"
    PORTAL = "portal"
    INTERNAL = "internal"


class Role(StrEnum):
    """What a user may do; a user can hold several roles."""

    ADMIN = "admin"  # διαχειριστής
    CLERK = "clerk"  # γραφείο πρωτοκόλλου
    HEAD = "head"  # προϊστάμενος
    STAFF = "staff"  # υπάλληλος
    AUDITOR = "auditor"  # ελεγκτής
    ISSUER = "issuer"  # έκδοση βεβαιώσεων (ΚΕΠ)


class Purpose(StrEnum):
    """Why a registration is routed to a department."""

    ACTION = "action"  # προς ενέργεια
    INFORMATION = "information"  # κοινοποίηση


class AssignmentState(StrEnum):
    """Where an assignment stands: pending → accepted → completed, or returned / forwarded.

    ``withdrawn``: its registration was cancelled while it was still open.
    """

    PENDING = "pending"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    RETURNED = "returned"
    FORWARDED = "forwarded"
    WITHDRAWN = "withdrawn"


#: The states of an assignment that still asks for work; every other state is closed.
OPEN_STATES = (AssignmentState.PENDING, AssignmentState.ACCEPTED)


class Disposal(StrEnum):
    """What happens to a file's documents when their retention ends."""

    DESTROY = "destroy"  # καταστροφή
    TRANSFER = "transfer"  # παράδοση στα Γενικά Αρχεία του Κράτους
    REVIEW = "review"  # επανεξέταση


class FileRole(StrEnum):
    """The main document of a registration, or one of its attachments."""

    MAIN = "main"
    ATTACHMENT = "attachment"


#: The longest code of a protocol book, and of a department.
BOOK_CODE_MAX = DEPARTMENT_CODE_MAX = 32
#: What a protocol book's code may be: what references like ``confidential:12/2026`` can name.
BOOK_CODE = rf"[a-z0-9_-]{{1,{BOOK_CODE_MAX}}}"
_REF_RE = re.compile(rf"^(?:(?P<book>{BOOK_CODE}):)?(?P<number>[0-9]{{1,9}})/(?P<year>[0-9]{{4}})$")
BOOK_CODE_RULE = Phrase(
    "book-code", "{code!r}: a book code uses only lower-case a-z, 0-9, - and _ (at most {max})"
)
BOOK_EXISTS = Phrase("book-exists", "protocol book {code!r} already exists")
NOT_A_REFERENCE = Phrase(
    "not-a-reference", "{text!r} is not a protocol reference like 123/2026 or general:123/2026"
)


@dataclass(frozen=True, slots=True, order=True)
class ProtocolRef:
    """Identifies one registration: book, year and number."""

    book: str
    year: int
    number: int

    @property
    def protocol_number(self) -> str:
        """The number as printed on documents: ``123/2026``."""
        return f"{self.number}/{self.year}"

    def __str__(self) -> str:
        """``book:number/year``, the form :meth:`parse` reads back."""
        return f"{self.book}:{self.protocol_number}"

    def printed_in(self, book: str) -> str:
        """As shown beside entries of ``book``: ``123/2026``, or ``other:123/2026``."""
        return self.protocol_number if self.book == book else str(self)

    @classmethod
    def parse(
        cls, text: str, *, default_book: str = "general", field: str = "related"
    ) -> ProtocolRef:
        """Read ``123/2026`` or ``general:123/2026`` (number before year, as printed).

        ``InvalidReference`` naming ``field``, the input it came in, if it is not one.
        """
        match = _REF_RE.match(text.strip())
        if match is None or int(match["number"]) < 1:
            raise InvalidReference(NOT_A_REFERENCE(text=text), field=field)
        return cls(match["book"] or default_book, int(match["year"]), int(match["number"]))


@dataclass(frozen=True, slots=True)
class Department:
    """A unit of the organisation; ``parent`` is the code of the unit above it.

    ``closed_at``: when it was closed (abolished in a reorganisation): nothing is routed
    to it or placed in it any more, and its history stays under its code.
    """

    code: str
    name: str
    parent: str | None
    digest_email: str | None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class User:
    """A member of staff."""

    username: str
    full_name: str
    email: str | None
    department: str | None
    roles: frozenset[Role]
    active: bool


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token's record (never its secret): whom it acts as, what for, and until when."""

    id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Assignment:
    """A routing (χρέωση) of a registration to a department and how far it has got."""

    id: int
    registration: ProtocolRef
    department: str
    assignee: str | None
    purpose: Purpose
    state: AssignmentState
    due: date | None
    note: str | None
    created_by: str
    created_at: datetime
    accepted_by: str | None
    accepted_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None
    return_reason: str | None
    reply: ProtocolRef | None
    forwarded_from: int | None

    def overdue(self, today: date) -> bool:
        """Whether it is still open after its due date."""
        open_states = {AssignmentState.PENDING, AssignmentState.ACCEPTED}
        return self.due is not None and self.due < today and self.state in open_states


@dataclass(frozen=True, slots=True)
class ProtocolBook:
    """A protocol book: a numbering series of its own (``general``, ``confidential``...)."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Classification:
    """A heading of the filing plan (φάκελος αρχειοθέτησης)."""

    code: str
    title: str
    retention_years: int
    disposal: Disposal


@dataclass(frozen=True, slots=True)
class FileInput:
    """A file handed to :meth:`eprotocol.Archive.register`.

    ``content`` is either the bytes or a binary stream read to its end (large
    files are streamed, never held whole in memory). ``filename`` is the name
    the sender gave it; it is only a label, never trusted for the type.
    """

    filename: str
    content: bytes | BinaryIO
    role: FileRole = FileRole.ATTACHMENT


@dataclass(frozen=True, slots=True)
class NewRegistration:
    """The caller-supplied metadata of a registration.

    Everything else (number, year, time, registrar, file digests) is assigned
    by the system.
    """

    direction: Direction | str
    subject: str
    sender: str | None = None
    recipients: Iterable[str] = ()
    sender_reference: str | None = None
    sender_date: date | None = None
    channel: Channel | str | None = None
    classification_code: str | None = None
    confidential: bool = False
    related: Iterable[ProtocolRef | str] = ()
    book: str | None = None


@dataclass(frozen=True, slots=True)
class RouteTo:
    """A department a new registration is routed to (χρέωση) as it is registered.

    The assignment is made in the registration's own transaction: the entry is
    never numbered without it.
    """

    department: str
    purpose: Purpose | str = Purpose.ACTION


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What validating one digital signature embedded in a PDF found.

    ``intact`` means the bytes it covers are unchanged and ``valid`` that the
    cryptography holds; ``trusted`` that the signer's certificate leads to a
    trusted root (ours or a configured one); ``covers_whole_file`` is false when
    something was appended after signing, and ``modification`` then says what
    kind of change that was (``none``, ``lta_updates``, ``form_filling``,
    ``annotations``, ``other``).
    """

    field: str
    signer: str
    intact: bool
    valid: bool
    trusted: bool
    ours: bool
    covers_whole_file: bool
    modification: str
    signed_at: datetime | None = None
    problem: str | None = None
    #: How many leading bytes of the file the signature covers (its signed revision).
    signed_bytes: int | None = None
    #: SHA-256 of the signer's certificate (DER): tells one key from another of the same name.
    certificate_sha256: str | None = None

    @property
    def standing(self) -> str:
        """What the signature is worth: ``ok``, ``untrusted`` or ``bad``.

        ``bad`` if it does not hold or the file was changed as it forbids; otherwise
        ``ok`` when trusted, ``untrusted`` when not (anybody can make a key that holds).
        """
        if not (self.valid and self.intact) or self.modification == "other":
            return "bad"
        return "ok" if self.trusted else "untrusted"


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """Who signs what the archive issues, and how long its certificate has left."""

    name: str
    valid_until: datetime
    #: Whole days until it expires (negative once it has); renew it before it is 0.
    days_left: int

    @property
    def expired(self) -> bool:
        """Nothing can be signed: certificates and sealed documents are refused."""
        return self.days_left < 0

    @property
    def renew_soon(self) -> bool:
        """It expires within :data:`RENEWAL_NOTICE_DAYS`: time to install the renewed one."""
        return self.days_left < RENEWAL_NOTICE_DAYS

    def notice(self) -> str | None:
        """What the logs and the command line tell administrators about it, if anything.

        Once it has expired, the words of the refusal of whatever is to be signed.
        """
        if self.expired:
            return CERTIFICATE_EXPIRED(name=self.name, until=self.valid_until)
        if self.renew_soon:
            return (
                f"the signing certificate of {self.name!r} expires on "
                f"{self.valid_until:%d/%m/%Y %H:%M}, in "
                f"{self.days_left} days: install the renewed one (EPROTOCOL_SIGNING_P12) before "
                "then, or certificates and sealed documents will be refused"
            )
        return None


#: The organisation's certificate has expired: nothing can be signed with it.
CERTIFICATE_EXPIRED = Phrase(
    "signing-certificate-expired",
    "the signing certificate of {name!r} expired on {until:%d/%m/%Y %H:%M}: certificates, "
    "sealed documents and daily registers are refused until the renewed one is installed "
    "(EPROTOCOL_SIGNING_P12)",
)

#: How many days before the signing certificate expires the administrators are told.
RENEWAL_NOTICE_DAYS = 30


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file as recorded in the archive."""

    id: int
    role: FileRole
    filename: str
    media_type: str
    size: int
    sha256: str
    storage_key: str
    #: Active content found at intake (JavaScript, launch actions, embedded files...).
    warnings: tuple[str, ...] = ()
    #: Whether the search indexer has extracted the file's text yet.
    text_extracted: bool = False
    #: Why the file's text could not be extracted (it is then searchable by metadata only).
    text_failure: str | None = None
    #: The digital signatures found in the file at intake, as validated then.
    signatures: tuple[SignatureCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class Cancellation:
    """The permanent cancellation mark of a registration (ακύρωση)."""

    reason: str
    authorisation: str
    cancelled_by: str
    cancelled_at: datetime


@dataclass(frozen=True, slots=True)
class Correction:
    """One corrected field: its old and new value, who and when."""

    field: str
    old_value: Any
    new_value: Any
    reason: str
    corrected_by: str
    corrected_at: datetime


@dataclass(frozen=True, slots=True)
class Registration:
    """A protocol book entry as stored, with its files and history.

    ``registered_at`` is given in the archive's time zone (Europe/Athens by default).
    """

    id: int
    book: str
    year: int
    number: int
    registered_at: datetime
    registered_by: str
    direction: Direction
    subject: str
    sender: str | None
    recipients: tuple[str, ...]
    sender_reference: str | None
    sender_date: date | None
    channel: Channel | None
    classification_code: str | None
    confidential: bool
    status: Status
    related: tuple[ProtocolRef, ...] = ()
    #: Later registrations that name this one as related: its replies and follow-ups (but
    #: confidential ones, which would reveal themselves to whoever may read this one;
    #: ``Archive.referenced_by`` adds those a given user may read).
    referenced_by: tuple[ProtocolRef, ...] = ()
    files: tuple[StoredFile, ...] = ()
    cancellation: Cancellation | None = None
    corrections: tuple[Correction, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    #: The code that checks a sealed outgoing document or certificate at ``/verify/{code}``.
    verification_code: str | None = None

    @property
    def ref(self) -> ProtocolRef:
        """The (book, year, number) identity of this entry."""
        return ProtocolRef(self.book, self.year, self.number)

    @property
    def protocol_number(self) -> str:
        """The number as printed on documents: ``123/2026``."""
        return self.ref.protocol_number


@dataclass(frozen=True, slots=True)
class RegistrationFilter:
    """Criteria for :meth:`eprotocol.Archive.list`; ``None`` means any."""

    book: str | None = None
    year: int | None = None
    direction: Direction | str | None = None
    status: Status | str | None = None
    registered_from: datetime | None = None
    registered_to: datetime | None = None
    #: Entries assigned (at any time) to this department or one below it.
    department: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; pass ``next_cursor`` back to get the following page."""

    items: tuple[Registration, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event of the audit trail."""

    seq: int
    occurred_at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Outcome of :meth:`eprotocol.Archive.verify_audit_chain`.

    When ``ok`` is false, ``first_bad_seq`` names the first event whose hash or
    link does not match and ``problem`` says what is wrong with it.
    """

    ok: bool
    events_checked: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
