"""The background worker: runs the jobs of one archive until told to stop.

- Search indexing: pending outbox changes are indexed every half second, so a
  new registration is searchable about a second after it is made. An index that
  needs a rebuild (after an upgrade, or lost) is rebuilt in a thread of its own,
  while changes go on being indexed into the one searched meanwhile.
- The daily digest, on working days (Monday to Friday) at a set local time
  (07:00 Athens time by default). A worker that was down at that time sends
  the day's digest as soon as it starts; sending is idempotent, so several
  workers or a restart never send a digest twice.

- The daily register (ημερήσιο βιβλίο πρωτοκόλλου) of each finished day, shortly
  after midnight local time (and for any day of the last week that lacks one).

It runs inside the server on the embedded default, or alone as ``eprotocol worker``.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from eprotocol.archive import Archive
from eprotocol.core.errors import EProtocolError
from eprotocol.core.ports import Clock

log = logging.getLogger(__name__)


class _Stopped(Exception):
    """Raised in a background rebuild to end it when the jobs stop."""


DIGEST_TIME = time(7, 0)
#: Local time after which yesterday's daily register is made.
DAILY_REGISTER_TIME = time(0, 10)
#: How long to wait before trying a failed digest run again.
RETRY_AFTER = timedelta(minutes=5)
#: How much the jobs give way to serving requests (added to the thread's nice value).
JOBS_NICENESS = 10
#: How often pending changes are looked for.
POLL_SECONDS = 0.5


class Worker:
    """Runs the jobs: indexing, the digest and the daily registers.

    The digest goes out at ``digest_at`` local time on working days; a failed
    digest or daily register is tried again ``retry_after`` later.
    """

    def __init__(
        self,
        archive: Archive,
        clock: Clock,
        tz: ZoneInfo,
        *,
        digest_at: time = DIGEST_TIME,
        retry_after: timedelta = RETRY_AFTER,
    ) -> None:
        self._archive = archive
        # Each job runs only where the archive is configured for it.
        self._index = archive.has_search_index
        self._digests = archive.has_mailer
        self._registers = archive.has_signer
        self._registers_done: date | None = None
        self._registers_retry_at: datetime | None = None
        self._clock = clock
        self._tz = tz
        self._digest_at = digest_at
        self._retry_after = retry_after
        self._retry_digest_at = clock.now()
        self._done: date | None = None
        self._stop = threading.Event()
        self._rebuilding: threading.Thread | None = None
        self._retry_rebuild_at = clock.now()

    def _now(self) -> datetime:
        return self._clock.now().astimezone(self._tz)

    def due(self) -> date | None:
        """The day whose digest should be sent now, if any."""
        now = self._now()
        today = now.date()
        if today.weekday() >= 5 or self._done == today or now.time() < self._digest_at:
            return None
        return today

    def next_run(self) -> datetime:
        """When the digest is next due (now, if it is due)."""
        now = self._now()
        day = now.date()
        while day.weekday() >= 5 or day == self._done:
            day += timedelta(days=1)
        return max(datetime.combine(day, self._digest_at, tzinfo=self._tz), now)

    def run_pending(self) -> bool:
        """Send the digest if it is due; return whether a run was made and finished cleanly."""
        day = self.due()
        if day is None:
            return False
        try:
            report = self._archive.send_digests(day)
        except EProtocolError as exc:
            log.error("daily digest for %s failed: %s", day, exc.message)
            return False
        if report.failed:
            log.error("daily digest for %s: not sent to %s", day, ", ".join(report.failed))
            return False
        log.info("daily digest for %s sent to %d departments", day, len(report.sent))
        self._done = day
        return True

    def produce_daily_registers(self) -> int:
        """Make the daily registers still missing, once a day after 00:10; return how many."""
        now = self._now()
        if (
            self._registers_done == now.date()
            or now.time() < DAILY_REGISTER_TIME
            or (self._registers_retry_at is not None and now < self._registers_retry_at)
        ):
            return 0
        try:
            days = self._archive.missing_daily_registers()
            for day in days:
                self._archive.produce_daily_register(day, by="system")
        except EProtocolError as exc:
            log.error("daily register failed, will retry: %s", exc.message)
            self._registers_retry_at = now + self._retry_after
            return 0
        self._registers_done = now.date()
        identity = self._archive.signing_identity()
        if identity is not None and (notice := identity.notice()) is not None:
            log.warning(notice)
        return len(days)

    def index_pending(self) -> int:
        """Index every pending change; errors are logged and retried on the next round.

        An index that needs a rebuild gets one in the background (see :meth:`rebuilding`).
        """
        done = 0
        try:
            if self._archive.search_index_stale:
                self._rebuild_in_background()
            while handled := self._archive.index_pending(rebuild_stale=False):
                done += handled
        except EProtocolError as exc:
            log.error("indexing failed, will retry: %s", exc.message)
        return done

    @property
    def rebuilding(self) -> bool:
        """Whether a rebuild of the search index is running (or waiting for another's)."""
        return self._rebuilding is not None and self._rebuilding.is_alive()

    def _rebuild_in_background(self) -> None:
        """Start rebuilding the index in a thread, unless one runs or failed a moment ago."""
        if self.rebuilding or self._clock.now() < self._retry_rebuild_at:
            return
        # A daemon, so that one slow to notice the stop (a long database read) does not
        # keep the process alive past stop_rebuilding's wait.
        self._rebuilding = threading.Thread(
            target=self._rebuild, name="eprotocol-reindex", daemon=True
        )
        self._rebuilding.start()

    def _rebuild(self) -> None:
        def stop_when_told(done: int, total: int) -> None:
            if self._stop.is_set():
                raise _Stopped

        try:
            count = self._archive.rebuild_index(stop_when_told, if_stale=True)
        except _Stopped:
            log.info("search index rebuild stopped; it starts again with the jobs")
        except Exception as exc:
            if isinstance(exc, EProtocolError):
                log.error("search index rebuild failed, will retry: %s", exc.message)
            else:  # a bug must not be silent in a thread of its own
                log.exception("search index rebuild failed unexpectedly")
            self._retry_rebuild_at = self._clock.now() + self._retry_after
        else:
            if count:
                log.info("search index rebuilt: %d registrations", count)

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set, at a lower CPU priority than the requests being served.

        On Linux the priority is the calling thread's, so a server that runs the jobs
        in a thread keeps its own; the text-extraction processes the jobs start, and
        a rebuild's thread, inherit it. Once stopped, a rebuild still running is
        stopped too (see :meth:`stop_rebuilding`).
        """
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), JOBS_NICENESS)
        except OSError:  # not permitted here: run at normal priority
            log.info("background jobs run at normal priority")
        jobs = [
            ("indexing", self._index),
            ("digests", self._digests),
            ("daily registers", self._registers),
        ]
        log.info(
            "background jobs running: %s", ", ".join(name for name, on in jobs if on) or "none"
        )
        while not stop.is_set():
            try:
                self.run_round()
            except Exception:  # a bug must not end the jobs for good: log it, go on
                log.exception("background jobs failed unexpectedly; trying again")
            stop.wait(POLL_SECONDS if self._index else 30.0)
        self.stop_rebuilding()

    def stop_rebuilding(self, timeout: float = 10.0) -> None:
        """Stop a rebuild in the background; wait up to ``timeout`` s for it to end.

        It stops at its next chunk, or within a fraction of a second if it is waiting for
        another process's rebuild. What it had built is left for the next rebuild to
        delete; the old index stays live.
        """
        self._stop.set()
        if self._rebuilding is not None:
            self._rebuilding.join(timeout)

    def run_round(self) -> None:
        """One round of every job that is due."""
        if self._index:
            self.index_pending()
        if self._registers:
            self.produce_daily_registers()
        if (
            self._digests
            and self.due() is not None
            and self._now() >= self._retry_digest_at
            and not self.run_pending()
        ):
            self._retry_digest_at = self._now() + self._retry_after
