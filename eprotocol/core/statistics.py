"""Figures of a year of the protocol book, as the municipality publishes and manages them.

Counts are by the local month of registration (the archive's time zone): the
UTC boundaries of the local months are computed here and the database buckets
and counts the rows, so no row of the year travels to Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from eprotocol.core.models import ASSIGNMENT, DEPARTMENT, REGISTRATION, SEAL
from eprotocol.core.types import OPEN_STATES, AssignmentState, Direction, Status

#: Months of a year, 1..12, as list positions 0..11.
MONTHS = 12


def _months() -> list[int]:
    return [0] * MONTHS


@dataclass(frozen=True, slots=True)
class YearStatistics:
    """What happened in one year of the protocol book (cancelled entries counted apart)."""

    year: int
    total: int
    cancelled: int
    #: direction → registrations per month (12 numbers)
    by_direction: dict[str, list[int]] = field(default_factory=dict)
    #: department code → registrations routed to it per month
    by_department: dict[str, list[int]] = field(default_factory=dict)
    #: classification code (``""`` for none) → registrations
    by_classification: dict[str, int] = field(default_factory=dict)
    #: certificate template code → certificates issued
    certificates: dict[str, int] = field(default_factory=dict)
    #: department code → mean days from assignment to completion, of those completed this year
    mean_days_to_complete: dict[str, float] = field(default_factory=dict)
    #: department code → open assignments past their due date on the day asked
    overdue: dict[str, int] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The figures as ``(measure, key, month, value)`` rows, for a spreadsheet."""
        out: list[tuple[str, str, str, str]] = [
            ("total", "", "", str(self.total)),
            ("cancelled", "", "", str(self.cancelled)),
        ]
        for measure, series in (
            ("direction", self.by_direction),
            ("department", self.by_department),
        ):
            for key, months in sorted(series.items()):
                out += [(measure, key, str(m + 1), str(v)) for m, v in enumerate(months)]
        for measure, counts in (
            ("classification", self.by_classification),
            ("certificates", self.certificates),
            ("overdue", self.overdue),
        ):
            out += [(measure, key, "", str(v)) for key, v in sorted(counts.items())]
        out += [
            ("mean_days_to_complete", key, "", f"{v:.2f}")
            for key, v in sorted(self.mean_days_to_complete.items())
        ]
        return out


def _month_starts(year: int, tz: ZoneInfo) -> list[datetime]:
    """The UTC instants where the 12 local months of ``year`` and the next year begin (13)."""
    return [datetime(year + m // 12, m % 12 + 1, 1, tzinfo=tz).astimezone(UTC) for m in range(13)]


def _local_month(column: sa.ColumnElement[datetime], starts: list[datetime]) -> sa.Case[int]:
    """The month (0-11) of a timestamp within ``starts`` (:func:`_month_starts`), by the database.

    The local months' boundaries are UTC instants (daylight saving included), so
    both databases bucket the stored UTC timestamps the same way.
    """
    inner = starts[1:12]
    return sa.case(*((column < start, index) for index, start in enumerate(inner)), else_=11)


def _days(conn: sa.Connection, later: sa.ColumnElement[Any], earlier: sa.ColumnElement[Any]) -> Any:
    """Days between two timestamps, as the database computes them."""
    if conn.dialect.name == "sqlite":
        return sa.func.julianday(later) - sa.func.julianday(earlier)
    return sa.func.extract("epoch", later - earlier) / 86400.0


def _monthly(conn: sa.Connection, inner: sa.Select[Any]) -> dict[str, list[int]]:
    """``key → 12 counts`` from a query of ``(key, month)`` rows, counted by the database."""
    rows = inner.subquery()
    counted = sa.select(rows.c.key, rows.c.month, sa.func.count()).group_by(
        rows.c.key, rows.c.month
    )
    series: dict[str, list[int]] = defaultdict(_months)
    for key, month, count in conn.execute(counted):
        series[str(key)][int(month)] = int(count)
    return dict(series)


def year_statistics(conn: sa.Connection, year: int, tz: ZoneInfo, today: date) -> YearStatistics:
    """The figures of ``year``; overdue counts are those open on ``today``.

    Everything is counted by the database (one grouped query per figure), so a year
    of the reference municipality takes a fraction of a second.
    """
    starts = _month_starts(year, tz)
    start, end = starts[0], starts[12]
    of_year = REGISTRATION.c.year == year
    active = REGISTRATION.c.status != Status.CANCELLED
    by_status = {
        str(status): int(count)
        for status, count in conn.execute(
            sa.select(REGISTRATION.c.status, sa.func.count())
            .where(of_year)
            .group_by(REGISTRATION.c.status)
        )
    }
    by_direction = {d.value: _months() for d in Direction} | _monthly(
        conn,
        sa.select(
            REGISTRATION.c.direction.label("key"),
            _local_month(REGISTRATION.c.registered_at, starts).label("month"),
        ).where(of_year, active),
    )
    classification = {
        str(code or ""): int(count)
        for code, count in conn.execute(
            sa.select(REGISTRATION.c.classification_code, sa.func.count())
            .where(of_year, active)
            .group_by(REGISTRATION.c.classification_code)
        )
    }
    by_department = _monthly(
        conn,
        sa.select(
            DEPARTMENT.c.code.label("key"),
            _local_month(ASSIGNMENT.c.created_at, starts).label("month"),
        )
        .join(DEPARTMENT, DEPARTMENT.c.id == ASSIGNMENT.c.department_id)
        .where(ASSIGNMENT.c.created_at >= start, ASSIGNMENT.c.created_at < end),
    )
    completed = conn.execute(
        sa.select(
            DEPARTMENT.c.code,
            sa.func.avg(_days(conn, ASSIGNMENT.c.closed_at, ASSIGNMENT.c.created_at)),
        )
        .join(DEPARTMENT, DEPARTMENT.c.id == ASSIGNMENT.c.department_id)
        .where(
            ASSIGNMENT.c.state == AssignmentState.COMPLETED,
            ASSIGNMENT.c.closed_at >= start,
            ASSIGNMENT.c.closed_at < end,
        )
        .group_by(DEPARTMENT.c.code)
    )
    overdue = conn.execute(
        sa.select(DEPARTMENT.c.code, sa.func.count())
        .join(DEPARTMENT, DEPARTMENT.c.id == ASSIGNMENT.c.department_id)
        .where(
            ASSIGNMENT.c.state.in_(OPEN_STATES),
            ASSIGNMENT.c.due < today,
        )
        .group_by(DEPARTMENT.c.code)
    )
    certificates = (
        sa.select(SEAL.c.template, sa.func.count())
        .join(REGISTRATION, REGISTRATION.c.id == SEAL.c.registration_id)
        .where(of_year, active, SEAL.c.template.is_not(None))
        .group_by(SEAL.c.template)
    )
    return YearStatistics(
        year=year,
        total=sum(by_status.values()),
        cancelled=by_status.get(Status.CANCELLED.value, 0),
        by_direction=by_direction,
        by_department=by_department,
        by_classification=classification,
        certificates={str(t): int(n) for t, n in conn.execute(certificates)},
        mean_days_to_complete={str(code): float(days) for code, days in completed},
        overdue={str(code): int(n) for code, n in overdue},
    )


def totals_by_year(conn: sa.Connection) -> dict[int, int]:
    """Registrations per year (cancelled ones excluded), oldest year first."""
    query = (
        sa.select(REGISTRATION.c.year, sa.func.count())
        .where(REGISTRATION.c.status != Status.CANCELLED)
        .group_by(REGISTRATION.c.year)
        .order_by(REGISTRATION.c.year)
    )
    return {int(year): int(count) for year, count in conn.execute(query)}
