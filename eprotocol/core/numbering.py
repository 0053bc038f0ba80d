"""Gap-free protocol numbers per (book, year).

The next number is taken from the ``book_counter`` row inside the caller's
write transaction with one atomic upsert. On PostgreSQL the ``ON CONFLICT DO
UPDATE`` takes the same row lock as ``SELECT ... FOR UPDATE`` and holds it to
commit, so concurrent writers queue on it; on SQLite the transaction already
holds the database write lock (``BEGIN IMMEDIATE``). A rolled-back transaction
rolls the counter back with it: no number is consumed by a failure.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from eprotocol.core.models import COUNTER


def _upsert(insert: Any) -> sa.Insert:
    return cast(
        sa.Insert,
        insert(COUNTER)
        .values(
            book_id=sa.bindparam("book_id"),
            year=sa.bindparam("year"),
            last_number=sa.bindparam("count"),
        )
        .on_conflict_do_update(
            index_elements=[COUNTER.c.book_id, COUNTER.c.year],
            set_={"last_number": COUNTER.c.last_number + sa.bindparam("count")},
        )
        .returning(COUNTER.c.last_number),
    )


_TAKE = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}


def take_numbers(conn: sa.Connection, book_id: int, year: int, count: int = 1) -> int:
    """Take the next ``count`` numbers of ``book_id`` in ``year``; return the first of them.

    The numbers are ``first .. first + count - 1``; the year's first entry gets 1.
    """
    last = conn.execute(
        _TAKE[conn.dialect.name], {"book_id": book_id, "year": year, "count": count}
    ).scalar_one()
    return int(last) - count + 1
