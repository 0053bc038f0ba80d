"""The logged-in member of staff's own account: their details and changing their password."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State
from litestar.response import Template

from eprotocol.api.auth import authenticate
from eprotocol.api.routes import archive_of
from eprotocol.api.web.rendering import page, see_other, session_cookie
from eprotocol.core.accounts import check_password
from eprotocol.core.errors import InvalidInput, Throttled, Unauthenticated
from eprotocol.core.types import User

#: What the page says when a password change is refused, by the kind of refusal.
WRONG_CURRENT = "Ο τρέχων κωδικός δεν είναι σωστός."
TOO_MANY = "Πολλές αποτυχημένες προσπάθειες· δοκιμάστε ξανά σε λίγα λεπτά."
NOT_THE_SAME = "Ο νέος κωδικός και η επανάληψή του διαφέρουν."
TOO_SHORT = "Ο νέος κωδικός πρέπει να έχει από 10 έως 256 χαρακτήρες."


def _account_page(
    request: Request[Any, Any, State],
    user: User,
    *,
    status: int = 200,
    error: str | None = None,
    changed: bool = False,
) -> Template:
    return page(request, "account.html", status=status, user=user, error=error, changed=changed)


@get("/account", sync_to_thread=False)
def account(request: Request[Any, Any, State], user: User, changed: bool = False) -> Template:
    """The user's details, and a form to change their password."""
    return _account_page(request, user, changed=changed)


@post("/account/password")
async def change_password(
    request: Request[Any, Any, State], user: User, state: State
) -> Response[Any]:
    """Change one's own password; the current one is asked for (under the login throttles).

    So a session left open at a counter is not enough to take the account over.
    """
    form = await request.form()
    current, new, again = (form.get(name, "") for name in ("current", "new", "again"))
    if not all(isinstance(value, str) for value in (current, new, again)):
        return _account_page(request, user, status=400, error=NOT_THE_SAME)
    try:
        await sync_to_thread(partial(authenticate, request, user.username, str(current)))
    except Throttled:
        return _account_page(request, user, status=429, error=TOO_MANY)
    except Unauthenticated:
        return _account_page(request, user, status=422, error=WRONG_CURRENT)
    if new != again:
        return _account_page(request, user, status=422, error=NOT_THE_SAME)
    try:
        check_password(new)
    except InvalidInput:
        return _account_page(request, user, status=422, error=TOO_SHORT)
    await sync_to_thread(
        partial(archive_of(state).set_password, user.username, str(new), by=user.username)
    )
    # Sessions made before the change end (elsewhere too); this one goes on with a new login.
    response = see_other("/account?changed=true")
    response.cookies.append(session_cookie(request, user))
    return response


#: The account pages, for the pages' router.
HANDLERS = [account, change_password]
