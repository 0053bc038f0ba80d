"""Pages of stored PDFs drawn as images in the sandboxed renderer, for the web pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eprotocol.core.errors import InvalidInput
from eprotocol.pdf.preview import PagePreviewer
from tests.pdfs import greek_pdf, make_pdf


@pytest.fixture(scope="module")
def previewer() -> Iterator[PagePreviewer]:
    renderer = PagePreviewer(cached=2)
    try:
        yield renderer
    finally:
        renderer.close()


def test_a_page_is_a_png_of_the_asked_width_and_repeats_come_from_memory(
    previewer: PagePreviewer,
) -> None:
    pdf = greek_pdf("Πρώτη σελίδα", "Δεύτερη σελίδα")
    reads: list[int] = []

    def source() -> Iterator[bytes]:
        reads.append(1)
        yield pdf

    image = previewer.render("a" * 64, source, 1, width=400)
    assert image.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(image.png[16:20], "big") == 400  # IHDR width
    assert image.pages == 2
    assert previewer.render("a" * 64, source, 1, width=400) == image
    assert len(reads) == 1
    # The oldest pages make room for new ones.
    previewer.render("b" * 64, lambda: iter([make_pdf(1)]), 0)
    previewer.render("c" * 64, lambda: iter([make_pdf(1)]), 0)
    previewer.render("a" * 64, source, 1, width=400)
    assert len(reads) == 2


@pytest.mark.parametrize(
    ("content", "page"),
    [
        (make_pdf(2), 5),
        (b"%PDF-1.7\n this is not a PDF at all", 0),
        (b"", 0),
    ],
    ids=["no-such-page", "garbage", "empty"],
)
def test_what_cannot_be_drawn_is_refused_with_a_reason(
    previewer: PagePreviewer, content: bytes, page: int
) -> None:
    with pytest.raises(InvalidInput, match="cannot be drawn"):
        previewer.render(content.hex()[:64] or "0" * 64, lambda: iter([content]), page)
