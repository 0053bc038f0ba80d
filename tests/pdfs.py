"""PDF samples for tests and benchmarks: well-formed documents and a hostile corpus."""

from __future__ import annotations

import io
import zipfile
import zlib

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    StreamObject,
    TextStringObject,
)

#: A font with Greek glyphs (Debian's fonts-dejavu-core, installed by the test command).
GREEK_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def make_pdf(pages: int = 2, text: str = "Municipality of Chania", padding: int = 0) -> bytes:
    """A valid PDF of ``pages`` pages with a line of text each (``padding`` extra bytes of text)."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    filler = ("lorem ipsum " * (padding // 12 + 1))[:padding]
    for number in range(1, pages + 1):
        page = writer.add_blank_page(width=595, height=842)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
        stream = DecodedStreamObject()
        lines = [f"BT /F1 12 Tf 72 770 Td ({text} - page {number}) Tj ET"]
        lines += [
            f"BT /F1 8 Tf 72 {740 - 10 * i} Td ({filler[i * 100 : (i + 1) * 100]}) Tj ET"
            for i in range(min(70, len(filler) // 100 + 1))
            if filler
        ]
        stream.set_data("\n".join(lines).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def greek_pdf(*pages: str) -> bytes:
    """A PDF with an embedded Greek font and one page of ``text`` per argument."""
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=GREEK_FONT)
    pdf.set_font("DejaVu", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def text_bomb_pdf() -> bytes:
    """A valid 30 KB PDF whose one page draws three million glyphs.

    It passes intake, but extracting its text takes PDFium several seconds and
    almost 2 GB of memory.
    """
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(1))))
    stream = StreamObject()
    stream._data = zlib.compress(b"BT /F1 1 Tf " + b"(x) Tj " * 3_000_000 + b"ET", 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    writer.pages[0][NameObject("/Contents")] = writer._add_object(stream)
    return _written(writer)


def _blank() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    return writer


def _written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_javascript() -> bytes:
    """A valid PDF that runs JavaScript when opened."""
    writer = _blank()
    writer.add_open_action(JavaScript("app.alert('hello');"))
    return _written(writer)


def _opening_with(kind: str, key: str, value: str) -> bytes:
    """A valid PDF whose OpenAction is ``<< /S /kind /key (value) >>``."""
    writer = _blank()
    action = DictionaryObject(
        {NameObject("/S"): NameObject(kind), NameObject(key): TextStringObject(value)}
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    return _written(writer)


def with_launch_action() -> bytes:
    """A valid PDF whose OpenAction launches a program."""
    return _opening_with("/Launch", "/F", "cmd.exe")


def opening_a_website() -> bytes:
    """A valid PDF whose OpenAction opens a web address (it tells someone it was opened)."""
    return _opening_with("/URI", "/URI", "https://tracker.invalid/opened")


def with_embedded_file() -> bytes:
    """A valid PDF carrying an attached file."""
    writer = _blank()
    writer.add_attachment("invoice.txt", b"attached data")
    return _written(writer)


def flate_bomb(decompressed_mb: int = 300) -> bytes:
    """A one-page PDF whose content stream inflates to ``decompressed_mb`` MB of spaces."""
    compressor = zlib.compressobj(9)
    block = b" " * (1024 * 1024)
    compressed = b"".join(compressor.compress(block) for _ in range(decompressed_mb))
    compressed += compressor.flush()
    return _raw_pdf(b"<< /Length %d /Filter /FlateDecode >>" % len(compressed), compressed)


def huge_declared_stream() -> bytes:
    """A PDF whose content stream claims to be 100 GB long."""
    return _raw_pdf(b"<< /Length 107374182400 >>", b"BT ET")


def _raw_pdf(stream_dict: bytes, stream: bytes) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        stream_dict + b"\nstream\n" + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def polyglot() -> bytes:
    """A valid PDF with a ZIP archive appended: opens as both."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.exe", b"MZ" + b"\x00" * 64)
    return make_pdf(1) + archive.getvalue()


def truncated() -> bytes:
    """The first half of a valid PDF."""
    whole = make_pdf(2)
    return whole[: len(whole) // 2]


HTML = b"<!DOCTYPE html><html><head><title>x</title></head><body><script>1</script></body></html>"

__all__ = [
    "HTML",
    "flate_bomb",
    "huge_declared_stream",
    "make_pdf",
    "polyglot",
    "truncated",
    "with_embedded_file",
    "with_javascript",
    "with_launch_action",
]


def encrypted(password: str = "μυστικό") -> bytes:
    """A valid PDF that needs a password to open."""
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(1)))
    writer.encrypt(user_password=password, owner_password=password, algorithm="AES-256")
    return _written(writer)
