"""Every text of the pages has an English translation, and domain codes have Greek labels."""

from __future__ import annotations

import re
from pathlib import Path

from eprotocol.api.web import account, public
from eprotocol.api.web.i18n import ENGLISH, GREEK_LABELS, translate
from eprotocol.core.types import AssignmentState, Channel, Direction, Purpose, Role, Status
from eprotocol.intake import pdf_worker

TEMPLATES = Path(public.__file__).parent / "templates"
_CALLS = re.compile(r"""\bt\((["'])(.+?)\1\)""")


def _texts() -> set[str]:
    texts = set()
    for template in TEMPLATES.glob("*.html"):
        texts |= {m.group(2) for m in _CALLS.finditer(template.read_text("utf-8"))}
    return texts


def test_every_text_of_the_templates_has_an_english_translation() -> None:
    texts = _texts()
    assert len(texts) > 150  # the pattern finds the texts at all
    assert sorted(texts - set(ENGLISH)) == []


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
