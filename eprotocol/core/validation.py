"""Rules for caller-supplied registration data.

Each rule returns the normalised value or raises
:class:`~eprotocol.core.errors.InvalidInput` naming the field, so bad input is
refused before anything is stored.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from eprotocol.core.errors import InvalidInput, Phrase
from eprotocol.core.types import (
    BOOK_CODE_MAX,
    Channel,
    Direction,
    FileRole,
    NewRegistration,
    ProtocolRef,
)

SUBJECT_MAX = 1000
CORRESPONDENT_MAX = 500
RECIPIENTS_MAX = 200
REFERENCE_MAX = 100
CLASSIFICATION_MAX = 64
ACTOR_MAX = 64
REASON_MAX = 2000
AUTHORISATION_MAX = 500
RELATED_MAX = 50

#: A field is named by ``named``: its code (``field``), or its ``label`` with the code after it.
REQUIRED = Phrase("required", "{named} is required")
EMPTY = Phrase("empty", "{named} must not be empty")
TOO_LONG = Phrase("too-long", "{named} is {length} characters long; at most {max} are allowed")
CONTROL_CHARACTERS = Phrase("control-characters", "{named} contains control characters")
NOT_ONE_OF = Phrase("not-one-of", "{field} must be one of: {allowed} (got {value!r})")
TOO_MANY_RECIPIENTS = Phrase("too-many-recipients", "at most {max} recipients are allowed")
SENDER_DATE = Phrase("sender-date", "sender_date must be a date (YYYY-MM-DD)")
TOO_MANY_RELATED = Phrase("too-many-related", "at most {max} related registrations")
BACKWARDS = Phrase("backwards-period", "the first day comes after the last")

_E = TypeVar("_E", bound=StrEnum)


def text(
    value: object, field: str, max_len: int, *, required: bool = True, multiline: bool = False
) -> str | None:
    """Like :func:`required_text`, but absent or blank optional values become ``None``."""
    if not required and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    return required_text(value, field, max_len, multiline=multiline)


def required_text(
    value: object, field: str, max_len: int, *, multiline: bool = False, label: str | None = None
) -> str:
    """A trimmed, NFC-normalised string of at most ``max_len`` characters, free of control codes.

    A refusal names the field as ``field``, or as ``label (field)`` when the field has a
    label of its own that people read (a certificate template's, say).
    """
    named = field if label is None else f"{label} ({field})"
    names = {"named": named, "field": field, "label": label}
    if value is None:
        raise InvalidInput(REQUIRED(**names), field=field)
    if not isinstance(value, str):
        raise InvalidInput(f"{named} must be text", field=field)
    cleaned = unicodedata.normalize("NFC", value).strip()
    if not cleaned:
        raise InvalidInput(EMPTY(**names), field=field)
    if len(cleaned) > max_len:
        raise InvalidInput(TOO_LONG(**names, length=len(cleaned), max=max_len), field=field)
    allowed = "\n\t" if multiline else ""
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in cleaned):
        raise InvalidInput(CONTROL_CHARACTERS(**names), field=field)
    return cleaned


def choice(value: object, enum: type[_E], field: str) -> _E:
    """One of the values of ``enum``."""
    try:
        return enum(str(value))
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidInput(
            NOT_ONE_OF(field=field, allowed=allowed, value=value), field=field
        ) from None


def _optional_choice(enum: type[_E], field: str) -> Callable[[object], str | None]:
    return lambda value: None if value is None else choice(value, enum, field).value


def _recipients(value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInput("recipients must be a list of names", field="recipients")
    names = [required_text(v, "recipients", CORRESPONDENT_MAX) for v in value]
    if len(names) > RECIPIENTS_MAX:
        raise InvalidInput(TOO_MANY_RECIPIENTS(max=RECIPIENTS_MAX), field="recipients")
    return names


def _date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(SENDER_DATE(), field="sender_date")


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("confidential must be true or false", field="confidential")
    return value


#: Fields of a registration a correction may change, each with its rule (values as stored).
CORRECTABLE: dict[str, Callable[[object], Any]] = {
    "direction": lambda v: choice(v, Direction, "direction").value,
    "subject": lambda v: required_text(v, "subject", SUBJECT_MAX, multiline=True),
    "sender": lambda v: text(v, "sender", CORRESPONDENT_MAX, required=False),
    "recipients": _recipients,
    "sender_reference": lambda v: text(v, "sender_reference", REFERENCE_MAX, required=False),
    "sender_date": _date,
    "channel": _optional_choice(Channel, "channel"),
    "classification_code": lambda v: text(
        v, "classification_code", CLASSIFICATION_MAX, required=False
    ),
    "confidential": _bool,
}

#: Every field a correction may name: those above, and the related registrations, whose
#: value is the whole new list of references.
CORRECTABLE_FIELDS = frozenset({*CORRECTABLE, "related"})

#: Fields the system assigns; no correction may touch them.
SYSTEM_FIELDS = frozenset(
    {
        "id",
        "book",
        "year",
        "number",
        "protocol_number",
        "registered_at",
        "registered_by",
        "files",
        "sha256",
        "status",
        "cancellation",
        "corrections",
    }
)


@dataclass(frozen=True, slots=True)
class CleanRegistration:
    """A :class:`NewRegistration` after every rule has passed."""

    book: str
    related: tuple[ProtocolRef, ...]
    values: dict[str, Any]


def clean_registration(data: NewRegistration, *, default_book: str) -> CleanRegistration:
    """Apply every rule to ``data``; raise ``InvalidInput`` on the first that fails."""
    values = {name: rule(getattr(data, name)) for name, rule in CORRECTABLE.items()}
    book = required_text(data.book or default_book, "book", BOOK_CODE_MAX)
    related = related_refs(data.related, default_book=book)
    return CleanRegistration(book=book, related=related, values=values)


def related_refs(value: object, *, default_book: str) -> tuple[ProtocolRef, ...]:
    """Protocol references to related registrations, each once, in order (``field='related'``).

    A reference without a book (``2026/15``) is to ``default_book``.
    """
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInput("related must be a list of protocol references", field="related")
    related = tuple(
        dict.fromkeys(
            ref
            if isinstance(ref, ProtocolRef)
            else ProtocolRef.parse(ref, default_book=default_book)
            for ref in value
        )
    )
    if len(related) > RELATED_MAX:
        raise InvalidInput(TOO_MANY_RELATED(max=RELATED_MAX), field="related")
    return related


def period(start: date | None, end: date | None, *, field: str = "to") -> None:
    """Refuse a period (of days, or of instants) that ends before it starts.

    ``field`` is the one the refusal names: the end of a ``from``/``to`` filter, by default.
    """
    if start is not None and end is not None and start > end:
        raise InvalidInput(BACKWARDS(), field=field)


def actor(value: object) -> str:
    """The user name recorded as having done something."""
    return required_text(value, "by", ACTOR_MAX)


def file_role(value: object) -> FileRole:
    """``main`` or ``attachment``."""
    return choice(value, FileRole, "role")
