"""A sandboxed PDF checker process (see :mod:`eprotocol.sandbox`): ``{"path"}`` in, a report out.

Started by :class:`eprotocol.intake.pdf.SandboxedPdfInspector`. A hostile PDF
can make this process loop or run out of memory; the parent then kills or
loses it and refuses the file.
"""

from __future__ import annotations

import io
from typing import Any

from pypdf import PasswordType, PdfReader
from pypdf.errors import LimitReachedError
from pypdf.generic import DictionaryObject

from eprotocol.core import intake
from eprotocol.core.errors import Phrase
from eprotocol.sandbox import serve

_RAW_MARKERS = {
    b"/JavaScript": "contains JavaScript",
    b"/JS": "contains JavaScript",
    b"/Launch": "contains an action that launches a program (Launch)",
    b"/EmbeddedFile": "contains embedded files",
}


def _action_warnings(action: Any) -> set[str]:
    found = set()
    if isinstance(action, DictionaryObject):
        kind = action.get("/S")
        if kind == "/JavaScript":
            found.add("contains JavaScript")
        elif kind == "/Launch":
            found.add("contains an action that launches a program (Launch)")
    return found


def _structure_warnings(reader: PdfReader) -> set[str]:
    found: set[str] = set()
    root = reader.root_object
    opening = root.get("/OpenAction")
    opening = opening.get_object() if opening is not None else None
    # A destination, or a GoTo action to one, only says at which page and zoom to open
    # (fpdf2, LaTeX's hyperref and many scanners write one): not active content.
    if isinstance(opening, DictionaryObject) and opening.get("/S") != "/GoTo":
        found.add("runs an action when opened (OpenAction)")
        found |= _action_warnings(opening)
    if "/AA" in root:
        found.add("has automatic actions (AA)")
    names = root.get("/Names")
    if names is not None:
        names = names.get_object()
        if "/JavaScript" in names:
            found.add("contains JavaScript")
        if "/EmbeddedFiles" in names:
            found.add("contains embedded files")
    for page in reader.pages:
        if "/AA" in page:
            found.add("has automatic actions (AA)")
        for annot in page.get("/Annots", None) or []:
            annot = annot.get_object()
            if annot.get("/Subtype") == "/FileAttachment":
                found.add("contains embedded files")
            if "/A" in annot:
                found |= _action_warnings(annot["/A"].get_object())
    return found


def _refused(phrase: Phrase, **values: str) -> dict[str, Any]:
    """A refusal as the parent reads it: the kind of ``phrase`` and its values."""
    return {"refusal": phrase.kind, "values": values}


def inspect(data: bytes) -> dict[str, Any]:
    """Report on one PDF: ``{"refusal": kind | None, "values": {...}, "pages", "warnings"}``.

    A refusal is one of the ``PDF_*`` phrases of :mod:`eprotocol.core.intake`, by kind.
    """
    if data.find(b"%PDF-", 0, 1024) < 0:
        return _refused(intake.PDF_NO_HEADER)
    eof = data.rfind(b"%%EOF")
    if eof < 0:
        return _refused(intake.PDF_TRUNCATED)
    if data[eof + 5 :].strip(b"\r\n\t\f \x00"):
        return _refused(intake.PDF_AFTER_END)
    if b"PK\x05\x06" in data or b"PK\x03\x04" in data[:1024]:
        return _refused(intake.PDF_POLYGLOT)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            return _refused(intake.PDF_ENCRYPTED)
        pages = len(reader.pages)
        if pages == 0:
            return _refused(intake.PDF_NO_PAGES)
        for page in reader.pages:
            contents = page.get_contents()
            if contents is not None:
                contents.get_data()  # decompresses every content stream
        warnings = _structure_warnings(reader)
    except LimitReachedError as exc:
        return _refused(intake.PDF_LIMIT, detail=str(exc))
    except MemoryError:
        return _refused(intake.PDF_MEMORY)
    except RecursionError:
        return _refused(intake.PDF_NESTED)
    except Exception as exc:  # noqa: BLE001 - any parser failure means "not a readable PDF"
        return _refused(intake.PDF_UNREADABLE, detail=f"{type(exc).__name__}: {str(exc)[:200]}")
    warnings |= {text for marker, text in _RAW_MARKERS.items() if marker in data}
    return {"refusal": None, "pages": pages, "warnings": sorted(warnings)}


def _signatures(data: bytes, trust_pem: str, ours_pem: str) -> list[dict[str, Any]]:
    """Validate the signatures of an accepted PDF (pyHanko, only when it has any)."""
    if b"/ByteRange" not in data:
        return []
    # Imported here: pyHanko is large, and most incoming files carry no signature.
    from eprotocol.core.certificates import describe
    from eprotocol.core.errors import InvalidInput
    from eprotocol.pdf.signing import check_signatures, load_trust_roots

    ours = load_trust_roots([ours_pem.encode()]) if ours_pem else []
    try:
        checks = check_signatures(
            data, load_trust_roots([trust_pem.encode()]), {bytes(c.dump()) for c in ours}
        )
    except InvalidInput:
        return []
    return describe(checks)


def _handle(request: dict[str, Any]) -> dict[str, Any]:
    try:
        with open(request["path"], "rb") as source:  # noqa: PTH123 - plain open keeps start-up lean
            data = source.read()
    except OSError as exc:
        return _refused(intake.PDF_NOT_OPENED, detail=str(exc.strerror))
    report = inspect(data)
    if report["refusal"] is None or request.get("signatures_if_refused"):
        report["signatures"] = _signatures(data, request.get("trust", ""), request.get("ours", ""))
    return report


if __name__ == "__main__":
    serve(_handle)
