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

import logging
import re
import shutil
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, time
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, NUMERIC, TEXT, Schema
from whoosh.qparser import FieldAliasPlugin, MultifieldParser, OrGroup
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.query import And, DateRange, NumericRange, Or, Query, Term
from whoosh.sorting import FieldFacet

from eprotocol.core.errors import InvalidInput
from eprotocol.core.search import (
    IndexDocument,
    SearchFilters,
    SearchHit,
    SearchResult,
    Visibility,
)
from eprotocol.search.analysis import GREEK, PHONETIC

_NUMBER = re.compile(r"^\s*(\d{1,9})/(\d{4})\s*$")
_LATIN = re.compile(r"[A-Za-z]")
_TEXT_FIELDS = ("subject", "correspondents", "content")
#: Names people may use for fields in queries, Greek ones included.
ALIASES = {
    "subject": ["θέμα", "θεμα"],
    "correspondents": ["αποστολέας", "αποστολεας", "παραλήπτης", "παραληπτης"],
    "content": ["text", "κείμενο", "κειμενο"],
    "year": ["έτος", "ετος"],
    "direction": ["κατεύθυνση", "κατευθυνση"],
    "status": ["κατάσταση", "κατασταση"],
    "departments": ["department", "τμήμα", "τμημα"],
    "classification": ["ταξινόμηση", "ταξινομηση"],
    "date": ["ημερομηνία", "ημερομηνια"],
}
FACETS = ("year", "direction", "departments")
WRITE_LOCK_TIMEOUT = 30.0
log = logging.getLogger(__name__)


def schema() -> Schema:
    """The fields of the index."""
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
        subject_sound=TEXT(analyzer=PHONETIC),
        correspondents=TEXT(analyzer=GREEK, phrase=True),
        correspondents_sound=TEXT(analyzer=PHONETIC),
        content=TEXT(analyzer=GREEK, phrase=True),
        content_sound=TEXT(analyzer=PHONETIC),
        classification=ID,
        departments=KEYWORD(commas=True, sortable=True, stored=True),
        confidential=BOOLEAN,
    )


class WhooshIndex:
    """A :class:`~eprotocol.core.search.SearchIndex` in a directory; one writer at a time."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._write_lock = threading.Lock()
        #: True when the index was just created, or replaced because it could not be read:
        #: it must then be rebuilt from the database before it is trusted.
        self.fresh = False
        try:
            self._ix = whoosh_index.open_dir(directory)
            with self._ix.searcher() as searcher:
                searcher.doc_count()
        except Exception as exc:  # noqa: BLE001 - any failure to read means "rebuild it"
            if any(directory.iterdir()):
                log.error("search index at %s is unreadable (%s); rebuilding it", directory, exc)
            self.clear()

    def clear(self) -> None:
        """Replace the index with an empty one (its files are deleted)."""
        with self._write_lock:
            shutil.rmtree(self._directory)
            self._directory.mkdir(parents=True)
            self._ix = whoosh_index.create_in(self._directory, schema())
            self.fresh = True

    def mark_complete(self) -> None:
        """Record that the index now holds everything (after a rebuild)."""
        self.fresh = False

    def upsert(self, load: Callable[[], Iterable[IndexDocument]]) -> None:
        """Add or replace the documents ``load`` yields, by registration id, in one commit.

        ``load`` runs while the writer lock (Whoosh's, shared between processes)
        is held, so concurrent indexers write in the order they read.
        """
        # Another process may hold Whoosh's own lock for a moment: wait for it.
        with self._write_lock, self._ix.writer(timeout=WRITE_LOCK_TIMEOUT) as writer:
            for doc in load():
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
                    subject_sound=doc.subject,
                    correspondents=doc.correspondents,
                    correspondents_sound=doc.correspondents,
                    content=doc.file_text,
                    content_sound=doc.file_text,
                    classification=doc.classification,
                    departments=",".join(doc.departments),
                    confidential=doc.confidential,
                )

    def _query(self, text: str) -> Query:
        fields = list(_TEXT_FIELDS)
        if _LATIN.search(text):
            fields += [f"{name}_sound" for name in _TEXT_FIELDS]
        parser = MultifieldParser(fields, self._ix.schema)  # words combine with AND
        parser.add_plugin(FieldAliasPlugin(ALIASES))
        parser.add_plugin(DateParserPlugin())
        parsed = parser.parse(text)
        number = _NUMBER.match(text)
        if number is None:
            return parsed
        exact = Term("protocol_number", f"{int(number[1])}/{number[2]}", boost=100.0)
        return Or([exact, parsed])

    def similar_departments(self, text: str, *, limit: int) -> list[tuple[str, ...]]:
        """Departments of the ``limit`` registrations whose subject is most like ``text``."""
        parser = MultifieldParser(["subject"], self._ix.schema, group=OrGroup)
        parsed = parser.parse(text)
        with self._ix.searcher() as searcher:
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
        """Best matches first, ``limit`` from ``offset``, with facet counts of all matches."""
        if not query.strip():
            raise InvalidInput("the search query is empty", field="q")
        parsed = self._query(query)
        allowed = self._allowed(visibility)
        restrictions = self._restricted(filters) + ([allowed] if allowed is not None else [])
        with self._ix.searcher() as searcher:
            results = searcher.search(
                parsed,
                filter=And(restrictions) if restrictions else None,
                limit=offset + limit,
                groupedby={
                    name: FieldFacet(name, allow_overlap=name == "departments") for name in FACETS
                },
                terms=True,
            )
            hits = tuple(
                SearchHit(
                    registration_id=int(hit["id"]),
                    book=hit["book"],
                    year=hit["year"],
                    number=hit["number"],
                    subject=hit["subject"],
                    score=float(hit.score or 0.0),
                    highlights=hit.highlights("subject") or hit["subject"],
                )
                for hit in list(results)[offset : offset + limit]
            )
            facets = {
                name: {
                    str(k): len(v) for k, v in results.groups(name).items() if k not in ("", None)
                }
                for name in FACETS
            }
            return SearchResult(total=len(results), hits=hits, facets=facets)
