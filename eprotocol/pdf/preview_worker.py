"""A sandboxed page renderer process (see :mod:`eprotocol.sandbox`).

Request ``{"path", "page", "width", "out"}``: render page ``page`` (from 0) of
the PDF at ``path`` with PDFium, ``width`` pixels wide, as PNG into ``out``.
Answer ``{"pages"}`` (how many the document has) or ``{"failure"}``.
"""

from __future__ import annotations

from typing import Any

import pypdfium2

from eprotocol.sandbox import serve


def render(path: str, page_index: int, width: int, out: str) -> dict[str, Any]:
    """Render one page to a PNG file, or say why not."""
    try:
        document = pypdfium2.PdfDocument(path)
        try:
            pages = len(document)
            if not 0 <= page_index < pages:
                return {"failure": f"the document has {pages} pages", "pages": pages}
            page = document[page_index]
            scale = width / max(page.get_width(), 1.0)
            page.render(scale=min(scale, 4.0)).to_pil().save(out, format="PNG", optimize=False)
        finally:
            document.close()
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any renderer failure is reported, never fatal
        return {"failure": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return {"pages": pages}


def _handle(request: dict[str, Any]) -> dict[str, Any]:
    return render(request["path"], request["page"], request["width"], request["out"])


if __name__ == "__main__":
    serve(_handle)
