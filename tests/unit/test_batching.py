"""Group commit hands every caller its own outcome, however jobs were batched."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from eprotocol.core.batching import GroupCommitter


class Recorder:
    def __init__(self, bad: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.committed: list[int] = []
        self.bad = bad or set()
        self.gate = threading.Event()

    def run(self, jobs: Sequence[int]) -> list[int]:
        self.gate.wait(5)  # hold the first batch so that the others queue up behind it
        self.batches.append(list(jobs))
        if self.bad & set(jobs):
            raise ValueError(f"bad job in {list(jobs)}")
        self.committed.extend(jobs)
        return [job * 10 for job in jobs]


def test_concurrent_jobs_share_batches_and_get_their_results() -> None:
    recorder = Recorder()
    committer: GroupCommitter[int, int] = GroupCommitter(recorder.run)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(committer.submit, job) for job in range(40)]
        threading.Timer(0.2, recorder.gate.set).start()
        results = [f.result(timeout=10) for f in futures]
    assert results == [job * 10 for job in range(40)]
    assert sorted(recorder.committed) == list(range(40))
    assert max(len(b) for b in recorder.batches) > 1


def test_a_failing_job_fails_alone() -> None:
    recorder = Recorder(bad={7})
    committer: GroupCommitter[int, int] = GroupCommitter(recorder.run)
    with ThreadPoolExecutor(8) as pool:
        futures = {job: pool.submit(committer.submit, job) for job in range(16)}
        threading.Timer(0.2, recorder.gate.set).start()
        with pytest.raises(ValueError, match=r"\[7\]"):
            futures[7].result(timeout=10)
        for job, future in futures.items():
            if job != 7:
                assert future.result(timeout=10) == job * 10
    assert sorted(recorder.committed) == [j for j in range(16) if j != 7]


def test_single_caller_runs_immediately() -> None:
    recorder = Recorder()
    recorder.gate.set()
    committer: GroupCommitter[int, int] = GroupCommitter(recorder.run)
    assert committer.submit(3) == 30
    assert recorder.batches == [[3]]
