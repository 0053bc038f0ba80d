"""Greek analysis: folding, stemming, stop words, Latin-letter queries, in a real Whoosh index."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from whoosh import index
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import QueryParser

from eprotocol.core.greek import fold, to_greek
from eprotocol.search.analysis import GREEK, PHONETIC
from eprotocol.search.whoosh_index import english_dates

DOCUMENTS = {
    "1": "Ο Δήμαρχος του Δήμου Χανίων υπέγραψε σήμερα τα πιστοποιητικά των ΚΕΠ.",
    "2": "Ο κ. Καλογερόπουλος Ιωάννης αιτείται βεβαίωση μόνιμης κατοικίας.",
    "3": "Ο Δήμος Ηρακλείου και το λιμάνι των Χανίων συνεργάζονται.",
    "4": "Ο Μαρκάκης Ελευθέριος ζητά σύνδεση με το δίκτυο ύδρευσης.",
    "5": "Η κ. Παπαδάκη Ευαγγελία καταθέτει καταγγελία για την Αγυιά.",
    "6": "Κλάδεμα δέντρων στον κοινόχρηστο χώρο πίσω από το ληξιαρχείο.",
    "7": "Εγκύκλιος για την ανακύκλωση.",
}


def terms(analyzer: object, text: str) -> list[str]:
    return [token.text for token in analyzer(text)]  # type: ignore[operator]


@pytest.mark.parametrize("word", ["Χανιά", "χανιων", "ΧΑΝΙΩΝ", "Χανίων", "Chania", "CHANIA"])
def test_forms_of_chania_meet(word: str) -> None:
    assert terms(GREEK, word) == terms(GREEK, "Δήμου Χανίων")[1:]


def test_folding() -> None:
    assert fold("Ά Έ Ή Ί Ό Ύ Ώ ϊ ΐ ϋ ΰ ς") == "α ε η ι ο υ ω ι ι υ υ σ"
    assert to_greek("kalogeropoulos") == "καλογεροπουλοσ"
    assert to_greek("thessaloniki") == "θεσσαλονικι"


def test_stop_words_are_dropped_and_plurals_stemmed() -> None:
    assert terms(GREEK, "το και της") == []
    assert terms(GREEK, "πιστοποιητικό") == terms(GREEK, "πιστοποιητικών")
    assert terms(PHONETIC, "Irakleio") == terms(PHONETIC, "Ηράκλειο")
    assert terms(PHONETIC, "Kalogeropoulos") == terms(PHONETIC, "Καλογερόπουλος")


@pytest.mark.parametrize(
    "forms",
    [
        "συμβούλιο συμβουλίου συμβούλια συμβουλίων",  # Δημοτικό Συμβούλιο
        "Γεώργιος Γεωργίου Γεώργιο",
        "Άγιος Αγίου Άγιο Άγιοι Αγίων",  # Άγιος Νικόλαος
        "υπηρεσία υπηρεσίας υπηρεσίες υπηρεσιών",
        "διαδικασία διαδικασίας διαδικασίες",
        "δημόσιο δημοσίου δημόσια",
        "κτίριο κτιρίου κτίρια κτιρίων",
        "πεζοδρόμιο πεζοδρομίου πεζοδρόμια",
        "Νοέμβριος Νοεμβρίου",
        "ταμείο ταμείου ταμεία",  # ει is one vowel: its ι stays
    ],
)
def test_the_forms_of_a_word_meet(forms: str) -> None:
    assert len(set(terms(GREEK, forms))) == 1, terms(GREEK, forms)


def test_a_word_the_stemmer_empties_is_kept_whole() -> None:
    assert terms(GREEK, "ίδια") == ["ιδια"]


def test_analyzers_survive_pickling() -> None:
    restored = pickle.loads(pickle.dumps(GREEK))  # noqa: S301 - our own object, as Whoosh does
    assert terms(restored, "Χανίων") == terms(GREEK, "Χανίων")
    assert restored == GREEK


@pytest.fixture
def searcher_dir(tmp_path: Path) -> Path:
    schema = Schema(
        id=ID(stored=True, unique=True),
        body=TEXT(analyzer=GREEK, phrase=True),
        sound=TEXT(analyzer=PHONETIC, multitoken_query="or"),
    )
    ix = index.create_in(tmp_path, schema)
    with ix.writer() as writer:
        for doc_id, text in DOCUMENTS.items():
            writer.add_document(id=doc_id, body=text, sound=text)
    return tmp_path


def search(directory: Path, field: str, query: str) -> set[str]:
    ix = index.open_dir(directory)  # the schema, analyzers included, comes back from disk
    with ix.searcher() as searcher:
        parsed = QueryParser(field, ix.schema).parse(query)
        return {hit["id"] for hit in searcher.search(parsed, limit=None)}


@pytest.mark.parametrize("query", ["Χανιά", "χανιων", "ΧΑΝΙΩΝ"])
def test_greek_queries_find_chania(searcher_dir: Path, query: str) -> None:
    assert search(searcher_dir, "body", query) == {"1", "3"}


def test_latin_queries_find_greek_text(searcher_dir: Path) -> None:
    assert search(searcher_dir, "sound", "Chania") == {"1", "3"}
    assert search(searcher_dir, "sound", "Kalogeropoulos") == {"2"}


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("markakis", {"4"}),  # -ης written -is: the stemmer strips the one, not the other
        ("Markakis Eleftherios", {"4"}),  # ευ written ef
        ("markakis eleutherios", {"4"}),
        ("idrefsi", {"4"}),
        ("papadaki", {"5"}),  # -η written -i
        ("Papadaki Evaggelia", {"5"}),
        ("iraklio", {"3"}),  # ει written i
        ("chanion", {"1", "3"}),  # -ων written -on
        ("markakis papadaki", set()),  # the words of a query still all have to match
        ("dhmarxos xaniwn", {"1"}),  # Greeklish: h for η, x for χ, w for ω
        ("Papadakh", {"5"}),
        ("ydreush", {"4"}),
        ("eleu8erios", {"4"}),  # 8 for θ
        ("upallhlos", set()),  # a lone u for υ: no document has it
        ("bebaiwsh", {"2"}),  # b for β
        ("katagelia", {"5"}),  # a doubled consonant written single
        ("ioanis kalogeropoulos", {"2"}),
        ("dendron", {"6"}),  # νδ for ντ
        ("koinochristou", {"6"}),  # -ιστου is a suffix to the stemmer, -ηστου is not
        ("kinoxristou", {"6"}),
        ("lixiarxeio", {"6"}),  # x as ξ and as χ in one word
        ("engiklios", {"7"}),  # γγ and γκ sound alike
    ],
)
def test_latin_spellings_of_greek_names_and_endings(
    searcher_dir: Path, query: str, found: set[str]
) -> None:
    assert search(searcher_dir, "sound", query) == found


def test_inflected_forms_and_phrases(searcher_dir: Path) -> None:
    assert search(searcher_dir, "body", "πιστοποιητικό") == {"1"}
    assert search(searcher_dir, "body", '"Δήμου Χανίων"') == {"1"}  # not 3: words far apart
    assert search(searcher_dir, "body", "Χανιά NOT Ηρακλείου") == {"1"}


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("ημερομηνία:[1/4/2026 to 30.4.2026]", "ημερομηνία:[20260401 to 20260430]"),
        ("date:[2026-04-01 to 2026-04-30]", "date:[20260401 to 20260430]"),
        ("άδεια date:02/03/2026 Χανιά", "άδεια date:20260302 Χανιά"),
        ("ημερομηνία:Σήμερα", "ημερομηνία:today"),
        ("date:[ΧΘΕΣ to αύριο]", "date:[yesterday to tomorrow]"),
        ("θέμα:2/3/2026 σήμερα", "θέμα:2/3/2026 σήμερα"),  # not a date clause: left alone
    ],
)
def test_dates_in_date_clauses_are_read_as_greeks_write_them(typed: str, parsed: str) -> None:
    assert english_dates(typed) == parsed
