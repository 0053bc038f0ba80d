"""Layout of the PDFs the archive draws: long Greek names stay whole and inside their places."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pypdfium2
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from eprotocol.core.certificates import CertificateSheet, Seal
from eprotocol.pdf.render import ReportlabRenderer
from tests.pdfs import make_pdf

LONG_NAME = "Δήμος Αγίου Νικολάου Περιφερειακής Ενότητας Λασιθίου"
LONG_URL = "https://eprotocol.agios-nikolaos.gr/verify/GRL9-PMBX-HFZ8-AQ3H"
#: Where the seal of a certificate is drawn (points: left, bottom, right, top).
CERTIFICATE_SEAL = (25 * mm, 15 * mm, 120 * mm, 45 * mm)
#: Where the seal of a stamped document is drawn (12 mm, 8 mm from the lower left corner).
STAMP_SEAL = (12 * mm, 8 * mm, 107 * mm, 38 * mm)


def _seal(organisation: str, url: str) -> Seal:
    when = datetime(2026, 11, 29, 10, 43, tzinfo=ZoneInfo("Europe/Athens"))
    return Seal(organisation, "12345/2026", when, "GRL9-PMBX-HFZ8", url)


def _boxes(page: pypdfium2.PdfPage) -> list[tuple[float, float, float, float]]:
    text = page.get_textpage()
    chars = text.get_text_range()
    return [text.get_charbox(i, loose=False) for i in range(text.count_chars()) if chars[i].strip()]


def _overlapping(boxes: list[tuple[float, float, float, float]]) -> list[int]:
    """Indexes of characters drawn over another one (by more than rounding)."""
    found = []
    for i, (left, bottom, right, top) in enumerate(boxes):
        for other in boxes[i + 1 :]:
            width = min(right, other[2]) - max(left, other[0])
            height = min(top, other[3]) - max(bottom, other[1])
            if width > 0.5 and height > 0.5:
                found.append(i)
    return found


def _text_in(page: pypdfium2.PdfPage, box: tuple[float, float, float, float]) -> str:
    return " ".join(page.get_textpage().get_text_bounded(*box).split())


@pytest.mark.parametrize(
    ("organisation", "url"),
    [("Δήμος Χανίων", "http://127.0.0.1:8000/verify/GRL9-PMBX-HFZ8"), (LONG_NAME, LONG_URL)],
    ids=["short", "long"],
)
def test_a_certificate_keeps_every_line_whole_and_apart(organisation: str, url: str) -> None:
    sheet = CertificateSheet(_seal(organisation, url), "Βεβαίωση", ("Βεβαιώνεται ότι…",))
    page = pypdfium2.PdfDocument(ReportlabRenderer().certificate(sheet))[0]
    boxes = _boxes(page)
    assert _overlapping(boxes) == []  # the name runs into the number on the right no more
    width, _ = A4
    assert all(25 * mm - 1 <= box[0] and box[2] <= width - 25 * mm + 1 for box in boxes)
    seal = _text_in(page, CERTIFICATE_SEAL)
    assert organisation in seal and url in seal
    assert _text_in(page, (25 * mm, 200 * mm, 125 * mm, 280 * mm)).count(organisation) == 1


@pytest.mark.parametrize(
    ("url", "printed"),
    [(LONG_URL, LONG_URL), (LONG_URL + "?" + "x" * 60, LONG_URL + "?xxxxxxxxx…")],
    ids=["shrunk", "cut"],
)
def test_a_stamp_keeps_a_long_name_and_address_inside_the_seal(url: str, printed: str) -> None:
    stamped = ReportlabRenderer().stamp(make_pdf(1), _seal(LONG_NAME, url))
    page = pypdfium2.PdfDocument(stamped)[0]
    seal = _text_in(page, STAMP_SEAL)
    assert LONG_NAME in seal and printed in seal
    inside = [b for b in _boxes(page) if b[0] < STAMP_SEAL[2] and b[1] < STAMP_SEAL[3]]
    assert inside and all(box[2] <= STAMP_SEAL[2] for box in inside)
    assert _overlapping(inside) == []
