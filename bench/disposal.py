"""Benchmark: the archive committee's summary after ten years of the reference municipality.

Ten years of 120,000 registrations (1.2 million, a file each, under 30 headings of
5, 10, 20 or 50 years and some under none) are written straight into a SQLite archive;
then ``Archive.disposal_summary`` for the end of the tenth year is timed beside the
baseline of reading the same columns of every registration and file with plain SQL and
no grouping, in the same run. Goal: ratio >= 0.25 (the summary is counted by the
database, not by reading the rows into Python). The list of the registrations
themselves, streamed a page at a time, is timed once as well.

    .venv/bin/python -m bench.disposal [--per-year 120000] [--years 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.baselines import plain_read
from bench.report import report
from eprotocol import Archive, ArchiveConfig, Classification, Disposal, LocalStorageConfig
from eprotocol.core.models import FILE, REGISTRATION

FIRST_YEAR = 2026
GOAL = 0.25
CHUNK = 50_000
HEADINGS = [
    Classification(f"Φ.{n}", f"Θέση {n}", years, disposal)
    for n, (years, disposal) in enumerate(
        [
            (5, Disposal.DESTROY),
            (10, Disposal.DESTROY),
            (20, Disposal.REVIEW),
            (50, Disposal.TRANSFER),
        ]
        * 8
    )
][:30]


def fill(db_url: str, per_year: int, years: int) -> int:
    """Write the registrations and their files, bypassing the registry; how many."""
    rng = random.Random(FIRST_YEAR)
    codes = [h.code for h in HEADINGS] + [None] * 10  # a quarter filed under no heading
    engine = sa.create_engine(db_url)
    every = 365 * 86400 // per_year
    with engine.begin() as conn:
        book_id = conn.execute(sa.text("SELECT id FROM protocol_book")).scalar_one()
        for year in range(FIRST_YEAR, FIRST_YEAR + years):
            start = datetime(year, 1, 1, tzinfo=UTC)
            for first in range(1, per_year + 1, CHUNK):
                numbers = range(first, min(first + CHUNK, per_year + 1))
                conn.execute(
                    sa.insert(REGISTRATION),
                    [
                        {
                            "book_id": book_id,
                            "year": year,
                            "number": n,
                            "registered_at": start + timedelta(seconds=n * every),
                            "registered_by": "admin",
                            "direction": "incoming",
                            "subject": f"Αίτηση {n}/{year}",
                            "recipients": [],
                            "classification_code": rng.choice(codes),
                            "confidential": n % 100 == 0,
                            "status": "cancelled" if n % 500 == 0 else "active",
                        }
                        for n in numbers
                    ],
                )
        ids = list(conn.execute(sa.select(REGISTRATION.c.id)).scalars())
        for first in range(0, len(ids), CHUNK):
            conn.execute(
                sa.insert(FILE),
                [
                    {
                        "registration_id": reg_id,
                        "position": 0,
                        "role": "main",
                        "filename": "αίτηση.pdf",
                        "media_type": "application/pdf",
                        "size": 20_000 + reg_id % 5_000,
                        "sha256": f"{reg_id:064x}",
                        "storage_key": f"sha256/{reg_id:064x}",
                    }
                    for reg_id in ids[first : first + CHUNK]
                ],
            )
    engine.dispose()
    return len(ids)


def raw_read(db_url: str) -> float:
    """Seconds to read the columns the summary needs, of every row, without grouping them."""
    return plain_read(
        db_url,
        "SELECT book_id, year, classification_code, status, registered_at FROM registration",
        "SELECT registration_id, size FROM registration_file",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-year", type=int, default=120_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    on = date(FIRST_YEAR + args.years - 1, 12, 31)
    with tempfile.TemporaryDirectory(prefix="eprotocol-bench-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'disposal.db'}"
        config = ArchiveConfig(database_url=db_url, storage=LocalStorageConfig(Path(tmp) / "b"))
        with Archive(config) as archive:
            archive.initialise(organisation="Δήμος Χανίων")
            archive.add_classifications(HEADINGS, by="admin")
            begin = time.perf_counter()
            total = fill(db_url, args.per_year, args.years)
            print(
                f"{total:,} registrations and files written in {time.perf_counter() - begin:.0f} s"
            )
            raw, ours = [], []
            for round_no in range(args.rounds):
                raw.append(1 / raw_read(db_url))
                begin = time.perf_counter()
                groups = archive.disposal_summary(on, by="admin")
                ours.append(1 / (time.perf_counter() - begin))
                due = sum(g.registrations for g in groups)
                print(
                    f"round {round_no + 1}: plain read {1 / raw[-1]:.2f} s, "
                    f"summary {1 / ours[-1]:.2f} s ({len(groups)} lines, {due:,} due)"
                )
            begin = time.perf_counter()
            listed = sum(1 for _ in archive.due_for_disposal(on, by="admin"))
            elapsed = time.perf_counter() - begin
            print(f"the {listed:,} registrations listed a page at a time in {elapsed:.1f} s")
    report("plain SQL read of the rows (per second)", raw, "Archive.disposal_summary", ours, GOAL)


if __name__ == "__main__":
    main()
