"""Every text of the pages has an English translation, and domain codes have Greek labels."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from eprotocol.api.web import account, public
from eprotocol.api.web.i18n import ENGLISH, ENGLISH_IN_PLACE, GREEK_LABELS, translate
from eprotocol.api.web.messages import IN_GREEK, in_page_language
from eprotocol.config import IntakePolicy
from eprotocol.core import validation
from eprotocol.core.accounts import check_password
from eprotocol.core.certificates import load_templates
from eprotocol.core.errors import PHRASES, Conflict, EProtocolError, InvalidInput, RefusedFile, Text
from eprotocol.core.intake import PDF_REFUSED, check_type, clean_filename, too_large
from eprotocol.core.organisation import CLOSING_WITH_WORK
from eprotocol.core.permissions import DOING, Action, refusal
from eprotocol.core.queries import NO_REGISTRATION
from eprotocol.core.types import (
    BOOK_CODE_MAX,
    BOOK_CODE_RULE,
    AssignmentState,
    Channel,
    Direction,
    FileRole,
    ProtocolRef,
    Purpose,
    Role,
    Status,
    User,
)
from eprotocol.intake import pdf_worker

TEMPLATES = Path(public.__file__).parent / "templates"
_CALLS = re.compile(r"""\bt\((["'])(.+?)\1(?:, (["'])(.+?)\3)?\)""")


def _calls() -> set[tuple[str, str]]:
    """The texts the templates pass through ``t()``, each with its place ("" if none)."""
    calls = set()
    for template in TEMPLATES.glob("*.html"):
        found = _CALLS.finditer(template.read_text("utf-8"))
        calls |= {(m.group(2), m.group(4) or "") for m in found}
    return calls


def test_every_text_of_the_templates_has_an_english_translation() -> None:
    calls = _calls()
    assert len(calls) > 150  # the pattern finds the texts at all
    assert sorted(text for text, place in calls if not place and text not in ENGLISH) == []
    placed = {call for call in calls if call[1]}
    assert len(placed) >= 2  # and the texts given a place
    assert sorted(placed - set(ENGLISH_IN_PLACE)) == []


def test_a_text_given_a_place_reads_as_it_should_there() -> None:
    assert translate("Χρέωση", "en", "column") == "Assigned to"
    assert translate("Χρέωση", "en") == "Route"  # the button
    assert translate("Χρέωση", "el", "column") == "Χρέωση"


def test_messages_the_pages_pass_through_t_have_translations_too() -> None:
    source = "".join(Path(str(m.__file__)).read_text("utf-8") for m in (public, account))
    messages = re.findall(r'"([Α-Ωα-ωά-ώΆ-Ώ][^"]*[.])"', source)
    assert messages
    assert sorted(set(messages) - set(ENGLISH)) == []


def test_domain_codes_read_in_greek_and_in_english() -> None:
    for enum in (AssignmentState, Channel, Direction, Purpose, Role, Status):
        for member in enum:
            assert member.value in GREEK_LABELS, member
    assert translate("pending", "el") == "εκκρεμεί"
    assert translate("pending", "en") == "pending"
    assert translate("Αναζήτηση", "en") == "Search"
    assert translate("Αναζήτηση", "el") == "Αναζήτηση"
    assert translate("a text nobody translated", "en") == "a text nobody translated"


def test_the_intake_warnings_on_files_read_in_greek() -> None:
    source = Path(pdf_worker.__file__).read_text("utf-8")
    warnings = set(re.findall(r'found\.add\("([^"]+)"\)', source)) | set(
        pdf_worker._RAW_MARKERS.values()
    )
    assert len(warnings) == 5
    assert sorted(warnings - set(GREEK_LABELS)) == []


def _refusal(call: Callable[[], object]) -> str:
    """The message of the library's refusal of ``call``."""
    with pytest.raises(EProtocolError) as refused:
        call()
    return refused.value.message


POLICY = IntakePolicy()
CITIZEN = {
    "full_name": "Ελένη Μαρκάκη",
    "father_name": "Ιωάννης",
    "birth_date": "04/03/1980",
    "address": "Χάληδων 12, Χανιά",
}
RESIDENCE = load_templates(None)["permanent-residence"]


@pytest.mark.parametrize(
    ("call", "greek"),
    [
        (lambda: validation.required_text(" ", "subject", 10), "Συμπληρώστε: Θέμα."),
        (
            lambda: validation.required_text("Μ" * 11, "sender", 10),
            "Αποστολέας: 11 χαρακτήρες· επιτρέπονται έως 10.",
        ),
        (
            lambda: ProtocolRef.parse("12-2026", default_book="general"),
            "'12-2026': δεν είναι αριθμός πρωτοκόλλου όπως 123/2026.",
        ),
        (
            lambda: check_type("σελίδα.pdf", FileRole.MAIN, "text/html", POLICY),
            "Το αρχείο «σελίδα.pdf» δεν γίνεται δεκτό ως κύριο έγγραφο (PDF): είναι σελίδα HTML.",
        ),
        (
            lambda: check_type("σάρωση.tif", FileRole.MAIN, "image/tiff", POLICY),
            "Το αρχείο «σάρωση.tif» δεν γίνεται δεκτό ως κύριο έγγραφο (PDF): είναι εικόνα.",
        ),
        (
            lambda: check_type("x.exe", FileRole.ATTACHMENT, "application/x-dosexec", POLICY),
            "Το αρχείο «x.exe» δεν γίνεται δεκτό ως συνημμένο: είναι πρόγραμμα Windows.",
        ),
        (
            lambda: _raise(too_large("σχέδιο.pdf", POLICY)),
            "Το αρχείο «σχέδιο.pdf» ξεπερνά τα 50 MB.",
        ),
        (
            lambda: clean_filename("../../etc/passwd"),
            "Το όνομα αρχείου '../../etc/passwd' περιέχει διαδρομή φακέλων.",
        ),
        (
            lambda: _raise(RefusedFile(PDF_REFUSED(file="αίτηση.pdf", why=_worker(b"<html>")))),
            "Το αρχείο «αίτηση.pdf» δεν είναι PDF.",
        ),
        (
            lambda: RESIDENCE.clean({"full_name": "Ελένη Μαρκάκη"}),
            "Συμπληρώστε: Όνομα πατέρα.",
        ),
        (
            lambda: RESIDENCE.clean({**CITIZEN, "full_name": "Ε" * 121}),
            "Ονοματεπώνυμο: 121 χαρακτήρες· επιτρέπονται έως 120.",
        ),
        (
            lambda: RESIDENCE.clean({**CITIZEN, "full_name": "Ελένη\x07Μαρκάκη"}),
            "Ονοματεπώνυμο: περιέχει χαρακτήρες ελέγχου.",
        ),
        (
            lambda: RESIDENCE.clean({**CITIZEN, "afm": "123456789"}),
            "ΑΦΜ: το '123456789' δεν είναι έγκυρος ΑΦΜ.",
        ),
        (
            lambda: _raise(InvalidInput(BOOK_CODE_RULE(code="Conf", max=BOOK_CODE_MAX))),
            "'Conf': ο κωδικός βιβλίου γράφεται με πεζά λατινικά γράμματα, ψηφία, «-» ή «_» "
            "(έως 32).",
        ),
        (
            lambda: check_password("σύντομος"),
            "Ο κωδικός πρέπει να έχει από 10 έως 256 χαρακτήρες.",
        ),
        (
            lambda: _raise(Conflict(CLOSING_WITH_WORK(code="TECH.ROADS", count=3))),
            "Το τμήμα TECH.ROADS έχει ακόμη 3 ανοιχτές χρεώσεις: διαβιβάστε τις πρώτα σε άλλο "
            "τμήμα.",
        ),
    ],
)
def test_refusals_staff_meet_are_shown_in_greek(call: Callable[[], object], greek: str) -> None:
    """The library's own message, so that a change to it shows here; English pages keep it."""
    message = _refusal(call)
    assert in_page_language(message, "el") == greek
    assert in_page_language(message, "en") == message


def test_references_to_the_default_book_read_as_the_pages_print_them() -> None:
    mistyped = _refusal(lambda: validation.related_refs(["12/2026x"], default_book="general"))
    assert in_page_language(mistyped, "el", default_book="general") == (
        "'12/2026x': δεν είναι αριθμός πρωτοκόλλου όπως 123/2026."
    )
    missing = NO_REGISTRATION(ref=ProtocolRef("general", 2026, 999))
    assert in_page_language(missing, "el", default_book="general") == (
        "Δεν υπάρχει η καταχώριση 999/2026."
    )
    assert in_page_language(missing, "en", default_book="general") == missing
    other = NO_REGISTRATION(ref=ProtocolRef("council", 2026, 7))
    assert in_page_language(other, "el", default_book="general") == (
        "Δεν υπάρχει η καταχώριση council:7/2026."
    )


def test_a_refusal_without_greek_is_shown_as_the_library_wrote_it() -> None:
    assert in_page_language("the export holds no registrations", "el") == (
        "the export holds no registrations"
    )


def _raise(error: EProtocolError) -> None:
    raise error


def _worker(data: bytes) -> Text:
    """Why the PDF reader refuses ``data``, as the parent of its worker reads it."""
    report = pdf_worker.inspect(data)
    return PHRASES[report["refusal"]](**report["values"])


@pytest.mark.parametrize("action", list(Action))
def test_whatever_a_user_may_not_do_is_said_in_greek(action: Action) -> None:
    clerk = User("clerk", "Ελένη", None, None, frozenset({Role.CLERK}), active=True)
    message = refusal(clerk, action).message
    assert message == f"clerk may not {DOING[action]}"
    greek = in_page_language(message, "el")
    assert greek.startswith("Ο χρήστης clerk δεν μπορεί να ") and greek.endswith(".")


def test_every_phrase_of_the_library_is_said_in_greek() -> None:
    """A refusal worded anywhere, and only those, have Greek (their modules imported here)."""
    for module in ("eprotocol.api.app", "eprotocol.cli", "eprotocol.intake.pdf"):
        importlib.import_module(module)
    assert len(PHRASES) > 50
    assert sorted(PHRASES.keys() - IN_GREEK.keys()) == []
    assert sorted(IN_GREEK.keys() - PHRASES.keys()) == []
