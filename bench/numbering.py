"""Benchmark: gap-free numbering throughput on SQLite.

Measures metadata-only registrations per second through ``Archive.register`` with
8 concurrent writer threads, and, in the same run and on the same disk, the rate
of a bare SQLite counter transaction (BEGIN IMMEDIATE; UPDATE ... RETURNING;
INSERT; COMMIT) with the same pragmas (WAL, synchronous=FULL) from one writer.
Both are measured ``--rounds`` times, alternating, on fresh databases; the
medians and their ratio are printed (goal: >= 0.25).

    .venv/bin/python -m bench.numbering [--count 4000] [--writers 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.report import report
from eprotocol import Archive, ArchiveConfig, LocalStorageConfig, NewRegistration

GOAL = 0.25


def bare_rate(path: Path, count: int) -> float:
    """Registrations/s of the minimal counter transaction, one writer."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE counter (book INTEGER, year INTEGER, last INTEGER)")
    conn.execute("INSERT INTO counter VALUES (1, 2026, 0)")
    conn.execute(
        "CREATE TABLE reg (id INTEGER PRIMARY KEY, year INTEGER, number INTEGER, subject TEXT)"
    )
    start = time.perf_counter()
    for i in range(count):
        conn.execute("BEGIN IMMEDIATE")
        (number,) = conn.execute(
            "UPDATE counter SET last = last + 1 WHERE book = 1 AND year = 2026 RETURNING last"
        ).fetchone()
        conn.execute(
            "INSERT INTO reg (year, number, subject) VALUES (2026, ?, ?)", (number, f"Θέμα {i}")
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def archive_rate(root: Path, count: int, writers: int) -> float:
    """Registrations/s through the library with ``writers`` threads."""
    config = ArchiveConfig(
        database_url=f"sqlite:///{root / 'eprotocol.db'}",
        storage=LocalStorageConfig(root / "blobs"),
    )
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        per_writer = count // writers

        def work(writer: int) -> None:
            for i in range(per_writer):
                archive.register(
                    NewRegistration(direction="incoming", subject=f"Αίτηση {writer}-{i}"),
                    by=f"clerk{writer}",
                )

        start = time.perf_counter()
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(work, range(writers)))
        elapsed = time.perf_counter() - start
        if archive.list(limit=1).items[0].number != per_writer * writers:
            raise RuntimeError("numbering is not gap-free: the benchmark is void")
    return per_writer * writers / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bare_rates, our_rates = [], []
    for round_no in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="eprotocol-bench-", dir=".") as tmp:
            root = Path(tmp)
            bare_rates.append(bare_rate(root / "bare.db", args.count))
            our_rates.append(archive_rate(root, args.count, args.writers))
        print(f"round {round_no + 1}: bare {bare_rates[-1]:6.0f}/s, ours {our_rates[-1]:6.0f}/s")
    report(
        "bare SQLite counter transaction (1 writer)",
        bare_rates,
        f"Archive.register, metadata only ({args.writers} writers)",
        our_rates,
        GOAL,
    )


if __name__ == "__main__":
    main()
