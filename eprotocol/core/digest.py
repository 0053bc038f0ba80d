"""The daily digest (ημερήσια ενημέρωση): one email per department per day.

It lists what was assigned to the department since the start of the previous working day
(so Monday's digest covers Friday and the weekend), what of its work is overdue, and the
work that ended then because its registration was cancelled (it left the department's
lists, and the digest says why). Each (department, day) is sent once: the delivery is
recorded right after the mail server accepts the message, so re-running the job after a
crash sends only what is missing, and a failed department is retried by the next run.
Two runs at the same moment (a hand run beside the worker's) may both send a department's
digest, as a run killed between the server's acceptance and the record may send it again;
the message keeps its Message-ID, so the copy is recognisable, and the first delivery
recorded stands.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from eprotocol.config import DigestPolicy
from eprotocol.core import days
from eprotocol.core.database import Database
from eprotocol.core.errors import MailUnavailable
from eprotocol.core.labels import CONFIDENTIAL, GREEK
from eprotocol.core.models import DIGEST_DELIVERY, USER
from eprotocol.core.organisation import DepartmentTree
from eprotocol.core.ports import Mail, Mailer
from eprotocol.core.queries import organisation_name
from eprotocol.core.routing import InboxEntry, Routing
from eprotocol.core.types import AssignmentState, Department


def previous_working_day(day: date) -> date:
    """The last Monday-to-Friday day before ``day``."""
    previous = day - timedelta(days=1)
    while previous.weekday() >= 5:
        previous -= timedelta(days=1)
    return previous


def _greek_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


@dataclass(frozen=True, slots=True)
class DepartmentDigest:
    """What one department's digest for a day says.

    ``withdrawn``: its work that ended since ``since`` with the cancellation of the entry.
    """

    department: Department
    day: date
    since: date
    assigned: tuple[InboxEntry, ...]
    overdue: tuple[InboxEntry, ...]
    withdrawn: tuple[InboxEntry, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing assigned, overdue or withdrawn."""
        return not (self.assigned or self.overdue or self.withdrawn)


@dataclass(slots=True)
class DigestReport:
    """What a digest run did, department by department (codes)."""

    day: date
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    nothing_to_report: list[str] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)
    #: Departments closed in a reorganisation: they get no digest.
    closed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class DigestComposer:
    """Turns a :class:`DepartmentDigest` into a Greek email (text and HTML)."""

    def __init__(
        self, organisation: str, public_url: str, people: Mapping[str, str] | None = None
    ) -> None:
        self._organisation = organisation
        self._public_url = public_url.rstrip("/")
        self._people = people or {}  # full names by user name, for whom work is assigned to

    def _link(self, entry: InboxEntry) -> str:
        ref = entry.assignment.registration
        return f"{self._public_url}/registrations/{quote(ref.book)}/{ref.year}/{ref.number}"

    def _line(self, entry: InboxEntry) -> str:
        a = entry.assignment
        to = f", υπάλληλος: {self._people.get(a.assignee, a.assignee)}" if a.assignee else ""
        due = f", προθεσμία {_greek_date(a.due)}" if a.due else ""
        # An email travels beyond the archive's permissions (lists, forwards): as in the
        # printed daily register, a confidential subject is only read behind the link.
        subject = CONFIDENTIAL if entry.confidential else entry.subject
        return f"{a.registration.protocol_number} — {subject} ({GREEK[a.purpose]}{to}{due})"

    def compose(self, digest: DepartmentDigest, *, message_id: str) -> Mail:
        """The email of one department's digest."""
        dept = digest.department
        subject = f"Ημερήσια ενημέρωση πρωτοκόλλου: {dept.name}, {_greek_date(digest.day)}"
        sections = [
            (f"Νέες χρεώσεις από {_greek_date(digest.since)}", digest.assigned),
            ("Εκπρόθεσμες χρεώσεις", digest.overdue),
        ]
        if digest.withdrawn:  # rare: said only when there is some
            sections.append(("Έληξαν με την ακύρωση της καταχώρισης", digest.withdrawn))
        text_lines = [self._organisation, f"{dept.name} ({dept.code})", ""]
        html_parts = [
            f"<p>{html.escape(self._organisation)}<br><strong>{html.escape(dept.name)}</strong>"
            f" ({html.escape(dept.code)})</p>"
        ]
        for title, entries in sections:
            text_lines.append(f"{title}: {len(entries)}")
            html_parts.append(f"<h2>{html.escape(title)}: {len(entries)}</h2>")
            if entries:
                html_parts.append("<ul>")
            for entry in entries:
                text_lines.append(f"  * {self._line(entry)}")
                text_lines.append(f"    {self._link(entry)}")
                html_parts.append(
                    f'<li><a href="{html.escape(self._link(entry), quote=True)}">'
                    f"{html.escape(self._line(entry))}</a></li>"
                )
            if entries:
                html_parts.append("</ul>")
            text_lines.append("")
        text_lines.append("Μήνυμα του ηλεκτρονικού πρωτοκόλλου. Μην απαντάτε σε αυτό.")
        body = "\n".join(html_parts)
        page = (
            '<!DOCTYPE html><html lang="el"><head><meta charset="utf-8">'
            f"<title>{html.escape(subject)}</title></head><body>{body}"
            "<p><small>Μήνυμα του ηλεκτρονικού πρωτοκόλλου. Μην απαντάτε σε αυτό.</small></p>"
            "</body></html>"
        )
        return Mail(
            to=(dept.digest_email or "",),
            subject=subject,
            text="\n".join(text_lines),
            html=page,
            message_id=message_id,
        )


class DigestSender:
    """Builds and sends the digests of one day, once per department (see the module)."""

    def __init__(
        self,
        db: Database,
        routing: Routing,
        mailer: Mailer,
        policy: DigestPolicy,
        tz: ZoneInfo,
        public_url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = db
        self._routing = routing
        self._mailer = mailer
        self._policy = policy
        self._tz = tz
        self._public_url = public_url
        self._sleep = sleep

    def _by_department(self, entries: tuple[InboxEntry, ...]) -> dict[str, list[InboxEntry]]:
        grouped: dict[str, list[InboxEntry]] = {}
        for entry in entries:
            grouped.setdefault(entry.assignment.department, []).append(entry)
        return grouped

    def send(self, day: date) -> DigestReport:
        """Send every department's digest for ``day`` that has not been sent yet.

        A digest lists what was assigned to the department itself (not to the
        departments below it, which get their own) and its overdue work.
        """
        report = DigestReport(day)
        since = previous_working_day(day)
        with self._db.read() as conn:
            tree = DepartmentTree(conn)
            organisation = organisation_name(conn)
            people = dict(conn.execute(sa.select(USER.c.username, USER.c.full_name)).all())
            sent = set(
                conn.scalars(
                    sa.select(DIGEST_DELIVERY.c.department_id).where(
                        DIGEST_DELIVERY.c.digest_date == day, DIGEST_DELIVERY.c.state == "sent"
                    )
                )
            )
        start, end = days.midnight(since, self._tz), days.midnight(day, self._tz)
        assigned = self._by_department(
            self._routing.inbox(
                # Work ended by its registration's cancellation is said apart, not as new.
                states=[s for s in AssignmentState if s is not AssignmentState.WITHDRAWN],
                created_from=start,
                created_to=end,
                limit=None,
            )
        )
        overdue = self._by_department(self._routing.inbox(overdue_on=day, limit=None))
        withdrawn = self._by_department(
            self._routing.inbox(
                states=[AssignmentState.WITHDRAWN], closed_from=start, closed_to=end, limit=None
            )
        )
        composer = DigestComposer(organisation, self._public_url, people)
        for code in sorted(tree.by_code):
            department_id = tree.id_of(code)
            department = tree.department(department_id)
            if department_id in sent:
                report.already_sent.append(code)
                continue
            if department.closed_at is not None:  # nothing reaches it any more
                report.closed.append(code)
                continue
            if not department.digest_email:
                report.no_address.append(code)
                continue
            digest = DepartmentDigest(
                department,
                day,
                since,
                tuple(assigned.get(code, ())),
                tuple(overdue.get(code, ())),
                tuple(withdrawn.get(code, ())),
            )
            if digest.empty and not self._policy.send_empty:
                report.nothing_to_report.append(code)
                continue
            message_id = f"<digest-{day.isoformat()}-{department_id}@eprotocol>"
            error = self._deliver(composer.compose(digest, message_id=message_id))
            recorded = self._record(department_id, day, message_id, error)
            if error is None:
                report.sent.append(code)
            elif recorded:
                report.failed[code] = error
            else:  # another run sent it meanwhile: nothing is left to retry
                report.already_sent.append(code)
        return report

    def _deliver(self, mail: Mail) -> str | None:
        """Send with retries and exponential backoff; return the last error, if all failed."""
        error = None
        for attempt in range(max(1, self._policy.attempts)):
            if attempt:
                self._sleep(self._policy.backoff_seconds * 2 ** (attempt - 1))
            try:
                self._mailer.send(mail)
            except MailUnavailable as exc:
                error = exc.message
            else:
                return None
        return error

    def _record(self, department_id: int, day: date, message_id: str, error: str | None) -> bool:
        """Record the delivery of a department's digest, counting the attempt; whether it was.

        A delivery already recorded as sent stays so (``False``): another run for the same
        day (a hand run beside the worker) sent it meanwhile, and a failure of ours must
        not make the next run send it again.
        """
        values = {
            "state": "failed" if error else "sent",
            "message_id": message_id,
            "sent_at": None if error else datetime.now(self._tz),
            "last_error": error,
        }
        with self._db.write() as conn:
            row = conn.execute(
                _RECORD[conn.dialect.name],
                {"department_id": department_id, "digest_date": day, "attempts": 1, **values},
            ).first()
        return row is not None


def _record_delivery(insert: Any) -> sa.Insert:
    statement = insert(DIGEST_DELIVERY)
    return cast(
        sa.Insert,
        statement.on_conflict_do_update(
            index_elements=[DIGEST_DELIVERY.c.department_id, DIGEST_DELIVERY.c.digest_date],
            set_={
                "attempts": DIGEST_DELIVERY.c.attempts + 1,
                **{
                    name: statement.excluded[name]
                    for name in ("state", "message_id", "sent_at", "last_error")
                },
            },
            where=DIGEST_DELIVERY.c.state != "sent",
        ).returning(DIGEST_DELIVERY.c.id),
    )


_RECORD = {
    "postgresql": _record_delivery(postgresql.insert),
    "sqlite": _record_delivery(sqlite.insert),
}
