"""Images of PDF pages for the web pages, rendered in sandboxed worker processes.

Staff see a stored document as pictures of its pages, never as the PDF itself
in the browser: a hostile PDF then meets PDFium in a worker under time and
memory limits (:mod:`eprotocol.sandbox`), not the clerk's browser.
"""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from eprotocol.core.errors import InvalidInput, Unavailable
from eprotocol.sandbox import SandboxFailure, SandboxPool

#: Width of a page image in pixels: readable on a desk screen, light on a phone.
PREVIEW_WIDTH = 900


@dataclass(frozen=True, slots=True)
class PageImage:
    """One page drawn as PNG, and how many pages the document has."""

    png: bytes
    pages: int


class PagePreviewer:
    """Renders pages of PDFs as PNG images, keeping the most recent ones in memory."""

    def __init__(
        self,
        *,
        workers: int = 1,
        memory_bytes: int = 768 << 20,
        timeout: float = 20.0,
        cached: int = 64,
    ) -> None:
        self._pool = SandboxPool(
            "eprotocol.pdf.preview_worker", size=workers, memory_bytes=memory_bytes, timeout=timeout
        )
        self._cached = cached
        self._cache: OrderedDict[tuple[str, int, int], PageImage] = OrderedDict()
        self._lock = threading.Lock()

    def render(
        self,
        sha256: str,
        source: Callable[[], Iterable[bytes]],
        page: int,
        *,
        width: int = PREVIEW_WIDTH,
    ) -> PageImage:
        """Page ``page`` (from 0) of the PDF ``sha256`` whose bytes ``source`` gives.

        ``source`` is called only when the page is not in memory already.
        ``InvalidInput`` if the document has no such page or cannot be drawn,
        ``Unavailable`` if drawing took too long or too much memory.
        """
        key = (sha256, page, width)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        image = self._draw(source(), page, width)
        with self._lock:
            self._cache[key] = image
            while len(self._cache) > self._cached:
                self._cache.popitem(last=False)
        return image

    def _draw(self, chunks: Iterable[bytes], page: int, width: int) -> PageImage:
        with tempfile.TemporaryDirectory(prefix="eprotocol-preview-") as scratch:
            source = Path(scratch) / "document.pdf"
            with source.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            image = Path(scratch) / "page.png"
            request = {"path": str(source), "page": page, "width": width, "out": str(image)}
            try:
                answer = self._pool.ask(request)
            except SandboxFailure as failure:
                raise Unavailable(f"the page could not be drawn ({failure.kind.value})") from None
            if "failure" in answer:
                raise InvalidInput(f"the page cannot be drawn: {answer['failure']}", field="page")
            return PageImage(image.read_bytes(), int(answer["pages"]))

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.close()
