"""Media type detection from the bytes with python-magic (libmagic).

``magic.Magic`` objects are not thread-safe, so each thread gets its own.
"""

from __future__ import annotations

import threading

import magic

from eprotocol.core.intake import SNIFF_BYTES


class MagicSniffer:
    """A :class:`~eprotocol.core.ports.ContentSniffer` backed by libmagic."""

    def __init__(self) -> None:
        self._local = threading.local()

    def media_type(self, head: bytes) -> str:
        """The MIME type of content starting with ``head`` (``application/x-empty`` if empty)."""
        detector = getattr(self._local, "magic", None)
        if detector is None:
            detector = magic.Magic(mime=True)
            self._local.magic = detector
        return str(detector.from_buffer(head[:SNIFF_BYTES]))
