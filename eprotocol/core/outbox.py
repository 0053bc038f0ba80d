"""The transactional outbox: background work recorded in the same transaction as the change.

Search indexing and mail read these rows later; because they are committed
together with the change they describe, no update can be lost between the
database and the index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from eprotocol.core.models import OutboxRow


def emit(session: Session, topic: str, payload: dict[str, Any], *, at: datetime) -> None:
    """Queue ``topic`` with ``payload`` for the background consumers."""
    session.add(OutboxRow(topic=topic, payload=payload, created_at=at))
