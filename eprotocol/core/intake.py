"""Intake rules: which files the archive accepts, decided on their bytes.

The rules here are pure; reading the bytes (python-magic) and parsing PDFs
(pypdf, in sandboxed worker processes) happen in :mod:`eprotocol.intake`,
behind the :class:`ContentSniffer` and :class:`PdfInspector` ports.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from eprotocol.config import PDF, IntakePolicy
from eprotocol.core.errors import Phrase, RefusedFile, Text
from eprotocol.core.types import FileRole, SignatureCheck

FILENAME_MAX = 255
#: How many leading bytes decide a file's media type (enough for PDF, images, OOXML/ODF).
SNIFF_BYTES = 64 * 1024

#: Characters that reorder displayed text (used to disguise ``exe.pdf`` as ``fdp.exe``).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

NO_NAME = Phrase("file-without-name", "every file needs a name")
NAME_WITH_PATH = Phrase("filename-path", "the filename {name!r} contains a path")
NAME_CONTROL = Phrase(
    "filename-control-characters", "the filename {name!r} contains control characters"
)
NAME_REVERSING = Phrase(
    "filename-reversing",
    "the filename {name!r} contains characters that reverse the displayed text",
)
NAME_TOO_LONG = Phrase(
    "filename-too-long", "the filename is {length} characters long; at most {max} are allowed"
)
#: A file of a type not accepted in its role (``main``: the main document, or not).
WRONG_TYPE = Phrase("file-type", "{file} is {what}, not accepted as {role} (expected {expected})")
TOO_LARGE = Phrase("file-too-large", "{file} is larger than {mb:g} MB")
EMPTY_FILE = Phrase("empty-file", "{file} is empty")
#: A PDF the reader refused: ``why`` is one of the ``PDF_*`` phrases below.
PDF_REFUSED = Phrase("pdf-refused", "{file} {why}")
PDF_NO_HEADER = Phrase("pdf-no-header", "has no PDF header")
PDF_TRUNCATED = Phrase("pdf-truncated", "is truncated (no end-of-file marker)")
PDF_AFTER_END = Phrase(
    "pdf-after-end", "has data after the end of the PDF (a file disguised as a PDF?)"
)
PDF_POLYGLOT = Phrase("pdf-polyglot", "also contains a ZIP archive (a polyglot file)")
PDF_ENCRYPTED = Phrase("pdf-encrypted", "is encrypted and cannot be opened without a password")
PDF_NO_PAGES = Phrase("pdf-no-pages", "has no pages")
PDF_LIMIT = Phrase(
    "pdf-limit", "exceeds a safety limit of the PDF reader ({detail}): a decompression bomb?"
)
PDF_MEMORY = Phrase("pdf-memory", "needs too much memory to open (a decompression bomb?)")
PDF_CRASH = Phrase("pdf-crash", "crashed the PDF reader (a decompression bomb?)")
PDF_NESTED = Phrase("pdf-nested", "has a structure nested too deeply to read")
PDF_SLOW = Phrase("pdf-slow", "takes longer than {limit:g} s to read (malformed?)")
PDF_UNREADABLE = Phrase("pdf-unreadable", "cannot be read as a PDF ({detail})")
PDF_NOT_OPENED = Phrase("pdf-not-opened", "could not be opened for checking ({detail})")

#: Human names of common media types, for refusal messages read by staff.
_KIND = {
    "application/x-empty": "an empty file",
    "text/html": "an HTML page",
    "application/zip": "a ZIP archive",
    "application/x-dosexec": "a Windows program",
    "application/x-executable": "a program",
}


@dataclass(frozen=True, slots=True)
class PdfReport:
    """What the sandboxed parser found in a PDF.

    ``refusal`` is ``None`` for an acceptable file; ``warnings`` name active
    content (JavaScript, automatic actions, launch actions, embedded files).
    The file itself is never changed by the checks.
    """

    refusal: Text | None
    pages: int = 0
    warnings: tuple[str, ...] = ()
    #: The digital signatures in the file and how they validated.
    signatures: tuple[SignatureCheck, ...] = ()


class PdfInspector(Protocol):
    """Parses a PDF in isolation (time and memory limits) and reports on it."""

    def inspect(self, path: Path, *, signatures_if_refused: bool = False) -> PdfReport:
        """Report on the PDF stored at ``path``; never raises for a bad file.

        Signatures are validated for acceptable files, and with
        ``signatures_if_refused`` for refused ones too (a verifier wants the
        verdict on a damaged signed PDF; intake, which refuses it, does not).
        """
        ...


def clean_filename(name: object) -> str:
    """Return ``name`` NFC-normalised and trimmed, or refuse it.

    A filename is only a label shown to staff, but a disguised or path-like name
    is a sign of a hostile file, so it is refused rather than silently changed:
    path separators and ``..``, control characters and bidi overrides are not
    accepted. Greek and other letters are kept.
    """
    if not isinstance(name, str) or not name.strip():
        raise RefusedFile(NO_NAME())
    cleaned = unicodedata.normalize("NFC", name).strip()
    shown = cleaned.encode("unicode_escape").decode("ascii")
    if "/" in cleaned or "\\" in cleaned or cleaned in {".", ".."}:
        raise RefusedFile(NAME_WITH_PATH(name=shown), filename=shown)
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise RefusedFile(NAME_CONTROL(name=shown), filename=shown)
    if BIDI_CONTROLS.intersection(cleaned):
        raise RefusedFile(NAME_REVERSING(name=shown), filename=shown)
    if len(cleaned) > FILENAME_MAX:
        raise RefusedFile(
            NAME_TOO_LONG(length=len(cleaned), max=FILENAME_MAX), filename=cleaned[:40]
        )
    return cleaned


def check_type(filename: str, role: FileRole, media_type: str, policy: IntakePolicy) -> None:
    """Refuse a file whose content type is not allowed for its role."""
    allowed = policy.main_types if role is FileRole.MAIN else policy.attachment_types
    if media_type in allowed:
        return
    what = _KIND.get(media_type, f"of type {media_type}")
    expected = "a PDF" if allowed == {PDF} else "one of: " + ", ".join(sorted(allowed))
    role_name = "main document" if role is FileRole.MAIN else "attachment"
    refusal = WRONG_TYPE(
        file=filename,
        what=what,
        role=role_name,
        expected=expected,
        media_type=media_type,
        main=role is FileRole.MAIN,
    )
    raise RefusedFile(refusal, filename=filename)


def too_large(filename: str, policy: IntakePolicy) -> RefusedFile:
    """The refusal of a file over the size limit."""
    limit_mb = policy.max_file_bytes / (1024 * 1024)
    return RefusedFile(TOO_LARGE(file=filename, mb=limit_mb), filename=filename)
