"""PDF checks in sandboxed worker processes (pypdf), with time and memory limits.

The parsing happens in :mod:`eprotocol.intake.pdf_worker` processes of a
:class:`~eprotocol.sandbox.SandboxPool`; a file that hangs or crashes its worker
is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path

from eprotocol.config import IntakePolicy
from eprotocol.core import intake
from eprotocol.core.certificates import checks_from_json
from eprotocol.core.errors import PHRASES
from eprotocol.core.intake import PdfReport
from eprotocol.sandbox import FailureKind, SandboxFailure, SandboxPool

_REFUSALS = {
    FailureKind.TIMEOUT: intake.PDF_SLOW,
    FailureKind.CRASH: intake.PDF_CRASH,
    FailureKind.MEMORY: intake.PDF_MEMORY,
}


class SandboxedPdfInspector:
    """A :class:`~eprotocol.core.intake.PdfInspector` backed by a pool of worker processes."""

    def __init__(
        self, policy: IntakePolicy, *, trust_roots_pem: bytes = b"", ours_pem: bytes = b""
    ) -> None:
        # Signatures of incoming PDFs are checked against these (PEM) in the worker.
        self._trust = trust_roots_pem.decode("ascii")
        self._ours = ours_pem.decode("ascii")
        self._pool = SandboxPool(
            "eprotocol.intake.pdf_worker",
            size=policy.pdf_workers,
            memory_bytes=policy.pdf_memory_bytes,
            timeout=policy.pdf_timeout_seconds,
        )

    def inspect(self, path: Path, *, signatures_if_refused: bool = False) -> PdfReport:
        """Parse ``path`` in a worker; a hang or a crash becomes a refusal."""
        request = {
            "path": str(path),
            "trust": self._trust,
            "ours": self._ours,
            "signatures_if_refused": signatures_if_refused,
        }
        try:
            report = self._pool.ask(request)
        except SandboxFailure as failure:
            return PdfReport(refusal=_REFUSALS[failure.kind](limit=self._pool.timeout))
        kind = report["refusal"]
        return PdfReport(
            refusal=None if kind is None else PHRASES[kind](**report.get("values", {})),
            pages=report.get("pages", 0),
            warnings=tuple(report.get("warnings", ())),
            signatures=checks_from_json(report.get("signatures", ())),
        )

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.close()
