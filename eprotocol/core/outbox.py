"""The transactional outbox: background work recorded in the same transaction as the change.

Search indexing and mail read these rows later; because they are committed
together with the change they describe, no update can be lost between the
database and the index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from eprotocol.core.models import OUTBOX

_INSERT = sa.insert(OUTBOX)


def emit(conn: sa.Connection, topic: str, payload: dict[str, Any], *, at: datetime) -> None:
    """Queue ``topic`` with ``payload`` for the background consumers."""
    emit_all(conn, [(topic, payload, at)])


def emit_all(conn: sa.Connection, events: Sequence[tuple[str, dict[str, Any], datetime]]) -> None:
    """Queue several ``(topic, payload, time)`` events in one statement."""
    conn.execute(
        _INSERT,
        [{"topic": t, "payload": p, "created_at": at, "attempts": 0} for t, p, at in events],
    )
