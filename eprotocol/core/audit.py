"""The audit hash chain.

Every state change appends an event whose hash covers its own content and the
hash of the event before it, so editing, deleting or reordering any stored
event breaks the chain at that event. The single ``audit_head`` row holds the
last link; writers lock it first, which also gives every audited transaction a
total order (the order of their events).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from eprotocol.core.models import AUDIT_EVENT, AUDIT_HEAD
from eprotocol.core.types import AuditEvent, ChainReport

GENESIS_HASH = "0" * 64
HEAD_ID = 1

# Built once: constructing a statement costs more than executing it on SQLite.
_INSERT_EVENTS = sa.insert(AUDIT_EVENT)
_MOVE_HEAD = (
    sa.update(AUDIT_HEAD)
    .where(AUDIT_HEAD.c.id == HEAD_ID)
    .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash"))
)
_LOCK_HEAD = (
    sa.select(AUDIT_HEAD.c.seq, AUDIT_HEAD.c.hash)
    .where(AUDIT_HEAD.c.id == HEAD_ID)
    .with_for_update()
)


def canonical_json(value: Any) -> str:
    """Serialise ``value`` the one way the chain hashes it (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(
    *,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    target: str,
    details: str,
    prev_hash: str,
) -> str:
    """The SHA-256 that links one event into the chain."""
    material = canonical_json(
        {
            "seq": seq,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """An event about to be appended to the chain."""

    actor: str
    action: str
    target: str
    details: dict[str, Any]
    at: datetime


class ChainWriter:
    """Appends events to the chain inside one write transaction that holds the head lock."""

    def __init__(self, conn: sa.Connection, seq: int, head_hash: str) -> None:
        self._conn = conn
        self._seq = seq
        self._hash = head_hash

    def append(
        self, *, actor: str, action: str, target: str, details: dict[str, Any], at: datetime
    ) -> None:
        """Add one event after the current head and move the head to it."""
        self.append_all([Entry(actor, action, target, details, at)])

    def append_all(self, entries: Sequence[Entry]) -> None:
        """Add events in order after the current head and move the head to the last."""
        rows = []
        for entry in entries:
            seq = self._seq + 1
            details_json = canonical_json(entry.details)
            digest = event_hash(
                seq=seq,
                occurred_at=entry.at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                details=details_json,
                prev_hash=self._hash,
            )
            rows.append(
                {
                    "seq": seq,
                    "occurred_at": entry.at,
                    "actor": entry.actor,
                    "action": entry.action,
                    "target": entry.target,
                    "details": details_json,
                    "prev_hash": self._hash,
                    "hash": digest,
                }
            )
            self._seq, self._hash = seq, digest
        self._conn.execute(_INSERT_EVENTS, rows)
        self._conn.execute(_MOVE_HEAD, {"new_seq": self._seq, "new_hash": self._hash})


def lock_chain(conn: sa.Connection) -> ChainWriter:
    """Lock the chain head (``SELECT ... FOR UPDATE``) and return a writer for it.

    Call this first in a write transaction: it is the lock that orders all
    audited writes, so taking it before any other row lock avoids deadlocks.
    """
    seq, head_hash = conn.execute(_LOCK_HEAD).one()
    return ChainWriter(conn, seq, head_hash)


def to_event(row: sa.RowMapping) -> AuditEvent:
    """The public value of a stored event."""
    return AuditEvent(
        seq=row["seq"],
        occurred_at=row["occurred_at"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        details=json.loads(row["details"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def events(conn: sa.Connection, *, after: int = 0, limit: int | None = None) -> list[sa.RowMapping]:
    """Stored events with ``seq`` greater than ``after``, oldest first."""
    query = sa.select(AUDIT_EVENT).where(AUDIT_EVENT.c.seq > after).order_by(AUDIT_EVENT.c.seq)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).mappings())


def events_about(conn: sa.Connection, targets: list[str], *, limit: int) -> list[sa.RowMapping]:
    """The newest ``limit`` stored events about any of ``targets``, oldest first."""
    query = (
        sa.select(AUDIT_EVENT)
        .where(AUDIT_EVENT.c.target.in_(targets))
        .order_by(AUDIT_EVENT.c.seq.desc())
        .limit(limit)
    )
    return list(reversed(conn.execute(query).mappings().all()))


def _all_events(conn: sa.Connection, batch: int = 1000) -> Iterator[sa.RowMapping]:
    last = 0
    while rows := events(conn, after=last, limit=batch):
        yield from rows
        last = rows[-1]["seq"]


def verify_chain(conn: sa.Connection) -> ChainReport:
    """Recompute the whole chain in bounded memory and report the first broken event."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for row in _all_events(conn):
        problem = None
        if row["seq"] != expected_seq:
            problem = f"event {expected_seq} is missing (next stored event is {row['seq']})"
        elif row["prev_hash"] != prev_hash:
            problem = "its link does not match the hash of the previous event"
        elif row["hash"] != event_hash(
            seq=row["seq"],
            occurred_at=row["occurred_at"],
            actor=row["actor"],
            action=row["action"],
            target=row["target"],
            details=row["details"],
            prev_hash=row["prev_hash"],
        ):
            problem = "its content does not match its stored hash"
        if problem is not None:
            return ChainReport(
                ok=False,
                events_checked=expected_seq - 1,
                head_hash=prev_hash,
                first_bad_seq=expected_seq,
                problem=problem,
            )
        prev_hash = row["hash"]
        expected_seq += 1
    head = conn.execute(sa.select(AUDIT_HEAD).where(AUDIT_HEAD.c.id == HEAD_ID)).one()
    checked = expected_seq - 1
    if head.seq != checked or head.hash != prev_hash:
        return ChainReport(
            ok=False,
            events_checked=checked,
            head_hash=prev_hash,
            first_bad_seq=min(head.seq, checked + 1),
            problem=f"the chain head says event {head.seq} is last; the stored chain ends at "
            f"{checked}",
        )
    return ChainReport(ok=True, events_checked=checked, head_hash=prev_hash)
