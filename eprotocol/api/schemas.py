"""JSON shapes of the HTTP interface (DESIGN.md §3) and their conversion from domain values."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType

import msgspec
from litestar.openapi.spec import OpenAPI

from eprotocol.core.certificates import (
    CertificateTemplate,
    PdfVerification,
    Verification,
    VerificationStatus,
)
from eprotocol.core.daily_register import DailyRegister
from eprotocol.core.routing import InboxEntry
from eprotocol.core.search import SearchResult
from eprotocol.core.types import (
    Assignment,
    AssignmentState,
    AuditEvent,
    ChainReport,
    Channel,
    Classification,
    Direction,
    Disposal,
    FileRole,
    Page,
    Purpose,
    Registration,
    SignatureCheck,
    Status,
)


@dataclass(frozen=True, slots=True)
class SignatureOut:
    """A digital signature found in a PDF and how it validated."""

    field: str
    signer: str
    intact: bool
    valid: bool
    trusted: bool
    ours: bool
    covers_whole_file: bool
    modification: str
    signed_at: datetime | None
    problem: str | None


@dataclass(frozen=True, slots=True)
class FileOut:
    """A stored file of a registration; ``signatures`` as validated at intake."""

    id: int
    filename: str
    media_type: str
    size: int
    sha256: str
    role: FileRole
    warnings: list[str]
    signatures: list[SignatureOut]


@dataclass(frozen=True, slots=True)
class AssignmentOut:
    """A routing (χρέωση) of a registration to a department, and where it stands."""

    id: int
    protocol_number: str
    department: str
    assignee: str | None
    purpose: Purpose
    state: AssignmentState
    due: date | None
    note: str | None
    created_by: str
    created_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    return_reason: str | None
    forwarded_from: int | None


@dataclass(frozen=True, slots=True)
class CancellationOut:
    """Why and on whose authority a registration was cancelled."""

    reason: str
    authorisation: str
    cancelled_by: str
    cancelled_at: datetime


@dataclass(frozen=True, slots=True)
class RegistrationOut:
    """A protocol book entry."""

    id: int
    book: str
    year: int
    number: int
    protocol_number: str
    registered_at: datetime
    registered_by: str
    direction: Direction
    subject: str
    sender: str | None
    recipients: list[str]
    sender_reference: str | None
    sender_date: date | None
    channel: Channel | None
    classification_code: str | None
    confidential: bool
    status: Status
    #: Registrations this one answers or follows, as ``book:number/year``.
    related: list[str]
    #: Later registrations that name this one as related (its replies, follow-ups).
    referenced_by: list[str]
    files: list[FileOut]
    assignments: list[AssignmentOut]
    cancellation: CancellationOut | None
    verification_code: str | None


@dataclass(frozen=True, slots=True)
class RegistrationPage:
    """One page of registrations, newest first; ``next_cursor`` fetches the next."""

    items: list[RegistrationOut]
    next_cursor: str | None


class RequestBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What clients send: a field this API does not know is refused, never silently ignored."""


def close_request_bodies(openapi: OpenAPI) -> None:
    """Say ``additionalProperties: false`` of every request body, as the server enforces.

    Litestar does not carry msgspec's ``forbid_unknown_fields`` into the document.
    """
    bodies: set[str] = set()
    kinds = [RequestBody]
    while kinds:
        kind = kinds.pop()
        bodies.add(kind.__name__)
        kinds.extend(kind.__subclasses__())
    for name, schema in (openapi.components.schemas or {}).items():
        if name in bodies:
            schema.additional_properties = False


def describe_shapes(openapi: OpenAPI, modules: Iterable[ModuleType]) -> None:
    """Give each shape of the document its class's docstring, which Litestar leaves out.

    The classes are looked up by the shapes' names in ``modules``, where they are defined.
    """
    for name, schema in (openapi.components.schemas or {}).items():
        shape = next((vars(m)[name] for m in modules if name in vars(m)), None)
        if schema.description is None and isinstance(shape, type) and shape.__doc__:
            schema.description = inspect.cleandoc(shape.__doc__)


class RouteIn(RequestBody, frozen=True):
    """A department to route a new registration to, as it is registered."""

    department: str
    #: ``action`` (προς ενέργεια) or ``information`` (κοινοποίηση).
    purpose: str = "action"


class RegistrationMetadata(RequestBody, frozen=True):
    """The ``metadata`` part of a registration upload (JSON); unknown fields are refused."""

    direction: str
    subject: str
    sender: str | None = None
    recipients: list[str] = []
    sender_reference: str | None = None
    sender_date: date | None = None
    channel: str | None = None
    classification_code: str | None = None
    confidential: bool = False
    book: str | None = None
    #: Registrations this one answers or follows, as ``123/2026``.
    related: list[str] = []
    #: Departments to route it to in the same transaction, beside the automatic rules.
    assignments: list[RouteIn] = []
    #: Stamp the main PDF of an outgoing document with number, date, code and QR, and sign it.
    seal: bool = False


class CorrectionRequest(RequestBody, frozen=True):
    """New values of non-system fields, and why they are corrected.

    ``related`` takes the whole new list of earlier registrations the entry relates to.
    """

    changes: dict[str, str | list[str] | bool | None]
    reason: str


class CertificateRequest(RequestBody, frozen=True):
    """Which certificate to issue, and its field values."""

    template: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class CertificateOut:
    """An issued certificate: where to verify it and where to download the signed PDF."""

    protocol_number: str
    verification_code: str
    verify_url: str
    download_url: str
    registration: RegistrationOut


@dataclass(frozen=True, slots=True)
class TemplateFieldOut:
    """A field a certificate template asks for."""

    name: str
    label: str
    kind: str
    required: bool
    max_length: int
    default: str | None


@dataclass(frozen=True, slots=True)
class TemplateOut:
    """A certificate template."""

    code: str
    title: str
    fields: list[TemplateFieldOut]


@dataclass(frozen=True, slots=True)
class ClassificationOut:
    """A heading of the filing plan: a registration's ``classification_code`` names one.

    Its documents are kept ``retention_years`` years; then ``disposal`` says what
    happens to them: ``destroy``, ``transfer`` (to the General State Archives) or
    ``review``.
    """

    code: str
    title: str
    retention_years: int
    disposal: Disposal


def classification_out(c: Classification) -> ClassificationOut:
    """The JSON shape of a heading of the filing plan."""
    return ClassificationOut(c.code, c.title, c.retention_years, c.disposal)


@dataclass(frozen=True, slots=True)
class VerificationOut:
    """Public facts about a sealed document; ``status`` is valid, cancelled or unknown."""

    status: VerificationStatus
    verification_code: str | None
    protocol_number: str | None
    registered_at: datetime | None
    title: str | None
    issuer: str | None
    sha256: str | None
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True)
class PdfVerificationOut:
    """Whether an uploaded PDF is a document we issued, unchanged, validly signed, in force."""

    authentic: bool
    identical: bool
    document: VerificationOut
    signatures: list[SignatureOut]
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class DailyRegisterOut:
    """A stored daily register; ``unchanged`` is false if the day's records changed since."""

    day: date
    entries: int
    audit_head: str
    json_sha256: str
    pdf_sha256: str
    created_at: datetime
    unchanged: bool


class CancelRequest(RequestBody, frozen=True):
    """Why a registration is cancelled and on whose authority (a decision, a document)."""

    reason: str
    authorisation: str


class AssignRequest(RequestBody, frozen=True):
    """Route a registration to a department."""

    department: str
    purpose: str = "action"
    assignee: str | None = None
    due: date | None = None
    note: str | None = None


class ReturnRequest(RequestBody, frozen=True):
    """Why an assignment is sent back."""

    reason: str


class ForwardRequest(RequestBody, frozen=True):
    """Where an assignment goes next."""

    department: str
    assignee: str | None = None
    note: str | None = None


class CompleteRequest(RequestBody, frozen=True):
    """The reply registration (``123/2026``), if the work produced one."""

    reply: str | None = None


@dataclass(frozen=True, slots=True)
class InboxItem:
    """An assignment with the subject of its registration."""

    assignment: AssignmentOut
    subject: str


@dataclass(frozen=True, slots=True)
class SearchHitOut:
    """A registration found; ``highlights`` is HTML with the matched words in ``<mark>``."""

    protocol_number: str
    book: str
    year: int
    number: int
    subject: str
    score: float
    highlights: str


@dataclass(frozen=True, slots=True)
class SearchOut:
    """Matches the caller may see: the total, one page of hits, counts by facet.

    ``complete`` is false while the search index is being rebuilt from empty (after
    it was lost, say): registrations not yet rebuilt into it are not found.
    """

    total: int
    hits: list[SearchHitOut]
    facets: dict[str, dict[str, int]]
    complete: bool


@dataclass(frozen=True, slots=True)
class AuditEventOut:
    """One event of the audit trail with its place in the hash chain."""

    seq: int
    occurred_at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, object]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainOut:
    """The outcome of recomputing the audit hash chain."""

    ok: bool
    events_checked: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None


def assignment_out(a: Assignment) -> AssignmentOut:
    """The JSON shape of an assignment."""
    return AssignmentOut(
        id=a.id,
        protocol_number=f"{a.registration.number}/{a.registration.year}",
        department=a.department,
        assignee=a.assignee,
        purpose=a.purpose,
        state=a.state,
        due=a.due,
        note=a.note,
        created_by=a.created_by,
        created_at=a.created_at,
        accepted_at=a.accepted_at,
        closed_at=a.closed_at,
        return_reason=a.return_reason,
        forwarded_from=a.forwarded_from,
    )


def registration_out(entry: Registration) -> RegistrationOut:
    """The JSON shape of a registration."""
    c = entry.cancellation
    return RegistrationOut(
        id=entry.id,
        book=entry.book,
        year=entry.year,
        number=entry.number,
        protocol_number=entry.protocol_number,
        registered_at=entry.registered_at,
        registered_by=entry.registered_by,
        direction=entry.direction,
        subject=entry.subject,
        sender=entry.sender,
        recipients=list(entry.recipients),
        sender_reference=entry.sender_reference,
        sender_date=entry.sender_date,
        channel=entry.channel,
        classification_code=entry.classification_code,
        confidential=entry.confidential,
        status=entry.status,
        related=[str(ref) for ref in entry.related],
        referenced_by=[str(ref) for ref in entry.referenced_by],
        files=[
            FileOut(
                f.id,
                f.filename,
                f.media_type,
                f.size,
                f.sha256,
                f.role,
                list(f.warnings),
                signatures_out(f.signatures),
            )
            for f in entry.files
        ],
        assignments=[assignment_out(a) for a in entry.assignments],
        cancellation=None
        if c is None
        else CancellationOut(c.reason, c.authorisation, c.cancelled_by, c.cancelled_at),
        verification_code=entry.verification_code,
    )


def signatures_out(checks: tuple[SignatureCheck, ...]) -> list[SignatureOut]:
    """The JSON shape of signature checks."""
    return [
        SignatureOut(
            c.field,
            c.signer,
            c.intact,
            c.valid,
            c.trusted,
            c.ours,
            c.covers_whole_file,
            c.modification,
            c.signed_at,
            c.problem,
        )
        for c in checks
    ]


def verification_out(v: Verification) -> VerificationOut:
    """The JSON shape of a verification by code."""
    return VerificationOut(
        v.status,
        v.verification_code,
        v.protocol_number,
        v.registered_at,
        v.title,
        v.issuer,
        v.sha256,
        v.cancelled_at,
    )


def pdf_verification_out(v: PdfVerification) -> PdfVerificationOut:
    """The JSON shape of a verification of an uploaded file."""
    return PdfVerificationOut(
        v.authentic,
        v.identical,
        verification_out(v.document),
        signatures_out(v.signatures),
        list(v.reasons),
    )


def template_out(t: CertificateTemplate) -> TemplateOut:
    """The JSON shape of a certificate template."""
    return TemplateOut(
        t.code,
        t.title,
        [
            TemplateFieldOut(f.name, f.label, f.kind.value, f.required, f.max_length, f.default)
            for f in t.fields
        ],
    )


def daily_register_out(r: DailyRegister) -> DailyRegisterOut:
    """The JSON shape of a daily register record."""
    return DailyRegisterOut(
        r.day, r.entries, r.audit_head, r.json_sha256, r.pdf_sha256, r.created_at, r.unchanged
    )


def page_out(page: Page) -> RegistrationPage:
    """The JSON shape of a page of registrations."""
    return RegistrationPage([registration_out(e) for e in page.items], page.next_cursor)


def inbox_out(entries: tuple[InboxEntry, ...]) -> list[InboxItem]:
    """The JSON shape of an inbox."""
    return [InboxItem(assignment_out(e.assignment), e.subject) for e in entries]


def search_out(result: SearchResult) -> SearchOut:
    """The JSON shape of search results."""
    return SearchOut(
        total=result.total,
        hits=[
            SearchHitOut(
                h.protocol_number, h.book, h.year, h.number, h.subject, h.score, h.highlights
            )
            for h in result.hits
        ],
        facets=result.facets,
        complete=result.complete,
    )


def audit_out(event: AuditEvent) -> AuditEventOut:
    """The JSON shape of an audit event."""
    return AuditEventOut(
        event.seq,
        event.occurred_at,
        event.actor,
        event.action,
        event.target,
        dict(event.details),
        event.prev_hash,
        event.hash,
    )


def chain_out(report: ChainReport) -> ChainOut:
    """The JSON shape of an audit chain check."""
    return ChainOut(
        report.ok, report.events_checked, report.head_hash, report.first_bad_seq, report.problem
    )
