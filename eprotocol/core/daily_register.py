"""The daily register (Ημερήσιο βιβλίο πρωτοκόλλου): one signed record per finished day.

For a day it lists, in order, the registrations made that day (as they were
registered: later corrections are undone using the values they kept), the
cancellations and the corrections made that day (of entries of any day), and
the head of the audit chain at the end of the day. The JSON form is
canonical, so producing it again for a past day gives the same bytes, and a
change made to that day's records outside the protocol (a database edit)
shows up as a difference. The JSON and a signed PDF of it are stored once.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from eprotocol.core import days
from eprotocol.core.audit import lock_chain
from eprotocol.core.certificates import (
    DailyRegisterSheet,
    DocumentRenderer,
    RegisterLine,
    Signer,
    ready_to_sign,
)
from eprotocol.core.database import Database
from eprotocol.core.errors import InvalidInput, NotFound
from eprotocol.core.labels import CONFIDENTIAL, FIELD_LABELS, GREEK, printed_value
from eprotocol.core.models import (
    AUDIT_EVENT,
    BOOK,
    CANCELLATION,
    CORRECTION,
    DAILY_REGISTER,
    FILE,
    ORGANISATION,
    REGISTRATION,
)
from eprotocol.core.ports import BlobStore, Clock, blob_key
from eprotocol.core.types import ProtocolRef

_RECORDED = (
    "subject",
    "sender",
    "recipients",
    "sender_reference",
    "sender_date",
    "channel",
    "classification_code",
    "confidential",
)


@dataclass(frozen=True, slots=True)
class DailyRegister:
    """A stored daily register, and whether the records still produce the same JSON."""

    day: date
    entries: int
    audit_head: str
    json_sha256: str
    pdf_sha256: str
    created_at: datetime
    #: False when the day's records now give a different JSON than was stored.
    unchanged: bool = True


def _register(row: sa.RowMapping) -> DailyRegister:
    return DailyRegister(
        day=row["day"],
        entries=row["entries"],
        audit_head=row["audit_head"],
        json_sha256=row["json_sha256"],
        pdf_sha256=row["pdf_sha256"],
        created_at=row["created_at"],
    )


def registers_of_years(conn: sa.Connection, years: Iterable[int]) -> list[DailyRegister]:
    """The stored registers of the days of ``years``, by day (no signing key needed)."""
    wanted = sorted(set(years))
    if not wanted:
        return []
    rows = conn.execute(
        sa.select(DAILY_REGISTER)
        .where(
            DAILY_REGISTER.c.day >= date(wanted[0], 1, 1),
            DAILY_REGISTER.c.day <= date(wanted[-1], 12, 31),
        )
        .order_by(DAILY_REGISTER.c.day)
    ).mappings()
    return [_register(row) for row in rows if row["day"].year in wanted]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _ref(book: str, year: int, number: int) -> dict[str, str]:
    return {"book": book, "protocol_number": ProtocolRef(book, year, number).protocol_number}


def _changes(
    conn: sa.Connection,
    table: sa.Table,
    at: sa.Column[Any],
    period: tuple[datetime, datetime],
    columns: tuple[str, ...],
    *,
    order: tuple[sa.ColumnElement[Any], ...],
) -> list[dict[str, Any]]:
    """Rows of a change table (cancellations, corrections) made in ``period``, with their entry."""
    reg = REGISTRATION.c
    rows = conn.execute(
        sa.select(table, BOOK.c.code, reg.year, reg.number)
        .join(REGISTRATION, reg.id == table.c.registration_id)
        .join(BOOK, BOOK.c.id == reg.book_id)
        .where(at >= period[0], at < period[1])
        .order_by(*order)
    ).mappings()
    return [
        {**_ref(r["code"], r["year"], r["number"]), **{c: _plain(r[c]) for c in columns}}
        for r in rows
    ]


class DailyRegisters:
    """Produces, stores, checks and reads daily registers."""

    def __init__(
        self,
        db: Database,
        store: BlobStore,
        clock: Clock,
        tz: ZoneInfo,
        renderer: DocumentRenderer,
        signer: Signer,
    ) -> None:
        self._db = db
        self._store = store
        self._clock = clock
        self._tz = tz
        self._renderer = renderer
        self._signer = signer

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        start, end = days.bounds(day, self._tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    def _content(self, conn: sa.Connection, day: date) -> dict[str, Any]:
        """The register of ``day`` as plain data, from the database as it is now."""
        start, end = self._bounds(day)
        reg = REGISTRATION.c
        rows = list(
            conn.execute(
                sa.select(REGISTRATION, BOOK.c.code.label("book"))
                .join(BOOK, BOOK.c.id == reg.book_id)
                .where(reg.registered_at >= start, reg.registered_at < end)
                .order_by(reg.registered_at, reg.id)
            ).mappings()
        )
        ids = [r["id"] for r in rows]
        files: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for f in conn.execute(
            sa.select(FILE).where(FILE.c.registration_id.in_(ids)).order_by(FILE.c.position)
        ).mappings():
            files[f["registration_id"]].append(
                {"filename": f["filename"], "sha256": f["sha256"], "size": f["size"]}
            )
        undo: dict[int, list[sa.RowMapping]] = {i: [] for i in ids}
        for c in conn.execute(
            sa.select(CORRECTION)
            .where(CORRECTION.c.registration_id.in_(ids))
            .order_by(CORRECTION.c.id.desc())
        ).mappings():
            undo[c["registration_id"]].append(c)
        registrations = []
        for r in rows:
            values = {name: _plain(r[name]) for name in _RECORDED}
            for c in undo[r["id"]]:  # newest first, back to the values as registered
                if c["field"] not in values:  # a field the register does not list
                    continue
                if values[c["field"]] != c["new_value"]:
                    break  # changed outside a correction: show it, so the JSON differs
                values[c["field"]] = c["old_value"]
            registrations.append(
                {
                    **_ref(r["book"], r["year"], r["number"]),
                    "registered_at": _plain(r["registered_at"]),
                    "registered_by": r["registered_by"],
                    "direction": r["direction"],
                    **values,
                    "files": files[r["id"]],
                }
            )
        cancellations = _changes(
            conn,
            CANCELLATION,
            CANCELLATION.c.cancelled_at,
            (start, end),
            ("cancelled_at", "cancelled_by", "reason", "authorisation"),
            order=(CANCELLATION.c.cancelled_at, CANCELLATION.c.registration_id),
        )
        corrections = _changes(
            conn,
            CORRECTION,
            CORRECTION.c.corrected_at,
            (start, end),
            ("corrected_at", "corrected_by", "field", "old_value", "new_value", "reason"),
            order=(CORRECTION.c.id,),
        )
        head = conn.execute(
            sa.select(AUDIT_EVENT.c.seq, AUDIT_EVENT.c.hash)
            .where(AUDIT_EVENT.c.occurred_at < end)
            .order_by(AUDIT_EVENT.c.seq.desc())
            .limit(1)
        ).first()
        return {
            "organisation": conn.execute(sa.select(ORGANISATION.c.name)).scalar_one(),
            "day": day.isoformat(),
            "timezone": self._tz.key,
            "registrations": registrations,
            "cancellations": cancellations,
            "corrections": corrections,
            "audit_head": {"seq": head[0], "hash": head[1]} if head else None,
        }

    @staticmethod
    def _encode(content: dict[str, Any]) -> bytes:
        return (json.dumps(content, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode(
            "utf-8"
        )

    def _lines(
        self, content: dict[str, Any], confidential: set[tuple[str, str]]
    ) -> tuple[RegisterLine, ...]:
        """The printed lines; ``confidential`` (book, number) entries' corrections say no more."""

        def at(instant: str) -> str:
            return datetime.fromisoformat(instant).astimezone(self._tz).strftime("%H:%M")

        lines = []
        for r in content["registrations"]:
            people = r["sender"] or ", ".join(r["recipients"])
            text = CONFIDENTIAL if r["confidential"] else f"{r['subject']} — {people or '-'}"
            kind = GREEK[r["direction"]]
            lines.append(RegisterLine(at(r["registered_at"]), r["protocol_number"], kind, text))
        for c in content["cancellations"]:
            text = f"{c['reason']} (πράξη: {c['authorisation']}, από {c['cancelled_by']})"
            lines.append(RegisterLine(at(c["cancelled_at"]), c["protocol_number"], "Ακύρωση", text))
        for c in content["corrections"]:
            field = c["field"]
            if (c["book"], c["protocol_number"]) in confidential:
                text = f"{FIELD_LABELS[field]}: {CONFIDENTIAL}"
            else:
                old, new = (
                    printed_value(field, c[v], c["book"]) for v in ("old_value", "new_value")
                )
                text = f"{FIELD_LABELS[field]}: «{old}» → «{new}» ({c['reason']})"
            lines.append(
                RegisterLine(at(c["corrected_at"]), c["protocol_number"], "Διόρθωση", text)
            )
        return tuple(sorted(lines, key=lambda line: line.time))

    def produce(self, day: date, *, by: str) -> DailyRegister:
        """Store the register of a finished ``day``; for a stored one, check it still matches."""
        today = self._clock.now().astimezone(self._tz).date()
        if day >= today:
            raise InvalidInput(
                f"the daily register of {day.isoformat()} can be made once the day is over",
                field="date",
            )
        with self._db.read() as conn:
            if self._stored(conn, day) is None:
                # It is signed under the audit chain's lock, which every registration takes.
                ready_to_sign(self._signer, self._clock.now().astimezone(self._tz))
        with self._db.write() as conn:
            chain = lock_chain(conn)
            content = self._content(conn, day)
            data = self._encode(content)
            json_sha = hashlib.sha256(data).hexdigest()
            stored = self._stored(conn, day)
            if stored is not None:
                return replace(stored, unchanged=stored.json_sha256 == json_sha)
            head = content["audit_head"]["hash"] if content["audit_head"] else ""
            entries = sum(
                len(content[k]) for k in ("registrations", "cancellations", "corrections")
            )
            sheet = DailyRegisterSheet(
                organisation=content["organisation"],
                day=day,
                lines=self._lines(content, self._confidential_corrected(conn, day)),
                audit_head=head,
                json_sha256=json_sha,
            )
            pdf = self._signer.sign(self._renderer.daily_register(sheet))
            pdf_sha = hashlib.sha256(pdf).hexdigest()
            for blob, sha in ((data, json_sha), (pdf, pdf_sha)):
                if not self._store.exists(blob_key(sha)):
                    self._store.put(io.BytesIO(blob), sha256=sha, size=len(blob))
            now = self._clock.now()
            record = DailyRegister(day, entries, head, json_sha, pdf_sha, now)
            conn.execute(
                sa.insert(DAILY_REGISTER),
                {
                    "day": day,
                    "created_at": now,
                    "entries": entries,
                    "audit_head": head,
                    "json_sha256": json_sha,
                    "json_key": blob_key(json_sha),
                    "pdf_sha256": pdf_sha,
                    "pdf_key": blob_key(pdf_sha),
                },
            )
            chain.append(
                actor=by,
                action="daily_register.created",
                target=day.isoformat(),
                details={"entries": entries, "json_sha256": json_sha, "pdf_sha256": pdf_sha},
                at=now,
            )
            return record

    def _confidential_corrected(self, conn: sa.Connection, day: date) -> set[tuple[str, str]]:
        """(book, protocol number) of the confidential entries corrected on ``day``."""
        start, end = self._bounds(day)
        reg = REGISTRATION.c
        rows = conn.execute(
            sa.select(BOOK.c.code, reg.year, reg.number)
            .join(BOOK, BOOK.c.id == reg.book_id)
            .join(CORRECTION, CORRECTION.c.registration_id == reg.id)
            .where(
                reg.confidential.is_(True),
                CORRECTION.c.corrected_at >= start,
                CORRECTION.c.corrected_at < end,
            )
        )
        return {
            (book, ProtocolRef(book, year, number).protocol_number) for book, year, number in rows
        }

    @staticmethod
    def _stored(conn: sa.Connection, day: date) -> DailyRegister | None:
        row = (
            conn.execute(sa.select(DAILY_REGISTER).where(DAILY_REGISTER.c.day == day))
            .mappings()
            .first()
        )
        return None if row is None else _register(row)

    def get(self, day: date) -> DailyRegister:
        """The stored register of ``day`` (``NotFound`` if it was not made yet)."""
        with self._db.read() as conn:
            stored = self._stored(conn, day)
        if stored is None:
            raise NotFound(f"there is no daily register of {day.isoformat()} yet")
        return stored

    def read(self, day: date, kind: Literal["json", "pdf"]) -> Iterator[bytes]:
        """The stored JSON or signed PDF of ``day``, verified against its SHA-256."""
        stored = self.get(day)
        sha = stored.json_sha256 if kind == "json" else stored.pdf_sha256
        return self._store.read(blob_key(sha), sha256=sha)

    def missing_days(self, until: date, *, back: int = 7) -> list[date]:
        """Finished days of the last ``back`` days before ``until`` with no stored register."""
        recent = [until - timedelta(days=n) for n in range(back, 0, -1)]
        with self._db.read() as conn:
            first = conn.execute(sa.select(sa.func.min(REGISTRATION.c.registered_at))).scalar()
            done = set(
                conn.execute(
                    sa.select(DAILY_REGISTER.c.day).where(DAILY_REGISTER.c.day.in_(recent))
                ).scalars()
            )
        if first is None:
            return []
        start = first.astimezone(self._tz).date()
        return [d for d in recent if d >= start and d not in done]
