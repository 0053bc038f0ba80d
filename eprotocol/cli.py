"""The ``eprotocol`` command line.

Every command reads the ``EPROTOCOL_*`` environment (see :mod:`eprotocol.env`),
so ``init`` and ``serve`` in the same directory and environment share one
archive. Errors print one line on standard error and exit with status 1.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer

from eprotocol.archive import Archive
from eprotocol.core.certificates import VerificationStatus
from eprotocol.core.disposal import csv_lines
from eprotocol.core.errors import EProtocolError
from eprotocol.core.filing_plan import DEFAULT_DISPOSAL, heading, read_plan_csv
from eprotocol.core.labels import FIELD_LABELS, GREEK, printed_value
from eprotocol.core.organisation import ADMIN_USERNAME, UNNAMED_ORGANISATION
from eprotocol.core.ports import Progress
from eprotocol.core.transfer import TransferReport
from eprotocol.core.types import (
    OPEN_STATES,
    AssignmentState,
    Channel,
    Direction,
    Disposal,
    FileInput,
    FileRole,
    NewRegistration,
    ProtocolRef,
    Purpose,
    Registration,
    Role,
    RouteTo,
)
from eprotocol.env import ADMIN_PASSWORD_SETTING, ORGANISATION_SETTING, settings_from_env
from eprotocol.private_files import create_private_file
from eprotocol.worker import Worker

app = typer.Typer(
    name="eprotocol",
    help="Electronic protocol book and archive (ηλεκτρονικό πρωτόκολλο).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: What a cancellation records when the command line was given no authorising act.
NOT_STATED = "(δεν δηλώθηκε)"

ReferenceArgument = Annotated[
    str, typer.Argument(help="YEAR/NUMBER, e.g. 2026/123 (or 123/2026 as printed).")
]
_TWO_NUMBERS = re.compile(r"^([0-9]{1,9})/([0-9]{1,9})$")
#: The years an archive's books may hold: a part outside them cannot be the year.
_YEARS = range(1900, 2200)

BookOption = Annotated[str, typer.Option("--book", help="Protocol book code.")]
# The command line is the IT team's tool on the server itself: it acts as the built-in
# administrator unless told to record another user.
ByOption = Annotated[
    str, typer.Option("--by", help="User recorded as having done this (default: admin).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _fail(message: str) -> NoReturn:
    typer.echo(f"eprotocol: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def _archive(*, initialised: bool = True) -> Iterator[Archive]:
    """The archive of the environment; unless ``initialised`` is false, its schema must be current.

    Any error of the library ends the command with its one-line message.
    """
    try:
        with Archive(settings_from_env().archive) as archive:
            if initialised:
                archive.check_schema()
            yield archive
    except EProtocolError as exc:
        _fail(exc.message)


def _year_number(text: str) -> tuple[int, int]:
    """YEAR/NUMBER (2026/123), or the protocol number as printed (123/2026).

    The printed order is taken only when the text cannot be read the other way:
    only numbers 1900-2199 could be years, and when both could, YEAR/NUMBER holds.
    """
    match = _TWO_NUMBERS.match(text.strip())
    if match is None:
        _fail(f"{text!r} is not YEAR/NUMBER, e.g. 2026/123")
    first, second = int(match[1]), int(match[2])
    if first not in _YEARS and second in _YEARS:
        return second, first
    return first, second


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(_jsonable(value), ensure_ascii=False, indent=2))


def _emit(as_json: bool, value: Any, text: str) -> None:
    """Print ``value`` as JSON for scripts, or ``text`` for people."""
    if as_json:
        _print_json(value)
    else:
        typer.echo(text)


def _progress_bar(stack: ExitStack, label: str, *, quiet: bool) -> Progress:
    """A progress callback drawing a bar for people at a terminal; scripts and logs get none."""
    bar = (
        stack.enter_context(typer.progressbar(length=0, label=label, file=sys.stderr))
        if sys.stderr.isatty() and not quiet
        else None
    )

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.length = total
            bar.update(done - bar.pos)

    return progress


def _refs(refs: Iterable[ProtocolRef], book: str) -> str:
    """Protocol numbers as printed, with the book when it is not the entry's own."""
    return ", ".join(r.printed_in(book) for r in refs)


def _describe(entry: Registration) -> str:
    """A registration as the protocol office reads it: one labelled fact per line."""
    facts: list[tuple[str, str | None]] = [
        ("Αρ. πρωτοκόλλου", f"{entry.protocol_number} ({entry.book})"),
        ("Ημερομηνία", f"{entry.registered_at:%d/%m/%Y %H:%M:%S} · {entry.registered_by}"),
        ("Κατεύθυνση", GREEK[entry.direction]),
        ("Θέμα", entry.subject),
        ("Αποστολέας", entry.sender),
        ("Παραλήπτες", ", ".join(entry.recipients)),
        ("Αρ. αποστολέα", entry.sender_reference),
        ("Ημ/νία αποστολέα", f"{entry.sender_date:%d/%m/%Y}" if entry.sender_date else None),
        ("Τρόπος", entry.channel and GREEK[entry.channel]),
        ("Αρχειοθέτηση", entry.classification_code),
        ("Εμπιστευτικό", "ναι" if entry.confidential else None),
        ("Σχετικά", _refs(entry.related, entry.book)),
        ("Αναφέρεται από", _refs(entry.referenced_by, entry.book)),
        ("Κωδ. επαλήθευσης", entry.verification_code),
        ("Κατάσταση", GREEK[entry.status]),
    ]
    if entry.cancellation:
        c = entry.cancellation
        facts.append(
            (
                "Ακύρωση",
                f"{c.reason} ({c.authorisation}; {c.cancelled_by}, "
                f"{c.cancelled_at:%d/%m/%Y %H:%M:%S})",
            )
        )
    facts.extend(
        (
            f"Αρχείο {f.id}",
            f"{f.filename} ({f.media_type}, {f.size} bytes, sha256 {f.sha256})",
        )
        for f in entry.files
    )
    facts.extend(
        (
            f"Χρέωση {a.id}",
            " · ".join(
                [
                    a.department,
                    GREEK[a.purpose],
                    GREEK[a.state],
                    *([a.assignee] if a.assignee else []),
                    *([f"απάντηση {_refs([a.reply], entry.book)}"] if a.reply else []),
                ]
            ),
        )
        for a in entry.assignments
    )
    facts.extend(
        (
            "Διόρθωση",
            f"{FIELD_LABELS[c.field]}: «{printed_value(c.field, c.old_value, entry.book)}» → "
            f"«{printed_value(c.field, c.new_value, entry.book)}» "
            f"({c.reason}; {c.corrected_by}, {c.corrected_at:%d/%m/%Y %H:%M:%S})",
        )
        for c in entry.corrections
    )
    return "\n".join(f"{label + ':':<17}{value}" for label, value in facts if value)


@app.command()
def init(
    organisation: Annotated[
        str | None,
        typer.Option(
            "--organisation",
            help="Name of the organisation printed on every stamp, e.g. 'Δήμος Χανίων' "
            "(needed for a new archive; an existing one keeps its own).",
            envvar=ORGANISATION_SETTING,
        ),
    ] = None,
    admin_password: Annotated[
        str | None,
        typer.Option(
            help="Set the password of the user 'admin' (10 characters or more).",
            envvar=ADMIN_PASSWORD_SETTING,
        ),
    ] = None,
) -> None:
    """Create (or upgrade) the database schema and the storage, and the default book.

    Without a configured signing key (EPROTOCOL_SIGNING_P12) it also makes a
    self-signed development key in the organisation's name, and says so: nobody
    else trusts that key. An organisation without a name gets it once named.
    """
    with _archive(initialised=False) as archive:
        archive.initialise(organisation=organisation)
        if admin_password is not None:
            archive.set_password("admin", admin_password, by="admin")
        recorded = archive.organisation_name()
        _warn_if_signing_certificate_expires(archive)
    unnamed = recorded == UNNAMED_ORGANISATION
    if unnamed:
        # The development key's certificate carries the name for its ten years: not made
        # until there is a name to put in it.
        typer.echo(
            f"WARNING: the organisation has no name yet: stamps and certificates would read "
            f"{recorded!r}. Give it one with `eprotocol organisation rename 'Δήμος …'`, then "
            "run `eprotocol init` again for the development signing key.",
            err=True,
        )
    elif organisation is not None and recorded != organisation.strip():
        typer.echo(
            f"WARNING: this archive's organisation is {recorded!r} (printed on every stamp); "
            f"--organisation {organisation!r} was not applied (see `eprotocol organisation "
            "rename`).",
            err=True,
        )
    settings = settings_from_env()
    development = settings.development_key
    if development is not None and not unnamed and not development.p12.exists():
        from eprotocol.pdf.signing import create_development_identity  # pyHanko: slow to load

        password = secrets.token_urlsafe(24)
        if not create_private_file(development.password_file, password.encode() + b"\n"):
            password = development.password_file.read_text().strip()
        try:
            fingerprint = create_development_identity(development.p12, password.encode(), recorded)
        except EProtocolError as exc:
            _fail(exc.message)
        typer.echo(
            f"WARNING: made a self-signed DEVELOPMENT signing key in {development.p12} "
            f"(SHA-256 {fingerprint[:16]}...). Documents signed with it are not trusted by "
            "anyone else: for production set EPROTOCOL_SIGNING_P12 and "
            "EPROTOCOL_SIGNING_PASSWORD to the organisation's certificate.",
            err=True,
        )
    _warn_if_citizens_cannot_verify(settings.archive.public_url)
    typer.echo("archive ready")


def _warn_if_signing_certificate_expires(archive: Archive) -> None:
    """Say so when the signing certificate expires within a month, or has."""
    identity = archive.signing_identity()
    if identity is not None and (notice := identity.notice()) is not None:
        typer.echo(f"WARNING: {notice}.", err=True)


def _warn_if_citizens_cannot_verify(public_url: str) -> None:
    """Say so when the verification links printed on documents lead to this machine only."""
    host = urlsplit(public_url).hostname or "localhost"
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: whoever set it meant an address citizens reach
        loopback = False
    if loopback:
        typer.echo(
            f"WARNING: EPROTOCOL_PUBLIC_URL is {public_url}: the QR codes and verification "
            "links on certificates and stamped documents lead there, which citizens cannot "
            "reach. Set it to the address they use (e.g. https://protocol.example.gr).",
            err=True,
        )


@app.command()
def register(
    direction: Annotated[Direction, typer.Option(help="incoming, outgoing or internal.")],
    subject: Annotated[str, typer.Option(help="Subject (θέμα).")],
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="The main document first, then attachments (none for a metadata-only entry).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    sender: Annotated[str | None, typer.Option(help="Sender (αποστολέας).")] = None,
    recipient: Annotated[
        list[str] | None, typer.Option(help="Recipient (παραλήπτης); repeat for several.")
    ] = None,
    channel: Annotated[Channel | None, typer.Option(help="How the document arrived.")] = None,
    classification: Annotated[str | None, typer.Option(help="Filing plan code.")] = None,
    related: Annotated[
        list[str] | None, typer.Option(help="Related registration, e.g. 12/2026; repeatable.")
    ] = None,
    confidential: Annotated[bool, typer.Option(help="Confidential entry.")] = False,
    assign: Annotated[
        list[str] | None,
        typer.Option(help="Department to route it to (χρέωση), for action; repeat for several."),
    ] = None,
    inform: Annotated[
        list[str] | None,
        typer.Option(help="Department to send it to for information (κοινοποίηση); repeatable."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="A key of this document in the script that registers it (a scanner's file "
            "id, say): run again with the same key and contents, it prints the number "
            "already given instead of registering the document twice.",
        ),
    ] = None,
    book: BookOption = "general",
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Register documents and print the new protocol number (e.g. 123/2026)."""
    with ExitStack() as stack, _archive() as archive:
        inputs = [
            FileInput(
                filename=path.name,
                content=stack.enter_context(path.open("rb")),
                role=FileRole.MAIN if position == 0 else FileRole.ATTACHMENT,
            )
            for position, path in enumerate(files or ())
        ]
        entry = archive.register(
            NewRegistration(
                direction=direction,
                subject=subject,
                sender=sender,
                recipients=recipient or (),
                channel=channel,
                classification_code=classification,
                related=related or (),
                confidential=confidential,
                book=book,
            ),
            inputs,
            by=by,
            route=[
                *(assign or ()),
                *(RouteTo(code, Purpose.INFORMATION) for code in inform or ()),
            ],
            submission=key,
        )
        _emit(as_json, entry, entry.protocol_number)
        _warn_if_registered_twice(archive, entry)


def _warn_if_registered_twice(archive: Archive, entry: Registration) -> None:
    """Say on stderr which other entries have the same main document (the operator sees all).

    Only a warning: the registration is done, so a failure to look is said, not an exit 1.
    """
    try:
        same = archive.same_main_document(entry, None)
    except EProtocolError as exc:
        typer.echo(f"warning: could not look for the same document elsewhere: {exc}", err=True)
        return
    if same:
        also = _refs((e.ref for e in same), entry.book)
        typer.echo(
            f"warning: the same main document is registered as {also} too; "
            "if twice by mistake, cancel the later one",
            err=True,
        )


@app.command()
def show(
    reference: ReferenceArgument,
    book: BookOption = "general",
    as_json: JsonOption = False,
) -> None:
    """Show one registration with its files, cancellation and corrections."""
    year, number = _year_number(reference)
    with _archive() as archive:
        entry = archive.get(book, year, number)
        # The command line shows confidential entries whole, so it lists them among the
        # later ones naming this entry too: as the administrator sees them.
        referrers = archive.referenced_by(entry, archive.user(ADMIN_USERNAME))
    entry = dataclasses.replace(entry, referenced_by=referrers)
    _emit(as_json, entry, _describe(entry))


@app.command()
def cancel(
    reference: ReferenceArgument,
    reason: Annotated[str, typer.Option(help="Why the entry is cancelled.")],
    authorisation: Annotated[
        str,
        typer.Option(help="The act authorising the cancellation (e.g. a decision's number)."),
    ] = NOT_STATED,
    book: BookOption = "general",
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Cancel a registration; it stays readable and its number is never reused.

    At a terminal, it first shows the entry and asks: 2026/2025 is year 2026's
    number 2025, while 2025/2026 printed on a document is number 2025 of 2026.
    """
    year, number = _year_number(reference)
    with _archive() as archive:
        if sys.stdin.isatty():
            found = archive.get(book, year, number)
            work = _departments_of(found, OPEN_STATES)
            typer.confirm(
                f"Cancel {found.protocol_number} ({found.registered_at:%d/%m/%Y}) "
                f"«{found.subject}»?"
                + (f" Its open assignments end with it: {work}." if work else ""),
                abort=True,
            )
        entry = archive.cancel(
            book, year, number, reason=reason, authorisation=authorisation, by=by
        )
    ended = _departments_of(entry, (AssignmentState.WITHDRAWN,))
    _emit(
        as_json,
        entry,
        f"{entry.protocol_number} cancelled"
        + (f"; open assignments ended: {ended}" if ended else ""),
    )


def _departments_of(entry: Registration, states: Sequence[AssignmentState]) -> str:
    """The departments of ``entry``'s assignments in ``states``, for a line of output."""
    return ", ".join(a.department for a in entry.assignments if a.state in states)


organisation_app = typer.Typer(help="The organisation (Φορέας).", no_args_is_help=True)
department_app = typer.Typer(help="Departments (Διευθύνσεις, Τμήματα).", no_args_is_help=True)
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
app.add_typer(organisation_app, name="organisation")
app.add_typer(department_app, name="department")
app.add_typer(user_app, name="user")


@organisation_app.command("rename")
def organisation_rename(
    name: Annotated[str, typer.Argument(help="The new name, e.g. 'Δήμος Χανίων'.")],
    by: ByOption = "admin",
) -> None:
    """Rename the organisation on what is issued from now on (issued documents keep theirs).

    Running servers show the new name in their page headers after a restart.
    """
    with _archive() as archive:
        old = archive.rename_organisation(name, by=by)
    typer.echo(f"{old!r} is now {name.strip()!r}")


@department_app.command("add")
def department_add(
    code: Annotated[str, typer.Argument(help="Short code, e.g. DIOIK.KEP.")],
    name: Annotated[str, typer.Argument(help="Name, e.g. 'Τμήμα ΚΕΠ'.")],
    parent: Annotated[str | None, typer.Option(help="Code of the department above.")] = None,
    digest_email: Annotated[
        str | None, typer.Option(help="Where the daily digest is sent.")
    ] = None,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Add a department."""
    with _archive() as archive:
        department = archive.add_department(
            code, name, parent=parent, digest_email=digest_email, by=by
        )
    _emit(as_json, department, f"department {department.code} added")


def _changes(options: str, **given: object) -> dict[str, object]:
    """The fields a change command was given a value for; none at all is the user's error."""
    changes = {field: value for field, value in given.items() if value is not None}
    if not changes:
        _fail(f"nothing to change: give {options}")
    return changes


@department_app.command("list")
def department_list(as_json: JsonOption = False) -> None:
    """List the departments, with the department above each, its digest email, if closed."""
    with _archive() as archive:
        departments = archive.departments()
        tz = archive.timezone
    lines = [
        f"{d.code}\t{d.name}\t{d.parent or '—'}\t{d.digest_email or '—'}"
        + ("" if d.closed_at is None else f"\t(καταργήθηκε {d.closed_at.astimezone(tz):%d/%m/%Y})")
        for d in departments
    ]
    _emit(as_json, departments, "\n".join(lines))


@department_app.command("change")
def department_change(
    code: Annotated[str, typer.Argument(help="The department's code (it does not change).")],
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    digest_email: Annotated[
        str | None, typer.Option(help="Where the daily digest goes ('' for nowhere).")
    ] = None,
    parent: Annotated[
        str | None, typer.Option(help="Code of the department above ('' for the top).")
    ] = None,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Rename a department, change its digest email or move it under another."""
    changes = _changes(
        "--name, --digest-email or --parent", name=name, digest_email=digest_email, parent=parent
    )
    with _archive() as archive:
        department = archive.change_department(code, changes, by=by)
    _emit(as_json, department, f"department {department.code} changed")


@department_app.command("close")
def department_close(
    code: Annotated[str, typer.Argument(help="The department's code.")],
    by: ByOption = "admin",
) -> None:
    """Close a department abolished in a reorganisation; its history stays.

    Its open work, active users, departments below it and routing rules must go
    elsewhere first: the refusal says which.
    """
    with _archive() as archive:
        archive.close_department(code, by=by)
    typer.echo(f"department {code} closed")


@department_app.command("reopen")
def department_reopen(
    code: Annotated[str, typer.Argument(help="The department's code.")],
    by: ByOption = "admin",
) -> None:
    """Open a closed department again."""
    with _archive() as archive:
        archive.reopen_department(code, by=by)
    typer.echo(f"department {code} reopened")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name, e.g. m.papadaki.")],
    full_name: Annotated[str, typer.Argument(help="Full name, e.g. 'Μαρία Παπαδάκη'.")],
    department: Annotated[str | None, typer.Option(help="Department code.")] = None,
    role: Annotated[
        list[Role] | None, typer.Option(help="Role; repeat for several (default: staff).")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Add a user."""
    with _archive() as archive:
        user = archive.add_user(
            username,
            full_name,
            department=department,
            roles=role or [Role.STAFF],
            email=email,
            by=by,
        )
    roles = ", ".join(sorted(user.roles))
    _emit(
        as_json,
        user,
        f"user {user.username} added ({roles}); they can log in once given a password: "
        f"eprotocol user password {user.username}",
    )


@user_app.command("list")
def user_list(as_json: JsonOption = False) -> None:
    """List the users, with their department and roles; deactivated ones are marked."""
    with _archive() as archive:
        users = archive.users()
    lines = [
        f"{u.username}\t{u.full_name}\t{u.department or '—'}\t{', '.join(sorted(u.roles))}"
        + ("" if u.active else "\t(απενεργοποιημένος)")
        for u in users
    ]
    _emit(as_json, users, "\n".join(lines))


def _open_work(archive: Archive, username: str) -> str:
    """A reminder of the open assignments still addressed to ``username``, if any."""
    count = archive.work(assignee=username, limit=1).total
    if not count:
        return ""
    return (
        f"\n{count} open assignment(s) are still addressed to {username}; "
        "the head of their department can forward them"
    )


@user_app.command("change")
def user_change(
    username: Annotated[str, typer.Argument(help="Login name.")],
    full_name: Annotated[str | None, typer.Option(help="New full name.")] = None,
    email: Annotated[str | None, typer.Option(help="New email address ('' clears it).")] = None,
    department: Annotated[
        str | None, typer.Option(help="Department code of a transfer ('' for none).")
    ] = None,
    role: Annotated[
        list[Role] | None, typer.Option(help="The user's roles from now on; repeat for several.")
    ] = None,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Change a user's name, email, department or roles (a transfer, a promotion)."""
    changes = _changes(
        "--full-name, --email, --department or --role",
        full_name=full_name,
        email=email,
        department=department,
        roles=role,
    )
    with _archive() as archive:
        user = archive.change_user(username, changes, by=by)
        reminder = _open_work(archive, username) if "department" in changes else ""
    _emit(as_json, user, f"user {user.username} changed{reminder}")


@user_app.command("deactivate")
def user_deactivate(
    username: Annotated[str, typer.Argument(help="Login name.")],
    by: ByOption = "admin",
) -> None:
    """Deactivate a user who has left: no more logins or API tokens; their history stays."""
    with _archive() as archive:
        archive.deactivate_user(username, by=by)
        reminder = _open_work(archive, username)
    typer.echo(f"user {username} deactivated{reminder}")


@user_app.command("activate")
def user_activate(
    username: Annotated[str, typer.Argument(help="Login name.")],
    by: ByOption = "admin",
) -> None:
    """Let a deactivated user log in again (with their old password)."""
    with _archive() as archive:
        archive.reactivate_user(username, by=by)
    typer.echo(f"user {username} activated")


@user_app.command("password")
def user_password(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password: Annotated[
        str | None,
        typer.Option(help="The new password (asked twice at a terminal when not given)."),
    ] = None,
    by: ByOption = "admin",
) -> None:
    """Set a user's password (asked twice when not given)."""
    if password is None:
        if not sys.stdin.isatty():  # a script: a prompt would read its input or nothing
            _fail("give the password with --password, or run this at a terminal to be asked")
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _archive() as archive:
        archive.set_password(username, password, by=by)
    typer.echo(f"password of {username} set")


book_app = typer.Typer(
    help="Protocol books: numbering series of their own (the default is general).",
    no_args_is_help=True,
)
app.add_typer(book_app, name="book")


@book_app.command("add")
def book_add(
    code: Annotated[str, typer.Argument(help="Code, e.g. confidential (a-z, 0-9, - and _).")],
    name: Annotated[str, typer.Argument(help="Name, e.g. 'Εμπιστευτικό πρωτόκολλο'.")],
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Add a protocol book, numbered from 1 each year independently of the others."""
    with _archive() as archive:
        book = archive.create_book(code, name, by=by)
    _emit(as_json, book, f"protocol book {book.code} added: register in it with --book {book.code}")


@book_app.command("list")
def book_list(as_json: JsonOption = False) -> None:
    """List the protocol books: code and name."""
    with _archive() as archive:
        books = archive.books()
    _emit(as_json, books, "\n".join(f"{b.code}\t{b.name}" for b in books))


classification_app = typer.Typer(
    help="The filing plan (σχέδιο αρχειοθέτησης): headings and retention.", no_args_is_help=True
)
app.add_typer(classification_app, name="classification")


@classification_app.command("add")
def classification_add(
    code: Annotated[str, typer.Argument(help="Code of the heading, e.g. Φ.600.")],
    title: Annotated[str, typer.Argument(help="Title, e.g. 'Άδειες κατάληψης κοινοχρήστων'.")],
    retention_years: Annotated[int, typer.Option(help="Years its documents are kept (1-200).")],
    disposal: Annotated[
        Disposal, typer.Option(help="What happens at the end: destroy, transfer or review.")
    ] = DEFAULT_DISPOSAL,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Add a heading to the filing plan (its retention is not changed afterwards)."""
    with _archive() as archive:
        wanted = heading(code, title, retention_years, disposal)
        added = archive.add_classifications([wanted], by=by)
    news = "added" if added else "is already in the plan as given"
    _emit(as_json, wanted, f"heading {wanted.code} {news}")


@classification_app.command("retitle")
def classification_retitle(
    code: Annotated[str, typer.Argument(help="Code of the heading, e.g. Φ.600.")],
    title: Annotated[str, typer.Argument(help="Its corrected title.")],
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Correct the title of a heading (its retention and disposal stay as they are)."""
    with _archive() as archive:
        corrected = archive.retitle_classification(code, title, by=by)
    _emit(as_json, corrected, f"heading {corrected.code} is now titled «{corrected.title}»")


@classification_app.command("list")
def classification_list(as_json: JsonOption = False) -> None:
    """List the filing plan: code, title, years kept and what happens then."""
    with _archive() as archive:
        headings = archive.classifications()
    lines = [f"{h.code}\t{h.title}\t{h.retention_years}\t{h.disposal.value}" for h in headings]
    _emit(as_json, headings, "\n".join(lines))


@classification_app.command("import")
def classification_import(
    plan: Annotated[
        Path,
        typer.Argument(
            help="CSV with the columns code, title, retention_years and disposal.",
            exists=True,
            dir_okay=False,
        ),
    ],
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Load a filing plan from a spreadsheet saved as CSV: every heading, or none.

    Headings already in the plan as given are skipped, so the file can be loaded again
    after lines are added to it.
    """
    with _archive() as archive:
        headings = read_plan_csv(plan.read_bytes())
        added = archive.add_classifications(headings, by=by)
    skipped = len({h.code for h in headings}) - len(added)  # a line given twice is one heading
    _emit(as_json, added, f"{len(added)} heading(s) added, {skipped} already in the plan")


@app.command("disposal")
def disposal(
    day: Annotated[
        datetime | None,
        typer.Option(
            "--on",
            help="Retention ended by the end of this day (default today).",
            formats=["%Y-%m-%d"],
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            help="Only what ended from this day on (the day after the committee's last list).",
            formats=["%Y-%m-%d"],
        ),
    ] = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Each registration, as CSV for a spreadsheet.")
    ] = False,
    decide: Annotated[
        str | None,
        typer.Option(
            help="Record the committee's decision on this list, naming its act "
            "('Πρακτικό 3/2036'); the next list starts the day after --on.",
        ),
    ] = None,
    decided_on: Annotated[
        datetime | None,
        typer.Option(help="Date of that decision (default today).", formats=["%Y-%m-%d"]),
    ] = None,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """What has reached the end of retention, for the archive committee; nothing is deleted.

    A line per book, year and heading: how many registrations (and cancelled), their
    files, what the heading says happens then (destroy, transfer, review) and when the
    last retention ended. With --csv, each registration instead (UTF-8 with BOM). With
    --decide, the committee's decision on that list is recorded.
    """
    on = None if day is None else day.date()
    first = None if since is None else since.date()
    with _archive() as archive:
        tz, book = archive.timezone, archive.config.default_book
        if decide is not None:
            today = archive.today()
            decision = archive.decide_disposal(
                on or today,
                since=first,
                reference=decide,
                decided_on=today if decided_on is None else decided_on.date(),
                by=by,
            )
            _emit(
                as_json,
                decision,
                f"decision «{decision.reference}» recorded: {decision.registrations} "
                f"registration(s) in {len(decision.groups)} group(s) up to "
                f"{decision.until:%d/%m/%Y}; the next list starts on "
                f"{decision.until + timedelta(days=1):%d/%m/%Y}",
            )
            return
        if as_csv:
            # Refused before a line is written.
            due = archive.due_for_disposal(on, since=first, by=by)
            for line in csv_lines(due, tz=tz, book=book):
                sys.stdout.write(line)
            return
        groups = archive.disposal_summary(on, since=first, by=by)
    lines = [
        "\t".join(
            (
                f"{g.year}" if g.book == book else f"{g.book} {g.year}",
                f"{g.heading.code} {g.heading.title}" if g.heading else "-",
                g.disposal.value,
                f"{g.registrations} registration(s)"
                + (f", {g.cancelled} cancelled" if g.cancelled else ""),
                f"{g.files} file(s), {g.size / 1024 / 1024:.1f} MB",
                f"ended by {g.ended.astimezone(tz):%d/%m/%Y}",
            )
        )
        for g in groups
    ]
    _emit(as_json, groups, "\n".join(lines) if groups else "no registration's retention has ended")


token_app = typer.Typer(help="API tokens for other applications.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="The user the application acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'ΚΕΠ kiosk'.")],
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Create an API token and print it (once: only its hash is kept)."""
    with _archive() as archive:
        secret = archive.create_api_token(user, name, by=by)
    _emit(as_json, {"user": user, "name": name, "token": secret}, secret)


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """List API tokens (never their secrets), newest first, with their state."""
    with _archive() as archive:
        tokens = archive.api_tokens(username=user, by=by)
        tz = archive.timezone

    def state(revoked: datetime | None, expires: datetime | None) -> str:
        if revoked is not None:
            return f"revoked {revoked.astimezone(tz):%d/%m/%Y %H:%M}"
        if expires is not None:
            return f"expires {expires.astimezone(tz):%d/%m/%Y %H:%M}"
        return "valid"

    lines = [
        f"{t.id}\t{t.username}\t{t.name}\t{t.created_at.astimezone(tz):%d/%m/%Y}\t"
        + state(t.revoked_at, t.expires_at)
        for t in tokens
    ]
    _emit(as_json, tokens, "\n".join(lines))


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's number, from 'token list'.")],
    by: ByOption = "admin",
) -> None:
    """Revoke an API token for good: the application using it is refused from now on."""
    with _archive() as archive:
        token = archive.revoke_api_token(token_id, by=by)
    typer.echo(f"token {token.id} ({token.username}, {token.name!r}) revoked")


@app.command()
def assign(
    reference: ReferenceArgument,
    department: Annotated[str, typer.Option(help="Department code.")],
    purpose: Annotated[Purpose, typer.Option(help="action or information.")] = Purpose.ACTION,
    assignee: Annotated[str | None, typer.Option(help="A user of that department.")] = None,
    due: Annotated[
        datetime | None, typer.Option(help="Due date (YYYY-MM-DD).", formats=["%Y-%m-%d"])
    ] = None,
    note: Annotated[str | None, typer.Option(help="Note for the department.")] = None,
    book: BookOption = "general",
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Route a registration to a department (χρέωση); prints the assignment id."""
    year, number = _year_number(reference)
    with _archive() as archive:
        assignment = archive.assign(
            book,
            year,
            number,
            department=department,
            purpose=purpose,
            assignee=assignee,
            due=None if due is None else due.date(),
            note=note,
            by=by,
        )
    if as_json:
        _print_json(assignment)
    else:
        typer.echo(
            f"assignment {assignment.id}: {assignment.registration.protocol_number} → "
            f"{assignment.department} ({assignment.purpose.value})"
        )


certificate_app = typer.Typer(
    help="Certificates (βεβαιώσεις) issued at the counter.", no_args_is_help=True
)
app.add_typer(certificate_app, name="certificate")


@certificate_app.command("templates")
def certificate_templates(as_json: JsonOption = False) -> None:
    """List the certificate templates and the fields each one needs."""
    with _archive() as archive:
        templates = archive.certificate_templates()
    if as_json:
        _print_json(templates)
        return
    for t in templates:
        fields = ", ".join(
            f.name + ("" if f.required and f.default is None else "?") for f in t.fields
        )
        typer.echo(f"{t.code}: {t.title} ({fields})")


@certificate_app.command("issue")
def certificate_issue(
    template: Annotated[str, typer.Option(help="Template code (see `certificate templates`).")],
    field: Annotated[
        list[str] | None, typer.Option(help="A field as name=value; repeat for each field.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Where to write the signed PDF (default: ./N-YEAR.pdf).")
    ] = None,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Issue a signed certificate; print its number, verification code and PDF path."""
    values = {}
    for item in field or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            _fail(f"--field {item!r} is not name=value")
        values[name.strip()] = value
    with _archive() as archive:
        entry = archive.issue_certificate(template, values, by=by)
        main = entry.files[0]
        _, stream = archive.read_file(entry.book, entry.year, entry.number, main.id)
        path = output or Path(f"{entry.number}-{entry.year}.pdf")
        with path.open("wb") as out:
            for chunk in stream:
                out.write(chunk)
    if as_json:
        _print_json(
            {
                "protocol_number": entry.protocol_number,
                "verification_code": entry.verification_code,
                "output": str(path),
                "sha256": main.sha256,
            }
        )
    else:
        typer.echo(entry.protocol_number)
        typer.echo(entry.verification_code)
        typer.echo(str(path))


@app.command()
def verify(
    target: Annotated[str, typer.Argument(help="A PDF file, or a verification code.")],
    as_json: JsonOption = False,
) -> None:
    """Check a document by its file or its code; exit 1 unless it is genuine and in force."""
    path = Path(target)
    with _archive() as archive:
        report: object
        if path.is_file():
            report = result = archive.verify_pdf(path.read_bytes())
            document, good, problems = result.document, result.authentic, list(result.reasons)
        elif "/" in target or "." in target:  # never in a code: a file name mistyped
            _fail(f"there is no file {target}")
        else:
            report = document = archive.verify_code(target)
            good = document.status == VerificationStatus.VALID
            problems = [] if good else [f"status: {document.status.value}"]
    if as_json:
        _print_json(report)
    elif document.protocol_number:
        when = (
            document.registered_at.isoformat(timespec="seconds") if document.registered_at else ""
        )
        typer.echo(f"{document.protocol_number} {when} {document.title} ({document.issuer})")
        typer.echo(f"status: {document.status.value}, sha256 {document.sha256}")
    if not good:
        _fail("NOT VALID: " + " ".join(problems))
    if not as_json:
        typer.echo("VALID")


@app.command("daily-register")
def daily_register(
    day: Annotated[
        datetime | None,
        typer.Option("--date", help="The day (default yesterday).", formats=["%Y-%m-%d"]),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Directory to write the JSON and the signed PDF into.")
    ] = None,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Make the day's signed register, or check a stored one; exit 1 if its records changed."""
    with _archive() as archive:
        record = archive.produce_daily_register(None if day is None else day.date(), by=by)
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
            for kind in ("json", "pdf"):
                with (output / f"daily-register-{record.day.isoformat()}.{kind}").open("wb") as out:
                    for chunk in archive.read_daily_register(record.day, kind):
                        out.write(chunk)
    if as_json:
        _print_json(record)
    else:
        typer.echo(
            f"{record.day.isoformat()}: {record.entries} entries, JSON sha256 {record.json_sha256}"
        )
    if not record.unchanged:
        _fail(f"the records of {record.day.isoformat()} no longer match the stored daily register")


digest_app = typer.Typer(help="Daily digests (ημερήσια ενημέρωση).", no_args_is_help=True)
app.add_typer(digest_app, name="digest")


@digest_app.command("send")
def digest_send(
    day: Annotated[
        datetime | None,
        typer.Option("--date", help="Day of the digests (default today).", formats=["%Y-%m-%d"]),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Email each department its digest for the day, once; exit 1 if any could not be sent."""
    with _archive() as archive:
        report = archive.send_digests(None if day is None else day.date())
    if as_json:
        _print_json(report)
    else:
        for label, codes in (
            ("sent", report.sent),
            ("already sent", report.already_sent),
            ("nothing to report", report.nothing_to_report),
            ("no digest address", report.no_address),
            ("closed", report.closed),
        ):
            if codes:
                typer.echo(f"{label}: {', '.join(codes)}")
    if report.failed:
        failures = "; ".join(f"{code}: {error}" for code, error in report.failed.items())
        _fail(f"digest not sent (run again to retry) to {failures}")


@app.command()
def fsck(
    sweep_orphans: Annotated[
        bool, typer.Option(help="Delete stored blobs no registration refers to.")
    ] = False,
    grace_hours: Annotated[
        float, typer.Option(help="Only blobs older than this count as orphans.", min=0)
    ] = 24.0,
    as_json: JsonOption = False,
) -> None:
    """Check the audit chain and re-hash every stored file; exit 1 if anything is wrong."""
    with _archive() as archive, ExitStack() as stack:
        progress = _progress_bar(stack, "Έλεγχος αρχείων", quiet=as_json)
        report = archive.fsck(
            grace=timedelta(hours=grace_hours), sweep_orphans=sweep_orphans, progress=progress
        )
    if as_json:
        _print_json(report)
    else:
        chain = report.chain
        if chain.ok:
            typer.echo(f"audit chain intact: {chain.events_checked} events, head {chain.head_hash}")
        typer.echo(f"blobs checked: {report.blobs_checked}")
        for problem in report.problems:
            typer.echo(
                f"{problem.problem}: {problem.storage_key} used by {', '.join(problem.used_by)}"
            )
        verb = "deleted" if sweep_orphans else "orphan (sweep with --sweep-orphans)"
        for key in report.orphans:
            typer.echo(f"{verb}: {key}")
    if not report.chain.ok:
        _fail(f"audit chain broken at event {report.chain.first_bad_seq}: {report.chain.problem}")
    if report.problems:
        names = "; ".join(f"{p.problem} {', '.join(p.used_by)}" for p in report.problems)
        _fail(f"{len(report.problems)} stored files are missing or corrupt: {names}")


@app.command()
def worker(
    digest_at: Annotated[
        datetime,
        typer.Option(
            help="Local time of the daily digest (HH:MM).", formats=["%H:%M"], show_default="07:00"
        ),
    ] = datetime(1900, 1, 1, 7, 0),  # noqa: DTZ001 - only the time of day is used
) -> None:
    """Run the background jobs until stopped: indexing, daily registers, digests.

    The digest goes out on working days when an SMTP server is configured.
    """
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with _archive() as archive:
        Worker(archive, archive.clock, archive.timezone, digest_at=digest_at.time()).run(stop)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words, "phrases", AND/OR/NOT, or 123/2026.')],
    limit: Annotated[int, typer.Option(help="How many hits.", min=1, max=500)] = 20,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Search the registrations (Greek in any form, or in Latin letters)."""
    with _archive() as archive:
        result = archive.search(query, by=by, limit=limit)
    if as_json:
        _print_json(result)
        return
    for hit in result.hits:
        typer.echo(f"{hit.protocol_number:>12}  {hit.subject}")
    typer.echo(f"{result.total} found")
    if not result.complete:
        typer.echo(
            "the search index is being rebuilt from the database: until it is done, "
            "not every registration is found",
            err=True,
        )


@app.command()
def reindex(as_json: JsonOption = False) -> None:
    """Rebuild the search index from the database; the old one is searched until it is done."""
    with _archive() as archive, ExitStack() as stack:
        count = archive.rebuild_index(_progress_bar(stack, "Ευρετήριο", quiet=as_json))
    _emit(as_json, {"indexed": count}, f"{count} registrations indexed")


def _summary(report: TransferReport) -> str:
    series = "; ".join(str(s) for s in report.series)
    files = f"{report.files} files, {report.bytes} bytes"
    return f"{report.registrations} registrations ({series}), {files}"


@app.command()
def export(
    directory: Annotated[
        Path | None,
        typer.Argument(help="New directory for the export (default: eprotocol-export-DATE)."),
    ] = None,
    book: Annotated[str | None, typer.Option(help="Only this protocol book.")] = None,
    year: Annotated[int | None, typer.Option(help="Only this year.")] = None,
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Export whole protocol years with files and history as a BagIt bag (docs/export-format.md)."""
    with _archive() as archive, ExitStack() as stack:
        target = directory or Path(f"eprotocol-export-{archive.today().isoformat()}")
        report = archive.export(
            target,
            by=by,
            book=book,
            year=year,
            progress=_progress_bar(stack, "Εξαγωγή αρχείων", quiet=as_json),
        )
    _emit(
        as_json,
        {"directory": str(target), **dataclasses.asdict(report)},
        f"exported to {target}: {_summary(report)}",
    )


@app.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(help="An export made by `eprotocol export`.")],
    by: ByOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Import an export: whole protocol years, keeping their numbers, dates and files."""
    with _archive() as archive:
        report = archive.import_export(directory, by=by)
    _emit(as_json, report, f"imported {_summary(report)}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(help="Server processes (default: one per CPU, at most 4).", min=1),
    ] = None,
) -> None:
    """Run the HTTP server (uvicorn) on the archive of the environment.

    With one process the background jobs run inside it; with several, this
    process runs them once (beside uvicorn's supervisor) and the workers only serve.
    """
    import uvicorn

    if workers is None:
        workers = max(1, min(4, os.cpu_count() or 1))
    with ExitStack() as stack:
        # A bad setting or a database `init` has not prepared stops the server here.
        archive = stack.enter_context(_archive())
        settings = settings_from_env()
        _warn_if_citizens_cannot_verify(settings.archive.public_url)
        _warn_if_signing_certificate_expires(archive)
        if not (workers > 1 and settings.background_jobs):
            stack.close()  # the server's process opens the archive it serves
        else:
            os.environ["EPROTOCOL_BACKGROUND_JOBS"] = "0"  # inherited by the server processes
            stop = threading.Event()
            jobs = threading.Thread(
                target=Worker(archive, archive.clock, archive.timezone).run,
                args=(stop,),
                name="eprotocol-jobs",
            )
            jobs.start()
            stack.callback(jobs.join, 60)
            stack.callback(stop.set)
        uvicorn.run(
            "eprotocol.api.asgi:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
        )


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
