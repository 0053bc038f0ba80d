"""Days of the archive's calendar as instants: a day runs from its local midnight to the next.

Registration times are stored in UTC; "registered on 2 March" means between two local
midnights of the archive's time zone (Europe/Athens), whatever the server's zone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo


def midnight(day: date, tz: tzinfo) -> datetime:
    """The first moment of ``day`` in the time zone ``tz``."""
    return datetime.combine(day, time(), tz)


def bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The first moment of ``day`` in ``tz`` and the first moment after it."""
    return midnight(day, tz), midnight(day + timedelta(days=1), tz)
