"""Administration pages: departments, users, API tokens, routing rules, templates, filing plan.

A form the archive refuses (a code taken, an address mistyped) comes back on the
same page with the reason beside it and what was typed still in it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any, TypeVar

from litestar import Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import FormMultiDict, State, UploadFile
from litestar.response import Stream, Template

from eprotocol.api.problems import status_for
from eprotocol.api.routes import archive_of, require
from eprotocol.api.web.rendering import form_day, form_text, page, see_other
from eprotocol.core.accounts import check_password
from eprotocol.core.disposal import DisposalDecision, csv_lines
from eprotocol.core.errors import Conflict, InvalidInput, NotFound, Phrase
from eprotocol.core.filing_plan import DEFAULT_DISPOSAL, heading, read_plan_csv
from eprotocol.core.organisation import NO_DEPARTMENT
from eprotocol.core.permissions import Action
from eprotocol.core.types import Disposal, Purpose, Role, User
from eprotocol.core.validation import REQUIRED

_T = TypeVar("_T")

#: Refusals of what was typed, shown beside the form; anything else gets the error page.
_REFUSALS = (InvalidInput, Conflict, NotFound)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A form the archive refused: which form, why, and what was typed in it."""

    form: str
    message: str
    status: int
    values: dict[str, list[str]] = field(default_factory=dict)

    def value(self, name: str) -> str:
        """What was typed in the field ``name`` (the first value), or ``""``."""
        return next(iter(self.values.get(name, [])), "")

    def chosen(self, name: str) -> list[str]:
        """Every value sent for ``name`` (ticked boxes)."""
        return self.values.get(name, [])


async def _attempt(form_id: str, form: FormMultiDict, work: Callable[[], _T]) -> _T | Refusal:
    """``work``'s result, run in a thread; a refusal of the typed values is a :class:`Refusal`."""
    try:
        return await sync_to_thread(work)
    except _REFUSALS as exc:
        values = {
            name: [v for v in form.getall(name) if isinstance(v, str)]
            for name in form
            if name != "password"  # never sent back into the page
        }
        return Refusal(form_id, exc.message, status_for(exc), values)


def _admin_page(
    request: Request[Any, Any, State],
    user: User,
    name: str,
    refused: Refusal | None,
    **context: Any,
) -> Template:
    """An administration page; with the refusal of one of its forms, in that status."""
    return page(
        request,
        name,
        status=refused.status if refused else 200,
        user=user,
        refused=refused,
        **context,
    )


def _overview(
    request: Request[Any, Any, State], user: User, state: State, refused: Refusal | None
) -> Template:
    require(user, Action.MANAGE)
    archive = archive_of(state)
    return _admin_page(
        request,
        user,
        "admin.html",
        refused,
        departments=archive.departments(),
        users=archive.users(),
        rules=archive.routing_rules(),
        templates=archive.certificate_templates(),
        signing=archive.signing_identity(),
        classifications=archive.classifications(),
        roles=list(Role),
        purposes=list(Purpose),
        disposals=list(Disposal),
        default_disposal=DEFAULT_DISPOSAL,
    )


@get("/admin", sync_to_thread=True)
def overview(request: Request[Any, Any, State], user: User, state: State) -> Template:
    """Departments, users, routing rules, certificate templates and the filing plan."""
    return _overview(request, user, state, None)


def _form_changes(
    form: FormMultiDict, required: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, object]:
    """The changes an edit form asks for; an optional field left empty clears the value."""
    return {
        **{name: form_text(form, name) for name in required},
        **{name: form_text(form, name) or None for name in optional},
    }


async def _submit(
    request: Request[Any, Any, State],
    form_id: str,
    work: Callable[[FormMultiDict], object],
    again: Callable[[Refusal], Template],
    done: str,
) -> Response[Any]:
    """Do what a form asks, then go to ``done``; if refused, the page ``again`` says why."""
    form = await request.form()
    outcome = await _attempt(form_id, form, partial(work, form))
    if isinstance(outcome, Refusal):
        return await sync_to_thread(partial(again, outcome))
    return see_other(done)


async def _submit_on_overview(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    form_id: str,
    work: Callable[[FormMultiDict], object],
    section: str,
) -> Response[Any]:
    """A form of the administration page: back to its ``section``, or the page with the refusal."""
    again = partial(_overview, request, user, state)
    return await _submit(request, form_id, work, again, f"/admin#{section}")


@post("/admin/departments")
async def add_department(
    request: Request[Any, Any, State], user: User, state: State
) -> Response[Any]:
    """Add a department under another (or at the top)."""

    def add(form: FormMultiDict) -> None:
        archive_of(state).add_department(
            form_text(form, "code"),
            form_text(form, "name"),
            parent=form_text(form, "parent") or None,
            digest_email=form_text(form, "digest_email") or None,
            by=user.username,
        )

    return await _submit_on_overview(request, user, state, "new-department", add, "departments")


@post("/admin/users")
async def add_user(request: Request[Any, Any, State], user: User, state: State) -> Template:
    """Add a member of staff with a one-time password shown once to the administrator."""
    form = await request.form()
    archive = archive_of(state)
    username = form_text(form, "username")
    password = form_text(form, "password") or secrets.token_urlsafe(12)

    def add() -> None:
        # The password is checked first, so that a refused one leaves no user without one.
        check_password(password)
        archive.add_user(
            username,
            form_text(form, "full_name"),
            department=form_text(form, "department") or None,
            roles=[str(r) for r in form.getall("roles", [])] or [Role.STAFF],
            email=form_text(form, "email") or None,
            by=user.username,
        )
        archive.set_password(username, password, by=user.username)

    refused = await _attempt("new-user", form, add)
    if isinstance(refused, Refusal):
        return await sync_to_thread(partial(_overview, request, user, state, refused))
    return page(
        request, "user_created.html", user=user, username=username, password=password, reset=False
    )


@post("/admin/rules")
async def add_rule(request: Request[Any, Any, State], user: User, state: State) -> Response[Any]:
    """Add a routing rule: words of the subject or part of the sender suggest a department."""

    def add(form: FormMultiDict) -> None:
        archive_of(state).add_routing_rule(
            form_text(form, "name"),
            department=form_text(form, "department"),
            purpose=form_text(form, "purpose") or Purpose.ACTION,
            automatic=form.get("automatic") == "on",
            sender_contains=form_text(form, "sender_contains") or None,
            subject_words=form_text(form, "subject_words").split(),
            classification_code=form_text(form, "classification_code") or None,
            by=user.username,
        )

    return await _submit_on_overview(request, user, state, "new-rule", add, "rules")


@post("/admin/classifications")
async def add_classification(
    request: Request[Any, Any, State], user: User, state: State
) -> Response[Any]:
    """Add a heading to the filing plan."""

    def add(form: FormMultiDict) -> None:
        wanted = heading(
            form_text(form, "code"),
            form_text(form, "title"),
            form_text(form, "retention_years"),
            form_text(form, "disposal") or DEFAULT_DISPOSAL,
        )
        archive_of(state).add_classifications([wanted], by=user.username)

    return await _submit_on_overview(request, user, state, "new-heading", add, "plan")


@post("/admin/classifications/retitle")
async def retitle_classification(
    request: Request[Any, Any, State], user: User, state: State
) -> Response[Any]:
    """Correct the title of a heading of the filing plan (its retention stays)."""

    def retitle(form: FormMultiDict) -> None:
        archive_of(state).retitle_classification(
            form_text(form, "code"), form_text(form, "title"), by=user.username
        )

    return await _submit_on_overview(request, user, state, "retitle-heading", retitle, "plan")


@get("/admin/disposal", sync_to_thread=True)
def disposal(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    on: date | None = None,
    since: date | None = None,
) -> Template:
    """What reached the end of retention by ``on`` (today), from ``since``, by year and heading.

    With the committee's decisions, and the form recording one on the list shown.
    """
    return _disposal_page(request, user, state, on, since, None)


def _disposal_page(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    on: date | None,
    since: date | None,
    refused: Refusal | None,
) -> Template:
    archive = archive_of(state)
    day = on if on is not None else archive.today()
    groups = archive.disposal_summary(day, since=since, by=user.username)
    decisions = archive.disposal_decisions(by=user.username)
    return _admin_page(
        request,
        user,
        "admin_disposal.html",
        refused,
        on=day,
        since=since,
        groups=groups,
        decisions=decisions,
        next_since=decisions[0].until + timedelta(days=1) if decisions else None,
        today=archive.today(),
        people={u.username: u.full_name for u in archive.users()},
    )


#: A date field of a form that does not hold a date.
NOT_A_DAY = Phrase("not-a-day", "{field} is not a date")


def _day(form: FormMultiDict, name: str) -> date | None:
    """The date typed in the field ``name``; ``None`` if left empty."""
    return form_day(form, name, NOT_A_DAY(field=name))


def _typed_day(form: FormMultiDict, name: str) -> date | None:
    """The date typed in the field ``name``; ``None`` if empty or not a date."""
    try:
        return _day(form, name)
    except InvalidInput:
        return None


@post("/admin/disposal/decisions")
async def decide_disposal(
    request: Request[Any, Any, State], user: User, state: State
) -> Response[Any]:
    """Record the committee's decision (its act and date) on the list the page shows."""
    form = await request.form()
    archive = archive_of(state)

    def decide() -> DisposalDecision:
        return archive.decide_disposal(
            _day(form, "on") or archive.today(),
            since=_day(form, "since"),
            reference=form_text(form, "reference"),
            decided_on=_day(form, "decided_on") or archive.today(),
            by=user.username,
        )

    decided = await _attempt("decision", form, decide)
    if isinstance(decided, Refusal):
        since, on = (_typed_day(form, name) for name in ("since", "on"))
        return await sync_to_thread(_disposal_page, request, user, state, on, since, decided)
    after = decided.until + timedelta(days=1)  # the next list, as far as today
    return see_other(
        f"/admin/disposal?since={after.isoformat()}&on={max(after, archive.today()).isoformat()}"
    )


@get("/admin/disposal.csv", sync_to_thread=True)
def disposal_csv(user: User, state: State, on: date, since: date | None = None) -> Stream:
    """The registrations of the end of retention by ``on``, as CSV for the committee's annex."""
    archive = archive_of(state)
    due = archive.due_for_disposal(on, since=since, by=user.username)
    lines = csv_lines(due, tz=archive.timezone, book=archive.config.default_book)
    return Stream(
        (line.encode() for line in lines),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="eprotocol-disposal-{on.isoformat()}.csv"'
        },
    )


@post("/admin/classifications/import")
async def import_classifications(
    request: Request[Any, Any, State], user: User, state: State
) -> Response[Any]:
    """Load headings of the filing plan from a CSV file: all of them, or none."""

    def load(form: FormMultiDict) -> None:
        upload = form.get("plan")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput(REQUIRED(named="file", field="file", label=None), field="file")
        headings = read_plan_csv(upload.file.read())
        archive_of(state).add_classifications(headings, by=user.username)

    return await _submit_on_overview(request, user, state, "plan-file", load, "plan")


@post("/admin/rules/{rule_id:int}/remove", sync_to_thread=True)
def remove_rule(user: User, state: State, rule_id: int) -> Response[Any]:
    """Remove a routing rule; the audit trail keeps what it said."""
    archive_of(state).remove_routing_rule(rule_id, by=user.username)
    return see_other("/admin#rules")


# -- one user ------------------------------------------------------------------------------


def _user_page(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    username: str,
    refused: Refusal | None,
    *,
    saved: bool = False,
) -> Template:
    require(user, Action.MANAGE)
    archive = archive_of(state)
    return _admin_page(
        request,
        user,
        "admin_user.html",
        refused,
        saved=saved,
        member=archive.user(username),
        tokens=archive.api_tokens(username=username, by=user.username),
        open_work=archive.work(assignee=username, limit=1).total,
        departments=archive.departments(),
        roles=list(Role),
    )


@get("/admin/users/{username:str}", sync_to_thread=True)
def user_details(
    request: Request[Any, Any, State], user: User, state: State, username: str, saved: bool = False
) -> Template:
    """One user: their details and roles to change, their API tokens, deactivation."""
    return _user_page(request, user, state, username, None, saved=saved)


@post("/admin/users/{username:str}")
async def change_user(
    request: Request[Any, Any, State], user: User, state: State, username: str
) -> Response[Any]:
    """Change a user's name, email, department or roles (a transfer, a promotion)."""

    def change(form: FormMultiDict) -> None:
        archive_of(state).change_user(
            username,
            {
                **_form_changes(form, ("full_name",), ("email", "department")),
                "roles": [str(r) for r in form.getall("roles", [])],
            },
            by=user.username,
        )

    again = partial(_user_page, request, user, state, username)
    return await _submit(
        request, "change-user", change, again, f"/admin/users/{username}?saved=true"
    )


NO_SUCH_STEP_HERE = Phrase("no-such-admin-step", "this page has no step {step!r}")


async def _named_step(
    request: Request[Any, Any, State],
    step: str,
    steps: Mapping[str, Callable[[], object]],
    again: Callable[[Refusal], Template],
    done: str,
) -> Response[Any]:
    """Do the step the address names (one of ``steps``), then go to ``done``.

    A step the pages never send is refused as not found; a refused one comes back on
    the page ``again`` with the reason.
    """
    if step not in steps:
        raise NotFound(NO_SUCH_STEP_HERE(step=step))
    return await _submit(request, step, lambda _: steps[step](), again, done)


@post("/admin/users/{username:str}/{step:str}")
async def activation(
    request: Request[Any, Any, State], user: User, state: State, username: str, step: str
) -> Response[Any]:
    """Deactivate a user who has left (``deactivate``), or let them back (``reactivate``)."""
    archive = archive_of(state)
    steps = {
        "deactivate": partial(archive.deactivate_user, username, by=user.username),
        "reactivate": partial(archive.reactivate_user, username, by=user.username),
    }
    again = partial(_user_page, request, user, state, username)
    return await _named_step(request, step, steps, again, f"/admin/users/{username}")


@post("/admin/users/{username:str}/tokens")
async def create_token(
    request: Request[Any, Any, State], user: User, state: State, username: str
) -> Template:
    """Give an application an API token acting as this user; the secret is shown once."""
    require(user, Action.MANAGE)
    form = await request.form()
    create = partial(
        archive_of(state).create_api_token, username, form_text(form, "name"), by=user.username
    )
    secret = await _attempt("new-token", form, create)
    if isinstance(secret, Refusal):
        return await sync_to_thread(partial(_user_page, request, user, state, username, secret))
    return page(
        request,
        "token_created.html",
        user=user,
        username=username,
        application=form_text(form, "name"),
        secret=secret,
    )


@post("/admin/users/{username:str}/password", sync_to_thread=True)
def reset_password(
    request: Request[Any, Any, State], user: User, state: State, username: str
) -> Template:
    """Give a user who forgot their password a new one-time password, shown once."""
    require(user, Action.MANAGE)
    archive = archive_of(state)
    member = archive.user(username)
    password = secrets.token_urlsafe(12)
    archive.set_password(member.username, password, by=user.username)
    return page(
        request,
        "user_created.html",
        user=user,
        username=member.username,
        password=password,
        reset=True,
    )


@post("/admin/tokens/{token_id:int}/revoke", sync_to_thread=True)
def revoke_token(user: User, state: State, token_id: int) -> Response[Any]:
    """Revoke an API token; the application using it is refused from now on."""
    token = archive_of(state).revoke_api_token(token_id, by=user.username)
    return see_other(f"/admin/users/{token.username}#tokens")


# -- one department ------------------------------------------------------------------------


def _department_page(
    request: Request[Any, Any, State],
    user: User,
    state: State,
    code: str,
    refused: Refusal | None,
) -> Template:
    require(user, Action.MANAGE)
    archive = archive_of(state)
    departments = archive.departments()
    department = next((d for d in departments if d.code == code), None)
    if department is None:
        raise NotFound(NO_DEPARTMENT(code=code))
    return _admin_page(
        request,
        user,
        "admin_department.html",
        refused,
        department=department,
        departments=departments,
        members=[u for u in archive.users() if u.department == code],
    )


@get("/admin/departments/{code:str}", sync_to_thread=True)
def department_details(
    request: Request[Any, Any, State], user: User, state: State, code: str
) -> Template:
    """One department: its name, digest email and place in the tree to change; its people."""
    return _department_page(request, user, state, code, None)


@post("/admin/departments/{code:str}")
async def change_department(
    request: Request[Any, Any, State], user: User, state: State, code: str
) -> Response[Any]:
    """Rename a department, change its digest email or move it under another."""

    def change(form: FormMultiDict) -> None:
        archive_of(state).change_department(
            code,
            _form_changes(form, ("name",), ("digest_email", "parent")),
            by=user.username,
        )

    again = partial(_department_page, request, user, state, code)
    return await _submit(request, "change-department", change, again, "/admin#departments")


@post("/admin/departments/{code:str}/{step:str}")
async def department_closing(
    request: Request[Any, Any, State], user: User, state: State, code: str, step: str
) -> Response[Any]:
    """Close a department abolished in a reorganisation (``close``), or reopen it (``reopen``)."""
    archive = archive_of(state)
    steps = {
        "close": partial(archive.close_department, code, by=user.username),
        "reopen": partial(archive.reopen_department, code, by=user.username),
    }
    again = partial(_department_page, request, user, state, code)
    return await _named_step(request, step, steps, again, f"/admin/departments/{code}")


#: The administration pages, for the pages' router.
HANDLERS = [
    overview,
    add_department,
    add_user,
    add_rule,
    remove_rule,
    add_classification,
    retitle_classification,
    import_classifications,
    disposal,
    disposal_csv,
    decide_disposal,
    user_details,
    change_user,
    create_token,
    reset_password,
    activation,
    revoke_token,
    department_details,
    change_department,
    department_closing,
]
