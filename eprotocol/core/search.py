"""Full-text search: what goes into the index, who may see what, and the outbox-driven indexer.

The index itself is an adapter (:mod:`eprotocol.search.whoosh_index`) behind the
:class:`SearchIndex` port. Changes reach it only through the outbox: the
indexer reads outbox rows in order, writes the affected registrations to the
index, commits the index and only then marks the rows done, so a crash at any
point repeats work (an upsert by registration id) and never loses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from eprotocol.core.database import Database
from eprotocol.core.models import ASSIGNMENT, OUTBOX, REGISTRATION
from eprotocol.core.permissions import Action, allowed
from eprotocol.core.ports import Clock, Progress
from eprotocol.core.types import Registration, User

#: Registrations re-indexed per batch during a rebuild (bounds the memory it needs).
PAGE = 500

#: Outbox topics that change what the index holds about a registration.
TOPICS = ("registration.created", "registration.corrected", "registration.cancelled")


@dataclass(frozen=True, slots=True)
class IndexDocument:
    """Everything the index keeps about one registration."""

    registration_id: int
    book: str
    year: int
    number: int
    direction: str
    status: str
    registered_at: datetime
    subject: str
    correspondents: str
    classification: str
    departments: tuple[str, ...]
    confidential: bool

    @classmethod
    def of(cls, entry: Registration) -> IndexDocument:
        """The index document of a registration."""
        return cls(
            registration_id=entry.id,
            book=entry.book,
            year=entry.year,
            number=entry.number,
            direction=entry.direction.value,
            status=entry.status.value,
            registered_at=entry.registered_at,
            subject=entry.subject,
            correspondents=" ".join(filter(None, [entry.sender, *entry.recipients])),
            classification=entry.classification_code or "",
            departments=tuple(sorted({a.department for a in entry.assignments})),
            confidential=entry.confidential,
        )


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which confidential registrations a searcher may see: all, or those of some departments."""

    all_confidential: bool
    departments: tuple[str, ...] = ()

    @classmethod
    def of(cls, user: User) -> Visibility:
        """The protocol office and admins see everything; others their department's."""
        if allowed(user, Action.CANCEL):  # the protocol office and admins
            return cls(all_confidential=True)
        return cls(
            all_confidential=False, departments=(user.department,) if user.department else ()
        )


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One registration found, with the matching parts of its subject marked."""

    registration_id: int
    book: str
    year: int
    number: int
    subject: str
    score: float
    highlights: str

    @property
    def protocol_number(self) -> str:
        """``number/year``."""
        return f"{self.number}/{self.year}"


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Total matches the searcher may see, one page of hits, and counts by facet."""

    total: int
    hits: tuple[SearchHit, ...]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class SearchIndex(Protocol):
    """A full-text index of registrations."""

    #: The index was just created or replaced (it was unreadable) and must be rebuilt.
    fresh: bool

    def clear(self) -> None:
        """Empty the index (before a rebuild)."""
        ...

    def mark_complete(self) -> None:
        """Record that a rebuild has finished."""
        ...

    def upsert(self, documents: Sequence[IndexDocument]) -> None:
        """Add or replace documents (by registration id) and commit."""
        ...

    def search(
        self, query: str, visibility: Visibility, *, limit: int, offset: int
    ) -> SearchResult:
        """Registrations matching ``query`` that ``visibility`` allows, best first."""
        ...

    def similar_departments(self, text: str, *, limit: int) -> list[tuple[str, ...]]:
        """Departments assigned to the ``limit`` registrations most like ``text``."""
        ...


class Indexer:
    """Moves outbox changes into the index, a batch at a time."""

    def __init__(
        self,
        db: Database,
        index: SearchIndex,
        load: Callable[[Sequence[int]], list[Registration]],
        ids_after: Callable[[int, int], list[int]],
        clock: Clock,
    ) -> None:
        self._db = db
        self._index = index
        self._load = load
        self._ids_after = ids_after
        self._clock = clock

    def rebuild(self, progress: Progress | None = None) -> int:
        """Re-index every registration from the database, a page at a time; return the count.

        Outbox rows already present are marked done afterwards: the rebuild read
        the state they describe. Later rows are indexed as usual.
        """
        with self._db.read() as conn:
            upto = conn.execute(sa.select(sa.func.max(OUTBOX.c.id))).scalar() or 0
            total = conn.execute(sa.select(sa.func.count()).select_from(REGISTRATION)).scalar_one()
        self._index.clear()
        done, after = 0, 0
        while ids := self._ids_after(after, PAGE):
            self._index.upsert([IndexDocument.of(entry) for entry in self._load(ids)])
            done += len(ids)
            after = ids[-1]
            if progress is not None:
                progress(done, total)
        with self._db.write() as conn:
            conn.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id <= upto, OUTBOX.c.processed_at.is_(None))
                .values(processed_at=self._clock.now())
            )
        self._index.mark_complete()
        return done

    def run_once(self, batch: int = 500) -> int:
        """Index the next ``batch`` pending outbox rows; return how many were handled.

        A freshly created (or replaced) index is rebuilt first.
        """
        if self._index.fresh:
            return self.rebuild()
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(OUTBOX.c.id, OUTBOX.c.topic, OUTBOX.c.payload)
                .where(OUTBOX.c.processed_at.is_(None))
                .order_by(OUTBOX.c.id)
                .limit(batch)
            ).all()
        if not rows:
            return 0
        ids = {r.payload["registration_id"] for r in rows if r.topic in TOPICS}
        assignments = [r.payload["assignment_id"] for r in rows if r.topic == "assignment.changed"]
        if assignments:
            with self._db.read() as conn:
                ids.update(
                    conn.execute(
                        sa.select(ASSIGNMENT.c.registration_id).where(
                            ASSIGNMENT.c.id.in_(assignments)
                        )
                    ).scalars()
                )
        if ids:
            self._index.upsert([IndexDocument.of(entry) for entry in self._load(sorted(ids))])
        with self._db.write() as conn:
            conn.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id.in_([r.id for r in rows]))
                .values(processed_at=self._clock.now())
            )
        return len(rows)


#: How many similar past registrations are looked at, and how many of them must share a
#: department before it is suggested.
SIMILAR = 10
SIMILAR_AGREEING = 2


def departments_by_history(index: SearchIndex, subject: str) -> list[str]:
    """Departments that similar past registrations were routed to, most frequent first."""
    counts: dict[str, int] = {}
    for departments in index.similar_departments(subject, limit=SIMILAR):
        for department in departments:
            counts[department] = counts.get(department, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [department for department, count in ranked if count >= SIMILAR_AGREEING]
