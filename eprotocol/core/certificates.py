"""Certificates (βεβαιώσεις), sealed outgoing documents and their public verification.

A certificate is an outgoing registration whose one-page PDF the archive
renders from a template, then *seals*: the page carries the organisation,
protocol number, date, a verification code and a QR code of the verify link,
and the file is signed with the organisation's key (PAdES). Anyone can check
a sealed document by its code or by uploading the file, and learns only what
the document itself says publicly: its number, date, title and issuer.

Rendering and signing are adapters (:mod:`eprotocol.pdf`) behind the
:class:`DocumentRenderer` and :class:`Signer` ports defined here.
"""

from __future__ import annotations

import re
import secrets
import string
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from eprotocol.core import validation
from eprotocol.core.errors import InvalidInput, NotFound, Phrase, SigningUnavailable
from eprotocol.core.types import CERTIFICATE_EXPIRED, SignatureCheck

# -- verification codes -----------------------------------------------------

#: Digits and capitals without 0/O, 1/I: nothing a citizen can mistype for something else.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CODE_LENGTH = 16  # 16 symbols of 32 = 80 random bits
_GROUP = 4
#: Greek capitals that look like Latin ones, as typed on a Greek keyboard layout.
_HOMOGLYPHS = str.maketrans("ΑΒΕΖΗΚΜΝΡΤΥΧ", "ABEZHKMNPTYX")
_SEPARATORS = re.compile(r"[\s\-_.]+")
_TYPABLE = CODE_ALPHABET + CODE_ALPHABET.lower() + "ΑΒΕΖΗΚΜΝΡΤΥΧαβεζηκμνρτυχ"
#: Every text :func:`normalise_code` accepts (for schemas that check input up front).
CODE_PATTERN = rf"^[\s\-_.]*([{_TYPABLE}][\s\-_.]*){{{_CODE_LENGTH}}}$"


def new_verification_code() -> str:
    """A fresh random code of 80 bits, grouped for reading aloud: ``7KQ3-M9XD-T4PA-2HWN``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    return "-".join(raw[i : i + _GROUP] for i in range(0, _CODE_LENGTH, _GROUP))


def normalise_code(text: str) -> str:
    """The canonical form of a code as a person typed it, or ``InvalidInput``.

    Case, spaces and dashes do not matter, and Greek capitals that look like
    Latin ones (typed with the Greek keyboard layout) are read as Latin.
    """
    raw = _SEPARATORS.sub("", unicodedata.normalize("NFC", text).upper()).translate(_HOMOGLYPHS)
    if len(raw) != _CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        raise InvalidInput(
            "a verification code has 16 letters and digits, like 7KQ3-M9XD-T4PA-2HWN",
            field="code",
        )
    return "-".join(raw[i : i + _GROUP] for i in range(0, _CODE_LENGTH, _GROUP))


# -- what the PDF adapters are given ----------------------------------------


@dataclass(frozen=True, slots=True)
class Seal:
    """What the visible stamp on a sealed document says."""

    organisation: str
    protocol_number: str
    #: Registration time in the archive's time zone.
    registered_at: datetime
    verification_code: str
    verify_url: str


@dataclass(frozen=True, slots=True)
class CertificateSheet:
    """A certificate page to render: its title, its paragraphs of plain text and its seal."""

    seal: Seal
    title: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RegisterLine:
    """One line of a daily register."""

    time: str
    protocol_number: str
    event: str
    text: str


@dataclass(frozen=True, slots=True)
class DailyRegisterSheet:
    """The printable daily register of one day."""

    organisation: str
    day: date
    lines: tuple[RegisterLine, ...]
    audit_head: str
    json_sha256: str


class DocumentRenderer(Protocol):
    """Makes the PDFs the archive issues (reportlab in :mod:`eprotocol.pdf`)."""

    def certificate(self, sheet: CertificateSheet) -> bytes:
        """A one-page certificate with its seal."""
        ...

    def stamp(self, pdf: bytes, seal: Seal) -> bytes:
        """``pdf`` with the seal drawn on its first page (``InvalidInput`` if it is signed)."""
        ...

    def daily_register(self, sheet: DailyRegisterSheet) -> bytes:
        """The daily register as a PDF table."""
        ...


#: The timestamp server failed: nothing is signed until it answers (``pdf/signing.py``).
TIMESTAMP_SERVER_DOWN = Phrase(
    "timestamp-server-down",
    "the timestamp server {url} does not answer; documents are signed again once it does "
    "(next try in {seconds} s)",
)


class Signer(Protocol):
    """Signs PDFs with the organisation's key and validates signatures (pyHanko)."""

    @property
    def signer_name(self) -> str:
        """Who signs: the subject of the organisation's certificate."""
        ...

    @property
    def certificate_pem(self) -> bytes:
        """The organisation's signing certificate (public), PEM-encoded."""
        ...

    @property
    def valid_until(self) -> datetime:
        """When the organisation's certificate expires: what it signs later is not valid."""
        ...

    @property
    def trust_roots_pem(self) -> bytes:
        """Every certificate signatures are checked against (ours first), PEM-encoded."""
        ...

    def check_available(self) -> None:
        """Raise ``SigningUnavailable`` while signing is known to fail (no timestamp server).

        Asked before a number is taken: a signature is made while the protocol book
        waits for it, and one that cannot be made should not hold the book.
        """
        ...

    def sign(self, pdf: bytes) -> bytes:
        """``pdf`` with a PAdES signature (and a timestamp when configured) appended."""
        ...

    def check_issued(self, pdf: bytes) -> tuple[SignatureCheck, ...]:
        """Validate the signatures of ``pdf``, a file this archive issued, byte for byte.

        Its signer's certificate counts as ours and trusted, whichever it was: the
        current one, or one used before the organisation's certificate was renewed.
        ``InvalidInput`` if it cannot be read.
        """
        ...


def ready_to_sign(signer: Signer, now: datetime) -> None:
    """Raise ``SigningUnavailable`` if ``signer`` cannot sign now; asked before a number is taken.

    Its certificate has expired (a signature made with it would not validate), or
    its timestamp server is known not to answer.
    """
    if now >= signer.valid_until:
        until = signer.valid_until.astimezone(now.tzinfo)
        raise SigningUnavailable(CERTIFICATE_EXPIRED(name=signer.signer_name, until=until))
    signer.check_available()


# -- verification results ---------------------------------------------------


class VerificationStatus(StrEnum):
    """What a verification code or file turned out to be."""

    VALID = "valid"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Verification:
    """The public facts about a sealed document: never the citizen's personal data."""

    status: VerificationStatus
    verification_code: str | None = None
    protocol_number: str | None = None
    registered_at: datetime | None = None
    title: str | None = None
    issuer: str | None = None
    sha256: str | None = None
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PdfVerification:
    """Whether an uploaded file is a document we issued, unchanged and validly signed.

    ``authentic`` is true only for a byte-identical copy of an issued document
    whose signature is intact and ours; ``reasons`` say in Greek why not.
    ``document`` describes the issued document the file is (or was derived from)
    when one is recognised, and its ``status`` says whether it is still valid.
    """

    authentic: bool
    identical: bool
    document: Verification
    signatures: tuple[SignatureCheck, ...]
    reasons: tuple[str, ...]


# -- templates ------------------------------------------------------------------


class FieldKind(StrEnum):
    """How a template field is checked and printed."""

    TEXT = "text"
    LONG_TEXT = "long_text"
    DATE = "date"
    AFM = "afm"  # Greek tax number, with its check digit
    AMKA = "amka"  # social security number, 11 digits with a Luhn check digit


@dataclass(frozen=True, slots=True)
class TemplateField:
    """One value a certificate template asks for."""

    name: str
    label: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = True
    max_length: int = 200
    default: str | None = None
    #: The citizen the certificate is for: recorded as the registration's recipient.
    recipient: bool = False
    #: A line under the field on the issuing form: what to write there (how the body's
    #: sentence goes on, an example).
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateTemplate:
    """A kind of certificate: its code, Greek title, fields and body text.

    The body is plain text with ``$name`` placeholders; blank lines separate
    paragraphs.
    """

    code: str
    title: str
    fields: tuple[TemplateField, ...]
    body: str
    classification: str | None = None

    def clean(self, values: Mapping[str, object]) -> dict[str, str]:
        """The field values checked and normalised, or ``InvalidInput`` naming the field."""
        known = {f.name for f in self.fields}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInput(
                f"template {self.code!r} has no field {unknown[0]!r}", field=f"fields.{unknown[0]}"
            )
        return {f.name: _clean_field(f, values.get(f.name)) for f in self.fields}

    def paragraphs(self, values: Mapping[str, str]) -> tuple[str, ...]:
        """The body with ``values`` filled in, paragraph by paragraph."""
        text = string.Template(self.body).substitute(values)
        return tuple(
            " ".join(block.split()) for block in re.split(r"\n\s*\n", text) if block.strip()
        )


def _afm_ok(digits: str) -> bool:
    total = sum(int(d) << (8 - i) for i, d in enumerate(digits[:8]))
    return total % 11 % 10 == int(digits[8])


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


#: A certificate field's value that is no valid ΑΦΜ or ΑΜΚΑ (``kind``), or no date.
NOT_VALID = Phrase("not-a-valid-number", "{label}: {text!r} is not a valid {kind}")
NOT_A_DATE = Phrase("not-a-printed-date", "{label}: {text!r} is not a date (ΗΗ/ΜΜ/ΕΕΕΕ)")


def _clean_field(spec: TemplateField, value: object) -> str:
    name = f"fields.{spec.name}"
    if value is None or (isinstance(value, str) and not value.strip()):
        if spec.default is not None:
            return spec.default
        if spec.required:
            named = f"{spec.label} ({name})"
            raise InvalidInput(
                validation.REQUIRED(named=named, field=name, label=spec.label), field=name
            )
        return ""
    multiline = spec.kind is FieldKind.LONG_TEXT
    text = validation.required_text(
        value, name, spec.max_length, multiline=multiline, label=spec.label
    )
    if spec.kind is FieldKind.DATE:
        return _clean_date(text, spec, name)
    if spec.kind is FieldKind.AFM and not (text.isdigit() and len(text) == 9 and _afm_ok(text)):
        raise InvalidInput(NOT_VALID(label=spec.label, text=text, kind="ΑΦΜ"), field=name)
    if spec.kind is FieldKind.AMKA and not (text.isdigit() and len(text) == 11 and _luhn_ok(text)):
        raise InvalidInput(NOT_VALID(label=spec.label, text=text, kind="ΑΜΚΑ"), field=name)
    return text


def _clean_date(text: str, spec: TemplateField, name: str) -> str:
    """A date as ``DD/MM/YYYY`` (how Greek documents print it), from that form or ISO."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            parsed = datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
        return parsed.strftime("%d/%m/%Y")
    raise InvalidInput(NOT_A_DATE(label=spec.label, text=text), field=name)


def _template_from_toml(data: Mapping[str, Any], origin: str) -> CertificateTemplate:
    try:
        fields = tuple(
            TemplateField(
                name=str(f["name"]),
                label=str(f["label"]),
                kind=FieldKind(f.get("kind", "text")),
                required=bool(f.get("required", True)),
                max_length=int(f.get("max_length", 2000 if f.get("kind") == "long_text" else 200)),
                default=f.get("default"),
                recipient=bool(f.get("recipient", False)),
                hint=None if f.get("hint") is None else str(f["hint"]),
            )
            for f in data["fields"]
        )
        template = CertificateTemplate(
            code=str(data["code"]),
            title=str(data["title"]),
            fields=fields,
            body=str(data["body"]),
            classification=data.get("classification"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"certificate template {origin} is malformed: {exc}") from None
    names = {f.name for f in fields}
    placeholders = set(string.Template(template.body).get_identifiers())
    if not string.Template(template.body).is_valid() or not placeholders <= names:
        missing = sorted(placeholders - names)
        raise InvalidInput(
            f"certificate template {origin} uses undeclared fields {missing} in its body"
        )
    if not re.fullmatch(r"[a-z0-9][a-z0-9\-]{0,63}", template.code):
        raise InvalidInput(f"certificate template {origin}: the code uses only a-z, 0-9 and -")
    return template


def load_templates(extra_dir: Path | None) -> dict[str, CertificateTemplate]:
    """The templates eprotocol ships, then those in ``extra_dir`` (which may replace them)."""
    sources: list[tuple[str, str]] = [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in sorted(
            resources.files("eprotocol").joinpath("certificate_templates").iterdir(),
            key=lambda e: e.name,
        )
        if entry.name.endswith(".toml")
    ]
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise InvalidInput(
                f"the templates directory {extra_dir} does not exist", field="templates_dir"
            )
        sources += [
            (str(p), p.read_text(encoding="utf-8")) for p in sorted(extra_dir.glob("*.toml"))
        ]
    templates = {}
    for origin, text in sources:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"certificate template {origin} is not valid TOML: {exc}") from None
        template = _template_from_toml(data, origin)
        templates[template.code] = template
    return templates


def pick(templates: Mapping[str, CertificateTemplate], code: str) -> CertificateTemplate:
    """The template named ``code``, or ``NotFound`` listing those that exist."""
    try:
        return templates[code]
    except KeyError:
        known = ", ".join(sorted(templates))
        raise NotFound(f"there is no certificate template {code!r} (there are: {known})") from None


def recipients(template: CertificateTemplate, values: Mapping[str, str]) -> list[str]:
    """The names the certificate is issued to (its registration's recipients)."""
    return [values[f.name] for f in template.fields if f.recipient and values[f.name]]


def describe(checks: Iterable[SignatureCheck]) -> list[dict[str, Any]]:
    """Signature checks as JSON-ready dicts (stored on files, shown in APIs)."""
    return [
        {
            "field": c.field,
            "signer": c.signer,
            "intact": c.intact,
            "valid": c.valid,
            "trusted": c.trusted,
            "ours": c.ours,
            "covers_whole_file": c.covers_whole_file,
            "modification": c.modification,
            "signed_at": c.signed_at.isoformat() if c.signed_at else None,
            "problem": c.problem,
            "signed_bytes": c.signed_bytes,
            "certificate_sha256": c.certificate_sha256,
        }
        for c in checks
    ]


def checks_from_json(items: Iterable[Mapping[str, Any]]) -> tuple[SignatureCheck, ...]:
    """The inverse of :func:`describe`."""
    return tuple(
        SignatureCheck(
            field=i["field"],
            signer=i["signer"],
            intact=i["intact"],
            valid=i["valid"],
            trusted=i["trusted"],
            ours=i["ours"],
            covers_whole_file=i["covers_whole_file"],
            modification=i["modification"],
            signed_at=datetime.fromisoformat(i["signed_at"]) if i.get("signed_at") else None,
            problem=i.get("problem"),
            signed_bytes=i.get("signed_bytes"),
            certificate_sha256=i.get("certificate_sha256"),
        )
        for i in items
    )
