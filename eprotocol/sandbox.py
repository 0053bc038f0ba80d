"""Long-lived worker processes that parse untrusted files under time and memory limits.

A hostile file can make a parser loop forever or allocate without bound. Each
worker runs one parser module (:func:`serve` is its main loop) under an
address-space limit; the parent gives it a deadline per request. A worker that
misses the deadline is killed, one that dies is replaced, and the caller gets a
:class:`SandboxFailure` saying which. Requests and answers are JSON lines over
the worker's standard input and output. Starting one process per file would
cost more than most parses, so workers are reused.
"""

from __future__ import annotations

import json
import queue
import resource
import selectors
import subprocess
import sys
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Any

#: Key of an answer that reports the worker ran out of memory on a request.
_MEMORY = "sandbox_memory_error"


class FailureKind(StrEnum):
    """Why a sandboxed worker gave no answer."""

    TIMEOUT = "timeout"
    CRASH = "crash"
    MEMORY = "memory"


class SandboxFailure(Exception):
    """A worker missed its deadline, died, or ran out of memory on a request."""

    def __init__(self, kind: FailureKind) -> None:
        super().__init__(kind.value)
        self.kind = kind


class _Worker:
    def __init__(self, module: str, memory_bytes: int) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", module, str(memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )

    def ask(self, line: str, timeout: float) -> str | None:
        """The worker's answer line, or ``None`` if it died or missed the deadline."""
        assert self.proc.stdin is not None and self.proc.stdout is not None  # noqa: S101
        try:
            self.proc.stdin.write(line + "\n")
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


class SandboxPool:
    """A pool of ``size`` workers running ``module``; safe to use from several threads.

    The workers start together on first use (each needs a moment to import its
    parser, so they warm up in parallel); a warm worker is always preferred to
    one still starting.
    """

    def __init__(self, module: str, *, size: int, memory_bytes: int, timeout: float) -> None:
        self._module = module
        self._size = max(1, size)
        self._memory = memory_bytes
        self.timeout = timeout
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._start_lock = threading.Lock()
        self._started = False

    def _spawn(self) -> _Worker:
        return _Worker(self._module, self._memory)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send ``request`` to a free worker and return its answer, or raise ``SandboxFailure``."""
        if not self._started:
            with self._start_lock:
                if not self._started:
                    for _ in range(self._size):
                        self._idle.put(self._spawn())
                    self._started = True
        worker = self._idle.get()
        answer = worker.ask(json.dumps(request), self.timeout)
        if answer is None:
            timed_out = worker.proc.poll() is None
            worker.kill()
            self._idle.put(self._spawn())
            raise SandboxFailure(FailureKind.TIMEOUT if timed_out else FailureKind.CRASH)
        self._idle.put(worker)
        result: dict[str, Any] = json.loads(answer)
        if result.get(_MEMORY):
            raise SandboxFailure(FailureKind.MEMORY)
        return result

    def close(self) -> None:
        """Stop every idle worker process."""
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return


def serve(handle: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """A worker's main loop: limit memory to ``argv[1]`` bytes, answer requests until EOF."""
    memory = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    while line := sys.stdin.readline():
        try:
            answer = handle(json.loads(line))
        except MemoryError:
            answer = {_MEMORY: True}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
