"""The filing plan (σχέδιο αρχειοθέτησης): its headings and how long their files are kept.

A municipality keeps its plan as a table of headings (code, title, years of retention,
what happens at the end); :func:`read_plan_csv` reads that table as a spreadsheet saves
it, and :meth:`FilingPlan.add` adds the headings in one transaction. A heading's
retention and disposal, once added, are not changed: the files filed under it were
stored with its retention. Its title may be corrected (:meth:`FilingPlan.retitle`).

What the end of retention reaches is listed by :mod:`eprotocol.core.disposal`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from eprotocol.core import validation
from eprotocol.core.audit import lock_chain
from eprotocol.core.database import Database
from eprotocol.core.errors import Conflict, InvalidInput, Phrase
from eprotocol.core.models import CLASSIFICATION
from eprotocol.core.organisation import administrator
from eprotocol.core.ports import Clock
from eprotocol.core.types import Classification, Disposal

#: The longest retention a heading may have; what is kept for ever goes to the General
#: State Archives at its end (``transfer``).
MAX_YEARS = 200

HEADING_EXISTS = Phrase(
    "heading-exists",
    "the filing plan already has a heading {code!r} ({title}, {years} years, {disposal}); "
    "its retention and disposal are not changed (its title may be corrected)",
)
NOT_A_HEADING = Phrase("not-a-heading", "{code!r} is not a heading of the filing plan")
HEADING_TWICE = Phrase("heading-twice", "the heading {code!r} is given twice, differently")
RETENTION_YEARS = Phrase(
    "retention-years", "retention_years must be a whole number from 1 to {max} (got {value!r})"
)
PLAN_ENCODING = Phrase(
    "plan-encoding", "the file is not UTF-8 text: save the spreadsheet as «CSV UTF-8»"
)
PLAN_COLUMNS = Phrase(
    "plan-columns",
    "the first line must name the columns code, title, retention_years and, if wanted, "
    "disposal (found: {found})",
)
PLAN_EMPTY = Phrase("plan-empty", "the file holds no heading")
EXTRA_VALUES = Phrase("plan-extra-values", "more values than the first line names columns")
PLAN_LINE = Phrase("plan-line", "line {line}: {problem}")

#: The columns of a plan's CSV file: the first three are required.
COLUMNS = ("code", "title", "retention_years", "disposal")
#: What happens to documents at the end of their retention when the plan does not say:
#: they are looked at again, never destroyed by default.
DEFAULT_DISPOSAL = Disposal.REVIEW


def years_later(instant: datetime, years: int) -> datetime:
    """The same instant ``years`` later (28 February for 29 February): a retention date."""
    try:
        return instant.replace(year=instant.year + years)
    except ValueError:  # 29 February in a year that has none
        return instant.replace(year=instant.year + years, day=28)


def heading(
    code: object, title: object, retention_years: object, disposal: object = DEFAULT_DISPOSAL
) -> Classification:
    """A checked heading of the filing plan; ``InvalidInput`` naming the field if it is not one.

    ``retention_years`` may be given as text (from a form or a file) or as a number.
    """
    code = validation.required_text(code, "code", validation.CLASSIFICATION_MAX)
    title = validation.required_text(title, "title", 300)
    years = retention_years
    if isinstance(years, str) or years is None:
        years = validation.required_text(years, "retention_years", 10)
        years = int(years) if years.isdecimal() else None
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
        problem = RETENTION_YEARS(max=MAX_YEARS, value=retention_years)
        raise InvalidInput(problem, field="retention_years")
    return Classification(code, title, years, validation.choice(disposal, Disposal, "disposal"))


def read_plan_csv(data: bytes) -> list[Classification]:
    """The headings of a filing plan saved as CSV, checked; ``InvalidInput`` naming the line.

    The first line names the columns (:data:`COLUMNS`, in any order; ``disposal``
    may be left out or empty for :data:`DEFAULT_DISPOSAL`). Commas, semicolons (as a
    Greek spreadsheet saves it) or tabs separate them; the text is UTF-8, with or
    without the byte-order mark spreadsheets write.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(PLAN_ENCODING(), field="file") from None
    first_line = text.partition("\n")[0]
    delimiter = max(",;\t", key=first_line.count)
    rows = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    found = [(name or "").strip() for name in rows.fieldnames or ()]
    if not set(COLUMNS[:3]) <= set(found) or not set(found) <= set(COLUMNS):
        raise InvalidInput(PLAN_COLUMNS(found=", ".join(found) or "—"), field="file")
    rows.fieldnames = found
    headings = []
    for row in rows:
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue  # a blank line between groups of headings
        try:
            if None in row:  # csv's key for the values beyond the named columns
                raise InvalidInput(EXTRA_VALUES(), field="file")
            headings.append(
                heading(
                    row["code"],
                    row["title"],
                    row["retention_years"],
                    (row.get("disposal") or "").strip() or DEFAULT_DISPOSAL,
                )
            )
        except InvalidInput as exc:
            where = PLAN_LINE(line=rows.line_num, problem=exc.message)
            raise InvalidInput(where, field="file") from exc
    if not headings:
        raise InvalidInput(PLAN_EMPTY(), field="file")
    return headings


def _one_each(headings: Iterable[Classification]) -> dict[str, Classification]:
    """The headings by code: one given twice counts once, a code given twice differently is not."""
    by_code: dict[str, Classification] = {}
    for h in headings:
        if by_code.setdefault(h.code, h) != h:
            raise InvalidInput(HEADING_TWICE(code=h.code), field="code")
    return by_code


def retention_years(conn: sa.Connection, code: str) -> int:
    """How many years the heading ``code`` keeps its documents; ``InvalidInput`` if none."""
    years = conn.execute(
        sa.select(CLASSIFICATION.c.retention_years).where(CLASSIFICATION.c.code == code)
    ).scalar()
    if years is None:
        raise InvalidInput(NOT_A_HEADING(code=code), field="classification_code")
    return int(years)


def headings_by_code(conn: sa.Connection) -> dict[str, Classification]:
    """The whole filing plan, by code."""
    return {h.code: h for h in map(_heading_of, conn.execute(sa.select(CLASSIFICATION)))}


def _heading_of(row: sa.Row[Any]) -> Classification:
    return Classification(row.code, row.title, row.retention_years, Disposal(row.disposal))


class FilingPlan:
    """Reading the filing plan and adding headings to it (adding: administrators only)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def headings(self, codes: Iterable[str] | None = None) -> tuple[Classification, ...]:
        """Every heading, or those of ``codes`` the plan has, by code."""
        query = sa.select(CLASSIFICATION).order_by(CLASSIFICATION.c.code)
        if codes is not None:
            query = query.where(CLASSIFICATION.c.code.in_(list(codes)))
        with self._db.read() as conn:
            return tuple(_heading_of(r) for r in conn.execute(query))

    def add(self, headings: Iterable[Classification], *, by: str) -> tuple[Classification, ...]:
        """Add ``headings`` (each checked by :func:`heading`) all together or none; the added.

        A heading the plan already has as given is left as it is, so a plan's file can
        be loaded again after lines were added to it; one it has with another title,
        retention or disposal is refused (``Conflict``), and nothing is added.
        """
        wanted = _one_each(
            heading(h.code, h.title, h.retention_years, h.disposal) for h in headings
        )
        with self._db.write() as conn:
            chain = lock_chain(conn)
            user = administrator(conn, by)
            rows = conn.execute(
                sa.select(CLASSIFICATION).where(CLASSIFICATION.c.code.in_(list(wanted)))
            ).all()
            for have in map(_heading_of, rows):
                if have != wanted.pop(have.code):
                    raise Conflict(
                        HEADING_EXISTS(
                            code=have.code,
                            title=have.title,
                            years=have.retention_years,
                            disposal=have.disposal.value,
                        )
                    )
            now = self._clock.now()
            for h in wanted.values():
                row_values = {
                    "code": h.code,
                    "title": h.title,
                    "retention_years": h.retention_years,
                    "disposal": h.disposal.value,
                }
                conn.execute(sa.insert(CLASSIFICATION), row_values)
                chain.append(
                    actor=user.username,
                    action="classification.created",
                    target=h.code,
                    details=row_values,
                    at=now,
                )
        return tuple(wanted.values())

    def retitle(self, code: str, title: str, *, by: str) -> Classification:
        """Correct the title of the heading ``code``; the heading as it is now.

        Only the title: its retention and disposal stay as its files were stored.
        The audit trail keeps the title it had. ``InvalidInput`` for a code not in the
        plan or an empty title; the same title again changes nothing.
        """
        with self._db.write() as conn:
            chain = lock_chain(conn)
            user = administrator(conn, by)
            row = conn.execute(
                sa.select(CLASSIFICATION).where(CLASSIFICATION.c.code == code)
            ).one_or_none()
            if row is None:
                raise InvalidInput(NOT_A_HEADING(code=code), field="code")
            have = _heading_of(row)
            wanted = heading(code, title, have.retention_years, have.disposal)
            if wanted == have:
                return have
            conn.execute(
                sa.update(CLASSIFICATION)
                .where(CLASSIFICATION.c.code == code)
                .values(title=wanted.title)
            )
            chain.append(
                actor=user.username,
                action="classification.retitled",
                target=code,
                details={"title": wanted.title, "previous_title": have.title},
                at=self._clock.now(),
            )
        return wanted
