"""Benchmark: building and sending daily digests for 200 departments × 50 assignments.

Beside it, in the same run, the raw time to send the same 200 messages with
smtplib over one connection to the same local SMTP server (aiosmtpd). Prints
both rates and their ratio (goal: >= 0.5).

    .venv/bin/python -m bench.digest [--departments 200] [--per-department 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import smtplib
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bench.report import report
from eprotocol import Archive, ArchiveConfig, LocalStorageConfig, NewRegistration, Role
from eprotocol.config import SmtpConfig
from tests.support import FixedClock, MailSink

GOAL = 0.5
DAY = date(2026, 3, 6)


def populate(archive: Archive, departments: int, per_department: int) -> None:
    """Departments with a digest address, each given ``per_department`` assignments on Thursday."""
    archive.add_user("clerk", "Γραφείο Πρωτοκόλλου", roles=[Role.CLERK], by="admin")
    for d in range(departments):
        archive.add_department(f"D{d:03}", f"Τμήμα {d}", digest_email=f"d{d}@chania.gr", by="admin")
    for n in range(1, per_department + 1):
        entry = archive.register(
            NewRegistration(direction="incoming", subject=f"Αίτηση πολίτη αριθμός {n}"), by="clerk"
        )
        for d in range(departments):
            archive.assign(
                "general", entry.year, entry.number, department=f"D{d:03}", due=DAY, by="clerk"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--departments", type=int, default=200)
    parser.add_argument("--per-department", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sink = MailSink().start()
    ours, raw = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="eprotocol-bench-") as tmp:
            root = Path(tmp)
            smtp = SmtpConfig(host="127.0.0.1", port=sink.port, sender="protocol@chania.gr")
            config = ArchiveConfig(
                database_url=f"sqlite:///{root / 'eprotocol.db'}",
                storage=LocalStorageConfig(root / "blobs"),
                mail=smtp,
            )
            clock = FixedClock(datetime(2026, 3, 5, 9, tzinfo=UTC))
            with Archive(config, clock=clock) as archive:
                archive.initialise(organisation="Δήμος Χανίων")
                started = time.perf_counter()
                populate(archive, args.departments, args.per_department)
                print(f"set-up: {time.perf_counter() - started:.1f} s")
                for round_no in range(args.rounds):
                    sink.messages.clear()
                    day = date(2026, 3, 6 + round_no)  # a new day each round: nothing sent yet
                    started = time.perf_counter()
                    outcome = archive.send_digests(day)
                    ours.append(len(outcome.sent) / (time.perf_counter() - started))
                    composed = [message for _, message in sink.messages]
                    started = time.perf_counter()
                    with smtplib.SMTP("127.0.0.1", sink.port) as client:
                        for message in composed:
                            client.send_message(message)
                    raw.append(len(composed) / (time.perf_counter() - started))
                    print(
                        f"round {round_no + 1}: raw {raw[-1]:6.0f} msg/s, "
                        f"digests {ours[-1]:6.0f} /s"
                    )
    finally:
        sink.stop()
    report("raw smtplib, one connection (messages)", raw, "build + send digests", ours, GOAL)


if __name__ == "__main__":
    main()
