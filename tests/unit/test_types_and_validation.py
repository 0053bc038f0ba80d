"""Value types and input rules, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from eprotocol import InvalidInput, InvalidReference, NewRegistration, ProtocolRef
from eprotocol.core import validation


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("123/2026", ProtocolRef("general", 2026, 123)),
        (" 1/2027 ", ProtocolRef("general", 2027, 1)),
        ("confidential:7/2026", ProtocolRef("confidential", 2026, 7)),
    ],
)
def test_protocol_ref_parse(text: str, ref: ProtocolRef) -> None:
    assert ProtocolRef.parse(text) == ref
    assert ProtocolRef.parse(str(ref)) == ref


@pytest.mark.parametrize("text", ["", "2026", "0/2026", "12/26", "Χ:1/2026", "1/2026/3", "-1/2026"])
def test_protocol_ref_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidReference):
        ProtocolRef.parse(text)


def test_protocol_number_is_number_then_year() -> None:
    assert ProtocolRef("general", 2026, 123).protocol_number == "123/2026"


def test_text_is_trimmed_and_normalised() -> None:
    decomposed = "Χανι\u0301α"  # ί written as ι + combining acute
    assert validation.required_text(f"  {decomposed} ", "subject", 10) == "Χανία"


@pytest.mark.parametrize("value", [None, "", "  ", 5, "a" * 11, "a\x07b", "a\nb"])
def test_required_text_rejects(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        validation.required_text(value, "subject", 10)
    assert caught.value.field == "subject"


def test_multiline_allows_newlines_only_when_asked() -> None:
    assert validation.required_text("α\nβ", "subject", 10, multiline=True) == "α\nβ"


def test_optional_text_turns_blank_into_none() -> None:
    assert validation.text("  ", "sender", 10, required=False) is None


def test_clean_registration_normalises() -> None:
    clean = validation.clean_registration(
        NewRegistration(
            direction="outgoing",
            subject=" Θέμα ",
            recipients=("Α", " Β "),
            sender_date="2026-01-31",  # type: ignore[arg-type]
            channel="email",
            related=["3/2026", ProtocolRef("general", 2026, 3), "other:1/2025"],
        ),
        default_book="general",
    )
    assert clean.book == "general"
    assert clean.values["direction"] == "outgoing"
    assert clean.values["subject"] == "Θέμα"
    assert clean.values["recipients"] == ["Α", "Β"]
    assert clean.values["sender_date"] == date(2026, 1, 31)
    assert clean.values["channel"] == "email"
    assert clean.related == (ProtocolRef("general", 2026, 3), ProtocolRef("other", 2025, 1))
