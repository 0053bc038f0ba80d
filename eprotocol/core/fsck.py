"""Fixity checks: every recorded blob is in storage with its recorded digest; orphans are found.

The recorded blobs are the files of registrations and the JSON and signed PDF of
each daily register. Runs in bounded memory: registration files are read page by
page (each distinct blob hashed once, however many registrations share it), and
stored blobs are matched against the database in batches; daily registers are
two blobs a day, so they are listed at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

import sqlalchemy as sa

from eprotocol.core.database import Database
from eprotocol.core.errors import BlobCorrupt, BlobMissing
from eprotocol.core.models import BOOK, DAILY_REGISTER, FILE, REGISTRATION
from eprotocol.core.ports import BlobStore, Progress
from eprotocol.core.types import ChainReport

PAGE = 500


@dataclass(frozen=True, slots=True)
class BlobProblem:
    """A blob that is missing from storage or no longer matches its SHA-256."""

    storage_key: str
    problem: str
    #: Where it is used: ``book:number/year filename`` for each registration file,
    #: ``daily register YYYY-MM-DD (JSON|PDF)`` for a daily register.
    used_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FsckReport:
    """Outcome of :meth:`eprotocol.Archive.fsck`."""

    chain: ChainReport
    blobs_checked: int
    problems: tuple[BlobProblem, ...]
    #: Stored blobs no registration refers to, older than the grace period.
    orphans: tuple[str, ...]
    swept: int

    @property
    def ok(self) -> bool:
        """Whether the chain is intact and no recorded blob is missing or corrupt."""
        return self.chain.ok and not self.problems


_DISTINCT_BLOBS = (
    sa.select(FILE.c.sha256, FILE.c.storage_key)
    .where(FILE.c.sha256 > sa.bindparam("after"))
    .group_by(FILE.c.sha256, FILE.c.storage_key)
    .order_by(FILE.c.sha256)
    .limit(PAGE)
)
_USED_BY = (
    sa.select(BOOK.c.code, REGISTRATION.c.number, REGISTRATION.c.year, FILE.c.filename)
    .join(REGISTRATION, REGISTRATION.c.id == FILE.c.registration_id)
    .join(BOOK, BOOK.c.id == REGISTRATION.c.book_id)
    .where(FILE.c.storage_key == sa.bindparam("key"))
    .order_by(REGISTRATION.c.id)
)
_DAILY_BLOBS = sa.select(
    DAILY_REGISTER.c.day,
    DAILY_REGISTER.c.json_sha256,
    DAILY_REGISTER.c.json_key,
    DAILY_REGISTER.c.pdf_sha256,
    DAILY_REGISTER.c.pdf_key,
).order_by(DAILY_REGISTER.c.day)
_SHAS: sa.BindParameter[list[str]] = sa.bindparam("shas", expanding=True)
# Registration files, and the JSON and PDF of each daily register.
_REFERENCED = sa.union(
    sa.select(FILE.c.sha256).where(FILE.c.sha256.in_(_SHAS)),
    sa.select(DAILY_REGISTER.c.json_sha256).where(DAILY_REGISTER.c.json_sha256.in_(_SHAS)),
    sa.select(DAILY_REGISTER.c.pdf_sha256).where(DAILY_REGISTER.c.pdf_sha256.in_(_SHAS)),
)


def _referenced_blobs(db: Database) -> Iterator[tuple[str, str]]:
    after = ""
    while True:
        with db.read() as conn:
            page = [(sha, key) for sha, key in conn.execute(_DISTINCT_BLOBS, {"after": after})]
        if not page:
            return
        yield from page
        after = page[-1][0]


def _problem(store: BlobStore, key: str, sha256: str) -> str | None:
    """``missing``, ``corrupt`` or ``None`` after reading the whole blob."""
    try:
        for _ in store.read(key, sha256=sha256):
            pass
    except BlobMissing:
        return "missing"
    except BlobCorrupt:
        return "corrupt"
    return None


def check_blobs(
    db: Database, store: BlobStore, progress: Progress | None = None
) -> tuple[int, list[BlobProblem]]:
    """Re-hash every recorded blob; return how many were checked and what is wrong."""
    with db.read() as conn:
        files = conn.execute(sa.select(sa.func.count(sa.distinct(FILE.c.sha256)))).scalar_one()
        daily = [
            (sha, key, f"daily register {day} ({kind})")
            for day, json_sha, json_key, pdf_sha, pdf_key in conn.execute(_DAILY_BLOBS)
            for kind, sha, key in (("JSON", json_sha, json_key), ("PDF", pdf_sha, pdf_key))
        ]
    total = files + len(daily)
    # (sha256, key, the daily register it belongs to or None for registration files)
    blobs = chain(((sha, key, None) for sha, key in _referenced_blobs(db)), daily)
    found: list[tuple[str, str, str | None]] = []
    checked = 0
    for sha, key, register in blobs:
        if (problem := _problem(store, key, sha)) is not None:
            found.append((key, problem, register))
        checked += 1
        if progress is not None:
            progress(checked, total)
    with db.read() as conn:
        return checked, [
            BlobProblem(
                storage_key=key,
                problem=problem,
                used_by=(register,)
                if register is not None
                else tuple(
                    f"{code}:{number}/{year} {filename}"
                    for code, number, year, filename in conn.execute(_USED_BY, {"key": key})
                ),
            )
            for key, problem, register in found
        ]


def find_orphans(db: Database, store: BlobStore, older_than: datetime) -> list[str]:
    """Keys of stored blobs nothing refers to, last written before ``older_than``."""
    orphans: list[str] = []
    batch: dict[str, str] = {}

    def flush() -> None:
        with db.read() as conn:
            used = set(conn.execute(_REFERENCED, {"shas": list(batch)}).scalars())
        orphans.extend(key for sha, key in batch.items() if sha not in used)
        batch.clear()

    for blob in store.list():
        if blob.modified < older_than:
            batch[blob.key.rsplit("/", 1)[-1]] = blob.key
            if len(batch) >= PAGE:
                flush()
    if batch:
        flush()
    return sorted(orphans)


def default_grace() -> timedelta:
    """How old an unreferenced blob must be before it counts as an orphan (a day).

    A registration stores its files before its transaction commits, so a young
    unreferenced blob may belong to a registration still in progress.
    """
    return timedelta(days=1)
