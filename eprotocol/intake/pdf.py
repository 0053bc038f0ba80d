"""PDF checks in sandboxed worker processes (pypdf), with time and memory limits.

A small pool of long-lived workers (:mod:`eprotocol.intake.pdf_worker`) parses
files; each worker runs under an address-space limit, and the parent gives it
a deadline per file. A worker that misses the deadline is killed, one that
dies is replaced, and the file is refused with the reason. Starting one
process per file would cost more than the check itself.
"""

from __future__ import annotations

import json
import queue
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path

from eprotocol.config import IntakePolicy
from eprotocol.core.intake import PdfReport


class _Worker:
    def __init__(self, memory_bytes: int) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "eprotocol.intake.pdf_worker", str(memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )

    def ask(self, path: Path, timeout: float) -> str | None:
        """The worker's answer line, or ``None`` if it died or missed the deadline."""
        assert self.proc.stdin is not None and self.proc.stdout is not None  # noqa: S101
        try:
            self.proc.stdin.write(f"{path}\n")
            self.proc.stdin.flush()
        except OSError:
            return None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        return self.proc.stdout.readline() or None

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


class SandboxedPdfInspector:
    """A :class:`~eprotocol.core.intake.PdfInspector` backed by a pool of worker processes.

    The workers start together on first use (each needs about a second to import
    pypdf, so they warm up in parallel) and are then reused; a warm worker is
    always preferred to one that is still starting.
    """

    def __init__(self, policy: IntakePolicy) -> None:
        self._policy = policy
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._start_lock = threading.Lock()
        self._started = False

    def _spawn(self) -> _Worker:
        return _Worker(self._policy.pdf_memory_bytes)

    def inspect(self, path: Path) -> PdfReport:
        """Parse ``path`` in a worker; a hang or a crash becomes a refusal."""
        if not self._started:
            with self._start_lock:
                if not self._started:
                    for _ in range(max(1, self._policy.pdf_workers)):
                        self._idle.put(self._spawn())
                    self._started = True
        worker = self._idle.get()
        started = time.monotonic()
        answer = worker.ask(path, self._policy.pdf_timeout_seconds)
        if answer is None:
            timed_out = time.monotonic() - started >= self._policy.pdf_timeout_seconds
            worker.kill()
            self._idle.put(self._spawn())
            if timed_out:
                limit = self._policy.pdf_timeout_seconds
                return PdfReport(refusal=f"takes longer than {limit:g} s to read (malformed?)")
            return PdfReport(refusal="crashed the PDF reader (a decompression bomb?)")
        self._idle.put(worker)
        report = json.loads(answer)
        return PdfReport(
            refusal=report["refusal"],
            pages=report.get("pages", 0),
            warnings=tuple(report.get("warnings", ())),
        )

    def close(self) -> None:
        """Stop every idle worker process."""
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return
