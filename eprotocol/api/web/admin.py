"""Administration pages: departments, users, routing rules, templates and the filing plan."""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

from litestar import Request, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State
from litestar.response import Redirect, Template

from eprotocol.api.routes import archive_of, require
from eprotocol.api.web.rendering import form_text, page, see_other
from eprotocol.core.accounts import check_password
from eprotocol.core.permissions import Action
from eprotocol.core.types import Purpose, Role, User


@get("/admin", sync_to_thread=True)
def overview(request: Request[Any, Any, State], user: User, state: State) -> Template:
    """Departments, users, routing rules, certificate templates and the filing plan."""
    require(user, Action.MANAGE)
    archive = archive_of(state)
    return page(
        request,
        "admin.html",
        user=user,
        departments=archive.departments(),
        users=archive.users(),
        rules=archive.routing_rules(),
        templates=archive.certificate_templates(),
        classifications=archive.classifications(),
        roles=list(Role),
        purposes=list(Purpose),
    )


@post("/admin/departments")
async def add_department(request: Request[Any, Any, State], user: User, state: State) -> Redirect:
    """Add a department under another (or at the top)."""
    form = await request.form()
    await sync_to_thread(
        partial(
            archive_of(state).add_department,
            form_text(form, "code"),
            form_text(form, "name"),
            parent=form_text(form, "parent") or None,
            digest_email=form_text(form, "digest_email") or None,
            by=user.username,
        )
    )
    return see_other("/admin#departments")


@post("/admin/users")
async def add_user(request: Request[Any, Any, State], user: User, state: State) -> Template:
    """Add a member of staff with a one-time password shown once to the administrator."""
    form = await request.form()
    archive = archive_of(state)
    username = form_text(form, "username")
    # Checked first, so that a refused password leaves no user behind without one.
    password = check_password(form_text(form, "password") or secrets.token_urlsafe(12))
    await sync_to_thread(
        partial(
            archive.add_user,
            username,
            form_text(form, "full_name"),
            department=form_text(form, "department") or None,
            roles=[str(r) for r in form.getall("roles", [])] or [Role.STAFF],
            email=form_text(form, "email") or None,
            by=user.username,
        )
    )
    await sync_to_thread(partial(archive.set_password, username, password, by=user.username))
    return page(request, "user_created.html", user=user, username=username, password=password)


@post("/admin/rules")
async def add_rule(request: Request[Any, Any, State], user: User, state: State) -> Redirect:
    """Add a routing rule: words of the subject or part of the sender suggest a department."""
    form = await request.form()
    await sync_to_thread(
        partial(
            archive_of(state).add_routing_rule,
            form_text(form, "name"),
            department=form_text(form, "department"),
            purpose=form_text(form, "purpose") or Purpose.ACTION,
            automatic=form.get("automatic") == "on",
            sender_contains=form_text(form, "sender_contains") or None,
            subject_words=form_text(form, "subject_words").split(),
            classification_code=form_text(form, "classification_code") or None,
            by=user.username,
        )
    )
    return see_other("/admin#rules")


#: The administration pages, for the pages' router.
HANDLERS = [overview, add_department, add_user, add_rule]
