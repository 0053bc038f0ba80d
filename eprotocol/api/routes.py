"""The ``/api/v1`` endpoints: registrations and their files, routing, search and the audit trail.

Every handler acts as the user of the request's bearer token (:func:`acting_user`)
and checks the one permission table (:mod:`eprotocol.core.permissions`); a
confidential registration the caller may not read answers 404, exactly like one
that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, BinaryIO, cast
from urllib.parse import quote

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import ResponseHeader, State, UploadFile
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, HeaderParameter, Parameter, QueryParameter
from litestar.response import Stream

from eprotocol.api import schemas
from eprotocol.api.auth import user_of
from eprotocol.api.problems import AUTHENTICATED, document_problems
from eprotocol.archive import Archive
from eprotocol.core import days
from eprotocol.core.errors import Forbidden, InvalidInput, Phrase, RegistrationNotFound
from eprotocol.core.permissions import Action, allowed, holds, refusal
from eprotocol.core.queries import NO_REGISTRATION
from eprotocol.core.search import SearchFilters, SearchResult
from eprotocol.core.types import (
    BOOK_CODE_MAX,
    DEPARTMENT_CODE_MAX,
    OPEN_STATES,
    AssignmentState,
    Direction,
    FileInput,
    FileRole,
    NewRegistration,
    ProtocolRef,
    Registration,
    RegistrationFilter,
    RouteTo,
    Status,
    User,
)
from eprotocol.core.validation import CLASSIFICATION_MAX

MAY_NOT_READ_ENTRY = Phrase("may-not-read-registration", "{who} may not read registration {ref}")
MAY_NOT_READ_WORK = Phrase("may-not-read-work", "{who} may not read the work of {department}")

Year = Annotated[int, Parameter(ge=1900, le=9999, description="The protocol year.")]
#: The header a client sends to make a retried creation safe (see ``Archive.register``).
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=100,
        description="A key of the client's choosing for this document: a retry with it "
        "(after a lost answer, say) returns what the first request made instead of making "
        "another; the same key with other contents is refused with 409.",
    ),
]
Number = Annotated[
    int, Parameter(ge=1, le=999_999_999, description="The protocol number within its year.")
]
Book = Annotated[
    str | None,
    QueryParameter(
        name="book",
        max_length=BOOK_CODE_MAX,
        description="The protocol book (default: the archive's main book, e.g. `general`).",
    ),
]
#: The largest database id: what a PostgreSQL ``integer`` column holds.
MAX_ROW_ID = 2_147_483_647
FileId = Annotated[
    int, Parameter(ge=1, le=MAX_ROW_ID, description="The file's id, from the registration.")
]
AssignmentId = Annotated[
    int, Parameter(ge=1, le=MAX_ROW_ID, description="The assignment's id (`assignment.id`).")
]
#: The filters the registration list and the search share.
YearFilter = Annotated[
    int | None, Parameter(ge=1900, le=9999, description="Only registrations of this year.")
]
DirectionFilter = Annotated[
    Direction | None, Parameter(description="Only incoming, outgoing or internal documents.")
]
FromDay = Annotated[
    date | None,
    QueryParameter(
        name="from", description="Registered on or after this day (the archive's time zone)."
    ),
]
ToDay = Annotated[
    date | None,
    QueryParameter(
        name="to", description="Registered on or before this day (the archive's time zone)."
    ),
]


def acting_user(request: Request[Any, Any, State]) -> User:
    """The authenticated caller (401 problem without valid credentials)."""
    return user_of(request)


def archive_of(state: State) -> Archive:
    """The archive this server runs."""
    archive: Archive = state.archive
    return archive


def require(user: User, action: Action) -> None:
    """Raise ``Forbidden`` unless ``user`` may do ``action`` somewhere (over any scope)."""
    if not holds(user, action):
        raise refusal(user, action)


def readable(
    archive: Archive, user: User, book: str | None, year: int, number: int
) -> Registration:
    """The registration, if ``user`` may read it; hidden (404) if confidential and not theirs."""
    entry = archive.get(book or archive.config.default_book, year, number)
    if archive.may_read(entry, user):
        return entry
    if entry.confidential:
        raise RegistrationNotFound(NO_REGISTRATION(ref=f"{number}/{year}"))
    raise Forbidden(MAY_NOT_READ_ENTRY(who=user.username, ref=f"{number}/{year}"))


@dataclass
class RegistrationUpload:
    """A registration as ``multipart/form-data``: a JSON ``metadata`` part and ``files`` parts.

    The first file is the main document (a PDF); the others are attachments.
    """

    metadata: Annotated[
        str,
        Body(
            description=(
                "JSON: direction, subject, sender, recipients, sender_reference, sender_date, "
                "channel, classification_code, confidential, book, seal, related "
                '(["12/2026"]) and assignments ([{"department": "DIOIK.KEP", "purpose": '
                '"action"}], routed in the same transaction); unknown fields are refused'
            )
        ),
    ]
    files: Annotated[
        list[UploadFile],
        Body(description="The main document (a PDF) first, then the attachments."),
    ] = field(default_factory=list)


def _metadata(text: str) -> schemas.RegistrationMetadata:
    try:
        return msgspec.json.decode(text, type=schemas.RegistrationMetadata, strict=True)
    except msgspec.DecodeError as exc:  # ValidationError too
        raise InvalidInput(f"metadata is not valid: {exc}", field="metadata") from None


@post("/registrations", status_code=201, summary="Register a document with its files")
async def create_registration(
    data: Annotated[RegistrationUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    user: User,
    state: State,
    idempotency_key: IdempotencyKey = None,
) -> schemas.RegistrationOut:
    """Give a document the next protocol number; 201 with the registration.

    Sent again with the same ``Idempotency-Key`` by the same user, it answers 201 with the
    registration that key made, and nothing more is registered.
    """
    require(user, Action.REGISTER)
    meta = _metadata(data.metadata)
    uploads = data.files if isinstance(data.files, list) else [data.files]
    files = [
        FileInput(
            upload.filename or "file",
            cast(BinaryIO, upload.file),
            FileRole.MAIN if position == 0 else FileRole.ATTACHMENT,
        )
        for position, upload in enumerate(uploads)
    ]
    entry = NewRegistration(
        direction=meta.direction,
        subject=meta.subject,
        sender=meta.sender,
        recipients=meta.recipients,
        sender_reference=meta.sender_reference,
        sender_date=meta.sender_date,
        channel=meta.channel,
        classification_code=meta.classification_code,
        confidential=meta.confidential,
        related=meta.related,
        book=meta.book,
    )
    route = [RouteTo(r.department, r.purpose) for r in meta.assignments]
    try:
        registered = await sync_to_thread(
            partial(
                archive_of(state).register,
                entry,
                files,
                by=user.username,
                seal=meta.seal,
                route=route,
                submission=idempotency_key,
            )
        )
    finally:
        for upload in uploads:
            await upload.close()
    return schemas.registration_out(registered)


@get("/registrations", sync_to_thread=True, summary="List registrations")
def list_registrations(
    user: User,
    state: State,
    year: YearFilter = None,
    direction: DirectionFilter = None,
    status: Annotated[
        Status | None, Parameter(description="Only active, or only cancelled, registrations.")
    ] = None,
    department: Annotated[
        str | None,
        Parameter(
            max_length=DEPARTMENT_CODE_MAX,
            description="Only those ever assigned to this department (its code) or one below it.",
        ),
    ] = None,
    date_from: FromDay = None,
    date_to: ToDay = None,
    book: Book = None,
    cursor: Annotated[
        str | None,
        Parameter(max_length=200, description="`next_cursor` of the page before, for the next."),
    ] = None,
    limit: Annotated[int, Parameter(ge=1, le=200, description="How many, at most.")] = 50,
) -> schemas.RegistrationPage:
    """Newest first, ``limit`` at a time; entries the caller may not read are left out."""
    require(user, Action.READ)
    archive = archive_of(state)
    tz = archive.timezone
    page = archive.list(
        RegistrationFilter(
            book=book,
            year=year,
            direction=direction,
            status=status,
            registered_from=None if date_from is None else days.midnight(date_from, tz),
            registered_to=None if date_to is None else days.bounds(date_to, tz)[1],
            department=department,
        ),
        limit=limit,
        cursor=cursor,
    )
    visible = archive.readable_by(user, page.items)
    return schemas.RegistrationPage(
        [schemas.registration_out(e) for e in visible], page.next_cursor
    )


@get("/registrations/{year:int}/{number:int}", sync_to_thread=True, summary="One registration")
def get_registration(
    year: Year, number: Number, user: User, state: State, book: Book = None
) -> schemas.RegistrationOut:
    """A registration with its files, assignments and cancellation."""
    archive = archive_of(state)
    entry = readable(archive, user, book, year, number)
    return schemas.registration_out(
        replace(entry, referenced_by=archive.referenced_by(entry, user))
    )


@get(
    "/registrations/{year:int}/{number:int}/files/{file_id:int}",
    sync_to_thread=True,
    summary="Download a file",
    media_type="application/octet-stream",
)
def download_file(
    year: Year, number: Number, file_id: FileId, user: User, state: State, book: Book = None
) -> Stream:
    """The stored bytes, as an attachment; ``ETag`` is the SHA-256. The download is audited."""
    return file_download(archive_of(state), user, book, year, number, file_id)


def file_download(
    archive: Archive, user: User, book: str | None, year: int, number: int, file_id: int
) -> Stream:
    """A registration's file as an audited attachment download (for the API and the pages)."""
    entry = readable(archive, user, book, year, number)
    stored, chunks = archive.read_file(entry.book, year, number, file_id)
    archive.record_access(
        "file.downloaded",
        str(entry.ref),
        {"file_id": stored.id, "sha256": stored.sha256},
        by=user.username,
    )
    ascii_name = stored.filename.encode("ascii", "replace").decode().replace('"', "_")
    disposition = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(stored.filename)}"
    )
    return Stream(
        chunks,
        media_type=stored.media_type
        if stored.media_type != "text/html"
        else "application/octet-stream",
        headers={
            "Content-Disposition": disposition,
            "ETag": f'"{stored.sha256}"',
            "Content-Length": str(stored.size),
        },
    )


@post(
    "/registrations/{year:int}/{number:int}/cancel",
    sync_to_thread=True,
    status_code=200,
    summary="Cancel a registration",
)
def cancel_registration(
    year: Year,
    number: Number,
    data: schemas.CancelRequest,
    user: User,
    state: State,
    book: Book = None,
) -> schemas.RegistrationOut:
    """Cancel a registration for ever (protocol office and admins), with reason and authority.

    Its open assignments end with it: their state becomes `withdrawn`.
    """
    return _change(
        state,
        user,
        (book, year, number),
        Action.CANCEL,
        lambda archive, book: archive.cancel(
            book,
            year,
            number,
            reason=data.reason,
            authorisation=data.authorisation,
            by=user.username,
        ),
    )


def _change(
    state: State,
    user: User,
    ref: tuple[str | None, int, int],
    action: Action,
    change: Callable[[Archive, str], Registration],
) -> schemas.RegistrationOut:
    """Apply ``change`` to a registration the user may read and may do ``action`` on."""
    archive = archive_of(state)
    entry = readable(archive, user, *ref)
    require(user, action)
    return schemas.registration_out(change(archive, entry.book))


@post(
    "/registrations/{year:int}/{number:int}/corrections",
    sync_to_thread=True,
    status_code=200,
    summary="Correct a registration",
)
def correct_registration(
    year: Year,
    number: Number,
    data: schemas.CorrectionRequest,
    user: User,
    state: State,
    book: Book = None,
) -> schemas.RegistrationOut:
    """Correct non-system fields (protocol office and admins); old values are kept."""
    return _change(
        state,
        user,
        (book, year, number),
        Action.CORRECT,
        lambda archive, book: archive.correct(
            book, year, number, data.changes, reason=data.reason, by=user.username
        ),
    )


@post(
    "/registrations/{year:int}/{number:int}/assignments",
    sync_to_thread=True,
    status_code=201,
    summary="Route a registration to a department",
)
def assign(
    year: Year,
    number: Number,
    data: schemas.AssignRequest,
    user: User,
    state: State,
    book: Book = None,
) -> schemas.AssignmentOut:
    """Route a registration to a department (χρέωση)."""
    archive = archive_of(state)
    entry = readable(archive, user, book, year, number)
    return schemas.assignment_out(
        archive.assign(
            entry.book,
            year,
            number,
            department=data.department,
            purpose=data.purpose,
            assignee=data.assignee,
            due=data.due,
            note=data.note,
            by=user.username,
        )
    )


@post(
    "/assignments/{assignment_id:int}/accept",
    sync_to_thread=True,
    status_code=200,
    summary="Accept an assignment",
)
def accept(assignment_id: AssignmentId, user: User, state: State) -> schemas.AssignmentOut:
    """Acknowledge a pending assignment.

    Sent again by the same user (a retry after a timeout), it answers the assignment as
    it stands and writes nothing; so do the other steps, with the same values.
    """
    return schemas.assignment_out(archive_of(state).accept(assignment_id, by=user.username))


@post(
    "/assignments/{assignment_id:int}/complete",
    sync_to_thread=True,
    status_code=200,
    summary="Complete an assignment",
)
def complete(
    assignment_id: AssignmentId,
    user: User,
    state: State,
    data: schemas.CompleteRequest | None = None,
) -> schemas.AssignmentOut:
    """Complete an accepted assignment, optionally naming the reply (``123/2026``)."""
    archive = archive_of(state)
    reply = None
    if data is not None and data.reply:
        reply = ProtocolRef.parse(
            data.reply, default_book=archive.config.default_book, field="reply"
        )
    return schemas.assignment_out(archive.complete(assignment_id, by=user.username, reply=reply))


@post(
    "/assignments/{assignment_id:int}/return",
    sync_to_thread=True,
    status_code=200,
    summary="Return an assignment",
)
def return_assignment(
    assignment_id: AssignmentId, data: schemas.ReturnRequest, user: User, state: State
) -> schemas.AssignmentOut:
    """Send an open assignment back, with the reason."""
    return schemas.assignment_out(
        archive_of(state).return_assignment(assignment_id, reason=data.reason, by=user.username)
    )


@post(
    "/assignments/{assignment_id:int}/forward",
    sync_to_thread=True,
    status_code=201,
    summary="Forward an assignment to another department",
)
def forward(
    assignment_id: AssignmentId, data: schemas.ForwardRequest, user: User, state: State
) -> schemas.AssignmentOut:
    """Move an open assignment to another department; 201 with the new assignment."""
    return schemas.assignment_out(
        archive_of(state).forward(
            assignment_id,
            department=data.department,
            assignee=data.assignee,
            note=data.note,
            by=user.username,
        )
    )


#: The most assignments one answer of a department's inbox gives.
INBOX_LIMIT = 5000


@get(
    "/departments/{code:str}/inbox",
    sync_to_thread=True,
    summary="A department's work",
    response_headers=[
        ResponseHeader(
            name="X-Total-Count",
            description="How many assignments there are in all, beyond this page too.",
            documentation_only=True,
        )
    ],
)
def department_inbox(
    code: Annotated[str, Parameter(description="The department's code, e.g. `DIOIK.KEP`.")],
    user: User,
    state: State,
    states: Annotated[
        list[AssignmentState] | None,
        QueryParameter(
            name="state",
            description="Only assignments in these states (repeat it for several: "
            "`?state=completed&state=withdrawn`); the open ones, `pending` and `accepted`, "
            "if not given.",
        ),
    ] = None,
    ended_since: Annotated[
        datetime | None,
        Parameter(
            description="Of the ended assignments, only those ended at or after this time "
            "(ISO 8601; without an offset, in the archive's time zone): for fetching "
            "what ended since the last time asked. Ask from a minute before the latest "
            "`closed_at` already seen: a step committed just then may carry an earlier time."
        ),
    ] = None,
    limit: Annotated[
        int, Parameter(ge=1, le=INBOX_LIMIT, description="How many assignments, at most.")
    ] = INBOX_LIMIT,
    offset: Annotated[
        int, Parameter(ge=0, le=MAX_ROW_ID, description="How many of them to skip.")
    ] = 0,
) -> Response[list[schemas.InboxItem]]:
    """Assignments of the department and the departments below it; its open work by default.

    Open work first — the most overdue first, then by due date, then that without one,
    oldest first — then ended work (asked for with ``state``), the latest ended first.
    ``X-Total-Count`` says how many there are in all, for paging with ``offset``.
    """
    archive = archive_of(state)
    if not allowed(user, Action.READ, department_path=archive.department_path(code)):
        raise Forbidden(MAY_NOT_READ_WORK(who=user.username, department=code))
    work = archive.work(
        department=code,
        states=OPEN_STATES if states is None else states,
        ended_since=ended_since,
        offset=offset,
        limit=limit,
    )
    return Response(schemas.inbox_out(work.entries), headers={"X-Total-Count": str(work.total)})


def search_filters(
    year: YearFilter = None,
    direction: DirectionFilter = None,
    department: Annotated[
        str | None,
        Parameter(
            max_length=DEPARTMENT_CODE_MAX,
            description="Only those assigned to this department (its code, as the facet names it).",
        ),
    ] = None,
    classification: Annotated[
        str | None,
        Parameter(
            max_length=CLASSIFICATION_MAX,
            description="Only those filed under this heading of the filing plan (its code).",
        ),
    ] = None,
    date_from: FromDay = None,
    date_to: ToDay = None,
) -> SearchFilters:
    """The filters of a search from its query parameters (for the API and the search page)."""
    return SearchFilters(
        year=year,
        direction=direction,
        department=department,
        classification=classification,
        registered_from=date_from,
        registered_to=date_to,
    )


@get(
    "/search",
    sync_to_thread=True,
    summary="Full-text search",
    dependencies={"filters": Provide(search_filters, sync_to_thread=False)},
)
def search(
    user: User,
    state: State,
    filters: SearchFilters,
    q: Annotated[
        str,
        Parameter(
            min_length=1,
            max_length=500,
            description="Words in Greek (any form, any case, or in Latin letters), "
            '"phrases", AND/OR/NOT, a minus before a word to leave it out, field:value '
            "(e.g. `year:2026`), or a protocol number such as `123/2026`.",
        ),
    ],
    limit: Annotated[int, Parameter(ge=1, le=100, description="How many hits, at most.")] = 20,
    offset: Annotated[
        int, Parameter(ge=0, le=10_000, description="How many of the best hits to skip.")
    ] = 0,
) -> schemas.SearchOut:
    """Registrations the caller may see, best first, with highlights and facets. Audited."""
    require(user, Action.READ)
    archive = archive_of(state)
    return schemas.search_out(audited_search(archive, user, q, filters, limit=limit, offset=offset))


def audited_search(
    archive: Archive, user: User, q: str, filters: SearchFilters, *, limit: int, offset: int
) -> SearchResult:
    """Search as ``user`` and record the search in the audit trail (for the API and the pages)."""
    result = archive.search(q, by=user.username, filters=filters, limit=limit, offset=offset)
    archive.record_access(
        "search",
        q,
        {"filters": {k: str(v) for k, v in asdict(filters).items() if v is not None}},
        by=user.username,
    )
    return result


@get("/classifications", sync_to_thread=True, summary="The filing plan")
def classifications(user: User, state: State) -> list[schemas.ClassificationOut]:
    """The headings of the filing plan, by code: what ``classification_code`` may name.

    Any logged-in user (asking for ``user`` is what makes the caller log in); the plan is
    managed with ``eprotocol classification`` or on the administration page.
    """
    return [schemas.classification_out(c) for c in archive_of(state).classifications()]


@get("/departments", sync_to_thread=True, summary="The departments")
def departments(user: User, state: State) -> list[schemas.DepartmentOut]:
    """The departments, by code, closed ones too: what ``department`` names in assignments.

    Any logged-in user; ``routable`` says which the caller may route work to.
    """
    archive = archive_of(state)
    routable = {d.code for d in archive.routable_departments(user)}
    return [schemas.department_out(d, routable=d.code in routable) for d in archive.departments()]


@get("/audit", sync_to_thread=True, summary="The audit trail")
def audit(
    user: User,
    state: State,
    after: Annotated[
        int,
        Parameter(ge=0, le=MAX_ROW_ID, description="The last event's `seq` already read."),
    ] = 0,
    limit: Annotated[int, Parameter(ge=1, le=1000, description="How many, at most.")] = 100,
) -> list[schemas.AuditEventOut]:
    """Audit events after ``after``, oldest first (auditors and admins)."""
    require(user, Action.READ_AUDIT)
    return [schemas.audit_out(e) for e in archive_of(state).audit_events(after=after, limit=limit)]


@get("/audit/verify", sync_to_thread=True, summary="Check the audit hash chain")
def audit_verify(user: User, state: State) -> schemas.ChainOut:
    """Recompute the hash chain; names the first broken event."""
    require(user, Action.READ_AUDIT)
    return schemas.chain_out(archive_of(state).verify_audit_chain())


def api_router() -> Router:
    """Every ``/api/v1`` endpoint that needs a logged-in user."""
    return Router(
        path="/api/v1",
        route_handlers=document_problems(
            [
                create_registration,
                list_registrations,
                get_registration,
                download_file,
                cancel_registration,
                correct_registration,
                assign,
                accept,
                complete,
                return_assignment,
                forward,
                department_inbox,
                search,
                classifications,
                departments,
                audit,
                audit_verify,
            ],
            AUTHENTICATED,
        ),
        dependencies={"user": Provide(acting_user, sync_to_thread=True)},
        security=[{"bearer": []}],
    )
