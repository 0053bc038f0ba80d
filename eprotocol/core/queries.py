"""Look-ups shared by the domain modules."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from eprotocol.core.errors import Phrase, RegistrationNotFound
from eprotocol.core.models import AUDIT_EVENT, BOOK, ORGANISATION, REGISTRATION, RENAMED
from eprotocol.core.types import ProtocolRef

_BY_REF = (
    sa.select(REGISTRATION)
    .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
    .where(
        BOOK.c.code == sa.bindparam("book"),
        REGISTRATION.c.year == sa.bindparam("year"),
        REGISTRATION.c.number == sa.bindparam("number"),
    )
)

NO_REGISTRATION = Phrase("no-registration", "there is no registration {ref}")


def registration_row(conn: sa.Connection, ref: ProtocolRef) -> sa.RowMapping:
    """The stored row of registration ``ref``, or ``RegistrationNotFound``."""
    params = {"book": ref.book, "year": ref.year, "number": ref.number}
    row = conn.execute(_BY_REF, params).mappings().first()
    if row is None:
        raise RegistrationNotFound(NO_REGISTRATION(ref=ref))
    return row


def organisation_name(conn: sa.Connection, at: datetime | None = None) -> str:
    """The name of the archive's organisation (``""`` before the archive is initialised).

    With ``at``, the name it had then: the name a rename after ``at`` replaced.
    """
    if at is not None:
        renamed_later = conn.execute(
            sa.select(AUDIT_EVENT.c.details)
            .where(RENAMED, AUDIT_EVENT.c.occurred_at > at)
            .order_by(AUDIT_EVENT.c.seq)
            .limit(1)
        ).scalar()
        if renamed_later is not None:
            return str(json.loads(renamed_later)["from"])
    return str(conn.execute(sa.select(ORGANISATION.c.name)).scalar() or "")
