"""The organisation's structure: departments (a tree) and the users who work in them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from eprotocol.core import validation
from eprotocol.core.audit import ChainWriter, lock_chain
from eprotocol.core.database import Database
from eprotocol.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Phrase
from eprotocol.core.models import ASSIGNMENT, DEPARTMENT, ORGANISATION, ROUTING_RULE, USER
from eprotocol.core.permissions import Action, allowed, refusal
from eprotocol.core.ports import Clock
from eprotocol.core.queries import organisation_name
from eprotocol.core.types import DEPARTMENT_CODE_MAX, OPEN_STATES, Department, Role, User

_CODE_RE = re.compile(rf"^[\w.-]{{1,{DEPARTMENT_CODE_MAX}}}$")
#: Greek capitals drawn like Latin ones: typed on a Greek keyboard, ΤΕΧ looks like TEX.
_LOOKALIKES = str.maketrans("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX")
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

#: The user ``Archive.initialise`` creates; the CLI acts as this user by default.
ADMIN_USERNAME = "admin"
#: The name of an archive initialised without one, until it is renamed: visibly not a name.
UNNAMED_ORGANISATION = "(χωρίς όνομα φορέα)"

NO_DEPARTMENT = Phrase("no-department", "there is no department {code!r}")
NOT_AN_EMAIL = Phrase("not-an-email", "{field} {text!r} is not an email address")
NO_ROLE = Phrase("no-role", "a user needs at least one role")
UNPLACED = Phrase("unplaced", "heads and staff belong to a department")
LAST_ADMIN = Phrase(
    "last-administrator",
    "{username} is the last active administrator; make another user an administrator first",
)
DEPARTMENT_CODE = Phrase(
    "department-code", "a department code has letters, digits, '.', '-' or '_'"
)
DEPARTMENT_EXISTS = Phrase("department-exists", "department {code!r} already exists")
LOOK_ALIKE = Phrase(
    "department-look-alike",
    "department {code!r} would be taken for {other!r}: codes may not differ only in case "
    "or in Greek and Latin letters that look alike",
)
NO_USER = Phrase("no-user", "there is no user {username!r}")
USERNAME = Phrase("username", "a username has lower-case Latin letters, digits, '.', '-' or '_'")
USER_EXISTS = Phrase("user-exists", "user {username!r} already exists")
SELF_DEACTIVATION = Phrase(
    "self-deactivation", "administrators cannot deactivate themselves; another administrator can"
)
PLACED_BELOW_ITSELF = Phrase(
    "placed-below-itself", "{parent} is {code} or below it; a department cannot be placed there"
)
DEPARTMENT_CLOSED = Phrase("department-closed", "department {code} is closed")
CLOSING_WITH_WORK = Phrase(
    "closing-with-open-work",
    "department {code} still has {count} open assignment(s): forward them first",
)
CLOSING_WITH_STAFF = Phrase(
    "closing-with-staff",
    "{count} active user(s) still belong to department {code}: move them first",
)
CLOSING_WITH_BELOW = Phrase(
    "closing-with-departments-below",
    "departments below {code} are open ({below}): close or move them first",
)
CLOSING_WITH_RULES = Phrase(
    "closing-with-rules", "routing rules still send work to department {code}: remove them first"
)
REOPENING_BELOW_CLOSED = Phrase(
    "reopening-below-closed",
    "department {code} is below {parent}, which is closed: reopen that first",
)


def _looks(code: str) -> str:
    """How a department code reads on paper: capitals, Greek look-alikes as Latin."""
    return code.upper().translate(_LOOKALIKES)


def _email(value: object, field: str) -> str | None:
    text = validation.text(value, field, 254, required=False)
    if text is not None and not _EMAIL_RE.match(text):
        raise InvalidInput(NOT_AN_EMAIL(field=field, text=text), field=field)
    return text


#: What :meth:`Organisation.change_user` may change.
USER_FIELDS = ("full_name", "email", "department", "roles")
#: What :meth:`Organisation.change_department` may change.
DEPARTMENT_FIELDS = ("name", "digest_email", "parent")


def _only(changes: Mapping[str, object], fields: tuple[str, ...]) -> None:
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise InvalidInput(
            f"{', '.join(unknown)} cannot be changed here (only {', '.join(fields)})",
            field=unknown[0],
        )


def _full_name(value: object) -> str:
    return validation.required_text(value, "full_name", 200)


def _roles(values: Iterable[object]) -> list[str]:
    roles = sorted({validation.choice(r, Role, "roles").value for r in values})
    if not roles:
        raise InvalidInput(NO_ROLE(), field="roles")
    return roles


def _check_placed(roles: Iterable[str], department_id: int | None) -> None:
    if {Role.HEAD.value, Role.STAFF.value} & set(roles) and department_id is None:
        raise InvalidInput(UNPLACED(), field="department")


def _user_row(conn: sa.Connection, username: str) -> sa.RowMapping:
    row = conn.execute(sa.select(USER).where(USER.c.username == username)).mappings().first()
    if row is None:
        raise NotFound(NO_USER(username=username))
    return row


def _keep_an_administrator(conn: sa.Connection, leaving: sa.RowMapping) -> None:
    """Refuse to leave the archive without an active administrator."""
    others = conn.execute(
        sa.select(USER.c.roles).where(USER.c.active, USER.c.id != leaving["id"])
    ).scalars()
    if not any(Role.ADMIN.value in roles for roles in others):
        raise Conflict(LAST_ADMIN(username=leaving["username"]))


def _recordable(value: object) -> object:
    return sorted(str(v) for v in value) if isinstance(value, frozenset) else value


class DepartmentTree:
    """All departments, loaded at once (there are tens, not thousands)."""

    def __init__(self, conn: sa.Connection) -> None:
        rows = list(conn.execute(sa.select(DEPARTMENT)).mappings())
        self.by_id = {r["id"]: r for r in rows}
        self.by_code = {r["code"]: r for r in rows}

    def id_of(self, code: str) -> int:
        """The id of the department ``code``, or ``NotFound``."""
        try:
            return int(self.by_code[code]["id"])
        except KeyError:
            raise NotFound(NO_DEPARTMENT(code=code)) from None

    def open_id_of(self, code: str, field: str) -> int:
        """The id of ``code`` to route work to or place something in: ``InvalidInput`` if closed."""
        return self.ensure_open(self.id_of(code), field)

    def moved_to(self, code: str | None, current: int | None, field: str) -> int | None:
        """The id of ``code`` (``None``: no department) for something now in ``current``.

        Staying where it is, it may stay in a closed department (a form sends the place
        unchanged); moving, it is refused one.
        """
        if code is None:
            return None
        department_id = self.id_of(code)
        return department_id if department_id == current else self.ensure_open(department_id, field)

    def ensure_open(self, department_id: int, field: str) -> int:
        """``department_id``, unless that department is closed (``InvalidInput`` on ``field``)."""
        row = self.by_id[department_id]
        if row["closed_at"] is not None:
            raise InvalidInput(DEPARTMENT_CLOSED(code=row["code"]), field=field)
        return department_id

    def subtree(self, code: str) -> list[int]:
        """Ids of the department ``code`` and of every department below it (``NotFound``)."""
        root = self.id_of(code)
        return [i for i in self.by_id if root in self.path_ids(i)]

    def path_ids(self, department_id: int) -> list[int]:
        """Ids from ``department_id`` up to the top of the tree."""
        ids: list[int] = []
        current: int | None = department_id
        while current is not None:
            ids.append(current)
            current = self.by_id[current]["parent_id"]
        return ids

    def path(self, department_id: int) -> list[str]:
        """Codes from the top of the tree down to ``department_id``."""
        return [self.by_id[i]["code"] for i in reversed(self.path_ids(department_id))]

    def department(self, department_id: int) -> Department:
        """The public value of a department."""
        row = self.by_id[department_id]
        parent = row["parent_id"]
        return Department(
            code=row["code"],
            name=row["name"],
            parent=None if parent is None else self.by_id[parent]["code"],
            digest_email=row["digest_email"],
            closed_at=row["closed_at"],
        )


def find_user(
    conn: sa.Connection, username: str, tree: DepartmentTree | None = None
) -> User | None:
    """The user ``username``, or ``None`` if there is none."""
    row = conn.execute(sa.select(USER).where(USER.c.username == username)).mappings().first()
    return None if row is None else user_of(row, tree or DepartmentTree(conn))


def load_user(conn: sa.Connection, username: str, tree: DepartmentTree | None = None) -> User:
    """The user ``username`` acting; an unknown name is refused as ``Forbidden``."""
    user = find_user(conn, username, tree)
    if user is None:
        raise Forbidden(f"{username!r} is not a user of this archive")
    return user


def administrator(conn: sa.Connection, by: str, tree: DepartmentTree | None = None) -> User:
    """The user ``by``, if allowed to administer the organisation; ``Forbidden`` if not."""
    user = load_user(conn, validation.actor(by), tree)
    if not allowed(user, Action.MANAGE):
        raise refusal(user, Action.MANAGE)
    return user


def user_of(row: sa.RowMapping, tree: DepartmentTree) -> User:
    """The public value of a user's row (``tree`` names their department)."""
    department = row["department_id"]
    return User(
        username=row["username"],
        full_name=row["full_name"],
        email=row["email"],
        department=None if department is None else tree.by_id[department]["code"],
        roles=frozenset(Role(r) for r in row["roles"]),
        active=row["active"],
    )


class Organisation:
    """Managing departments and users (admins only)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _record_changes(
        self,
        chain: ChainWriter,
        actor: User,
        action: str,
        target: str,
        before: User | Department,
        after: User | Department,
        fields: tuple[str, ...],
    ) -> None:
        """Audit ``{field: [old, new]}`` of what a change altered; nothing if it altered nothing."""
        differences = {
            field: [_recordable(getattr(before, field)), _recordable(getattr(after, field))]
            for field in fields
            if getattr(before, field) != getattr(after, field)
        }
        if differences:
            chain.append(
                actor=actor.username,
                action=action,
                target=target,
                details=differences,
                at=self._clock.now(),
            )

    def ensure_admin(self, conn: sa.Connection, now: datetime) -> bool:
        """Create the ``admin`` user if there is none; return whether it was created."""
        exists = conn.execute(sa.select(USER.c.id).where(USER.c.username == ADMIN_USERNAME))
        if exists.first() is not None:
            return False
        conn.execute(
            sa.insert(USER),
            {
                "username": ADMIN_USERNAME,
                "full_name": "Διαχειριστής",
                "roles": [Role.ADMIN.value],
                "active": True,
                "created_at": now,
            },
        )
        return True

    def rename(self, name: str, *, by: str) -> str:
        """Give the organisation a new name (after a merger, or to mend a typo); return the old.

        What was stamped and signed keeps the name it was issued with.
        """
        name = validation.required_text(name, "organisation", 200)
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            old = organisation_name(conn)
            if not old:
                raise NotFound("the archive is not initialised (eprotocol init)")
            if name != old:
                conn.execute(sa.update(ORGANISATION).values(name=name))
                chain.append(
                    actor=actor.username,
                    action="organisation.renamed",
                    target=name,
                    details={"from": old},
                    at=self._clock.now(),
                )
            return old

    def add_department(
        self,
        code: str,
        name: str,
        *,
        parent: str | None,
        digest_email: str | None,
        by: str,
    ) -> Department:
        """Add a department under ``parent`` (or at the top)."""
        code = validation.required_text(code, "code", DEPARTMENT_CODE_MAX)
        if not _CODE_RE.match(code):
            raise InvalidInput(DEPARTMENT_CODE(), field="code")
        name = validation.required_text(name, "name", 200)
        email = _email(digest_email, "digest_email")
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            tree = DepartmentTree(conn)
            if code in tree.by_code:
                raise Conflict(DEPARTMENT_EXISTS(code=code))
            for other in tree.by_code:
                if _looks(other) == _looks(code):
                    raise Conflict(LOOK_ALIKE(code=code, other=other))
            parent_id = None if parent is None else tree.open_id_of(parent, "parent")
            now = self._clock.now()
            new_id = conn.execute(
                sa.insert(DEPARTMENT).returning(DEPARTMENT.c.id),
                {
                    "code": code,
                    "name": name,
                    "parent_id": parent_id,
                    "digest_email": email,
                    "created_at": now,
                },
            ).scalar_one()
            details = {"name": name, "parent": parent, "digest_email": email}
            chain.append(
                actor=actor.username,
                action="department.created",
                target=code,
                details=details,
                at=now,
            )
            return DepartmentTree(conn).department(new_id)

    def add_user(
        self,
        username: str,
        full_name: str,
        *,
        department: str | None,
        roles: Iterable[Role | str],
        email: str | None,
        by: str,
    ) -> User:
        """Add a member of staff with their department and roles."""
        username = validation.required_text(username, "username", 64)
        if not _USERNAME_RE.match(username):
            raise InvalidInput(USERNAME(), field="username")
        full_name = _full_name(full_name)
        role_set = _roles(roles)
        mail = _email(email, "email")
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            tree = DepartmentTree(conn)
            department_id = (
                None if department is None else tree.open_id_of(department, "department")
            )
            _check_placed(role_set, department_id)
            taken = conn.execute(sa.select(USER.c.id).where(USER.c.username == username))
            if taken.first() is not None:
                raise Conflict(USER_EXISTS(username=username))
            now = self._clock.now()
            conn.execute(
                sa.insert(USER),
                {
                    "username": username,
                    "full_name": full_name,
                    "email": mail,
                    "department_id": department_id,
                    "roles": role_set,
                    "active": True,
                    "created_at": now,
                },
            )
            chain.append(
                actor=actor.username,
                action="user.created",
                target=username,
                details={"department": department, "roles": role_set},
                at=now,
            )
            return load_user(conn, username, tree)

    def change_user(self, username: str, changes: Mapping[str, object], *, by: str) -> User:
        """Change a user's full name, email, department or roles (a transfer, a promotion).

        ``changes`` maps names from :data:`USER_FIELDS` to new values (``None``
        clears the email or the department). The last active administrator keeps
        the role, so that somebody can always manage the archive.
        """
        _only(changes, USER_FIELDS)
        wanted: dict[str, Any] = {}
        if "full_name" in changes:
            wanted["full_name"] = _full_name(changes["full_name"])
        if "email" in changes:
            wanted["email"] = _email(changes["email"], "email")
        if "roles" in changes:
            roles = changes["roles"]
            if isinstance(roles, str) or not isinstance(roles, Iterable):
                raise InvalidInput("roles is a list of roles", field="roles")
            wanted["roles"] = _roles(roles)
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            tree = DepartmentTree(conn)
            row = _user_row(conn, username)
            if "department" in changes:
                code = validation.text(
                    changes["department"], "department", DEPARTMENT_CODE_MAX, required=False
                )
                wanted["department_id"] = tree.moved_to(code, row["department_id"], "department")
            roles_after = wanted.get("roles", row["roles"])
            _check_placed(roles_after, wanted.get("department_id", row["department_id"]))
            if Role.ADMIN.value in row["roles"] and Role.ADMIN.value not in roles_after:
                _keep_an_administrator(conn, row)
            before = user_of(row, tree)
            if wanted:
                conn.execute(sa.update(USER).where(USER.c.id == row["id"]).values(wanted))
            after = load_user(conn, before.username, tree)
            self._record_changes(
                chain, actor, "user.changed", before.username, before, after, USER_FIELDS
            )
            return after

    def set_user_active(self, username: str, active: bool, *, by: str) -> User:
        """Deactivate a user who has left (or bring them back); their history stays.

        A deactivated user can no longer log in or use an API token, and their
        open sessions stop at the next request. Administrators cannot deactivate
        themselves, nor the last active administrator.
        """
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            row = _user_row(conn, username)
            if row["active"] == active:
                return load_user(conn, row["username"])
            if active and row["department_id"] is not None:  # back, but not to a closed one
                DepartmentTree(conn).ensure_open(row["department_id"], "department")
            if not active:
                if row["username"] == actor.username:
                    raise Conflict(SELF_DEACTIVATION())
                if Role.ADMIN.value in row["roles"]:
                    _keep_an_administrator(conn, row)
            conn.execute(sa.update(USER).where(USER.c.id == row["id"]).values(active=active))
            chain.append(
                actor=actor.username,
                action="user.reactivated" if active else "user.deactivated",
                target=row["username"],
                details={},
                at=self._clock.now(),
            )
            return load_user(conn, row["username"])

    def change_department(self, code: str, changes: Mapping[str, object], *, by: str) -> Department:
        """Change a department's name, digest email or the department above it.

        ``changes`` maps names from :data:`DEPARTMENT_FIELDS` to new values
        (``None`` clears the email, or puts the department at the top). Its code
        stays: it is printed on assignments and used by other applications.
        """
        _only(changes, DEPARTMENT_FIELDS)
        wanted: dict[str, Any] = {}
        if "name" in changes:
            wanted["name"] = validation.required_text(changes["name"], "name", 200)
        if "digest_email" in changes:
            wanted["digest_email"] = _email(changes["digest_email"], "digest_email")
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            tree = DepartmentTree(conn)
            department_id = tree.id_of(code)
            if "parent" in changes:
                parent = validation.text(
                    changes["parent"], "parent", DEPARTMENT_CODE_MAX, required=False
                )
                parent_id = tree.moved_to(parent, tree.by_id[department_id]["parent_id"], "parent")
                if parent_id is not None and department_id in tree.path_ids(parent_id):
                    raise InvalidInput(
                        PLACED_BELOW_ITSELF(parent=parent, code=code), field="parent"
                    )
                wanted["parent_id"] = parent_id
            before = tree.department(department_id)
            if wanted:
                conn.execute(
                    sa.update(DEPARTMENT).where(DEPARTMENT.c.id == department_id).values(wanted)
                )
            after = DepartmentTree(conn).department(department_id)
            self._record_changes(
                chain, actor, "department.changed", code, before, after, DEPARTMENT_FIELDS
            )
            return after

    def close_department(self, code: str, *, by: str) -> Department:
        """Close a department abolished in a reorganisation; its history stays under its code.

        Nothing is routed to it, nobody placed in it and no department put under it any
        more. Refused while it still has open work, active users, open departments below
        it or routing rules sending work to it: each must go elsewhere first. Closing a
        closed department changes nothing.
        """
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            tree = DepartmentTree(conn)
            department_id = tree.id_of(code)
            if tree.by_id[department_id]["closed_at"] is not None:
                return tree.department(department_id)
            work = conn.execute(
                sa.select(sa.func.count()).where(
                    ASSIGNMENT.c.department_id == department_id,
                    ASSIGNMENT.c.state.in_(OPEN_STATES),
                )
            ).scalar_one()
            if work:
                raise Conflict(CLOSING_WITH_WORK(code=code, count=work))
            staff = conn.execute(
                sa.select(sa.func.count()).where(
                    USER.c.department_id == department_id, USER.c.active.is_(True)
                )
            ).scalar_one()
            if staff:
                raise Conflict(CLOSING_WITH_STAFF(code=code, count=staff))
            below = sorted(
                row["code"]
                for row in tree.by_id.values()
                if row["parent_id"] == department_id and row["closed_at"] is None
            )
            if below:
                raise Conflict(CLOSING_WITH_BELOW(code=code, below=", ".join(below)))
            rules = sa.select(ROUTING_RULE.c.id).where(
                ROUTING_RULE.c.department_id == department_id
            )
            if conn.execute(rules).first() is not None:
                raise Conflict(CLOSING_WITH_RULES(code=code))
            return self._set_closed(conn, chain, actor, tree, department_id, self._clock.now())

    def reopen_department(self, code: str, *, by: str) -> Department:
        """Open a closed department again (closed by mistake); refused below a closed one."""
        with self._db.write() as conn:
            chain = lock_chain(conn)
            actor = administrator(conn, by)
            tree = DepartmentTree(conn)
            department_id = tree.id_of(code)
            row = tree.by_id[department_id]
            if row["closed_at"] is None:
                return tree.department(department_id)
            parent = row["parent_id"]
            if parent is not None and tree.by_id[parent]["closed_at"] is not None:
                raise Conflict(REOPENING_BELOW_CLOSED(code=code, parent=tree.by_id[parent]["code"]))
            return self._set_closed(conn, chain, actor, tree, department_id, None)

    def _set_closed(
        self,
        conn: sa.Connection,
        chain: ChainWriter,
        actor: User,
        tree: DepartmentTree,
        department_id: int,
        closed_at: datetime | None,
    ) -> Department:
        conn.execute(
            sa.update(DEPARTMENT)
            .where(DEPARTMENT.c.id == department_id)
            .values(closed_at=closed_at)
        )
        chain.append(
            actor=actor.username,
            action="department.reopened" if closed_at is None else "department.closed",
            target=tree.by_id[department_id]["code"],
            details={},
            at=self._clock.now(),
        )
        return DepartmentTree(conn).department(department_id)

    def departments(self) -> tuple[Department, ...]:
        """Every department, ordered by code."""
        with self._db.read() as conn:
            tree = DepartmentTree(conn)
        return tuple(tree.department(tree.id_of(code)) for code in sorted(tree.by_code))

    def paths(self) -> dict[str, list[str]]:
        """Each department's codes from the top of the tree down to it, by code."""
        with self._db.read() as conn:
            tree = DepartmentTree(conn)
        return {code: tree.path(int(row["id"])) for code, row in tree.by_code.items()}

    def users(self, *, active: bool | None = None) -> tuple[User, ...]:
        """Every user, or only the active (or deactivated) ones, ordered by user name."""
        query = sa.select(USER).order_by(USER.c.username)
        if active is not None:
            query = query.where(USER.c.active == active)
        with self._db.read() as conn:
            tree = DepartmentTree(conn)
            return tuple(user_of(row, tree) for row in conn.execute(query).mappings())

    def user(self, username: str) -> User:
        """One user (``Forbidden`` if there is no such user)."""
        with self._db.read() as conn:
            return load_user(conn, username)
