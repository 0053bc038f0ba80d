"""Full-text search: what goes into the index, who may see what, and the outbox-driven indexer.

The index itself is an adapter (:mod:`eprotocol.search.whoosh_index`) behind the
:class:`SearchIndex` port, and so is text extraction (:class:`TextExtractor`).
Changes reach the index only through the outbox: the indexer takes outbox rows
in order, writes the affected registrations to the index, commits the index and
only then marks the rows done, so a crash at any point repeats work (an upsert
by registration id) and never loses it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from eprotocol.core.database import Database
from eprotocol.core.errors import BlobCorrupt, BlobMissing, Phrase
from eprotocol.core.models import ASSIGNMENT, FILE_TEXT, OUTBOX, REGISTRATION
from eprotocol.core.permissions import Action, allowed
from eprotocol.core.ports import BlobStore, Clock, Progress
from eprotocol.core.types import Registration, StoredFile, User

#: Registrations loaded (with their files' text) at a time while indexing: bounds memory.
CHUNK = 50

#: Outbox topics that change what the index holds about a registration.
TOPICS = ("registration.created", "registration.corrected", "registration.cancelled")

#: A search without words or filters, and one the index cannot read (``why`` it cannot).
EMPTY_QUERY = Phrase("empty-query", "the search query is empty")
UNREADABLE_QUERY = Phrase("unreadable-query", "the search query cannot be read: {why}")


@dataclass(frozen=True, slots=True)
class IndexDocument:
    """Everything the index keeps about one registration."""

    registration_id: int
    book: str
    year: int
    number: int
    direction: str
    status: str
    #: When it was registered, as wall-clock time in the archive's zone (for date queries).
    local_time: datetime
    subject: str
    correspondents: str
    classification: str
    departments: tuple[str, ...]
    confidential: bool
    #: The extracted text of the registration's files.
    file_text: str = ""
    #: The sender's own protocol number of an incoming document («Αρ. πρωτ. αποστολέα»).
    reference: str = ""

    @classmethod
    def of(cls, entry: Registration, texts: Mapping[str, str], tz: tzinfo) -> IndexDocument:
        """The index document of a registration, given its files' text by SHA-256."""
        return cls(
            registration_id=entry.id,
            book=entry.book,
            year=entry.year,
            number=entry.number,
            direction=entry.direction.value,
            status=entry.status.value,
            local_time=entry.registered_at.astimezone(tz).replace(tzinfo=None),
            subject=entry.subject,
            correspondents=" ".join(filter(None, [entry.sender, *entry.recipients])),
            classification=entry.classification_code or "",
            departments=tuple(sorted({a.department for a in entry.assignments})),
            confidential=entry.confidential,
            file_text="\n".join(texts.get(f.sha256, "") for f in entry.files),
            reference=entry.sender_reference or "",
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
    """Total matches the searcher may see, one page of hits, and counts by facet.

    ``complete`` is false while the index is being rebuilt from empty (new, lost or
    unreadable): registrations not yet rebuilt into it are not found.
    """

    total: int
    hits: tuple[SearchHit, ...]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    complete: bool = True


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions on a search besides its words; ``None`` means any."""

    year: int | None = None
    book: str | None = None
    direction: str | None = None
    status: str | None = None
    department: str | None = None
    classification: str | None = None
    #: Registered on or after this day (in the archive's time zone).
    registered_from: date | None = None
    #: Registered on or before this day (in the archive's time zone).
    registered_to: date | None = None


#: How the search index is, for monitoring: searched in full; needing (or getting) a
#: rebuild, during which searches may miss entries; or unreadable, so searches fail.
SearchIndexStatus = Literal["ready", "rebuilding", "unavailable"]


class SearchIndex(Protocol):
    """A full-text index of registrations."""

    def check(self) -> None:
        """Raise ``IndexUnavailable`` unless the index can be read."""
        ...

    @property
    def stale(self) -> bool:
        """The index needs a rebuild: emptied (new, unreadable) or made by an older version."""
        ...

    def replace(
        self,
        load: Callable[[], Iterable[IndexDocument]],
        *,
        if_stale: bool,
        waiting: Callable[[], None] | None = None,
    ) -> bool:
        """Build a new index of what ``load`` yields and make it the one searched.

        Searches use the old one meanwhile. One rebuild at a time: with ``if_stale``,
        one that finds the index no longer stale once its turn comes does nothing and
        returns ``False``. While another rebuild has the turn, ``waiting`` is called
        every fraction of a second; what it raises ends the wait.
        """
        ...

    def upsert(self, load: Callable[[], Iterable[IndexDocument]]) -> None:
        """Add or replace the documents ``load`` yields (by registration id), in one commit.

        ``load`` is called while the index's write lock is held, so what it reads
        from the database is never older than what another indexer wrote before.
        """
        ...

    def search(
        self,
        query: str,
        visibility: Visibility,
        filters: SearchFilters,
        *,
        limit: int,
        offset: int,
    ) -> SearchResult:
        """Registrations matching ``query`` and ``filters`` that ``visibility`` allows.

        An empty ``query`` with some filter lists what the filters choose, newest first.
        """
        ...

    def similar_departments(self, text: str, *, limit: int) -> list[tuple[str, ...]]:
        """Departments assigned to the ``limit`` registrations most like ``text``."""
        ...


@dataclass(frozen=True, slots=True)
class Extraction:
    """The text of one file, or why it has none."""

    text: str
    failure: str | None = None


class TextExtractor(Protocol):
    """Reads the text of a file for the index; must survive hostile files."""

    def extract(self, path: Path, media_type: str) -> Extraction:
        """The text of the file at ``path`` (of type ``media_type``), or the failure."""
        ...


def _insert_ignoring_duplicates(insert: Any) -> sa.Insert:
    return insert(FILE_TEXT).on_conflict_do_nothing(index_elements=[FILE_TEXT.c.sha256])  # type: ignore[no-any-return]


_INSERT_TEXT = {
    "postgresql": _insert_ignoring_duplicates(postgresql.insert),
    "sqlite": _insert_ignoring_duplicates(sqlite.insert),
}


class FileTexts:
    """The text of stored files, extracted once per content and kept in the database."""

    def __init__(
        self,
        db: Database,
        store: BlobStore,
        extractor: TextExtractor,
        clock: Clock,
        spool_dir: Path | None,
        parallel: int = 1,
    ) -> None:
        self._db = db
        self._store = store
        self._extractor = extractor
        self._clock = clock
        self._spool_dir = spool_dir
        self._parallel = max(1, parallel)

    def _extract(self, file: StoredFile) -> Extraction:
        with tempfile.NamedTemporaryFile(dir=self._spool_dir, prefix="extract-") as spool:
            try:
                for chunk in self._store.read(file.storage_key, sha256=file.sha256):
                    spool.write(chunk)
            except (BlobCorrupt, BlobMissing) as exc:
                return Extraction(text="", failure=f"the stored file cannot be read: {exc}")
            spool.flush()
            return self._extractor.extract(Path(spool.name), file.media_type)

    def ensure(self, files: Iterable[StoredFile]) -> None:
        """Extract and record the text of those ``files`` whose content has none yet.

        Storage being unreachable raises ``StorageUnavailable`` (the caller tries
        again later); a file that cannot be parsed gets its failure recorded.
        """
        by_hash = {f.sha256: f for f in files}
        if not by_hash:
            return
        with self._db.read() as conn:
            known = set(
                conn.execute(
                    sa.select(FILE_TEXT.c.sha256).where(FILE_TEXT.c.sha256.in_(by_hash))
                ).scalars()
            )
        todo = [file for sha256, file in by_hash.items() if sha256 not in known]
        with ThreadPoolExecutor(self._parallel) as pool:
            extractions = list(pool.map(self._extract, todo))
        rows = [
            {
                "sha256": file.sha256,
                "extracted_at": self._clock.now(),
                "failure": extraction.failure,
                "text": extraction.text,
            }
            for file, extraction in zip(todo, extractions, strict=True)
        ]
        if rows:
            with self._db.write() as conn:
                conn.execute(_INSERT_TEXT[conn.dialect.name], rows)

    def texts(self, sha256s: Iterable[str]) -> dict[str, str]:
        """The recorded text of each content, by SHA-256 (empty where extraction failed)."""
        wanted = set(sha256s)
        if not wanted:
            return {}
        with self._db.read() as conn:
            return {
                row.sha256: row.text
                for row in conn.execute(
                    sa.select(FILE_TEXT.c.sha256, FILE_TEXT.c.text).where(
                        FILE_TEXT.c.sha256.in_(wanted)
                    )
                )
            }


class Indexer:
    """Moves outbox changes into the index, a batch at a time."""

    def __init__(
        self,
        db: Database,
        index: SearchIndex,
        texts: FileTexts,
        load: Callable[[Sequence[int]], list[Registration]],
        ids_after: Callable[[int, int], list[int]],
        clock: Clock,
        tz: tzinfo,
    ) -> None:
        self._db = db
        self._index = index
        self._texts = texts
        self._tz = tz
        self._load = load
        self._ids_after = ids_after
        self._clock = clock

    def _prepare(self, ids: Sequence[int]) -> tuple[list[Registration], dict[str, str]]:
        entries = self._load(ids)
        files = [f for entry in entries for f in entry.files]
        self._texts.ensure(files)
        return entries, self._texts.texts(f.sha256 for f in files)

    def _documents(self, ids: Sequence[int]) -> Iterator[IndexDocument]:
        """Index documents of ``ids``, loaded a chunk at a time, files' text extracted first.

        The next chunk is loaded and extracted (in the worker processes) while the
        index analyses this one, so the two overlap.
        """
        chunks = [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]
        if not chunks:
            return
        with ThreadPoolExecutor(1) as ahead:
            upcoming = ahead.submit(self._prepare, chunks[0])
            for following in [*chunks[1:], None]:
                entries, texts = upcoming.result()
                if following is not None:
                    upcoming = ahead.submit(self._prepare, following)
                for entry in entries:
                    yield IndexDocument.of(entry, texts, self._tz)

    def _all_documents(self, progress: Progress | None, total: int) -> Iterator[IndexDocument]:
        done, after = 0, 0
        while ids := self._ids_after(after, CHUNK * 10):
            yield from self._documents(ids)
            done += len(ids)
            after = ids[-1]
            if progress is not None:
                progress(done, total)

    def rebuild(self, progress: Progress | None = None, *, if_stale: bool = False) -> int:
        """Re-index every registration from the database into a new index; return the count.

        Registrations are read a chunk at a time and the index writer spills to
        disk, so memory stays bounded however large the archive; the old index is
        searched until the new one is complete. Changes made meanwhile (their outbox
        rows are newer than the rebuild) are indexed again into the new one, since
        another indexer may have put them in the old; older outbox rows are marked
        done, as the rebuild read the state they describe. With ``if_stale``, a
        rebuild another process completed first is not repeated (0 is returned).
        """
        with self._db.read() as conn:
            upto = conn.execute(sa.select(sa.func.max(OUTBOX.c.id))).scalar() or 0
            total = conn.execute(sa.select(sa.func.count()).select_from(REGISTRATION)).scalar_one()
        if not self._index.replace(
            lambda: self._all_documents(progress, total),
            if_stale=if_stale,
            waiting=None if progress is None else lambda: progress(0, total),
        ):
            return 0
        with self._db.read() as conn:
            later = conn.execute(
                sa.select(OUTBOX.c.topic, OUTBOX.c.payload).where(OUTBOX.c.id > upto)
            ).all()
        if ids := self._registrations_of(later):
            self._index.upsert(lambda: self._documents(sorted(ids)))
        with self._db.write() as conn:
            conn.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id <= upto, OUTBOX.c.processed_at.is_(None))
                .values(processed_at=self._clock.now())
            )
        return int(total)

    def _registrations_of(self, rows: Sequence[sa.Row[*tuple[Any, ...]]]) -> set[int]:
        """The ids of the registrations whose index entries outbox ``rows`` change."""
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
        return ids

    @contextmanager
    def _claim(self, batch: int) -> Iterator[list[sa.Row[Any, Any, Any]]]:
        """The next pending outbox rows, marked done if the block ends without an error.

        On PostgreSQL the rows stay locked (``FOR UPDATE SKIP LOCKED``) while they
        are handled, so several workers share the outbox without taking the same
        rows. SQLite has one writer at a time, and holding its write lock while
        indexing would stall registration: there the rows are read, handled, and
        then marked.
        """
        pending = (
            sa.select(OUTBOX.c.id, OUTBOX.c.topic, OUTBOX.c.payload)
            .where(OUTBOX.c.processed_at.is_(None))
            .order_by(OUTBOX.c.id)
            .limit(batch)
        )
        mark = sa.update(OUTBOX).values(processed_at=sa.bindparam("now"))
        if self._db.dialect == "postgresql":
            with self._db.write() as conn:
                rows = list(conn.execute(pending.with_for_update(skip_locked=True)).all())
                yield rows
                ids = [r.id for r in rows]
                conn.execute(mark.where(OUTBOX.c.id.in_(ids)), {"now": self._clock.now()})
            return
        with self._db.read() as conn:
            rows = list(conn.execute(pending).all())
        yield rows
        if rows:
            with self._db.write() as conn:
                ids = [r.id for r in rows]
                conn.execute(mark.where(OUTBOX.c.id.in_(ids)), {"now": self._clock.now()})

    def run_once(self, batch: int = 500, *, rebuild_stale: bool = True) -> int:
        """Index the next ``batch`` pending outbox rows; return how many were handled.

        A new, emptied or outdated index is rebuilt first, unless ``rebuild_stale`` is
        false (the caller rebuilds it meanwhile).
        """
        if rebuild_stale and self._index.stale:
            return self.rebuild(if_stale=True)
        with self._claim(batch) as rows:
            ids = self._registrations_of(rows)
            if ids:
                ordered = sorted(ids)
                self._index.upsert(lambda: self._documents(ordered))
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
