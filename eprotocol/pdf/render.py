"""The PDFs eprotocol itself makes, with reportlab: certificates, seals and daily registers.

Greek text uses DejaVu Sans, shipped with the package (``fonts/``), so the
output looks the same on every machine. QR codes are encoded by segno and
drawn as vector squares.
"""

from __future__ import annotations

import io
import math
import threading
import unicodedata
from importlib import resources
from xml.sax.saxutils import escape

import segno
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Frame, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from eprotocol.core.certificates import CertificateSheet, DailyRegisterSheet, Seal
from eprotocol.core.errors import InvalidInput

REGULAR = "EProtocolSans"
BOLD = "EProtocolSans-Bold"
_fonts_lock = threading.Lock()
_fonts_ready = False

_BODY = ParagraphStyle("body", fontName=REGULAR, fontSize=11.5, leading=17, firstLineIndent=10 * mm)
_SEAL_WIDTH = 95 * mm
_SEAL_HEIGHT = 30 * mm


def _register_fonts() -> None:
    global _fonts_ready  # reportlab's font registry is process-wide too
    if _fonts_ready:
        return
    with _fonts_lock:
        if _fonts_ready:
            return
        folder = resources.files("eprotocol.pdf").joinpath("fonts")
        for name, filename in ((REGULAR, "DejaVuSans.ttf"), (BOLD, "DejaVuSans-Bold.ttf")):
            with resources.as_file(folder.joinpath(filename)) as path:
                pdfmetrics.registerFont(TTFont(name, str(path)))
        _fonts_ready = True


def _capitals(text: str) -> str:
    """Greek in capitals drops its accents (ΒΕΒΑΙΩΣΗ, not ΒΕΒΑΊΩΣΗ); diaeresis stays."""
    decomposed = unicodedata.normalize("NFD", text.upper())
    return unicodedata.normalize("NFC", decomposed.replace("\u0301", ""))


def _date(seal: Seal) -> str:
    return seal.registered_at.strftime("%d/%m/%Y")


def _wrapped(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """``text`` in lines no wider than ``width``; "…" ends the last line if it does not all fit."""
    lines: list[str] = simpleSplit(text, font, size, width)
    if len(lines) <= max_lines and pdfmetrics.stringWidth(lines[-1], font, size) <= width:
        return lines  # (a word wider than the line is left whole by simpleSplit: cut below)
    last = " ".join(lines[max_lines - 1 :])
    while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
        last = last[:-1]
    return [*lines[: max_lines - 1], last.rstrip() + "…"]


def _draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """Draw ``text`` as a QR code whose lower-left corner is at (x, y)."""
    qr = segno.make(text, error="m", micro=False)
    rows = [list(row) for row in qr.matrix]
    border = 2
    module = size / (len(rows) + 2 * border)
    path = canvas.beginPath()
    for r, row in enumerate(rows):
        top = y + size - (r + border + 1) * module
        c = 0
        while c < len(row):  # one rectangle per run of dark modules keeps the file small
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            path.rect(x + (start + border) * module, top, (c - start) * module, module)
    canvas.setFillColor(colors.black)
    canvas.drawPath(path, stroke=0, fill=1)


def _draw_seal(canvas: Canvas, seal: Seal, x: float, y: float) -> None:
    """The seal box: QR code of the verify link beside organisation, number, date and code."""
    canvas.saveState()
    canvas.setStrokeColor(colors.HexColor("#1f3a5f"))
    canvas.setFillColor(colors.white)
    canvas.roundRect(x, y, _SEAL_WIDTH, _SEAL_HEIGHT, 2 * mm, stroke=1, fill=1)
    qr_size = _SEAL_HEIGHT - 2 * mm
    _draw_qr(canvas, seal.verify_url, x + 1 * mm, y + 1 * mm, qr_size)
    text_x = x + qr_size + 2 * mm
    text_width = x + _SEAL_WIDTH - 1.5 * mm - text_x
    canvas.setFillColor(colors.black)
    # A long name takes two smaller lines, so the box keeps its size on every document.
    name = _wrapped(seal.organisation, BOLD, 8, text_width, 1)
    if name != [seal.organisation]:
        name = _wrapped(seal.organisation, BOLD, 6.5, text_width, 2)
    name_size = 8 if len(name) == 1 else 6.5
    lines = [
        *((BOLD, name_size, line) for line in name),
        (REGULAR, 8, f"Αρ. πρωτ.: {seal.protocol_number}"),
        (REGULAR, 8, f"Ημ/νία: {seal.registered_at.strftime('%d/%m/%Y %H:%M')}"),
        (REGULAR, 7, "Κωδικός επαλήθευσης:"),
        (BOLD, 9, seal.verification_code),
    ]
    line_y = y + _SEAL_HEIGHT - 5 * mm
    for font, size, text in lines:
        canvas.setFont(font, size)
        canvas.drawString(text_x, line_y, text)
        line_y -= size + (3.2 if len(name) == 1 else 2.2)
    # The address is in the QR code; printed, it shrinks to fit rather than run out of the box.
    fitting = 6 * text_width / pdfmetrics.stringWidth(seal.verify_url, REGULAR, 6)
    url_size = max(4.5, min(6, math.floor(fitting * 10) / 10))
    canvas.setFont(REGULAR, url_size)
    canvas.drawString(
        text_x, line_y - 1, _wrapped(seal.verify_url, REGULAR, url_size, text_width, 1)[0]
    )
    canvas.restoreState()


class ReportlabRenderer:
    """A :class:`~eprotocol.core.certificates.DocumentRenderer` built on reportlab.

    The fonts are loaded on the first document, not when an archive is opened:
    most processes never render anything.
    """

    def certificate(self, sheet: CertificateSheet) -> bytes:
        """An A4 certificate: letterhead, number and date, title, body and the seal."""
        _register_fonts()
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
        width, height = A4
        seal = sheet.seal
        canvas.setTitle(f"{sheet.title} — {seal.protocol_number}")
        canvas.setAuthor(seal.organisation)
        right = (f"Ημερομηνία: {_date(seal)}", f"Αρ. πρωτ.: {seal.protocol_number}")
        canvas.setFont(REGULAR, 10.5)
        for i, text in enumerate(right):
            canvas.drawRightString(width - 25 * mm, height - (30 + 7 * i) * mm, text)
        # The organisation's name wraps before the number and date on the right.
        name_width = width - 58 * mm - max(pdfmetrics.stringWidth(t, REGULAR, 10.5) for t in right)
        canvas.setFont(BOLD, 13)
        canvas.drawString(25 * mm, height - 30 * mm, "ΕΛΛΗΝΙΚΗ ΔΗΜΟΚΡΑΤΙΑ")
        for i, line in enumerate(_wrapped(seal.organisation, BOLD, 13, name_width, 3)):
            canvas.drawString(25 * mm, height - (37 + 6 * i) * mm, line)
        canvas.setFont(BOLD, 17)
        canvas.drawCentredString(width / 2, height - 70 * mm, _capitals(sheet.title))
        body = Frame(25 * mm, 60 * mm, width - 50 * mm, height - 145 * mm, showBoundary=0)
        story: list[object] = []
        for paragraph in sheet.paragraphs:
            story += [Paragraph(escape(paragraph), _BODY), Spacer(1, 4 * mm)]
        body.addFromList(story, canvas)
        if story:
            raise InvalidInput("the certificate text does not fit on one page", field="fields")
        canvas.setFont(REGULAR, 10.5)
        signature_width = 2 * (width - 25 * mm - width * 0.7)
        signatory = _wrapped(seal.organisation, REGULAR, 10.5, signature_width, 2)
        for i, line in enumerate(reversed(signatory)):
            canvas.drawCentredString(width * 0.7, (50 + 5 * i) * mm, line)
        canvas.drawCentredString(width * 0.7, 44 * mm, "(ψηφιακή υπογραφή)")
        _draw_seal(canvas, seal, 25 * mm, 15 * mm)
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()

    def stamp(self, pdf: bytes, seal: Seal) -> bytes:
        """``pdf`` with the seal drawn at the lower left of its first page.

        A PDF that already carries a signature is refused: drawing on it would
        break that signature.
        """
        if b"/ByteRange" in pdf:
            raise InvalidInput(
                "the document is already digitally signed; stamping it would break that "
                "signature (register it without the seal)",
                field="files",
            )
        _register_fonts()
        try:
            writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
            first = writer.pages[0]
            box = first.mediabox
            overlay = io.BytesIO()
            canvas = Canvas(overlay, pagesize=(float(box.width), float(box.height)))
            _draw_seal(canvas, seal, float(box.left) + 12 * mm, float(box.bottom) + 8 * mm)
            canvas.showPage()
            canvas.save()
            first.merge_page(PdfReader(overlay).pages[0])
            out = io.BytesIO()
            writer.write(out)
        except (PyPdfError, ValueError, KeyError, IndexError) as exc:
            raise InvalidInput(f"the document cannot be stamped: {exc}", field="files") from exc
        return out.getvalue()

    def daily_register(self, sheet: DailyRegisterSheet) -> bytes:
        """The day's entries as a table, with the audit-chain head and the JSON digest."""
        _register_fonts()
        buffer = io.BytesIO()
        title = f"Ημερήσιο βιβλίο πρωτοκόλλου {sheet.day.strftime('%d/%m/%Y')}"
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            title=title,
            author=sheet.organisation,
            leftMargin=15 * mm,
            rightMargin=15 * mm,
            topMargin=15 * mm,
            bottomMargin=15 * mm,
            invariant=1,
        )
        cell = ParagraphStyle("cell", fontName=REGULAR, fontSize=8, leading=10)
        head = ParagraphStyle("head", fontName=BOLD, fontSize=13, leading=17)
        header = ["Ώρα", "Αρ. πρωτ.", "Πράξη", "Στοιχεία"]
        rows: list[list[object]] = [[Paragraph(h, cell) for h in header]]
        rows += [
            [line.time, line.protocol_number, line.event, Paragraph(escape(line.text), cell)]
            for line in sheet.lines
        ]
        if not sheet.lines:
            rows.append(["", "", "", Paragraph("Καμία εγγραφή.", cell)])
        table = Table(rows, colWidths=[16 * mm, 24 * mm, 28 * mm, 112 * mm], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), REGULAR, 8),
                    ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6ecf3")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story = [
            Paragraph(escape(sheet.organisation), head),
            Paragraph(escape(title), head),
            Spacer(1, 5 * mm),
            table,
            Spacer(1, 5 * mm),
            Paragraph(f"Κεφαλή αλυσίδας ελέγχου στο τέλος της ημέρας: {sheet.audit_head}", cell),
            Paragraph(f"SHA-256 του αρχείου JSON της ημέρας: {sheet.json_sha256}", cell),
        ]
        doc.build(story)
        return buffer.getvalue()
