"""Figures of a year of the protocol book, as the municipality publishes and manages them.

Counts are by the local month of registration (the archive's time zone), so
rows are read and grouped here rather than by the database's UTC timestamps;
a year of the reference municipality (~120,000 registrations) is read in well
under a second.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from eprotocol.core.models import ASSIGNMENT, DEPARTMENT, REGISTRATION, SEAL
from eprotocol.core.types import AssignmentState, Direction, Status

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


def _year_bounds(year: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    return start, end


def _month(moment: datetime, tz: ZoneInfo) -> int:
    return moment.astimezone(tz).month - 1


def year_statistics(conn: sa.Connection, year: int, tz: ZoneInfo, today: date) -> YearStatistics:
    """The figures of ``year``; overdue counts are those open on ``today``."""
    start, end = _year_bounds(year, tz)
    by_direction = {d.value: _months() for d in Direction}
    classification: Counter[str] = Counter()
    total = cancelled = 0
    registrations = sa.select(
        REGISTRATION.c.registered_at,
        REGISTRATION.c.direction,
        REGISTRATION.c.classification_code,
        REGISTRATION.c.status,
    ).where(REGISTRATION.c.year == year)
    for row in conn.execute(registrations):
        total += 1
        if row.status == Status.CANCELLED:
            cancelled += 1
            continue
        by_direction.setdefault(row.direction, _months())[_month(row.registered_at, tz)] += 1
        classification[row.classification_code or ""] += 1

    by_department: dict[str, list[int]] = defaultdict(_months)
    completion: dict[str, list[float]] = defaultdict(list)
    overdue: Counter[str] = Counter()
    assignments = (
        sa.select(
            DEPARTMENT.c.code,
            ASSIGNMENT.c.state,
            ASSIGNMENT.c.due,
            ASSIGNMENT.c.created_at,
            ASSIGNMENT.c.closed_at,
        )
        .join(DEPARTMENT, DEPARTMENT.c.id == ASSIGNMENT.c.department_id)
        .where(
            sa.or_(
                ASSIGNMENT.c.created_at.between(start, end),
                ASSIGNMENT.c.closed_at.between(start, end),
                ASSIGNMENT.c.state.in_([AssignmentState.PENDING, AssignmentState.ACCEPTED]),
            )
        )
    )
    for assigned in conn.execute(assignments):
        if start <= assigned.created_at < end:
            by_department[assigned.code][_month(assigned.created_at, tz)] += 1
        if (
            assigned.state == AssignmentState.COMPLETED
            and assigned.closed_at is not None
            and start <= assigned.closed_at < end
        ):
            completion[assigned.code].append(
                (assigned.closed_at - assigned.created_at) / timedelta(days=1)
            )
        if (
            assigned.state in (AssignmentState.PENDING, AssignmentState.ACCEPTED)
            and assigned.due is not None
            and assigned.due < today
        ):
            overdue[assigned.code] += 1

    certificates = (
        sa.select(SEAL.c.template, sa.func.count())
        .join(REGISTRATION, REGISTRATION.c.id == SEAL.c.registration_id)
        .where(
            REGISTRATION.c.year == year,
            SEAL.c.template.is_not(None),
            REGISTRATION.c.status != Status.CANCELLED,
        )
        .group_by(SEAL.c.template)
    )
    return YearStatistics(
        year=year,
        total=total,
        cancelled=cancelled,
        by_direction=by_direction,
        by_department=dict(by_department),
        by_classification=dict(classification),
        certificates={str(t): int(n) for t, n in conn.execute(certificates)},
        mean_days_to_complete={
            code: sum(days) / len(days) for code, days in completion.items() if days
        },
        overdue=dict(overdue),
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
