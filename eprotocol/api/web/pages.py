"""Pages for staff: inbox, registering, a registration, search, certificates, statistics."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import secrets
from collections.abc import Iterable
from functools import partial
from typing import Annotated, Any, BinaryIO, cast

from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import FormMultiDict, State, UploadFile
from litestar.di import Provide
from litestar.params import Parameter, QueryParameter
from litestar.response import Redirect, Stream, Template
from litestar.types import ControllerRouterHandler

from eprotocol.api.routes import (
    AssignmentId,
    FileId,
    Number,
    Year,
    archive_of,
    audited_search,
    file_download,
    readable,
    require,
    search_filters,
)
from eprotocol.api.web import charts
from eprotocol.api.web.rendering import error_page, form_day, form_text, local_path, page, see_other
from eprotocol.archive import Archive
from eprotocol.core.errors import EProtocolError, InvalidInput, NotFound, Phrase
from eprotocol.core.permissions import Action, holds
from eprotocol.core.routing import WORK_SHOWN, WorkList
from eprotocol.core.search import SearchFilters
from eprotocol.core.types import (
    OPEN_STATES,
    Channel,
    Classification,
    Department,
    Direction,
    FileInput,
    FileRole,
    NewRegistration,
    ProtocolRef,
    Purpose,
    Registration,
    RouteTo,
    StoredFile,
    User,
)
from eprotocol.core.validation import CORRECTABLE
from eprotocol.pdf.preview import PageImage, PagePreviewer

#: Text fields of the registration form, kept when the form comes back with an error: the
#: fields a registration's clerk fills in, but the confidential tick box.
_REGISTER_FIELDS = (*(name for name in CORRECTABLE if name != "confidential"), "related")


def _registration_url(book: str, year: int, number: int) -> str:
    return f"/registrations/{book}/{year}/{number}"


# -- inbox -------------------------------------------------------------------------------


#: How far into a list of work the inbox's pager goes (a department's 100,000th assignment).
_WORK_OFFSET_MAX = 100_000


@get("/", sync_to_thread=True)
def inbox(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    mine_offset: Annotated[int, Parameter(ge=0, le=_WORK_OFFSET_MAX)] = 0,
    department_offset: Annotated[int, Parameter(ge=0, le=_WORK_OFFSET_MAX)] = 0,
) -> Template:
    """My work and my department's open work, overdue first; work sent back to route again.

    A list longer than a page (a department's thousands) is read a hundred at a time.
    """
    archive = archive_of(state)
    mine = archive.work(assignee=user.username, offset=mine_offset)
    department = (
        archive.work(department=user.department, offset=department_offset)
        if user.department
        else WorkList((), 0)
    )
    recent: tuple[Registration, ...] = ()
    if user.department is None or not mine.total:
        recent = archive.readable_by(user, archive.list(limit=15).items)
    return page(
        request,
        "inbox.html",
        user=user,
        today=archive.today(),
        mine=mine,
        department=department,
        page_size=WORK_SHOWN,
        workable=archive.permitted_on(
            user, (item.assignment for item in (*mine.entries, *department.entries)), Action.WORK
        )[Action.WORK],
        returned=archive.returned_to(user),
        ended=archive.ended_by_cancellation(user),
        recent=recent,
        **_names(archive, archive.departments()),
    )


def _department_names(departments: Iterable[Department]) -> dict[str, str]:
    """Each department's name by its code, for the pages' ``department`` filter."""
    return {d.code: d.name for d in departments}


def _headings(archive: Archive, codes: Iterable[str] | None = None) -> dict[str, Classification]:
    """The filing plan's headings (or those of ``codes``) by code, for pages that name them.

    A plan has hundreds of headings, a page of search results or figures names a few.
    """
    return {c.code: c for c in archive.classifications(codes)}


def _names(archive: Archive, departments: Iterable[Department]) -> dict[str, Any]:
    """What the pages name departments and people by (the ``department`` and ``person`` filters).

    ``departments`` are the archive's, which the page may have read for itself already.
    ``away`` are the users who have left: their open work is marked, for their head to forward.
    """
    users = archive.users()
    return {
        "department_names": _department_names(departments),
        "people": {u.username: u.full_name for u in users},
        "away": frozenset(u.username for u in users if not u.active),
    }


def _staff_of(archive: Archive, departments: Iterable[Department]) -> tuple[User, ...]:
    """The active users of ``departments``: whom a routing form may name as the assignee."""
    codes = {d.code for d in departments}
    return tuple(u for u in archive.users(active=True) if u.department in codes)


# -- registering -------------------------------------------------------------------------


def _form_context(archive: Archive) -> dict[str, Any]:
    return {
        "directions": list(Direction),
        "channels": list(Channel),
        "classifications": archive.classifications(),
        "departments": archive.departments(closed=False),
    }


def _answered(archive: Archive, user: User, reply_to: str | None) -> Registration | None:
    """The entry a new registration answers (``reply_to`` is ``book:number/year``), if any."""
    if not reply_to:
        return None
    ref = ProtocolRef.parse(reply_to, default_book=archive.config.default_book, field="reply_to")
    return readable(archive, user, ref.book, ref.year, ref.number)


@get("/register", sync_to_thread=True)
def register_form(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    reply_to: Annotated[str | None, Parameter(max_length=60)] = None,
) -> Template:
    """The form of a new registration, with drag-and-drop files.

    ``reply_to`` (``book:number/year``) starts the outgoing answer to an entry:
    related to it and addressed to its sender.
    """
    require(user, Action.REGISTER)
    archive = archive_of(state)
    values = dict.fromkeys(_REGISTER_FIELDS, "")
    values["direction"] = Direction.INCOMING.value
    answered = _answered(archive, user, reply_to)
    if answered is not None:
        values["direction"] = Direction.OUTGOING.value
        values["related"] = answered.ref.printed_in(archive.config.default_book)
        values["recipients"] = answered.sender or ""
    return page(
        request,
        "register.html",
        user=user,
        values=values,
        answering=answered,
        routed=(),
        error=None,
        # Sent with the form: a double click or a reload registers it once (see register).
        submission=secrets.token_urlsafe(16),
        **_form_context(archive),
    )


#: Dates typed on the pages' forms that are no dates.
SENDER_DATE = Phrase("sender-date-typed", "the sender's date is not a date")
DUE_DATE = Phrase("due-date-typed", "the due date is not a date")
NO_SUCH_FILE = Phrase("no-such-file", "registration {ref} has no file {file_id}")
NO_PAGE_IMAGES = Phrase("no-page-images", "only PDF files have page images")
NOT_CORRECTED_HERE = Phrase(
    "not-corrected-here",
    "only the subject, the sender, the related entries or the filing heading can be corrected here",
)
NO_SUCH_CHANGE = Phrase("no-such-change", "a registration cannot be changed by {change!r}")
NO_SUCH_STEP = Phrase("no-such-step", "there is no step {step!r}")
CHOOSE_TEMPLATE = Phrase("choose-template", "choose a certificate template")


def _new_registration(form: FormMultiDict) -> NewRegistration:
    when = form_day(form, "sender_date", SENDER_DATE())
    return NewRegistration(
        direction=form_text(form, "direction"),
        subject=form_text(form, "subject"),
        sender=form_text(form, "sender") or None,
        recipients=[r.strip() for r in form_text(form, "recipients").splitlines() if r.strip()],
        sender_reference=form_text(form, "sender_reference") or None,
        sender_date=when,
        channel=form_text(form, "channel") or None,
        classification_code=form_text(form, "classification_code") or None,
        confidential=form.get("confidential") == "on",
        related=_references(form_text(form, "related")),
    )


def _references(text: str) -> list[str]:
    """The protocol numbers typed in a «Σχετικά» field, split at commas or spaces."""
    return [ref for ref in re.split(r"[\s,;]+", text) if ref]


@post("/register/suggestions")
async def routing_suggestions(
    request: Request[Any, Any, State], user: User, state: State
) -> Template:
    """Departments the routing rules (and similar past registrations) suggest (an htmx part)."""
    require(user, Action.REGISTER)
    form = await request.form()
    try:
        suggestions = await sync_to_thread(
            archive_of(state).suggest_routing, _new_registration(form)
        )
    except InvalidInput:
        suggestions = ()  # the form is not complete yet: nothing to suggest
    names = _department_names(await sync_to_thread(archive_of(state).departments))
    return page(
        request, "_suggestions.html", user=user, suggestions=suggestions, department_names=names
    )


@post("/register")
async def register_submit(
    request: Request[Any, Any, State], user: User, state: State
) -> Template | Redirect:
    """Register the document and route it to the departments ticked, together; show its number."""
    require(user, Action.REGISTER)
    archive = archive_of(state)
    form = await request.form()
    uploads = [f for f in form.getall("files", []) if isinstance(f, UploadFile) and f.filename]
    routed = [str(code) for code in form.getall("route", [])]
    route: list[RouteTo | str] = [
        *routed,
        *(RouteTo(str(code), Purpose.INFORMATION) for code in form.getall("inform", [])),
    ]
    try:
        data = _new_registration(form)
        files = [
            FileInput(
                upload.filename,
                cast(BinaryIO, upload.file),
                FileRole.MAIN if position == 0 else FileRole.ATTACHMENT,
            )
            for position, upload in enumerate(uploads)
        ]
        entry = await sync_to_thread(
            partial(
                archive.register,
                data,
                files,
                by=user.username,
                route=route,
                submission=form_text(form, "submission") or None,
            )
        )
    except InvalidInput as exc:  # nothing registered: the form comes back
        values = {name: form_text(form, name) for name in _REGISTER_FIELDS}
        context = await sync_to_thread(_form_context, archive)
        answered = await sync_to_thread(_answered, archive, user, form_text(form, "reply_to"))
        return page(
            request,
            "register.html",
            status=422,
            user=user,
            values=values,
            answering=answered,
            routed=routed,
            error=exc.message,
            submission=form_text(form, "submission"),  # nothing was registered with it
            **context,
        )
    finally:
        for upload in uploads:
            await upload.close()
    return see_other(_registration_url(entry.book, entry.year, entry.number) + "?registered=1")


# -- one registration ------------------------------------------------------------------


def _entry(book: str, year: Year, number: Number, user: User, state: State) -> Registration:
    """The registration of the page's path, if the user may read it (404 if hidden)."""
    return readable(archive_of(state), user, book, year, number)


def _file(entry: Registration, file_id: int) -> StoredFile:
    stored = next((f for f in entry.files if f.id == file_id), None)
    if stored is None:
        raise NotFound(NO_SUCH_FILE(ref=entry.protocol_number, file_id=file_id))
    return stored


def _sees_audit(user: User) -> bool:
    return holds(user, Action.READ_AUDIT) or holds(user, Action.CANCEL)


def _page_image(state: State, entry: Registration, stored: StoredFile, index: int) -> PageImage:
    """Page ``index`` of a stored PDF, drawn in the sandbox (``InvalidInput`` if not a PDF)."""
    if stored.media_type != "application/pdf":
        raise InvalidInput(NO_PAGE_IMAGES(), field="file_id")
    archive = archive_of(state)
    previewer: PagePreviewer = state.previewer
    return previewer.render(
        stored.sha256,
        lambda: archive.read_file(entry.book, entry.year, entry.number, stored.id)[1],
        index,
    )


def _assign(archive: Archive, entry: Registration, form: FormMultiDict, user: User) -> None:
    due_date = form_day(form, "due", DUE_DATE())
    archive.assign(
        entry.book,
        entry.year,
        entry.number,
        department=form_text(form, "department"),
        purpose=form_text(form, "purpose") or Purpose.ACTION,
        assignee=form_text(form, "assignee") or None,
        due=due_date,
        note=form_text(form, "note") or None,
        by=user.username,
    )


def _cancel(archive: Archive, entry: Registration, form: FormMultiDict, user: User) -> None:
    require(user, Action.CANCEL)
    archive.cancel(
        entry.book,
        entry.year,
        entry.number,
        reason=form_text(form, "reason"),
        authorisation=form_text(form, "authorisation"),
        by=user.username,
    )


def _correct(archive: Archive, entry: Registration, form: FormMultiDict, user: User) -> None:
    require(user, Action.CORRECT)
    field = form_text(form, "field")
    if field not in ("subject", "sender", "related", "classification_code"):
        raise InvalidInput(NOT_CORRECTED_HERE(), field="field")
    value = form_text(form, "value")
    archive.correct(
        entry.book,
        entry.year,
        entry.number,
        {field: _references(value) if field == "related" else value},
        reason=form_text(form, "reason"),
        by=user.username,
    )


#: What the forms of a registration's page do: route it, cancel it, correct it.
_CHANGES = {"assign": _assign, "cancel": _cancel, "correct": _correct}


class RegistrationPages(Controller):
    """A registration's page, its receipt, its files' pages, and the forms on it."""

    path = "/registrations/{book:str}/{year:int}/{number:int}"
    dependencies = {"entry": Provide(_entry, sync_to_thread=True)}  # noqa: RUF012 - read by Litestar

    @get("/", sync_to_thread=True)
    def registration(
        self,
        request: Request[Any, Any, State],
        entry: Registration,
        user: User,
        state: State,
        registered: bool = False,
    ) -> Template:
        """The facts, files as page images, routing, corrections and audit trail."""
        archive = archive_of(state)
        entry = dataclasses.replace(entry, referenced_by=archive.referenced_by(entry, user))
        departments = archive.departments()
        routable = archive.routable_departments(user)
        permitted = archive.permitted_on(user, entry.assignments, Action.WORK, Action.FORWARD)
        trail = archive.audit_trail(entry) if _sees_audit(user) else ()
        return page(
            request,
            "registration.html",
            user=user,
            entry=entry,
            registered=registered,
            may_register=holds(user, Action.REGISTER),
            trail=trail,
            same_document=archive.same_main_document(entry, user),
            routable=routable,
            staff=_staff_of(archive, routable),
            workable=permitted[Action.WORK],
            forwardable=permitted[Action.FORWARD],
            purposes=list(Purpose),
            open_states=OPEN_STATES,
            url=_registration_url(entry.book, entry.year, entry.number),
            headings=_headings(archive),
            **_names(archive, departments),
            rule_names=archive.rule_names(
                [*(a.created_by for a in entry.assignments), *(e.actor for e in trail)]
            ),
        )

    @get("/receipt", sync_to_thread=False)
    def receipt(
        self, request: Request[Any, Any, State], entry: Registration, user: User
    ) -> Template:
        """A printable receipt for the citizen who brought the document."""
        return page(request, "receipt.html", user=user, entry=entry)

    @get("/files/{file_id:int}", sync_to_thread=True)
    def file_pages(
        self,
        request: Request[Any, Any, State],
        entry: Registration,
        file_id: FileId,
        user: User,
        state: State,
        page_number: Annotated[int, QueryParameter(name="page", ge=1, le=100_000)] = 1,
    ) -> Template:
        """One page of a stored file as an image, with the way to the next and previous."""
        stored = _file(entry, file_id)
        pages = None
        if stored.media_type == "application/pdf":
            pages = _page_image(state, entry, stored, page_number - 1).pages
        return page(
            request,
            "file.html",
            user=user,
            entry=entry,
            stored=stored,
            page_number=page_number,
            pages=pages,
            url=_registration_url(entry.book, entry.year, entry.number),
        )

    @get(
        "/files/{file_id:int}/pages/{page_number:int}", sync_to_thread=True, media_type="image/png"
    )
    def page_image(
        self,
        entry: Registration,
        file_id: FileId,
        page_number: Annotated[int, Parameter(ge=1, le=100_000)],
        state: State,
    ) -> Response[bytes]:
        """The PNG of one page of a stored PDF, drawn on the server in a sandbox."""
        stored = _file(entry, file_id)
        image = _page_image(state, entry, stored, page_number - 1)
        return Response(
            image.png,
            media_type="image/png",
            headers={
                "Cache-Control": "private, max-age=86400",
                "ETag": f'"{stored.sha256}-{page_number}"',
            },
        )

    @get(
        "/files/{file_id:int}/download",
        sync_to_thread=True,
        media_type="application/octet-stream",
    )
    def download(self, entry: Registration, file_id: FileId, user: User, state: State) -> Stream:
        """The stored file as an attachment (audited), never shown inline."""
        return file_download(archive_of(state), user, entry.book, entry.year, entry.number, file_id)

    @post("/{change:str}")
    async def change(
        self,
        request: Request[Any, Any, State],
        entry: Registration,
        change: str,
        user: User,
        state: State,
    ) -> Response[Any]:
        """Route (χρέωση), cancel or correct the registration, then show it again."""
        apply = _CHANGES.get(change)
        if apply is None:
            raise InvalidInput(NO_SUCH_CHANGE(change=change), field="change")
        form = await request.form()
        url = _registration_url(entry.book, entry.year, entry.number)
        try:
            await sync_to_thread(apply, archive_of(state), entry, form, user)
        except EProtocolError as exc:
            return error_page(request, exc, back=url)
        return see_other(url)


@post("/assignments/{assignment_id:int}/{step:str}")
async def assignment_step(
    request: Request[Any, Any, State],
    assignment_id: AssignmentId,
    step: str,
    user: User,
    state: State,
) -> Response[Any]:
    """Accept, complete, return or forward an assignment, then go back where the user was."""
    form = await request.form()
    back = local_path(form_text(form, "back"))
    try:
        await sync_to_thread(_step, archive_of(state), assignment_id, step, form, user)
    except EProtocolError as exc:
        return error_page(request, exc, back=back)
    return see_other(back)


def _step(archive: Archive, assignment_id: int, step: str, form: FormMultiDict, user: User) -> None:
    if step == "accept":
        archive.accept(assignment_id, by=user.username)
    elif step == "complete":
        reply = form_text(form, "reply")
        archive.complete(
            assignment_id,
            by=user.username,
            reply=ProtocolRef.parse(reply, default_book=archive.config.default_book, field="reply")
            if reply
            else None,
        )
    elif step == "return":
        archive.return_assignment(assignment_id, reason=form_text(form, "reason"), by=user.username)
    elif step == "forward":
        archive.forward(
            assignment_id,
            department=form_text(form, "department"),
            assignee=form_text(form, "assignee") or None,
            note=form_text(form, "note") or None,
            by=user.username,
        )
    else:
        raise InvalidInput(NO_SUCH_STEP(step=step), field="step")


# -- search --------------------------------------------------------------------------------


@get(
    "/search",
    sync_to_thread=True,
    dependencies={"filters": Provide(search_filters, sync_to_thread=False)},
)
def search(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    filters: SearchFilters,
    q: Annotated[str, Parameter(max_length=500)] = "",
    offset: Annotated[int, Parameter(ge=0, le=10_000)] = 0,
) -> Template:
    """Full-text search in Greek with facets and the matching words marked.

    Dates alone (no words) list what was registered in those days, newest first.
    """
    require(user, Action.READ)
    archive = archive_of(state)
    result, error = None, None
    if q.strip() or filters != SearchFilters():
        try:
            result = audited_search(archive, user, q, filters, limit=20, offset=offset)
        except InvalidInput as exc:  # a query it cannot read: say why beside it, to mend it
            error = exc.message
    active = {
        "year": filters.year,
        "direction": filters.direction,
        "department": filters.department,
        "classification": filters.classification,
        "from": filters.registered_from,
        "to": filters.registered_to,
    }
    return page(
        request,
        "search.html",
        status=422 if error else 200,
        user=user,
        q=q,
        result=result,
        department_names=_department_names(archive.departments()),
        headings=(
            {} if result is None else _headings(archive, result.facets.get("classification", {}))
        ),
        error=error,
        active=active,
        offset=offset,
    )


# -- certificates ----------------------------------------------------------------------------


@get("/certificates", sync_to_thread=True)
def certificate_form(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    template: Annotated[str | None, Parameter(max_length=64)] = None,
) -> Template:
    """Issue a certificate at the counter: choose the template, fill its fields."""
    require(user, Action.ISSUE_CERTIFICATE)
    templates = archive_of(state).certificate_templates()
    chosen = next((t for t in templates if t.code == template), None)
    return page(
        request,
        "certificates.html",
        user=user,
        templates=templates,
        chosen=chosen,
        values={},
        error=None,
        submission=secrets.token_urlsafe(16),  # issued once, however often it is sent
    )


@post("/certificates")
async def certificate_issue(
    request: Request[Any, Any, State], user: User, state: State
) -> Template | Redirect:
    """Issue the certificate and show it ready to print, with its verification code."""
    require(user, Action.ISSUE_CERTIFICATE)
    archive = archive_of(state)
    form = await request.form()
    templates = await sync_to_thread(archive.certificate_templates)
    chosen = next((t for t in templates if t.code == form_text(form, "template")), None)
    if chosen is None:
        raise InvalidInput(CHOOSE_TEMPLATE(), field="template")
    values = {f.name: form_text(form, f.name) for f in chosen.fields}
    try:
        entry = await sync_to_thread(
            partial(
                archive.issue_certificate,
                chosen.code,
                {k: v for k, v in values.items() if v},
                by=user.username,
                submission=form_text(form, "submission") or None,
            )
        )
    except InvalidInput as exc:
        return page(
            request,
            "certificates.html",
            status=422,
            user=user,
            templates=templates,
            chosen=chosen,
            values=values,
            error=exc.message,
            submission=form_text(form, "submission"),  # nothing was issued with it
        )
    return see_other(_registration_url(entry.book, entry.year, entry.number) + "?registered=1")


# -- statistics ------------------------------------------------------------------------------


@get("/statistics", sync_to_thread=True)
def statistics(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    year: Annotated[int | None, Parameter(ge=1900, le=9999)] = None,
) -> Template:
    """Registrations by month, department and classification; certificates; times; overdue."""
    archive = archive_of(state)
    this_year = archive.today().year
    figures = archive.statistics(year or this_year, by=user.username)
    totals = archive.yearly_totals(by=user.username)
    return page(
        request,
        "statistics.html",
        user=user,
        figures=figures,
        totals=totals,
        direction_chart=charts.stacked_months(figures.by_direction),
        department_chart=charts.bars(
            {code: sum(months) for code, months in figures.by_department.items()}
        ),
        classification_chart=charts.bars(figures.by_classification),
        certificate_chart=charts.bars(figures.certificates),
        years=sorted(set(totals) | {this_year}, reverse=True),
        department_names=_department_names(archive.departments()),
        headings=_headings(archive, figures.by_classification),
        certificate_titles={t.code: t.title for t in archive.certificate_templates()},
    )


@get("/statistics.csv", sync_to_thread=True, media_type="text/csv")
def statistics_csv(
    user: User, state: State, year: Annotated[int, Parameter(ge=1900, le=9999)]
) -> Response[str]:
    """The figures of a year as CSV (UTF-8 with BOM, so spreadsheets read the Greek right)."""
    figures = archive_of(state).statistics(year, by=user.username)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("measure", "key", "month", "value"))
    writer.writerows(figures.rows())
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="eprotocol-{year}.csv"'},
    )


#: The staff pages, for the pages' router.
HANDLERS: list[ControllerRouterHandler] = [
    inbox,
    register_form,
    routing_suggestions,
    register_submit,
    RegistrationPages,
    assignment_step,
    search,
    certificate_form,
    certificate_issue,
    statistics,
    statistics_csv,
]
