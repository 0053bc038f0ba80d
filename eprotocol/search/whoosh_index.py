"""The search index on Whoosh: the only module that imports it.

Greek fields use :data:`~eprotocol.search.analysis.GREEK`; each has a twin
analysed with :data:`~eprotocol.search.analysis.PHONETIC` that queries typed in
Latin letters search. A query that is a protocol number (``123/2026``) also
matches that entry's number exactly, boosted so it ranks first. Field filters
(``year:2026``, ``θέμα:άδεια``) and date ranges (``date:[20260101 to 20260331]``,
in the archive's local dates) are part of the query syntax. Confidential
registrations are filtered inside the query, so totals and facets count only
what the searcher may see.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from time import sleep
from typing import TypeVar

from whoosh import index as whoosh_index
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, NUMERIC, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.highlight import HtmlFormatter, WholeFragmenter, highlight
from whoosh.index import EmptyIndexError, FileIndex, LockError
from whoosh.qparser import FieldAliasPlugin, MultifieldParser, OrGroup
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.query import And, DateRange, Every, NumericRange, Or, Query, Term
from whoosh.searching import Searcher
from whoosh.sorting import FieldFacet
from whoosh.util.filelock import LockBase, try_for
from whoosh.writing import IndexWriter, SegmentWriter

from eprotocol.core.errors import EProtocolError, IndexUnavailable, InvalidInput
from eprotocol.core.greek import WORD, fold
from eprotocol.core.search import (
    EMPTY_QUERY,
    UNREADABLE_QUERY,
    IndexDocument,
    SearchFilters,
    SearchHit,
    SearchResult,
    Visibility,
)
from eprotocol.search.analysis import GREEK, PHONETIC

_NUMBER = re.compile(r"^\s*(\d{1,9})/(\d{1,9})\s*$")
_LATIN = re.compile(r"[A-Za-z]")
#: What a sender's protocol number looks like typed alone: one "word" with a digit in it.
_REFERENCE = re.compile(r"^\s*\S*\d\S*\s*$")
#: Names people may use for fields in queries, Greek ones included.
ALIASES = {
    "subject": ["θέμα", "θεμα"],
    "correspondents": ["αποστολέας", "αποστολεας", "παραλήπτης", "παραληπτης"],
    "text": ["content", "κείμενο", "κειμενο"],
    "year": ["έτος", "ετος"],
    "direction": ["κατεύθυνση", "κατευθυνση"],
    "status": ["κατάσταση", "κατασταση"],
    "departments": ["department", "τμήμα", "τμημα"],
    "classification": ["ταξινόμηση", "ταξινομηση"],
    "date": ["ημερομηνία", "ημερομηνια"],
}
FACETS = ("year", "direction", "departments", "classification")
#: The order of a search without words (filters only): the newest registration first.
_NEWEST_FIRST = [FieldFacet("date"), FieldFacet("number")]
#: A date field's value in a query: one word, or a range in brackets.
_DATE_CLAUSE = re.compile(r"(?<![\w:])(date|ημερομηνία|ημερομηνια):(\[[^\]]*\]|\S+)", re.IGNORECASE)
#: 2/3/2026, 2.3.2026 (day first, as Greeks write it) or 2026-03-02.
_DAY_FIRST = re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b")
_ISO_DAY = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
#: A minus before a word (not inside one, as in Αγίου-Νικολάου): the word must not be there.
_EXCLUDED = re.compile(r"(^|\s)-(?=[\w(])")
_OPERATOR = r"(?:AND|OR|NOT|ANDNOT|ANDMAYBE)"
_LOOSE_END = re.compile(rf"(?:(?:^|\s+){_OPERATOR})+\s*$")
_LOOSE_START = re.compile(r"^\s*(?:(?:AND|OR|ANDNOT|ANDMAYBE)\s+)+")
#: Greek words for days (folded), in the English Whoosh's date parser knows.
_GREEK_DAYS = {"σημερα": "today", "χθεσ": "yesterday", "χτεσ": "yesterday", "αυριο": "tomorrow"}
#: A file in the index directory from the moment it is emptied until a rebuild completes:
#: a process stopped in between leaves it, and the next one rebuilds again.
_INCOMPLETE = "REBUILD-INCOMPLETE"
#: The file naming the live index of the directory, and Whoosh's name without it.
_LIVE = "LIVE"
_DEFAULT_NAME = "MAIN"
#: The lock file held by the one process rebuilding the index.
_REBUILD_LOCK = "REBUILD-LOCK"
#: How often a rebuild waiting for another's tries the lock again.
_LOCK_POLL_SECONDS = 0.2
_MARKERS = frozenset({_INCOMPLETE, _LIVE, _REBUILD_LOCK})
#: The fields whose words are analysed by :mod:`eprotocol.search.analysis`.
_ANALYSED = ("subject", "correspondents", "text", "text_sound")
WRITE_LOCK_TIMEOUT = 30.0
_MARK = HtmlFormatter(tagname="mark", classname="match")
log = logging.getLogger(__name__)
_T = TypeVar("_T")


def schema() -> Schema:
    """The fields of the index.

    Words without a field name search ``text``: subject, correspondents, the
    sender's own protocol number and file text in one field, so a query of several
    words intersects a few posting lists instead of a union per word across fields
    (several times faster on large archives). ``subject`` and ``correspondents``
    are also kept apart for field queries and highlights; ``text_sound`` is the
    phonetic twin Latin-letter queries search; ``reference`` holds the sender's
    number whole, so that typed alone it ranks its entry first.
    """
    return Schema(
        id=ID(stored=True, unique=True),
        book=ID(stored=True),
        year=NUMERIC(stored=True, sortable=True),
        number=NUMERIC(stored=True),
        protocol_number=ID,
        direction=ID(sortable=True),
        status=ID,
        date=DATETIME,
        subject=TEXT(analyzer=GREEK, stored=True, phrase=True),
        correspondents=TEXT(analyzer=GREEK, phrase=True),
        reference=ID,
        text=TEXT(analyzer=GREEK, phrase=True),
        text_sound=TEXT(analyzer=PHONETIC, multitoken_query="or"),
        classification=ID(sortable=True),
        departments=KEYWORD(commas=True, sortable=True, stored=True),
        confidential=BOOLEAN,
    )


def english_dates(query: str) -> str:
    """``query`` with the dates of its date clauses as Whoosh's date parser reads them.

    Whoosh reads 20260302, "today"..., but takes 2026-03-02 in a range for the whole
    year and cannot read 2/3/2026 at all (both silently wrong). So in ``date:`` or
    ``ημερομηνία:`` clauses, 2/3/2026, 2.3.2026 (day first) and 2026-03-02 become
    20260302 (``ValueError`` for a day that does not exist, which Whoosh would
    silently match nothing for), and σήμερα, χθες, αύριο become today, yesterday,
    tomorrow.
    """

    def compact(year: str, month: str, day: str) -> str:
        return date(int(year), int(month), int(day)).strftime("%Y%m%d")  # ValueError: no such day

    def dates(clause: re.Match[str]) -> str:
        value = _DAY_FIRST.sub(lambda m: compact(m[3], m[2], m[1]), clause[2])
        value = _ISO_DAY.sub(lambda m: compact(m[1], m[2], m[3]), value)
        value = WORD.sub(lambda m: _GREEK_DAYS.get(fold(m[0]), m[0]), value)
        return f"{clause[1]}:{value}"

    return _DATE_CLAUSE.sub(dates, query)


def _reference(text: str) -> str:
    """A sender's protocol number as compared: folded (case, accents), without spaces."""
    return fold("".join(text.split()))


def plain_operators(query: str) -> str:
    """``query`` with ``-word`` read as ``NOT word``, and without operators left hanging.

    Whoosh takes a minus as nothing, so «κατάληψη -πεζοδρομίου» found exactly the
    entries the user meant to leave out; and an operator with nothing on one side
    («κατάληψη OR», typed before the second word) became a word to match, so the
    search found nothing. Text in quotes is left as it is.
    """
    parts = query.split('"')
    parts[::2] = [_EXCLUDED.sub(r"\1NOT ", part) for part in parts[::2]]
    return _LOOSE_START.sub("", _LOOSE_END.sub("", '"'.join(parts)))


def _older_version(stored: Schema) -> bool:
    """Whether an index of schema ``stored`` was made by an older version with the same fields.

    Its words were analysed otherwise, or a facet's field has no column of values yet
    (searches leave that facet out until the index is rebuilt).
    """
    current = schema()
    analysed = any(stored[name].analyzer != current[name].analyzer for name in _ANALYSED)
    return analysed or not all(stored[name].column_type for name in FACETS)


def _new_name() -> str:
    """A name for a new index in the directory, unlike any before it."""
    return f"R{secrets.token_hex(6)}"


def _add(writer: IndexWriter, doc: IndexDocument) -> None:
    """Add ``doc`` to the index, replacing what it held under its id."""
    text = f"{doc.subject}\n{doc.correspondents}\n{doc.reference}\n{doc.file_text}"
    writer.update_document(
        id=str(doc.registration_id),
        book=doc.book,
        year=doc.year,
        number=doc.number,
        protocol_number=f"{doc.number}/{doc.year}",
        direction=doc.direction,
        status=doc.status,
        date=doc.local_time,
        subject=doc.subject,
        correspondents=doc.correspondents,
        reference=_reference(doc.reference),
        text=text,
        text_sound=text,
        classification=doc.classification,
        departments=",".join(doc.departments),
        confidential=doc.confidential,
    )


class WhooshIndex:
    """A :class:`~eprotocol.core.search.SearchIndex` in a directory; one writer at a time.

    The directory may hold several Whoosh indexes by name; the file ``LIVE`` names the
    one searches and updates use (Whoosh's default name without it). A rebuild makes a
    new one beside it and then names it live, so searches never meet a half-built index;
    every process follows the name when it next searches or writes.
    """

    def __init__(
        self, directory: Path, *, local_now: Callable[[], datetime] = datetime.now
    ) -> None:
        """Open (or create) the index in ``directory``.

        ``local_now`` gives the archive's local time, naive, as the documents' dates
        are indexed: queries for "today" mean its day (Whoosh alone takes UTC's).
        """
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexUnavailable(
                f"the search index directory {directory} cannot be made: {exc.strerror}"
            ) from exc
        self._directory = directory
        self._storage = FileStorage(str(directory))
        self._local_now = local_now
        # Reentrant: replacing an index whose files are gone happens while writing to it.
        self._write_lock = threading.RLock()
        # Opening a searcher reads every segment's files: each thread keeps one and only
        # refreshes it when the index has changed (another live index bumps the generation).
        self._local = threading.local()
        self._generation = 0
        # Held while this process switches to another index, and while a searcher is opened.
        self._files_lock = threading.Lock()
        self._name = self._live_name()
        try:
            self._use(whoosh_index.open_dir(directory, indexname=self._name), self._name)
            with self._ix.searcher() as searcher:
                searcher.doc_count()
            if self._schema.names() != schema().names():
                log.warning("search index at %s has older fields; rebuilding it", directory)
                self._clear()
            elif self._outdated:
                # Not a warning: every command would print it until the worker rebuilds.
                log.info(
                    "search index at %s was made by an older version: searches use it "
                    "until it is rebuilt",
                    directory,
                )
        except Exception as exc:  # noqa: BLE001 - any failure to read means "rebuild it"
            if any(directory.iterdir()):
                log.error("search index at %s is unreadable (%s); rebuilding it", directory, exc)
            self._clear()

    @property
    def stale(self) -> bool:
        """Whether the index needs a rebuild: emptied, or made by an older version.

        Emptied when it is new, unreadable or has the fields of an older version; one
        whose words an older version analysed is searched until rebuilt. An emptied
        index is marked in the directory, so a process stopped before the rebuild
        completes leaves it for the next, and a rebuild another process completed ends
        it for this one too.
        """
        self._follow()
        return (self._directory / _INCOMPLETE).exists() or self._outdated

    def _live_name(self) -> str:
        try:
            return (self._directory / _LIVE).read_text().strip() or _DEFAULT_NAME
        except FileNotFoundError:
            return _DEFAULT_NAME

    def _follow(self, *, check: bool = False) -> None:
        """Use the live index, if a rebuild (in any process) has named another one.

        An index whose files are gone (deleted by hand, say) is replaced by an empty
        one, marked for the worker to rebuild from the database: searches find nothing
        until then instead of failing. That is noticed when ``LIVE`` names such an
        index, and with ``check`` (after a read or write failed) of the one in use.
        """
        while (name := self._live_name()) != self._name or check:
            following, check = name != self._name, False
            try:
                opened = whoosh_index.open_dir(self._directory, indexname=name)
            except EmptyIndexError:
                if self._live_name() != name:
                    continue  # a rebuild named another one meanwhile, and removed this one
                log.error(
                    "the search index at %s is gone; searches find nothing until the worker "
                    "(or eprotocol reindex) has rebuilt it from the database",
                    self._directory,
                )
                self._clear()
                return
            except Exception as exc:
                if not following:
                    return  # there, if unreadable this moment: the caller's retry tells
                raise IndexUnavailable(
                    f"the search index at {self._directory} cannot be read: {exc}"
                ) from exc
            with self._files_lock:
                self._use(opened, name)
                self._generation += 1

    def _use(self, ix: FileIndex, name: str) -> None:
        """Search and update ``ix`` (named ``name``) from now on; its schema is read once."""
        self._ix, self._name = ix, name
        # Whoosh reads a schema from the index's files each time it is asked for it.
        self._schema = ix.schema
        self._outdated = _older_version(self._schema)

    def _make_live(self, name: str) -> None:
        """Name ``name`` the live index, atomically for every process."""
        pending = self._directory / f"{_LIVE}.new"
        pending.write_text(name + "\n")
        pending.replace(self._directory / _LIVE)
        self._follow()

    def _remove_all_but(self, keep: str) -> None:
        """Delete the files of every index in the directory except ``keep``."""
        mine = (f"{keep}_", f"_{keep}_", f"{keep}.")
        for path in self._directory.iterdir():
            if path.name in _MARKERS or path.name.startswith(mine):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _clear(self) -> None:
        """Replace the index with an empty one, marked as waiting for its rebuild."""
        with self._write_lock:
            try:
                self._directory.mkdir(parents=True, exist_ok=True)
                (self._directory / _INCOMPLETE).touch()
                name = _new_name()
                whoosh_index.create_in(self._directory, schema(), indexname=name)
            except OSError as exc:
                raise IndexUnavailable(
                    f"the search index at {self._directory} cannot be made: {exc.strerror}"
                ) from exc
            self._make_live(name)
            self._remove_all_but(name)

    def replace(
        self,
        load: Callable[[], Iterable[IndexDocument]],
        *,
        if_stale: bool,
        waiting: Callable[[], None] | None = None,
    ) -> bool:
        """Build a new index of the documents ``load`` yields, then make it the live one.

        Until then searches and updates use the old one: a rebuild after an upgrade
        never leaves searches empty. One rebuild at a time: another waits for it,
        calling ``waiting`` now and then (what it raises ends the wait), and with
        ``if_stale`` then does nothing (returning ``False``) unless the index still
        needs a rebuild.
        """
        try:
            with self._locked(self._storage.lock(_REBUILD_LOCK), timeout=None, waiting=waiting):
                if if_stale and not self.stale:
                    return False
                name = _new_name()
                fresh = whoosh_index.create_in(self._directory, schema(), indexname=name)
                with fresh.writer() as writer:  # no one else knows it: no lock to wait for
                    for doc in load():
                        _add(writer, doc)
                # Updates commit holding the live index's lock: with it held, none is
                # halfway through writing to the old index when the new one goes live.
                with self._write_lock, self._locked(self._ix.lock("WRITELOCK")):
                    self._make_live(name)
                    (self._directory / _INCOMPLETE).unlink(missing_ok=True)
                self._remove_all_but(name)  # the old index, and any rebuild stopped midway
                return True
        except (OSError, LockError) as exc:
            raise IndexUnavailable(
                f"the search index at {self._directory} cannot be written: {exc}"
            ) from exc

    @staticmethod
    def _acquire(
        lock: LockBase, timeout: float | None, waiting: Callable[[], None] | None = None
    ) -> None:
        """Take one of Whoosh's lock files (shared between processes).

        With no ``timeout``, wait on, calling ``waiting`` between tries: polled, not
        blocked in the kernel, so that a worker told to stop is not held until the
        other process lets go.
        """
        if timeout is not None:
            if not try_for(lock.acquire, timeout=timeout, delay=0.1):
                raise LockError(f"{lock.filename} is still held after {timeout:.0f} s")
            return
        while not lock.acquire():
            if waiting is not None:
                waiting()
            sleep(_LOCK_POLL_SECONDS)

    @classmethod
    @contextmanager
    def _locked(
        cls,
        lock: LockBase,
        *,
        timeout: float | None = WRITE_LOCK_TIMEOUT,
        waiting: Callable[[], None] | None = None,
    ) -> Iterator[None]:
        """Hold one of Whoosh's lock files while the block runs (see :meth:`_acquire`)."""
        cls._acquire(lock, timeout, waiting)
        try:
            yield
        finally:
            lock.release()

    def _live_writer(self) -> tuple[LockBase, IndexWriter]:
        """A writer of the live index and its lock, held (after another process's, if held).

        The lock is taken here, not by Whoosh's writer: one that fails after taking it
        (making its temporary files in a directory made read-only, say) leaves it to the
        garbage collector, and every later update waited for it in vain. A rebuild may
        name another index live while the lock is awaited, and remove the old one's
        files: the writer is then taken again, of the new one (as it is of an empty one
        if the files are gone otherwise, see :meth:`_follow`).
        """
        while True:
            self._follow()
            name = self._name
            lock = self._ix.lock("WRITELOCK")
            try:
                self._acquire(lock, WRITE_LOCK_TIMEOUT)
                try:
                    writer = SegmentWriter(self._ix, _lk=False)
                except BaseException:
                    lock.release()
                    raise
            except LockError:
                raise
            except Exception:
                self._follow(check=True)
                if self._name == name:
                    raise
                continue
            if self._live_name() == name:
                return lock, writer
            writer.cancel()
            lock.release()

    def _searcher(self) -> Searcher:
        """The calling thread's searcher, on the latest committed state of the index in use.

        Callers follow ``LIVE`` first (once per search, see :meth:`_follow`).
        """
        generation, searcher = getattr(self._local, "current", (None, None))
        with self._files_lock:
            if searcher is None or generation != self._generation:
                searcher = self._ix.searcher()
            else:
                # The refreshed searcher takes over (and closes) what it does not reuse of
                # the old one's readers: the old one must not be closed again.
                searcher = searcher.refresh()
            self._local.current = (self._generation, searcher)
        return searcher

    def upsert(self, load: Callable[[], Iterable[IndexDocument]]) -> None:
        """Add or replace the documents ``load`` yields, by registration id, in one commit.

        ``load`` runs while the writer lock (Whoosh's, shared between processes)
        is held, so concurrent indexers write in the order they read. An index that
        stopped being the live one while the lock was awaited is left for the new one.
        """
        # Another process may hold Whoosh's own lock for a moment: wait for it.
        try:
            with self._write_lock:
                lock, writer = self._live_writer()
                try:
                    with writer:  # committed at the end; cancelled if loading fails
                        for doc in load():
                            _add(writer, doc)
                finally:
                    lock.release()
        except (OSError, LockError) as exc:
            raise IndexUnavailable(
                f"the search index at {self._directory} cannot be written: {exc}"
            ) from exc

    def _query(self, text: str) -> Query:
        fields = ["text", "text_sound"] if _LATIN.search(text) else ["text"]
        parser = MultifieldParser(fields, self._schema)  # words combine with AND
        parser.add_plugin(FieldAliasPlugin(ALIASES))
        parser.add_plugin(DateParserPlugin(basedate=self._local_now()))
        parsed = parser.parse(english_dates(plain_operators(text)))
        exact: list[Query] = []
        number = _NUMBER.match(text)
        if number is not None:
            # The number as printed (123/2026), or typed year first (2026/123): either first.
            first, second = number[1], number[2]
            exact += [
                Term("protocol_number", f"{int(n)}/{year}", boost=100.0)
                for n, year in ((first, second), (second, first))
                if len(year) == 4
            ]
        if _REFERENCE.match(text):  # a sender's number typed whole, e.g. Α-17/2026
            exact.append(Term("reference", _reference(text), boost=50.0))
        return Or([*exact, parsed]) if exact else parsed

    def similar_departments(self, text: str, *, limit: int) -> list[tuple[str, ...]]:
        """Departments of the ``limit`` registrations whose subject is most like ``text``."""
        self._follow()
        parser = MultifieldParser(["subject"], self._schema, group=OrGroup)
        parsed = parser.parse(text)
        searcher = self._searcher()
        return [
            tuple(filter(None, (hit.get("departments") or "").split(",")))
            for hit in searcher.search(parsed, limit=limit)
        ]

    @staticmethod
    def _allowed(visibility: Visibility) -> Query | None:
        if visibility.all_confidential:
            return None
        own = [Term("departments", d) for d in visibility.departments]
        return Or([Term("confidential", False), And([Term("confidential", True), Or(own)])])

    @staticmethod
    def _restricted(filters: SearchFilters) -> list[Query]:
        terms: list[Query] = [
            Term(name, value)
            for name, value in (
                ("book", filters.book),
                ("direction", filters.direction),
                ("status", filters.status),
                ("departments", filters.department),
                ("classification", filters.classification),
            )
            if value is not None
        ]
        if filters.year is not None:
            terms.append(NumericRange("year", filters.year, filters.year))
        if filters.registered_from is not None or filters.registered_to is not None:
            start = filters.registered_from and datetime.combine(filters.registered_from, time.min)
            end = filters.registered_to and datetime.combine(filters.registered_to, time.max)
            terms.append(DateRange("date", start, end))
        return terms

    def search(
        self,
        query: str,
        visibility: Visibility,
        filters: SearchFilters,
        *,
        limit: int,
        offset: int,
    ) -> SearchResult:
        """Best matches first, ``limit`` from ``offset``, with facet counts of all matches.

        Without words, the ``filters`` alone choose, newest registration first (what
        came in on a day, say). A read that fails (an index file gone under a merge by
        another process, say) is tried once more on a freshly opened searcher, then
        reported as ``IndexUnavailable``.
        """
        words = bool(plain_operators(query).strip())
        if not words and filters == SearchFilters():
            raise InvalidInput(EMPTY_QUERY(), field="q")
        self._follow()
        try:
            parsed = self._query(query) if words else None
        except Exception as exc:  # the parser's own errors, e.g. a 13th month in a date
            raise InvalidInput(UNREADABLE_QUERY(why=exc), field="q") from exc
        return self._read(lambda: self._search(parsed, visibility, filters, limit, offset))

    def check(self) -> None:
        """Raise ``IndexUnavailable`` unless the live index can be read."""
        self._follow()
        self._read(lambda: self._searcher().doc_count())

    def _read(self, read: Callable[[], _T]) -> _T:
        """``read()`` of the live index, tried once more on a freshly opened searcher.

        Whoosh raises many kinds of error when files change under a reader (one gone
        under a merge by another process, or a rebuild that replaced the index): a
        second failure is reported as ``IndexUnavailable``.
        """
        try:
            try:
                return read()
            except EProtocolError:
                raise
            except Exception as exc:
                log.warning("search index read failed, reopening it: %r", exc, exc_info=True)
                self._follow(check=True)
                self._local.current = (None, None)
                self._local.columns = None
            return read()
        except EProtocolError:
            raise
        except Exception as exc:
            raise IndexUnavailable(f"the search index at {self._directory} cannot be read") from exc

    def _search(
        self,
        parsed: Query | None,
        visibility: Visibility,
        filters: SearchFilters,
        limit: int,
        offset: int,
    ) -> SearchResult:
        """One page of hits: ranked by ``parsed``, or newest first without words (``None``)."""
        ranked = parsed is not None
        query = parsed if parsed is not None else Every()
        allowed = self._allowed(visibility)
        restrictions = self._restricted(filters) + ([allowed] if allowed is not None else [])
        words: dict[str, set[str]] = {"text": set(), "text_sound": set()}
        for field, term in query.iter_all_terms():
            if field in words:
                words[field].add(term.decode() if isinstance(term, bytes) else term)
        searcher = self._searcher()
        complete = not (self._directory / _INCOMPLETE).exists()
        # One pass finds every match the searcher may see (the total and the facets);
        # scoring then ranks within that set, skipping blocks that cannot make the page.
        matched = set(searcher.docs_for_query(And([query, *restrictions])))
        if not matched:  # (Whoosh reads an empty filter set as no filter)
            return SearchResult(0, (), {name: {} for name in FACETS}, complete)
        results = searcher.search(
            query,
            filter=matched,
            limit=offset + limit,
            sortedby=None if ranked else _NEWEST_FIRST,
            reverse=not ranked,
        )
        hits = tuple(
            SearchHit(
                registration_id=int(hit["id"]),
                book=hit["book"],
                year=hit["year"],
                number=hit["number"],
                subject=hit["subject"],
                score=float(hit.score or 0.0) if ranked else 0.0,  # sorted: no score
                highlights=_highlighted(hit["subject"], words),
            )
            for hit in results[offset : offset + limit]
        )
        return SearchResult(len(matched), hits, self._facets(searcher, matched), complete)

    def _facets(self, searcher: Searcher, docs: Iterable[int]) -> dict[str, dict[str, int]]:
        """Counts by year, direction, department and heading of ``docs``, from the value columns.

        Several times cheaper than Whoosh's grouping collectors on large result sets.
        Opening a column costs time in proportion to the index, so each thread keeps
        the columns of its current searcher. Entries without a heading are not counted
        under one; an index an older version made without a column of headings has no
        such counts until it is rebuilt.
        """
        cached = getattr(self._local, "columns", None)
        if cached is None or cached[0] is not searcher:
            reader = searcher.reader()
            cached = (
                searcher,
                {
                    name: reader.column_reader(name)
                    for name in FACETS
                    if searcher.schema[name].column_type
                },
            )
            self._local.columns = cached
        columns = cached[1]
        counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
        headings = columns.get("classification")
        for doc in docs:
            counts["year"][str(columns["year"][doc])] += 1
            counts["direction"][columns["direction"][doc]] += 1
            departments = columns["departments"][doc]
            if departments:
                counts["departments"].update(departments.split(","))
            if headings is not None and (heading := headings[doc]):
                counts["classification"][heading] += 1
        return {name: dict(values) for name, values in counts.items()}


def _highlighted(subject: str, words: dict[str, set[str]]) -> str:
    """The subject as HTML (escaped), with the words the query matched in ``<mark>``."""
    for field, analyzer in (("text", GREEK), ("text_sound", PHONETIC)):
        if words[field]:
            marked = highlight(subject, words[field], analyzer, WholeFragmenter(), _MARK)
            if marked:
                return str(marked)
    return html.escape(subject)
