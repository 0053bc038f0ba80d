"""Reading a filing plan saved from a spreadsheet, and checking its headings."""

from __future__ import annotations

import pytest

from eprotocol.api.web.messages import in_page_language
from eprotocol.core.errors import InvalidInput
from eprotocol.core.filing_plan import heading, read_plan_csv
from eprotocol.core.types import Classification, Disposal

PLAN = (
    "code,title,retention_years,disposal\n"
    "Φ.600,Οδοποιία,10,transfer\n"
    '"Φ.12","Βεβαιώσεις μόνιμης κατοικίας, δημοτολογίου",5,destroy\n'
)


def refusal(data: bytes) -> str:
    with pytest.raises(InvalidInput) as caught:
        read_plan_csv(data)
    assert caught.value.field == "file"
    return caught.value.message


def test_a_plan_is_read_with_its_quoted_commas() -> None:
    assert read_plan_csv(PLAN.encode()) == [
        Classification("Φ.600", "Οδοποιία", 10, Disposal.TRANSFER),
        Classification("Φ.12", "Βεβαιώσεις μόνιμης κατοικίας, δημοτολογίου", 5, Disposal.DESTROY),
    ]


def test_a_greek_spreadsheet_saves_semicolons_and_a_byte_order_mark() -> None:
    """What «CSV UTF-8» gives in a Greek Excel: BOM, `;`, CRLF, blank and empty cells."""
    saved = (
        "\ufefftitle;code;retention_years;disposal\r\n"
        "Οδοποιία, πεζοδρόμια;Φ.600;10;\r\n"
        ";;;\r\n"
        " Προσλήψεις ; Φ.20 ; 50 ;review\r\n"
    )
    assert read_plan_csv(saved.encode()) == [
        Classification("Φ.600", "Οδοποιία, πεζοδρόμια", 10, Disposal.REVIEW),
        Classification("Φ.20", "Προσλήψεις", 50, Disposal.REVIEW),
    ]


def test_without_a_disposal_column_nothing_is_destroyed_by_default() -> None:
    assert read_plan_csv(b"code,title,retention_years\nX.1,Misc,3\n") == [
        Classification("X.1", "Misc", 3, Disposal.REVIEW)
    ]


@pytest.mark.parametrize(
    ("data", "english", "greek"),
    [
        ("Οδοποιία".encode("cp1253"), "not UTF-8", "«CSV UTF-8»"),
        (b"code,title\nX,Y\n", "(found: code, title)", "βρέθηκαν: code, title"),
        (b"code,title,retention,disposal\n", "found: code, title, retention, disposal", "code"),
        (b"code,title,retention_years\n\n", "no heading", "καμία θέση"),
        (b"", "(found: —)", "βρέθηκαν: —"),
        (
            b"code,title,retention_years\nA,a,1\nB,b,ten\n",
            "line 3: retention_years must be a whole number from 1 to 200 (got 'ten')",
            "Γραμμή 3: Διατήρηση (έτη): ακέραιος αριθμός από 1 έως 200.",
        ),
        (
            b"code,title,retention_years\nA,a,0\n",
            "line 2: retention_years must be",
            "Γραμμή 2: Διατήρηση",
        ),
        (
            b"code,title,retention_years\nA,,5\n",
            "line 2: title must not be empty",
            "Γραμμή 2: Συμπληρώστε: Τίτλος.",
        ),
        (
            b"code,title,retention_years\nA,a\n",
            "line 2: retention_years is required",
            "Γραμμή 2: Συμπληρώστε: Διατήρηση (έτη).",
        ),
        (
            b"code,title,retention_years\nA,a,5,destroy\n",
            "line 2: more values than the first line names columns",
            "Γραμμή 2: Περισσότερες τιμές",
        ),
        (
            b"code,title,retention_years,disposal\nA,a,5,burn\n",
            "line 2: disposal must be one of: destroy, transfer, review (got 'burn')",
            "Γραμμή 2: Μετά τη διατήρηση: η τιμή δεν είναι από τις επιτρεπόμενες.",
        ),
    ],
)
def test_a_file_that_is_not_a_plan_is_refused_saying_where(
    data: bytes, english: str, greek: str
) -> None:
    message = refusal(data)
    assert english in message
    assert greek in in_page_language(message, "el")


def test_a_heading_takes_its_years_as_typed_in_a_form() -> None:
    assert heading(" Φ.1 ", "Τίτλος", " 7 ", "destroy") == Classification(
        "Φ.1", "Τίτλος", 7, Disposal.DESTROY
    )
    for years in ("7.5", "-1", "201", True, None, 7.0):
        with pytest.raises(InvalidInput) as caught:
            heading("Φ.1", "Τίτλος", years)
        assert caught.value.field == "retention_years"
