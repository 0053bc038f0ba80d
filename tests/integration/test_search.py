"""Search through the archive: outbox-fed Whoosh index, Greek and Latin queries, confidentiality."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from eprotocol import Archive, ArchiveConfig, NewRegistration
from tests.support import FixedClock


@pytest.fixture
def searchable(
    org: Archive, config: ArchiveConfig, clock: FixedClock, tmp_path: Path
) -> Iterator[Archive]:
    """The ``org`` archive, opened again with a search index, and some registrations."""
    with Archive(dataclasses.replace(config, index_dir=tmp_path / "index"), clock=clock) as a:
        a.register(
            NewRegistration(
                direction="incoming",
                subject="Αίτηση του Δήμου Χανίων για πιστοποιητικά",
                sender="Καλογερόπουλος Ιωάννης",
            ),
            by="clerk",
        )  # 4
        a.register(
            NewRegistration(
                direction="outgoing", subject="Ο Δήμος Ηρακλείου και το λιμάνι των Χανίων"
            ),
            by="clerk",
        )  # 5
        secret = a.register(
            NewRegistration(
                direction="incoming",
                subject="Εμπιστευτική καταγγελία για τα Χανιά",
                confidential=True,
            ),
            by="clerk",
        )  # 6
        a.assign("general", secret.year, secret.number, department="TECH.ROADS", by="clerk")
        assert a.index_pending() > 0
        assert a.index_pending() == 0
        yield a


def numbers(result: object) -> list[int]:
    return [hit.number for hit in result.hits]  # type: ignore[attr-defined]


@pytest.mark.parametrize("query", ["Χανιά", "χανιων", "ΧΑΝΙΩΝ", "Chania"])
def test_every_form_finds_chania(searchable: Archive, query: str) -> None:
    assert set(numbers(searchable.search(query, by="clerk"))) == {4, 5, 6}


def test_inflections_phrases_and_correspondents(searchable: Archive) -> None:
    assert numbers(searchable.search("πιστοποιητικό", by="clerk")) == [4]
    assert numbers(searchable.search('"Δήμου Χανίων"', by="clerk")) == [4]
    assert numbers(searchable.search("Kalogeropoulos", by="clerk")) == [4]
    assert set(numbers(searchable.search("Χανιά NOT Ηρακλείου", by="clerk"))) == {4, 6}
    assert set(numbers(searchable.search("Ηρακλείου OR πιστοποιητικό", by="clerk"))) == {4, 5}


def test_protocol_number_ranks_its_entry_first(searchable: Archive) -> None:
    year = searchable.get("general", 2026, 5).year
    result = searchable.search(f"5/{year}", by="clerk")
    assert result.hits[0].number == 5


def test_confidential_entries_are_invisible_to_other_departments(searchable: Archive) -> None:
    outsider = searchable.search("Χανιά", by="maria")  # DIOIK.KEP staff
    assert numbers(outsider) and 6 not in numbers(outsider)
    assert outsider.total == 2
    assert outsider.facets["departments"].get("TECH.ROADS") is None
    assert sum(outsider.facets["year"].values()) == 2
    insider = searchable.search("Χανιά", by="kostas")  # TECH.ROADS staff
    assert 6 in numbers(insider) and insider.total == 3
    assert insider.facets["departments"] == {"TECH.ROADS": 1}
    assert searchable.search("Χανιά", by="clerk").total == 3


def test_highlights_and_paging(searchable: Archive) -> None:
    first = searchable.search("Χανιά", by="clerk", limit=2)
    second = searchable.search("Χανιά", by="clerk", limit=2, offset=2)
    assert first.total == second.total == 3
    assert len(first.hits) == 2 and len(second.hits) == 1
    assert {h.number for h in first.hits} | {h.number for h in second.hits} == {4, 5, 6}
    assert any("<b" in h.highlights for h in first.hits)


def test_repeating_a_batch_duplicates_nothing(searchable: Archive) -> None:
    # As if the indexer died after committing the index but before marking its rows done.
    searchable.correct(
        "general", 2026, 4, {"subject": "Αίτηση για βεβαίωση"}, reason="λάθος", by="clerk"
    )
    searchable.index_pending()
    searchable._index.upsert(  # type: ignore[union-attr]
        [
            __import__("eprotocol.core.search", fromlist=["IndexDocument"]).IndexDocument.of(
                searchable.get("general", 2026, 4)
            )
        ]
    )
    assert numbers(searchable.search("βεβαίωση", by="clerk")) == [4]
    assert searchable.search("Χανιά", by="clerk").total == 2  # the correction reached the index
