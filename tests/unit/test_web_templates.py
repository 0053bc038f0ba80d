"""Templates and chart geometry of the pages, rendered without a server."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from eprotocol.api.web import charts
from eprotocol.api.web.pages import _overdue_first
from eprotocol.api.web.rendering import template_engine
from eprotocol.core.routing import InboxEntry
from eprotocol.core.types import (
    Assignment,
    AssignmentState,
    ProtocolRef,
    Purpose,
    Role,
    User,
)

TODAY = date(2026, 5, 20)
CLERK = User("maria", "Μαρία", None, "TECH", frozenset({Role.STAFF}), True)


def _entry(number: int, due: date | None, subject: str) -> InboxEntry:
    assignment = Assignment(
        id=number,
        registration=ProtocolRef("general", 2026, number),
        department="TECH",
        assignee=None,
        purpose=Purpose.ACTION,
        state=AssignmentState.PENDING,
        due=due,
        note=None,
        created_by="admin",
        created_at=datetime(2026, 5, 1, tzinfo=UTC),
        accepted_by=None,
        accepted_at=None,
        closed_by=None,
        closed_at=None,
        return_reason=None,
        reply=None,
        forwarded_from=None,
    )
    return InboxEntry(assignment, subject)


def _render(name: str, **context: object) -> str:
    base = {
        "lang": "el",
        "user": CLERK,
        "path": "/",
        "language_links": {"el": "/?lang=el", "en": "/?lang=en"},
        "organisation": "Δήμος Χανίων",
        "tz": ZoneInfo("Europe/Athens"),
        "csrf_input": '<input type="hidden" name="_csrf_token" value="t">',
    }
    return template_engine().get_template(name).render(**(base | context))


def test_overdue_work_is_marked_and_subjects_are_text() -> None:
    late = _entry(7, date(2026, 5, 10), "<script>alert(1)</script> κλάδεμα")
    on_time = _entry(8, date(2026, 6, 30), "Αίτηση")
    ordered = _overdue_first((on_time, late), TODAY)
    assert ordered == [late, on_time]
    html = _render("inbox.html", today=TODAY, mine=[], department=ordered, recent=())
    rows = html.split("<tr class=")[1:]
    assert rows[0].startswith('"overdue"') and "εκπρόθεσμη" in rows[0]
    assert rows[1].startswith('""') and "εκπρόθεσμη" not in rows[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html


def test_english_pages_translate_texts_and_codes() -> None:
    html = _render("inbox.html", lang="en", today=TODAY, mine=[], department=[], recent=())
    assert "Assigned to me" in html and "Χρεωμένα σε εμένα" not in html


def test_month_columns_stack_and_scale_to_the_busiest_month() -> None:
    chart = charts.stacked_months({"incoming": [4, 0] + [0] * 10, "outgoing": [4, 2] + [0] * 10})
    assert chart.peak == 8 and chart.series == ("incoming", "outgoing")
    january = [s for s in chart.segments if s.x < chart.month_x[0]]
    assert [s.value for s in january] == [4, 4]
    plot = chart.baseline - 8  # the full height is the busiest month's column
    assert abs(sum(s.height for s in january) - plot) < 1e-6
    assert abs(january[0].y + january[0].height - chart.baseline) < 1e-6  # drawn from the axis
    february = [s for s in chart.segments if chart.month_x[0] < s.x < chart.month_x[1]]
    assert [s.value for s in february] == [2] and abs(february[0].height - plot / 4) < 1e-6


def test_bars_rank_and_cut_the_longest_list() -> None:
    rows = charts.bars({f"D{i}": i for i in range(1, 21)}, limit=3)
    assert [(b.label, b.value, round(b.fraction, 3)) for b in rows] == [
        ("D20", 20, 1.0),
        ("D19", 19, 0.95),
        ("D18", 18, 0.9),
    ]
    assert charts.bars({}) == ()
