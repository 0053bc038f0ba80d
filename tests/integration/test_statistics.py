"""The figures of a year: by local month, direction, department, classification; times; overdue."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from eprotocol import Archive, NewRegistration, Role
from eprotocol.core.errors import Forbidden
from tests.support import FixedClock


def _register(archive: Archive, clock: FixedClock, at: datetime, **fields: object) -> int:
    clock.set(at)
    values = {"direction": "incoming", "subject": "Αίτηση", **fields}
    return archive.register(NewRegistration(**values), by="admin").number  # type: ignore[arg-type]


def test_a_year_in_figures(archive: Archive, clock: FixedClock) -> None:
    archive.add_department("TECH", "Τεχνικές Υπηρεσίες", by="admin")
    archive.add_department("KEP", "ΚΕΠ", by="admin")
    archive.add_classification("Φ.10", "Άδειες", retention_years=10, disposal="destroy", by="admin")
    archive.add_user("auditor", "Ελεγκτής", roles=[Role.AUDITOR], by="admin")
    archive.add_user("kep", "Υπάλληλος ΚΕΠ", department="KEP", roles=[Role.ISSUER], by="admin")

    # Months are those of Athens: 31 January 21:30 UTC is still January there, 22:30 UTC is
    # already February, and 31 March 22:30 UTC is April (summer time).
    _register(archive, clock, datetime(2026, 1, 31, 21, 30, tzinfo=UTC))
    _register(archive, clock, datetime(2026, 1, 31, 22, 30, tzinfo=UTC), direction="outgoing")
    _register(archive, clock, datetime(2026, 3, 31, 22, 30, tzinfo=UTC), classification_code="Φ.10")
    book = archive.config.default_book
    cancelled = _register(archive, clock, datetime(2026, 4, 2, 8, 0, tzinfo=UTC))
    archive.cancel(book, 2026, cancelled, reason="Λάθος", authorisation="Εντολή", by="admin")
    _register(archive, clock, datetime(2025, 12, 31, 23, 30, tzinfo=UTC))  # 2026 in Athens

    clock.set(datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    done = archive.assign(book, 2026, 1, department="TECH", by="admin")
    archive.accept(done.id, by="admin")
    clock.set(datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    archive.complete(done.id, by="admin")
    clock.set(datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    archive.assign(book, 2026, 2, department="TECH", due=date(2026, 5, 10), by="admin")
    archive.assign(book, 2026, 3, department="KEP", due=date(2026, 6, 30), by="admin")

    clock.set(datetime(2026, 5, 20, 9, 0, tzinfo=UTC))
    figures = archive.statistics(2026, by="auditor")

    assert figures.total == 5 and figures.cancelled == 1
    assert figures.by_direction["incoming"][0] == 2  # January: the one of 31/12 UTC too
    assert figures.by_direction["outgoing"][:2] == [0, 1]
    assert figures.by_direction["incoming"][2] == 0  # March 31 UTC is April in Athens
    assert figures.by_direction["incoming"][3] == 1  # the cancelled one is not counted
    assert sum(sum(months) for months in figures.by_direction.values()) == 4
    assert figures.by_classification == {"": 3, "Φ.10": 1}
    assert figures.by_department == {
        "TECH": [0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
        "KEP": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
    }
    assert figures.mean_days_to_complete == {"TECH": pytest.approx(3.0)}
    assert figures.overdue == {"TECH": 1}  # due 10 May, open on 20 May; KEP's is not due yet
    assert archive.yearly_totals(by="auditor") == {2026: 4}

    rows = figures.rows()
    assert ("total", "", "", "5") in rows
    assert ("direction", "incoming", "1", "2") in rows
    assert ("mean_days_to_complete", "TECH", "", "3.00") in rows

    # Who may not read the book may not read its figures either.
    with pytest.raises(Forbidden):
        archive.statistics(2026, by="kep")
