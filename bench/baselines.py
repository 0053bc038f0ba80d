"""Baselines several benchmarks share."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa


def plain_read(db_url: str, *queries: str, **params: Any) -> float:
    """Seconds to read every row of ``queries`` with plain SQL: what grouping them must beat."""
    engine = sa.create_engine(db_url)
    begin = time.perf_counter()
    with engine.connect() as conn:
        for query in queries:
            for _ in conn.execute(sa.text(query), params):
                pass
    elapsed = time.perf_counter() - begin
    engine.dispose()
    return elapsed
