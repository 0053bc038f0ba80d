"""The background worker: runs scheduled jobs of one archive until told to stop.

For now that is the daily digest, sent on working days (Monday to Friday) at
a set local time (07:00 Athens time by default). A worker that was down at
that time sends the day's digest as soon as it starts, and sending is
idempotent, so several workers or a restart never send a digest twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from eprotocol.archive import Archive
from eprotocol.core.errors import EProtocolError
from eprotocol.core.ports import Clock

log = logging.getLogger(__name__)

DIGEST_TIME = time(7, 0)
#: How long to wait before trying a failed digest run again.
RETRY_AFTER = timedelta(minutes=5)


class Worker:
    """Runs the digest at ``digest_at`` local time on working days."""

    def __init__(
        self,
        archive: Archive,
        clock: Clock,
        tz: ZoneInfo,
        *,
        digest_at: time = DIGEST_TIME,
    ) -> None:
        self._archive = archive
        self._clock = clock
        self._tz = tz
        self._digest_at = digest_at
        self._done: date | None = None

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

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set."""
        while not stop.is_set():
            if self.due() is not None and not self.run_pending():
                stop.wait(RETRY_AFTER.total_seconds())
                continue
            wait = (self.next_run() - self._now()).total_seconds()
            stop.wait(max(1.0, min(wait, 3600.0)))
