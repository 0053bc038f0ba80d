"""A day of the archive's calendar runs from one local midnight to the next."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from eprotocol.core import days

ATHENS = ZoneInfo("Europe/Athens")


def test_a_day_in_athens_is_a_day_of_utc_shifted_by_its_offset() -> None:
    start, end = days.bounds(date(2026, 3, 2), ATHENS)
    assert start.astimezone(UTC) == datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


def test_the_days_the_clocks_change_are_23_and_25_hours_long() -> None:
    """Greece moves its clocks at 03:00/04:00 on the last Sundays of March and October."""
    for day, hours in ((date(2026, 3, 29), 23), (date(2026, 10, 25), 25)):
        start, end = days.bounds(day, ATHENS)
        assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=hours)
        assert end == days.midnight(day + timedelta(days=1), ATHENS)
