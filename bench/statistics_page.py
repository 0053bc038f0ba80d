"""Benchmark: the statistics page's figures of a year as big as the reference municipality's.

120,000 registrations (a year of the Municipality of Chania) and 60,000 assignments
are written straight into a SQLite archive, then ``Archive.statistics`` is timed
beside the baseline of reading the same rows with one plain SQL query each and
no grouping, in the same run. Goal: the page's figures in under a second here;
the ratio to merely reading the rows (goal >= 0.25) keeps that honest on other
machines.

    .venv/bin/python -m bench.statistics_page [--registrations 120000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.baselines import plain_read
from bench.report import report
from eprotocol import Archive, ArchiveConfig, LocalStorageConfig
from eprotocol.core.models import ASSIGNMENT, REGISTRATION

YEAR = 2025
GOAL = 0.25


def fill(archive: Archive, db_url: str, registrations: int) -> None:
    """Write a year of registrations and half as many assignments, bypassing the registry."""
    archive.add_department("TECH", "Τεχνικές Υπηρεσίες", by="admin")
    archive.add_department("KEP", "ΚΕΠ", by="admin")
    rng = random.Random(2025)
    start = datetime(YEAR, 1, 1, tzinfo=UTC)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        book_id = conn.execute(sa.text("SELECT id FROM protocol_book")).scalar_one()
        departments = list(conn.execute(sa.text("SELECT id FROM department")).scalars())
        rows = [
            {
                "book_id": book_id,
                "year": YEAR,
                "number": n,
                "registered_at": start + timedelta(seconds=n * 262),
                "registered_by": "admin",
                "direction": rng.choice(["incoming", "outgoing", "internal"]),
                "subject": f"Αίτηση {n}",
                "recipients": [],
                "classification_code": None,
                "confidential": False,
                "status": "cancelled" if n % 500 == 0 else "active",
            }
            for n in range(1, registrations + 1)
        ]
        conn.execute(sa.insert(REGISTRATION), rows)
        ids = list(conn.execute(sa.select(REGISTRATION.c.id)).scalars())
        made = [start + timedelta(seconds=rng.randrange(365 * 86400)) for _ in ids[::2]]
        conn.execute(
            sa.insert(ASSIGNMENT),
            [
                {
                    "registration_id": reg_id,
                    "department_id": rng.choice(departments),
                    "purpose": "action",
                    "state": "completed" if i % 3 else "pending",
                    "due": (at + timedelta(days=20)).date(),
                    "created_by": "admin",
                    "created_at": at,
                    "closed_at": at + timedelta(days=5) if i % 3 else None,
                }
                for i, (reg_id, at) in enumerate(zip(ids[::2], made, strict=True))
            ],
        )
    engine.dispose()


def raw_read(db_url: str) -> float:
    """Seconds to read the same columns with plain SQL, without grouping them."""
    return plain_read(
        db_url,
        "SELECT registered_at, direction, classification_code, status FROM registration "
        "WHERE year = :year",
        "SELECT department_id, state, due, created_at, closed_at FROM assignment",
        year=YEAR,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=120_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eprotocol-bench-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'stats.db'}"
        config = ArchiveConfig(database_url=db_url, storage=LocalStorageConfig(Path(tmp) / "b"))
        with Archive(config) as archive:
            archive.initialise(organisation="Δήμος Χανίων")
            fill(archive, db_url, args.registrations)
            raw, ours = [], []
            for round_no in range(args.rounds):
                raw.append(1 / raw_read(db_url))
                begin = time.perf_counter()
                figures = archive.statistics(YEAR, by="admin")
                ours.append(1 / (time.perf_counter() - begin))
                print(
                    f"round {round_no + 1}: plain read {1 / raw[-1]:.3f} s, "
                    f"statistics {1 / ours[-1]:.3f} s ({figures.total} registrations)"
                )
    report("plain SQL read of the rows (per second)", raw, "Archive.statistics", ours, GOAL)


if __name__ == "__main__":
    main()
