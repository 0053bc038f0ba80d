"""Certificates, public verification and daily registers over HTTP.

``POST /api/v1/certificates`` issues (logged-in issuers); ``GET /verify/{code}``
and ``POST /api/v1/verify`` are public, for citizens and anyone holding a
document; daily registers are read by the protocol office and auditors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Annotated, Any, Literal

from litestar import Request, Response, Router, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State, UploadFile
from litestar.di import Provide
from litestar.enums import MediaType, RequestEncodingType
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)
from litestar.params import Body, Parameter
from litestar.response import Stream

from eprotocol.api import schemas
from eprotocol.api.auth import count_file_check
from eprotocol.api.problems import AUTHENTICATED, document_problems, problem_responses
from eprotocol.api.routes import IdempotencyKey, acting_user, archive_of, require
from eprotocol.api.web.public import read_file_to_check, verification_page
from eprotocol.core.certificates import CODE_PATTERN
from eprotocol.core.permissions import Action
from eprotocol.core.types import User

#: A day of the archive's calendar, in a path.
Day = Annotated[
    date, Parameter(description="The day, e.g. `2026-03-02` (the archive's time zone).")
]


@dataclass
class _PageOrJson(Operation):
    """The verification answer is a page, or JSON when asked for: the document says both."""

    def __post_init__(self) -> None:
        self.responses = {**(self.responses or {})}
        self.responses["200"] = OpenAPIResponse(
            description="The public facts of the document (status valid, cancelled or unknown)",
            content={
                MediaType.HTML: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
                MediaType.JSON: OpenAPIMediaType(
                    schema=Reference("#/components/schemas/VerificationOut")
                ),
            },
        )


@get(
    "/verify/{code:str}",
    sync_to_thread=True,
    tags=["verification"],
    summary="Verify by code",
    operation_class=_PageOrJson,
)
def verify_code(
    code: Annotated[
        str,
        Parameter(
            max_length=64,
            pattern=CODE_PATTERN,
            description="The verification code printed on the document (with or without dashes).",
        ),
    ],
    request: Request[Any, Any, State],
    state: State,
) -> Response[Any]:
    """Public: a page for people, or JSON with ``Accept: application/json``; no personal data."""
    result = archive_of(state).verify_code(code)
    if request.accept.best_match([MediaType.HTML, MediaType.JSON]) == MediaType.JSON:
        return Response(schemas.verification_out(result))
    return verification_page(request, result, result.verification_code or code)


@dataclass
class PdfUpload:
    """A PDF to check, as the ``file`` part of ``multipart/form-data``."""

    file: Annotated[UploadFile, Body(description="The PDF, up to 20 MB.")]


@post(
    "/api/v1/verify",
    status_code=200,
    tags=["verification"],
    summary="Verify a PDF",
    responses=problem_responses(429),
)
async def verify_pdf(
    data: Annotated[PdfUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    request: Request[Any, Any, State],
    state: State,
) -> schemas.PdfVerificationOut:
    """Public: is the uploaded file one we issued, unchanged, validly signed and not cancelled.

    Files up to 20 MB. One address may have 60 files checked in ten minutes; more get 429
    with ``Retry-After``.
    """
    count_file_check(request)
    content = await read_file_to_check(data.file)
    result = await sync_to_thread(partial(archive_of(state).verify_pdf, content))
    return schemas.pdf_verification_out(result)


@get("/certificates/templates", sync_to_thread=True, summary="Certificate templates")
def certificate_templates(user: User, state: State) -> list[schemas.TemplateOut]:
    """The templates a counter employee can issue, with the fields each needs."""
    require(user, Action.ISSUE_CERTIFICATE)
    return [schemas.template_out(t) for t in archive_of(state).certificate_templates()]


@post("/certificates", sync_to_thread=True, status_code=201, summary="Issue a certificate")
def issue_certificate(
    data: schemas.CertificateRequest,
    user: User,
    state: State,
    idempotency_key: IdempotencyKey = None,
) -> schemas.CertificateOut:
    """Render, register, stamp, sign and store a certificate; 201 with where to get it.

    Sent again with the same ``Idempotency-Key`` by the same user, it answers with the
    certificate that key issued, and issues no other.
    """
    archive = archive_of(state)
    entry = archive.issue_certificate(
        data.template, data.fields, by=user.username, submission=idempotency_key
    )
    code = entry.verification_code or ""
    public = archive.config.public_url.rstrip("/")
    return schemas.CertificateOut(
        protocol_number=entry.protocol_number,
        verification_code=code,
        verify_url=f"{public}/verify/{code}",
        download_url=(
            f"/api/v1/registrations/{entry.year}/{entry.number}/files/{entry.files[0].id}"
            f"?book={entry.book}"
        ),
        registration=schemas.registration_out(entry),
    )


@get("/daily-registers/{day:date}", sync_to_thread=True, summary="A daily register")
def daily_register(day: Day, user: User, state: State) -> schemas.DailyRegisterOut:
    """The stored register of a day (protocol office and auditors)."""
    require(user, Action.READ_DAILY_REGISTER)
    return schemas.daily_register_out(archive_of(state).daily_register(day))


@get(
    "/daily-registers/{day:date}/{kind:str}",
    sync_to_thread=True,
    summary="Download a daily register (json or pdf)",
    media_type="application/octet-stream",
)
def daily_register_file(
    day: Day,
    kind: Annotated[
        Literal["json", "pdf"], Parameter(description="The register as JSON, or its signed PDF.")
    ],
    user: User,
    state: State,
) -> Stream:
    """The stored JSON or signed PDF of a day, verified against its SHA-256 as it streams."""
    require(user, Action.READ_DAILY_REGISTER)
    archive = archive_of(state)
    record = archive.daily_register(day)
    sha = record.json_sha256 if kind == "json" else record.pdf_sha256
    return Stream(
        archive.read_daily_register(day, kind),
        media_type="application/json" if kind == "json" else "application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="daily-register-{day}.{kind}"',
            "ETag": f'"{sha}"',
        },
    )


def certificates_router() -> Router:
    """The ``/api/v1`` endpoints of certificates and daily registers (logged-in users)."""
    return Router(
        path="/api/v1",
        route_handlers=document_problems(
            [certificate_templates, issue_certificate, daily_register, daily_register_file],
            AUTHENTICATED,
        ),
        dependencies={"user": Provide(acting_user, sync_to_thread=True)},
        security=[{"bearer": []}],
    )
