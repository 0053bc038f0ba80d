"""JSON shapes of the HTTP interface (DESIGN.md §3) and their conversion from domain values."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType
from typing import Annotated, get_type_hints

import msgspec
from litestar.openapi.spec import OpenAPI
from typing_extensions import Doc

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
    Department,
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

    field: Annotated[str, Doc("The PDF's signature field that holds it.")]
    signer: Annotated[str, Doc("Who signed, as the signer's certificate names them.")]
    intact: Annotated[bool, Doc("The bytes it covers are unchanged since signing.")]
    valid: Annotated[
        bool, Doc("The cryptography holds (the signature matches its certificate's key).")
    ]
    trusted: Annotated[
        bool,
        Doc(
            "The signer's certificate leads to a trusted root: the organisation's own or a "
            "configured one."
        ),
    ]
    ours: Annotated[bool, Doc("Made with the key this archive signs its documents with.")]
    covers_whole_file: Annotated[
        bool,
        Doc("False when something was added to the file after signing; `modification` says what."),
    ]
    modification: Annotated[
        str,
        Doc(
            "What was added after signing: `none`, `lta_updates` (time stamps, validation data), "
            "`form_filling`, `annotations` or `other` (a change the signature does not allow)."
        ),
    ]
    signed_at: Annotated[
        datetime | None,
        Doc("When it was signed, as the signature claims it (a time stamp's time if it has one)."),
    ]
    problem: Annotated[str | None, Doc("Why it does not hold or is not trusted, if so.")]


@dataclass(frozen=True, slots=True)
class FileOut:
    """A stored file of a registration; ``signatures`` as validated at intake."""

    id: Annotated[int, Doc("The file's id, for `GET .../files/{file_id}`.")]
    filename: Annotated[
        str,
        Doc(
            "The name it was uploaded with, made safe (no folders, control or direction-override "
            "characters)."
        ),
    ]
    media_type: Annotated[
        str,
        Doc("The type found in its bytes (never the client's header or the name's extension)."),
    ]
    size: Annotated[int, Doc("Its size in bytes.")]
    sha256: Annotated[
        str,
        Doc(
            "SHA-256 of its bytes (hex): every download is checked against it and sends it as the "
            "`ETag`."
        ),
    ]
    role: Annotated[FileRole, Doc("`main` (the document itself, a PDF) or `attachment`.")]
    warnings: Annotated[
        list[str],
        Doc(
            "Active content found in a PDF (JavaScript, actions run on opening, launch actions, "
            "embedded files); the file is stored unchanged."
        ),
    ]
    signatures: Annotated[
        list[SignatureOut],
        Doc("The digital signatures in a PDF, as validated when it was registered."),
    ]


@dataclass(frozen=True, slots=True)
class AssignmentOut:
    """A routing (χρέωση) of a registration to a department, and where it stands."""

    id: Annotated[
        int, Doc("The assignment's id, for its workflow steps (`/api/v1/assignments/{id}/...`).")
    ]
    protocol_number: Annotated[str, Doc("The registration's protocol number, `123/2026`.")]
    department: Annotated[str, Doc("The code of the department it is assigned to.")]
    assignee: Annotated[
        str | None,
        Doc("The employee (user name) it is assigned to within the department, if one is."),
    ]
    purpose: Annotated[Purpose, Doc("`action` (προς ενέργεια) or `information` (κοινοποίηση).")]
    state: Annotated[
        AssignmentState,
        Doc(
            "`pending` until accepted, then `accepted`; it ends `completed`, `returned` (with a "
            "reason), `forwarded` (a new assignment carries it on) or `withdrawn` (the "
            "registration was cancelled)."
        ),
    ]
    due: Annotated[
        date | None, Doc("The day the work is due, if one was set (the archive's calendar).")
    ]
    note: Annotated[str | None, Doc("What the one who assigned it wrote for the department.")]
    created_by: Annotated[
        str, Doc("Who assigned it (user name), or `rule:{id}` for an automatic routing rule.")
    ]
    created_at: Annotated[datetime, Doc("When it was assigned.")]
    accepted_at: Annotated[datetime | None, Doc("When the department accepted it.")]
    closed_at: Annotated[
        datetime | None, Doc("When it ended (completed, returned, forwarded or withdrawn).")
    ]
    return_reason: Annotated[str | None, Doc("Why it was returned.")]
    forwarded_from: Annotated[
        int | None, Doc("The id of the assignment this one was forwarded from.")
    ]


@dataclass(frozen=True, slots=True)
class CancellationOut:
    """Why and on whose authority a registration was cancelled."""

    reason: Annotated[str, Doc("Why the registration was cancelled.")]
    authorisation: Annotated[str, Doc("The act that authorised it (a decision, a document).")]
    cancelled_by: Annotated[str, Doc("Who cancelled it (user name).")]
    cancelled_at: Annotated[datetime, Doc("When it was cancelled.")]


@dataclass(frozen=True, slots=True)
class RegistrationOut:
    """A protocol book entry."""

    id: Annotated[
        int,
        Doc("The registration's internal id (stable; the protocol number is what people use)."),
    ]
    book: Annotated[
        str,
        Doc(
            "The protocol book's code: `general`, or another the organisation keeps (e.g. "
            "`confidential`)."
        ),
    ]
    year: Annotated[int, Doc("The year of its number (in the archive's time zone).")]
    number: Annotated[
        int, Doc("Its number in the book's year: from 1 on 1 January, gap-free, never reused.")
    ]
    protocol_number: Annotated[str, Doc("Number and year, `123/2026`.")]
    registered_at: Annotated[datetime, Doc("When it was registered (ISO 8601 with offset).")]
    registered_by: Annotated[str, Doc("Who registered it (user name).")]
    direction: Annotated[Direction, Doc("`incoming`, `outgoing` or `internal`.")]
    subject: Annotated[str, Doc("The subject (θέμα).")]
    sender: Annotated[str | None, Doc("Who sent it (an incoming document's correspondent).")]
    recipients: Annotated[
        list[str], Doc("Who it is addressed to (an outgoing document's correspondents).")
    ]
    sender_reference: Annotated[
        str | None, Doc("The sender's own protocol number of the document.")
    ]
    sender_date: Annotated[date | None, Doc("The date the sender gave the document.")]
    channel: Annotated[
        Channel | None, Doc("How it arrived or left (in person, post, email, ...), if recorded.")
    ]
    classification_code: Annotated[
        str | None,
        Doc(
            "Its heading of the filing plan (`GET /api/v1/classifications`), which sets how long "
            "it is kept."
        ),
    ]
    confidential: Annotated[
        bool,
        Doc(
            "Only who registered it, the departments it is assigned to and those allowed to "
            "read confidential entries may see it; to others it does not exist (404)."
        ),
    ]
    status: Annotated[
        Status, Doc("`active`, or `cancelled` (it stays readable; see `cancellation`).")
    ]
    related: Annotated[
        list[str], Doc("Registrations this one answers or follows, as `book:number/year`.")
    ]
    referenced_by: Annotated[
        list[str],
        Doc(
            "Later registrations that name this one as related (its replies, follow-ups), as "
            "`book:number/year`."
        ),
    ]
    files: Annotated[list[FileOut], Doc("Its stored files, the main document first.")]
    assignments: Annotated[
        list[AssignmentOut], Doc("Its routings (χρεώσεις) to departments, oldest first.")
    ]
    cancellation: Annotated[
        CancellationOut | None,
        Doc("Why, on whose authority, by whom and when it was cancelled; null while active."),
    ]
    verification_code: Annotated[
        str | None,
        Doc(
            "The code anyone can check the document with at `/verify/{code}`, for a document the "
            "archive sealed or issued."
        ),
    ]


@dataclass(frozen=True, slots=True)
class RegistrationPage:
    """One page of registrations, newest first; ``next_cursor`` fetches the next."""

    items: Annotated[list[RegistrationOut], Doc("The registrations of this page, newest first.")]
    next_cursor: Annotated[str | None, Doc("Pass as `cursor` for the next page; null on the last.")]


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
    """Give each shape of the document its class's docstring, and each field its ``Doc``.

    Litestar leaves both out. Fields are described as ``Annotated[str, Doc("...")]``
    (PEP 727) and set here, on the field: Litestar's own descriptions of fields (through
    ``KwargDefinition``) are written onto a referenced shape itself, so the description of
    a field whose type is another shape or an enumeration would replace that shape's own.
    The classes are looked up by the shapes' names in ``modules``, where they are defined.
    """
    for name, schema in (openapi.components.schemas or {}).items():
        shape = next((vars(m)[name] for m in modules if name in vars(m)), None)
        if not isinstance(shape, type):
            continue
        if schema.description is None and shape.__doc__:
            schema.description = inspect.cleandoc(shape.__doc__)
        hints = get_type_hints(shape, include_extras=True)
        for field, value in (schema.properties or {}).items():
            docs = [m for m in getattr(hints.get(field), "__metadata__", ()) if isinstance(m, Doc)]
            if docs:
                value.description = docs[0].documentation


class RouteIn(RequestBody, frozen=True):
    """A department to route a new registration to, as it is registered."""

    department: Annotated[str, Doc("The department's code.")]
    purpose: Annotated[str, Doc("`action` (προς ενέργεια) or `information` (κοινοποίηση).")] = (
        "action"
    )


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

    changes: Annotated[
        dict[str, str | list[str] | bool | None],
        Doc(
            "The fields to correct and their new values: direction, subject, sender, "
            "recipients, sender_reference, sender_date, channel, classification_code, "
            "confidential, related (the whole new list). System fields (book, number, year, "
            "registration time, files, who registered) cannot be changed."
        ),
    ]
    reason: Annotated[str, Doc("Why they are corrected (kept with the old values).")]


class CertificateRequest(RequestBody, frozen=True):
    """Which certificate to issue, and its field values."""

    template: Annotated[str, Doc("The template's code (`GET /api/v1/certificates/templates`).")]
    fields: Annotated[
        dict[str, str],
        Doc("The template's field values by name; dates as `31/12/2026` or `2026-12-31`."),
    ]


@dataclass(frozen=True, slots=True)
class CertificateOut:
    """An issued certificate: where to verify it and where to download the signed PDF."""

    protocol_number: Annotated[str, Doc("The certificate's protocol number, `123/2026`.")]
    verification_code: Annotated[str, Doc("The code printed on it (with its QR code).")]
    verify_url: Annotated[str, Doc("The public page where anyone can check it.")]
    download_url: Annotated[str, Doc("Where the signed PDF is downloaded (with the login).")]
    registration: Annotated[RegistrationOut, Doc("The outgoing registration it was issued as.")]


@dataclass(frozen=True, slots=True)
class TemplateFieldOut:
    """A field a certificate template asks for."""

    name: Annotated[str, Doc("The name to send it under in `fields`.")]
    label: Annotated[str, Doc("Its label, in Greek, for a form.")]
    kind: Annotated[
        str,
        Doc(
            "How it is checked: `text`, `long_text`, `date`, `afm` (tax number, with its check "
            "digit) or `amka` (social security number)."
        ),
    ]
    required: Annotated[bool, Doc("Whether it must be given.")]
    max_length: Annotated[int, Doc("The most characters it takes.")]
    default: Annotated[str | None, Doc("Its value when not given, if it has one.")]
    hint: Annotated[
        str | None, Doc("What to write there, in Greek, for a line under it on a form.")
    ]


@dataclass(frozen=True, slots=True)
class TemplateOut:
    """A certificate template."""

    code: Annotated[str, Doc("The code to issue it by (`template` of the request).")]
    title: Annotated[str, Doc("The certificate's title, in Greek.")]
    fields: Annotated[
        list[TemplateFieldOut], Doc("The values it asks for, in the order a form shows them.")
    ]


@dataclass(frozen=True, slots=True)
class ClassificationOut:
    """A heading of the filing plan: a registration's ``classification_code`` names one.

    Its documents are kept ``retention_years`` years; then ``disposal`` says what
    happens to them: ``destroy``, ``transfer`` (to the General State Archives) or
    ``review``.
    """

    code: Annotated[
        str, Doc("The heading's code, as a registration's `classification_code` gives it.")
    ]
    title: Annotated[str, Doc("The heading's title, in Greek.")]
    retention_years: Annotated[
        int, Doc("How many years its documents are kept from their registration.")
    ]
    disposal: Annotated[
        Disposal,
        Doc(
            "What happens to them then: `destroy`, `transfer` (to the General State Archives) or "
            "`review`."
        ),
    ]


def classification_out(c: Classification) -> ClassificationOut:
    """The JSON shape of a heading of the filing plan."""
    return ClassificationOut(c.code, c.title, c.retention_years, c.disposal)


@dataclass(frozen=True, slots=True)
class DepartmentOut:
    """A department (Διεύθυνση, Τμήμα): what assignments and registration filters name.

    A closed one (abolished in a reorganisation) keeps its history under its code;
    nothing is routed to it any more.
    """

    code: Annotated[str, Doc("The department's code, e.g. `DIOIK.KEP`.")]
    name: Annotated[str, Doc("Its name, in Greek.")]
    parent: Annotated[str | None, Doc("The code of the department it is part of, if any.")]
    closed_at: Annotated[datetime | None, Doc("When it was closed; `null` while it is open.")]
    routable: Annotated[
        bool,
        Doc(
            "Whether the caller may route work to it (`POST .../assignments`): it is open and "
            "the caller's role reaches it."
        ),
    ]


def department_out(department: Department, *, routable: bool) -> DepartmentOut:
    """The JSON shape of a department, with whether the caller may route work to it."""
    return DepartmentOut(
        department.code, department.name, department.parent, department.closed_at, routable
    )


@dataclass(frozen=True, slots=True)
class VerificationOut:
    """Public facts about a sealed document; ``status`` is valid, cancelled or unknown."""

    status: Annotated[
        VerificationStatus,
        Doc(
            "`valid`, `cancelled` (the registration was cancelled) or `unknown` (no document we "
            "issued has this code)."
        ),
    ]
    verification_code: Annotated[str | None, Doc("The code, as printed on the document.")]
    protocol_number: Annotated[str | None, Doc("The document's protocol number, `123/2026`.")]
    registered_at: Annotated[datetime | None, Doc("When it was registered.")]
    title: Annotated[str | None, Doc("The document's title (never the citizen's data).")]
    issuer: Annotated[str | None, Doc("The organisation that issued it.")]
    sha256: Annotated[
        str | None,
        Doc("SHA-256 of the issued PDF: a copy with another digest is not the document issued."),
    ]
    cancelled_at: Annotated[datetime | None, Doc("When it was cancelled, if it was.")]


@dataclass(frozen=True, slots=True)
class PdfVerificationOut:
    """Whether an uploaded PDF is a document we issued, unchanged, validly signed, in force."""

    authentic: Annotated[
        bool,
        Doc(
            "True only for an unchanged copy of a document we issued whose signature is intact and "
            "ours."
        ),
    ]
    identical: Annotated[bool, Doc("The file is byte for byte the document issued.")]
    document: Annotated[
        VerificationOut,
        Doc(
            "The issued document the file is, or was made from, if one is recognised; its `status` "
            "says whether it is still valid."
        ),
    ]
    signatures: Annotated[
        list[SignatureOut], Doc("The digital signatures in the file and how they validated.")
    ]
    reasons: Annotated[list[str], Doc("Why it is not authentic, in Greek.")]


@dataclass(frozen=True, slots=True)
class DailyRegisterOut:
    """A stored daily register; ``unchanged`` is false if the day's records changed since."""

    day: Annotated[date, Doc("The day it covers (the archive's calendar).")]
    entries: Annotated[
        int, Doc("How many registrations, cancellations and corrections of the day it lists.")
    ]
    audit_head: Annotated[str, Doc("The hash of the audit chain's last event when it was made.")]
    json_sha256: Annotated[str, Doc("SHA-256 of its JSON form, as stored.")]
    pdf_sha256: Annotated[str, Doc("SHA-256 of its signed PDF, as stored.")]
    created_at: Annotated[datetime, Doc("When it was made and signed.")]
    unchanged: Annotated[
        bool,
        Doc("False if the day's records no longer match it: something changed after it was made."),
    ]


class CancelRequest(RequestBody, frozen=True):
    """Why a registration is cancelled and on whose authority (a decision, a document)."""

    reason: Annotated[str, Doc("Why the registration is cancelled.")]
    authorisation: Annotated[str, Doc("The act that authorises it (a decision, a document).")]


class AssignRequest(RequestBody, frozen=True):
    """Route a registration to a department."""

    department: Annotated[str, Doc("The department's code.")]
    purpose: Annotated[str, Doc("`action` (προς ενέργεια) or `information` (κοινοποίηση).")] = (
        "action"
    )
    assignee: Annotated[
        str | None, Doc("An employee of the department (user name) to assign it to, if any.")
    ] = None
    due: Annotated[date | None, Doc("The day it is due, if any.")] = None
    note: Annotated[str | None, Doc("A note for the department.")] = None


class ReturnRequest(RequestBody, frozen=True):
    """Why an assignment is sent back."""

    reason: Annotated[str, Doc("Why it is sent back.")]


class ForwardRequest(RequestBody, frozen=True):
    """Where an assignment goes next."""

    department: Annotated[str, Doc("The code of the department it goes to.")]
    assignee: Annotated[str | None, Doc("An employee of that department (user name), if any.")] = (
        None
    )
    note: Annotated[str | None, Doc("A note for that department.")] = None


class CompleteRequest(RequestBody, frozen=True):
    """The reply registration (``123/2026``), if the work produced one."""

    reply: Annotated[
        str | None,
        Doc("The registration (`123/2026`) the work produced, e.g. the outgoing answer."),
    ] = None


@dataclass(frozen=True, slots=True)
class InboxItem:
    """An assignment with the subject of its registration."""

    assignment: Annotated[AssignmentOut, Doc("The assignment.")]
    subject: Annotated[str, Doc("Its registration's subject.")]


@dataclass(frozen=True, slots=True)
class SearchHitOut:
    """A registration found; ``highlights`` is HTML with the matched words in ``<mark>``."""

    protocol_number: Annotated[str, Doc("Number and year, `123/2026`.")]
    book: Annotated[str, Doc("The protocol book's code.")]
    year: Annotated[int, Doc("The year of its number.")]
    number: Annotated[int, Doc("Its number in the book's year.")]
    subject: Annotated[str, Doc("The subject.")]
    score: Annotated[float, Doc("How well it matches (higher is better; hits come best first).")]
    highlights: Annotated[
        str, Doc("The subject as HTML (escaped) with the matched words in `<mark>`.")
    ]


@dataclass(frozen=True, slots=True)
class SearchOut:
    """Matches the caller may see: the total, one page of hits, counts by facet.

    ``complete`` is false while the search index is being rebuilt from empty (after
    it was lost, say): registrations not yet rebuilt into it are not found.
    """

    total: Annotated[int, Doc("How many registrations match, of those the caller may see.")]
    hits: Annotated[list[SearchHitOut], Doc("One page of them, best first.")]
    facets: Annotated[
        dict[str, dict[str, int]],
        Doc(
            "Counts of all the matches by `year`, `direction`, `departments` (assigned to) and "
            "`classification` (heading), each by value."
        ),
    ]
    complete: Annotated[
        bool,
        Doc(
            "False while the index is being rebuilt from empty: registrations not yet in it are "
            "not found."
        ),
    ]


@dataclass(frozen=True, slots=True)
class AuditEventOut:
    """One event of the audit trail with its place in the hash chain."""

    seq: Annotated[int, Doc("Its place in the chain, from 1.")]
    occurred_at: Annotated[datetime, Doc("When it happened.")]
    actor: Annotated[
        str, Doc("Who did it: a user name, `system` (the server's own jobs) or `rule:{id}`.")
    ]
    action: Annotated[
        str, Doc("What was done, e.g. `registration.created`, `assignment.accepted`.")
    ]
    target: Annotated[
        str,
        Doc(
            "What it was done to: `book:number/year` for a registration, `assignment:{id}`, a user "
            "name, a department code."
        ),
    ]
    details: Annotated[dict[str, object], Doc("The values that changed or were recorded.")]
    prev_hash: Annotated[str, Doc("The `hash` of the event before it.")]
    hash: Annotated[
        str,
        Doc(
            "SHA-256 over this event and `prev_hash`: a changed or removed event breaks the chain."
        ),
    ]


@dataclass(frozen=True, slots=True)
class ChainOut:
    """The outcome of recomputing the audit hash chain."""

    ok: Annotated[
        bool, Doc("True if every event's hash is as recomputed and each follows the one before.")
    ]
    events_checked: Annotated[int, Doc("How many events were recomputed.")]
    head_hash: Annotated[str, Doc("The hash of the last event.")]
    first_bad_seq: Annotated[int | None, Doc("The first event that does not hold, if any.")]
    problem: Annotated[str | None, Doc("What is wrong with it.")]


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
            TemplateFieldOut(
                f.name, f.label, f.kind.value, f.required, f.max_length, f.default, f.hint
            )
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
