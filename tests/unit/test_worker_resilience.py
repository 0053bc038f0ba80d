"""The background jobs outlive an unexpected error in one of them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from eprotocol import Archive
from eprotocol.worker import Worker
from tests.support import FixedClock


class FlakyArchive:
    """An archive with only a search index, whose first indexing round hits a bug."""

    has_search_index = True
    has_mailer = False
    has_signer = False
    search_index_stale = False

    def __init__(self) -> None:
        self.calls = 0
        self.second_round = threading.Event()

    def index_pending(self, *, rebuild_stale: bool) -> int:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("a bug in the indexer")
        self.second_round.set()
        return 0


def test_an_unexpected_error_is_logged_and_the_jobs_go_on(caplog: pytest.LogCaptureFixture) -> None:
    archive = FlakyArchive()
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    worker = Worker(cast(Archive, archive), clock, ZoneInfo("Europe/Athens"))
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,))
    runner.start()
    try:
        assert archive.second_round.wait(timeout=10)
    finally:
        stop.set()
        runner.join(timeout=10)
    assert "a bug in the indexer" in caplog.text
