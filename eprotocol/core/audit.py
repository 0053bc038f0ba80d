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
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from eprotocol.core.models import AuditEventRow, AuditHeadRow
from eprotocol.core.types import AuditEvent, ChainReport

GENESIS_HASH = "0" * 64
HEAD_ID = 1


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


class ChainWriter:
    """Appends events to the chain inside one write transaction that holds the head lock."""

    def __init__(self, session: Session, head: AuditHeadRow) -> None:
        self._session = session
        self._head = head

    def append(
        self, *, actor: str, action: str, target: str, details: dict[str, Any], at: datetime
    ) -> AuditEventRow:
        """Add one event after the current head and move the head to it."""
        seq = self._head.seq + 1
        details_json = canonical_json(details)
        digest = event_hash(
            seq=seq,
            occurred_at=at,
            actor=actor,
            action=action,
            target=target,
            details=details_json,
            prev_hash=self._head.hash,
        )
        row = AuditEventRow(
            seq=seq,
            occurred_at=at,
            actor=actor,
            action=action,
            target=target,
            details=details_json,
            prev_hash=self._head.hash,
            hash=digest,
        )
        self._session.add(row)
        self._head.seq = seq
        self._head.hash = digest
        self._session.add(self._head)
        return row


def lock_chain(session: Session) -> ChainWriter:
    """Lock the chain head (``SELECT ... FOR UPDATE``) and return a writer for it.

    Call this first in a write transaction: it is the lock that orders all
    audited writes, so taking it before any other row lock avoids deadlocks.
    """
    head = session.exec(
        select(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID).with_for_update()
    ).one()
    return ChainWriter(session, head)


def to_event(row: AuditEventRow) -> AuditEvent:
    """The public value of a stored event."""
    return AuditEvent(
        seq=row.seq,
        occurred_at=row.occurred_at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _rows(session: Session, batch: int = 1000) -> Iterator[AuditEventRow]:
    last = 0
    while True:
        rows = session.exec(
            select(AuditEventRow)
            .where(AuditEventRow.seq > last)
            .order_by(col(AuditEventRow.seq))
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify_chain(session: Session) -> ChainReport:
    """Recompute the whole chain in bounded memory and report the first broken event."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for row in _rows(session):
        problem = None
        if row.seq != expected_seq:
            problem = f"event {expected_seq} is missing (next stored event is {row.seq})"
        elif row.prev_hash != prev_hash:
            problem = "its link does not match the hash of the previous event"
        elif row.hash != event_hash(
            seq=row.seq,
            occurred_at=row.occurred_at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            details=row.details,
            prev_hash=row.prev_hash,
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
        prev_hash = row.hash
        expected_seq += 1
    head = session.exec(select(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID)).one()
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
