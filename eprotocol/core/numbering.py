"""Gap-free protocol numbers per (book, year).

The next number is taken from the ``book_counter`` row inside the caller's
write transaction with one atomic upsert. On PostgreSQL the ``ON CONFLICT DO
UPDATE`` takes the same row lock as ``SELECT ... FOR UPDATE`` and holds it to
commit, so concurrent writers queue on it; on SQLite the transaction already
holds the database write lock (``BEGIN IMMEDIATE``). A rolled-back transaction
rolls the counter back with it: no number is consumed by a failure.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from eprotocol.core.models import CounterRow

_counter = CounterRow.__table__  # type: ignore[attr-defined]


def next_number(session: Session, book_id: int, year: int) -> int:
    """Take the next number of ``book_id`` in ``year`` (1 for the year's first entry)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(_counter)
        .values(book_id=book_id, year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[_counter.c.book_id, _counter.c.year],
            set_={"last_number": _counter.c.last_number + 1},
        )
        .returning(_counter.c.last_number)
    )
    return int(session.execute(stmt).scalar_one())
