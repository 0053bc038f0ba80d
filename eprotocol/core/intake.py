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
from eprotocol.core.errors import RefusedFile
from eprotocol.core.types import FileRole, SignatureCheck

FILENAME_MAX = 255
#: How many leading bytes decide a file's media type (enough for PDF, images, OOXML/ODF).
SNIFF_BYTES = 64 * 1024

#: Characters that reorder displayed text (used to disguise ``exe.pdf`` as ``fdp.exe``).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

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

    refusal: str | None
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
        raise RefusedFile("every file needs a name")
    cleaned = unicodedata.normalize("NFC", name).strip()
    shown = cleaned.encode("unicode_escape").decode("ascii")
    if "/" in cleaned or "\\" in cleaned or cleaned in {".", ".."}:
        raise RefusedFile(f"the filename {shown!r} contains a path", filename=shown)
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise RefusedFile(f"the filename {shown!r} contains control characters", filename=shown)
    if BIDI_CONTROLS.intersection(cleaned):
        raise RefusedFile(
            f"the filename {shown!r} contains characters that reverse the displayed text",
            filename=shown,
        )
    if len(cleaned) > FILENAME_MAX:
        raise RefusedFile(
            f"the filename is {len(cleaned)} characters long; at most {FILENAME_MAX} are allowed",
            filename=cleaned[:40],
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
    raise RefusedFile(
        f"{filename} is {what}, not accepted as {role_name} (expected {expected})",
        filename=filename,
    )


def too_large(filename: str, policy: IntakePolicy) -> RefusedFile:
    """The refusal of a file over the size limit."""
    limit_mb = policy.max_file_bytes / (1024 * 1024)
    return RefusedFile(f"{filename} is larger than {limit_mb:g} MB", filename=filename)
