"""Group commit: concurrent callers share one database transaction.

Callers queue their jobs, then take turns at the leader lock. The holder runs
everything queued so far as one batch (one transaction, one fsync) and stores
each caller's own result; callers whose job it ran find it done when their
turn comes. If a batch fails as a whole its jobs are retried one by one, so a
caller only ever sees the outcome of its own job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class _Slot(Generic[T, R]):
    job: T
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class GroupCommitter(Generic[T, R]):
    """Runs jobs through ``run_batch`` (jobs in, one result per job out, all or nothing)."""

    def __init__(
        self, run_batch: Callable[[Sequence[T]], Sequence[R]], *, max_batch: int = 256
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._queue: list[_Slot[T, R]] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()

    def submit(self, job: T) -> R:
        """Run ``job`` (possibly together with other threads' jobs) and return its result."""
        slot: _Slot[T, R] = _Slot(job)
        with self._queue_lock:
            self._queue.append(slot)
        # Whoever holds the leader lock runs all queued jobs; while it does, new callers
        # queue up behind it and are found done (or lead the next batch) when they get in.
        while not slot.done:
            with self._leader:
                if slot.done:
                    break
                with self._queue_lock:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                self._run(batch)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _run(self, batch: list[_Slot[T, R]]) -> None:
        try:
            results = self._run_batch([s.job for s in batch])
        except Exception as exc:  # noqa: BLE001 - every caller gets its own outcome below
            if len(batch) == 1:
                self._finish(batch[0], error=exc)
                return
            for slot in batch:  # find out whose job failed, without blaming the others
                try:
                    (result,) = self._run_batch([slot.job])
                except Exception as single_exc:  # noqa: BLE001 - handed to its caller
                    self._finish(slot, error=single_exc)
                else:
                    self._finish(slot, result=result)
        except BaseException as exc:
            for slot in batch:
                self._finish(slot, error=exc)
            raise
        else:
            for slot, result in zip(batch, results, strict=True):
                self._finish(slot, result=result)

    @staticmethod
    def _finish(
        slot: _Slot[T, R], *, result: R | None = None, error: BaseException | None = None
    ) -> None:
        slot.result, slot.error, slot.done = result, error, True
