"""Search through the archive: outbox-fed Whoosh index, Greek and Latin queries, confidentiality."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from eprotocol import (
    Archive,
    ArchiveConfig,
    FileInput,
    FileRole,
    InvalidInput,
    NewRegistration,
    SearchFilters,
)
from eprotocol.core.models import OUTBOX
from tests.pdfs import greek_pdf, text_bomb_pdf
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
                sender="Καλογερόπουλος Γεώργιος",
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
    assert numbers(searchable.search("Γεωργίου Καλογερόπουλου", by="clerk")) == [4]
    assert numbers(searchable.search("Georgiou", by="clerk")) == [4]
    assert set(numbers(searchable.search("Χανιά NOT Ηρακλείου", by="clerk"))) == {4, 6}
    assert set(numbers(searchable.search("Ηρακλείου OR πιστοποιητικό", by="clerk"))) == {4, 5}


def test_cretan_surnames_typed_in_latin_letters_find_their_entries(searchable: Archive) -> None:
    """-άκης typed -akis: the stemmer strips -ης but not -ις, so each spelling is tried."""
    entry = searchable.register(
        NewRegistration(
            direction="incoming",
            subject="Σύνδεση με το δίκτυο ύδρευσης",
            sender="Μαρκάκης Ελευθέριος",
        ),
        by="clerk",
    )
    searchable.index_pending()
    for query in ("markakis", "Markakis Eleftherios", "idrefsi markakis", "Markakhs ydreush"):
        assert numbers(searchable.search(query, by="clerk")) == [entry.number], query
    assert numbers(searchable.search("markakis Kalogeropoulos", by="clerk")) == []


def test_search_reads_a_minus_and_a_hanging_operator_as_people_mean_them(
    searchable: Archive,
) -> None:
    # A minus before a word leaves it out (Whoosh alone took it as "and this word too").
    assert set(numbers(searchable.search("Χανιά -Ηρακλείου", by="clerk"))) == {4, 6}
    assert set(numbers(searchable.search("-Ηρακλείου Χανιά", by="clerk"))) == {4, 6}
    # ... but not inside a word or a phrase.
    assert numbers(searchable.search("Δήμου-Χανίων πιστοποιητικά", by="clerk")) == [4]
    assert numbers(searchable.search('"Ηρακλείου -και"', by="clerk")) == [5]
    # An operator typed before the next word was a word to match, so nothing was found.
    for hanging in ("Ηρακλείου OR", "Ηρακλείου AND", "OR Ηρακλείου", "Ηρακλείου NOT"):
        assert numbers(searchable.search(hanging, by="clerk")) == [5], hanging
    with pytest.raises(InvalidInput, match="empty"):
        searchable.search("OR", by="clerk")


def test_protocol_number_ranks_its_entry_first(searchable: Archive) -> None:
    year = searchable.get("general", 2026, 5).year
    for typed in (f"5/{year}", f"{year}/5"):  # as printed, or year first as the CLI takes it
        result = searchable.search(typed, by="clerk")
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
    assert any("<mark" in h.highlights for h in first.hits)


def test_repeating_a_batch_duplicates_nothing(searchable: Archive, config: ArchiveConfig) -> None:
    searchable.correct(
        "general", 2026, 4, {"subject": "Αίτηση για βεβαίωση"}, reason="λάθος", by="clerk"
    )
    searchable.index_pending()
    # As if the indexer died after committing the index but before marking its rows done.
    engine = sa.create_engine(config.database_url)
    with engine.begin() as conn:
        conn.execute(sa.update(OUTBOX).values(processed_at=None))
    engine.dispose()
    assert searchable.index_pending() > 0
    assert numbers(searchable.search("βεβαίωση", by="clerk")) == [4]
    assert searchable.search("Χανιά", by="clerk").total == 2  # the correction reached the index


def test_field_filters_and_date_ranges(searchable: Archive, clock: FixedClock) -> None:
    clock.set(clock.now() + timedelta(days=40))  # 11 April 2026
    searchable.register(
        NewRegistration(direction="incoming", subject="Αίτηση για τα Χανιά τον Απρίλιο"),
        by="clerk",
    )  # 7
    searchable.index_pending()

    def found(query: str, **filters: object) -> set[int]:
        result = searchable.search(query, by="admin", filters=SearchFilters(**filters))  # type: ignore[arg-type]
        return set(numbers(result))

    assert found("Χανιά") == {4, 5, 6, 7}
    assert found("Χανιά direction:outgoing") == {5}
    assert found("Χανιά κατεύθυνση:incoming") == {4, 6, 7}
    assert found("θέμα:λιμάνι") == {5}
    assert found("Χανιά τμήμα:TECH.ROADS") == {6}
    assert found("Χανιά date:[20260401 to 20260430]") == {7}
    assert found("Χανιά ημερομηνία:[20260301 to 20260302]") == {4, 5, 6}
    # Dates as people write them: day first, or ISO (whose ranges Whoosh reads as whole years).
    assert found("Χανιά ημερομηνία:[1/4/2026 to 30.4.2026]") == {7}
    assert found("Χανιά date:[2026-04-01 to 2026-04-30]") == {7}
    assert found("Χανιά ημερομηνία:02/03/2026") == {4, 5, 6}
    assert found("Χανιά ημερομηνία:σήμερα") == {7}  # the archive's day, not the server's
    assert found("Χανιά", direction="incoming", registered_to=date(2026, 3, 31)) == {4, 6}
    assert found("Χανιά", registered_from=date(2026, 4, 11)) == {7}
    assert found("Χανιά", year=2025) == set()
    assert found("Χανιά", department="TECH.ROADS", status="active") == {6}
    with pytest.raises(InvalidInput, match=r"cannot be read: month must be in 1\.\.12"):
        found("Χανιά date:[20261301 to 20261231]")  # a mistyped date, not a broken index
    with pytest.raises(InvalidInput, match="day is out of range"):
        found("Χανιά ημερομηνία:31/02/2026")


def test_headings_of_the_filing_plan_are_counted_and_filter_a_search(searchable: Archive) -> None:
    """«Every road complaint about Chania this year»: the heading narrows the matches."""
    searchable.add_classification(
        "Φ.600", "Οδοποιία", retention_years=10, disposal="transfer", by="admin"
    )
    for subject in ("Λακκούβα στον δρόμο προς τα Χανιά", "Αίτηση για την οδό Χανίων"):
        searchable.register(
            NewRegistration(direction="incoming", subject=subject, classification_code="Φ.600"),
            by="clerk",
        )  # 7, 8
    searchable.index_pending()

    def heading_counts(**filters: object) -> dict[str, int]:
        found = searchable.search("Χανιά", by="admin", filters=SearchFilters(**filters))  # type: ignore[arg-type]
        return found.facets["classification"]

    assert heading_counts() == {"Φ.600": 2}  # entries without a heading are not counted
    filtered = searchable.search("Χανιά", by="admin", filters=SearchFilters(classification="Φ.600"))
    assert set(numbers(filtered)) == {7, 8}
    searchable.correct(
        "general", 2026, 8, {"classification_code": None}, reason="Λάθος θέμα", by="admin"
    )
    searchable.index_pending()
    assert heading_counts() == {"Φ.600": 1}  # a refiled entry is counted where it is now
    assert heading_counts(classification="Φ.601") == {}


def test_an_incoming_document_is_found_by_the_sender_s_own_number(searchable: Archive) -> None:
    """«They sent us their 4512/2026: where is it?» — the sender's number, typed as written."""
    for reference in ("4512/2026", "Α-17/Φ.600", "οικ. 3344"):
        searchable.register(
            NewRegistration(
                direction="incoming",
                subject="Διαβιβαστικό εγγράφων",
                sender="Περιφέρεια Κρήτης",
                sender_reference=reference,
            ),
            by="clerk",
        )  # 7, 8, 9
    searchable.index_pending()

    assert numbers(searchable.search("4512/2026", by="clerk")) == [7]
    assert numbers(searchable.search("α-17/φ.600", by="clerk"))[0] == 8  # any case, accents
    assert numbers(searchable.search("οικ. 3344", by="clerk")) == [9]
    assert numbers(searchable.search("3344 Περιφέρεια", by="clerk")) == [9]


def test_dates_alone_list_what_came_in_those_days_newest_first(
    searchable: Archive, clock: FixedClock
) -> None:
    clock.set(clock.now() + timedelta(days=1))  # 3 March 2026
    searchable.register(
        NewRegistration(direction="incoming", subject="Αίτηση της επομένης"), by="clerk"
    )  # 7
    searchable.index_pending()
    march_2 = SearchFilters(registered_from=date(2026, 3, 2), registered_to=date(2026, 3, 2))

    day = searchable.search("", by="admin", filters=march_2)

    assert (numbers(day), day.total) == ([6, 5, 4, 3, 2, 1], 6)  # one instant: by number
    since = searchable.search(
        " ", by="admin", filters=SearchFilters(registered_from=date(2026, 3, 2))
    )
    assert numbers(since)[:2] == [7, 6]
    assert numbers(searchable.search("", by="admin", filters=march_2, limit=2, offset=2)) == [4, 3]
    assert 6 not in numbers(searchable.search("", by="maria", filters=march_2))  # confidential
    assert numbers(searchable.search("Χανιά", by="admin", filters=march_2)) != numbers(day)
    with pytest.raises(InvalidInput, match="empty"):
        searchable.search("", by="admin")
    with pytest.raises(InvalidInput, match="first day comes after the last"):
        searchable.search(
            "Χανιά",
            by="admin",
            filters=SearchFilters(registered_from=date(2026, 3, 3), registered_to=date(2026, 3, 2)),
        )


def test_words_inside_files_are_found(
    org: Archive, config: ArchiveConfig, clock: FixedClock, tmp_path: Path
) -> None:
    pdf = greek_pdf(
        "Βεβαίωση μόνιμης κατοικίας στο Δήμο Χανίων.",
        "Ο ενδιαφερόμενος κατοικεί στην οδό Κυδωνίας.",
    )
    note = "Σημείωμα για τον ηλεκτροφωτισμό της πλατείας".encode()
    with Archive(dataclasses.replace(config, index_dir=tmp_path / "index"), clock=clock) as a:
        entry = a.register(
            NewRegistration(direction="incoming", subject="Αίτηση πολίτη"),
            files=[
                FileInput("αίτηση.pdf", pdf, FileRole.MAIN),
                FileInput("σημείωμα.txt", note, FileRole.ATTACHMENT),
            ],
            by="clerk",
        )
        a.index_pending()
        for query in ("κατοικίας", "Kydonias", '"μόνιμης κατοικίας"', "ηλεκτροφωτισμός"):
            assert numbers(a.search(query, by="clerk")) == [entry.number], query
        assert numbers(a.search('"μόνιμης Κυδωνίας"', by="clerk")) == []
        assert numbers(a.search("κείμενο:πλατεία", by="clerk")) == [entry.number]
        stored = a.get("general", entry.year, entry.number).files
        assert [(f.text_extracted, f.text_failure) for f in stored] == [(True, None)] * 2


def test_a_file_that_explodes_the_extractor_is_indexed_by_metadata(
    org: Archive, config: ArchiveConfig, clock: FixedClock, tmp_path: Path
) -> None:
    with Archive(dataclasses.replace(config, index_dir=tmp_path / "index"), clock=clock) as a:
        bomb = a.register(
            NewRegistration(direction="incoming", subject="Ογκώδες έγγραφο"),
            files=[FileInput("βόμβα.pdf", text_bomb_pdf(), FileRole.MAIN)],
            by="clerk",
        )
        after = a.register(
            NewRegistration(direction="incoming", subject="Επόμενη αίτηση"),
            files=[
                FileInput("αίτηση.pdf", greek_pdf("Άδεια κατάληψης πεζοδρομίου"), FileRole.MAIN)
            ],
            by="clerk",
        )
        a.index_pending()
        assert numbers(a.search("Ογκώδες", by="clerk")) == [bomb.number]
        assert numbers(a.search("πεζοδρομίου", by="clerk")) == [after.number]
        (failed,) = a.get("general", bomb.year, bomb.number).files
        assert failed.text_extracted
        assert failed.text_failure is not None
        assert "text extraction" in failed.text_failure
