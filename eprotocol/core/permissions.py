"""The one permission table: which role may do what, and over which departments.

Every check in the library goes through :func:`allowed`; the HTTP layer uses
the same table, so the rules live in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from eprotocol.core.errors import Forbidden, Phrase
from eprotocol.core.types import Registration, Role, User


class Action(StrEnum):
    """Things a user can do."""

    REGISTER = "register"
    READ = "read"
    READ_CONFIDENTIAL = "read_confidential"  # beyond the departments it is assigned to
    CANCEL = "cancel"
    CORRECT = "correct"
    ASSIGN = "assign"
    FORWARD = "forward"
    WORK = "work"  # accept, complete or return an assignment
    MANAGE = "manage"  # departments, users, filing plan
    READ_AUDIT = "read_audit"
    ISSUE_CERTIFICATE = "issue_certificate"
    READ_DAILY_REGISTER = "read_daily_register"


class Scope(StrEnum):
    """Over which departments a role holds an action."""

    ANY = "any"
    SUBTREE = "subtree"  # the user's department and every department below it
    OWN = "own"  # the user's department, for work not given to somebody else


_EVERYTHING = dict.fromkeys(Action, Scope.ANY)

#: Role × action → scope. A missing entry means "not allowed".
PERMISSIONS: dict[Role, dict[Action, Scope]] = {
    Role.ADMIN: _EVERYTHING,
    Role.CLERK: {
        Action.REGISTER: Scope.ANY,
        Action.READ: Scope.ANY,
        Action.READ_CONFIDENTIAL: Scope.ANY,
        Action.CANCEL: Scope.ANY,
        Action.CORRECT: Scope.ANY,
        Action.ASSIGN: Scope.ANY,
        Action.FORWARD: Scope.ANY,
        Action.READ_DAILY_REGISTER: Scope.ANY,
    },
    Role.HEAD: {
        Action.READ: Scope.SUBTREE,
        Action.ASSIGN: Scope.SUBTREE,
        Action.FORWARD: Scope.SUBTREE,
        Action.WORK: Scope.SUBTREE,
    },
    Role.STAFF: {
        Action.READ: Scope.OWN,
        Action.WORK: Scope.OWN,
    },
    Role.AUDITOR: {
        Action.READ: Scope.ANY,
        Action.READ_AUDIT: Scope.ANY,
        Action.READ_DAILY_REGISTER: Scope.ANY,
    },
    Role.ISSUER: {
        Action.ISSUE_CERTIFICATE: Scope.ANY,
    },
}


#: What each action lets a user do, in the words of a refusal ("clerk may not ...").
DOING = {
    Action.REGISTER: "register documents",
    Action.READ: "read the protocol book",
    Action.READ_CONFIDENTIAL: "read confidential registrations",
    Action.CANCEL: "cancel registrations",
    Action.CORRECT: "correct registrations",
    Action.ASSIGN: "assign registrations",
    Action.FORWARD: "forward assignments",
    Action.WORK: "work on assignments",
    Action.MANAGE: "administer departments, users, routing rules, the filing plan and transfers",
    Action.READ_AUDIT: "read the audit trail",
    Action.ISSUE_CERTIFICATE: "issue certificates",
    Action.READ_DAILY_REGISTER: "read the daily registers",
}
MAY_NOT = Phrase("may-not", "{who} may not {doing}")


def refusal(user: User, action: Action) -> Forbidden:
    """The error that says ``user`` may not do ``action`` (its kind and values kept)."""
    return Forbidden(MAY_NOT(who=user.username, action=action.value, doing=DOING[action]))


def holds(user: User, action: Action) -> bool:
    """Whether any of ``user``'s roles grants ``action`` at all, over whatever scope.

    For listings and searches, whose results are then filtered entry by entry.
    """
    return user.active and any(action in PERMISSIONS[role] for role in user.roles)


def allowed(
    user: User,
    action: Action,
    *,
    department_path: Sequence[str] = (),
    assignee: str | None = None,
) -> bool:
    """Whether ``user`` may do ``action`` on something of the department at the end of the path.

    ``department_path`` lists department codes from the top of the tree down to
    the department concerned; ``assignee`` is the user the work was given to.
    """
    if not user.active:
        return False
    for role in user.roles:
        scope = PERMISSIONS[role].get(action)
        if scope is Scope.ANY:
            return True
        if scope is Scope.SUBTREE and user.department in department_path:
            return True
        if (
            scope is Scope.OWN
            and department_path
            and user.department == department_path[-1]
            and assignee in {None, user.username}
        ):
            return True
    return False


def may_read(
    user: User, entry: Registration, department_path: Callable[[str], Sequence[str]]
) -> bool:
    """Whether ``user`` may read ``entry`` and download its files.

    Anybody holding ``READ`` may read an entry that is not confidential (the
    protocol book is open inside the municipality, as search shows it); a
    confidential one only the protocol office and admins (``READ_CONFIDENTIAL``)
    and those whose ``READ`` covers a department it is assigned to.
    ``department_path`` gives the codes from the top of the tree down to a department.
    Whoever registered an entry may always read it (the counter employee prints
    the certificate they issued).
    """
    if allowed(user, Action.READ_CONFIDENTIAL) or (
        user.active and entry.registered_by == user.username
    ):
        return True
    if any(
        allowed(
            user, Action.READ, department_path=department_path(a.department), assignee=a.assignee
        )
        for a in entry.assignments
    ):
        return True
    return not entry.confidential and holds(user, Action.READ)
