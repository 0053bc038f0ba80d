"""Text extraction for the search index in sandboxed worker processes.

The work happens in :mod:`eprotocol.search.extract_worker` processes of a
:class:`~eprotocol.sandbox.SandboxPool`, so a file that makes the extractor
loop or exhaust memory costs one worker, never the indexer.
"""

from __future__ import annotations

from pathlib import Path

from eprotocol.config import ExtractionPolicy
from eprotocol.core.search import Extraction
from eprotocol.sandbox import FailureKind, SandboxFailure, SandboxPool

_FAILURES = {
    FailureKind.TIMEOUT: "text extraction took longer than {limit:g} s",
    FailureKind.CRASH: "text extraction crashed",
    FailureKind.MEMORY: "text extraction needed too much memory",
}


class SandboxedTextExtractor:
    """A :class:`~eprotocol.core.search.TextExtractor` backed by a pool of worker processes."""

    def __init__(self, policy: ExtractionPolicy) -> None:
        self._policy = policy
        self._pool = SandboxPool(
            "eprotocol.search.extract_worker",
            size=policy.workers,
            memory_bytes=policy.memory_bytes,
            timeout=policy.timeout_seconds,
        )

    def extract(self, path: Path, media_type: str) -> Extraction:
        """The text of the file at ``path``; a hang or a crash becomes a recorded failure."""
        request = {"path": str(path), "media_type": media_type, "max_chars": self._policy.max_chars}
        try:
            answer = self._pool.ask(request)
        except SandboxFailure as failure:
            return Extraction(
                text="", failure=_FAILURES[failure.kind].format(limit=self._pool.timeout)
            )
        return Extraction(text=answer.get("text", ""), failure=answer.get("failure"))

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.close()
