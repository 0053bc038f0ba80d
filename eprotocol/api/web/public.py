"""Pages without a session: staff login and logout, and the citizens' verification pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State, UploadFile
from litestar.response import Redirect, Template

from eprotocol.api.auth import authenticate, count_file_check
from eprotocol.api.web.rendering import (
    SESSION_COOKIE,
    form_text,
    local_path,
    optional_viewer,
    page,
    see_other,
    session_cookie,
)
from eprotocol.core.certificates import CODE_PATTERN, Verification
from eprotocol.core.errors import InvalidInput, Phrase, Throttled, Unauthenticated

#: Largest file a citizen may upload to verify (a certificate is a few hundred KB).
VERIFY_UPLOAD_MAX = 20 * 1024 * 1024
VERIFY_TOO_LARGE = Phrase("verify-too-large", "the file is larger than {mb} MB")


async def read_file_to_check(upload: UploadFile) -> bytes:
    """The bytes of a file uploaded for verification; ``InvalidInput`` beyond the size limit."""
    try:
        content = await upload.read(VERIFY_UPLOAD_MAX + 1)
    finally:
        await upload.close()
    if len(content) > VERIFY_UPLOAD_MAX:
        raise InvalidInput(VERIFY_TOO_LARGE(mb=VERIFY_UPLOAD_MAX // (1024 * 1024)), field="file")
    return content


@get("/login", sync_to_thread=False)
def login_form(request: Request[Any, Any, State], next: str | None = None) -> Template:  # noqa: A002
    """The staff login form."""
    return page(request, "login.html", next=local_path(next), error=None, username="")


@post("/login")
async def login_submit(request: Request[Any, Any, State]) -> Template | Redirect:
    """Check the password; on success set the session cookie and go where the user was going."""
    form = await request.form()
    username = form_text(form, "username")
    password = form.get("password")
    target = local_path(form_text(form, "next"))
    try:
        user = await sync_to_thread(
            authenticate, request, username, password if isinstance(password, str) else ""
        )
    except (Unauthenticated, Throttled) as exc:
        status = 429 if isinstance(exc, Throttled) else 401
        message = (
            "Πολλές αποτυχημένες προσπάθειες· δοκιμάστε ξανά σε λίγα λεπτά."
            if status == 429
            else "Λάθος όνομα χρήστη ή κωδικός."
        )
        return page(
            request, "login.html", status=status, next=target, error=message, username=username
        )
    response = see_other(target)
    response.cookies.append(session_cookie(request, user))
    return response


@post("/logout")
async def logout() -> Redirect:
    """Forget the session."""
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@get("/verify", sync_to_thread=False)
def verify_form(request: Request[Any, Any, State], code: str | None = None) -> Response[Any]:
    """The citizens' form: type the code printed on the document, or upload the PDF."""
    error = None
    if code and code.strip():
        if re.fullmatch(CODE_PATTERN, code.strip()):
            return see_other(f"/verify/{quote(code.strip())}")
        error = "Ο κωδικός έχει 16 γράμματα και ψηφία, π.χ. 7KQ3-M9XD-T4PA-2HWN."
    return page(
        request,
        "verify.html",
        status=422 if error else 200,
        user=optional_viewer(request),
        result=None,
        error=error,
        code=code or "",
        # A public server may run without the signing key: codes only, then.
        can_check_files=request.app.state.archive.has_signer,
    )


@post("/verify", exclude_from_csrf=True)
async def verify_upload(request: Request[Any, Any, State]) -> Template:
    """Check an uploaded PDF: issued by us, unchanged, signed and still valid.

    Public and read-only, so without a CSRF token: a citizen's phone that keeps no
    cookies can still check a document.
    """
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return page(
            request,
            "verify.html",
            status=422,
            result=None,
            error="Επιλέξτε ένα αρχείο PDF.",
            code="",
            can_check_files=request.app.state.archive.has_signer,
        )
    count_file_check(request)
    content = await read_file_to_check(upload)
    result = await sync_to_thread(request.app.state.archive.verify_pdf, content)
    return page(request, "verify.html", result=result, error=None, code="")


def verification_page(
    request: Request[Any, Any, State], result: Verification, code: str
) -> Template:
    """The public page of a verification code: valid, cancelled or unknown; no personal data."""
    return page(request, "verify_code.html", result=result, code=code)


#: The pages without a session, for the pages' router.
HANDLERS = [login_form, login_submit, logout, verify_form, verify_upload]
