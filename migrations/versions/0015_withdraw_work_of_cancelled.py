"""the open assignments of cancelled registrations end with them (state withdrawn)

From this version a cancellation ends its registration's open assignments. Those
left open by cancellations made before it end now, as if at the cancellation: closed
by who cancelled, when they did. The cancellation's own audit event records that act;
no event is added for this catch-up.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_assignment = sa.table(
    "assignment",
    sa.column("registration_id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("accepted_by", sa.String),
    sa.column("closed_by", sa.String),
    sa.column("closed_at", sa.DateTime(timezone=True)),
)
_cancellation = sa.table(
    "cancellation",
    sa.column("registration_id", sa.Integer),
    sa.column("cancelled_by", sa.String),
    sa.column("cancelled_at", sa.DateTime(timezone=True)),
)


def _of_cancellation(column: sa.ColumnClause[object]) -> sa.ScalarSelect[object]:
    return (
        sa.select(column)
        .where(_cancellation.c.registration_id == _assignment.c.registration_id)
        .scalar_subquery()
    )


def upgrade() -> None:
    op.execute(
        sa.update(_assignment)
        .where(
            _assignment.c.state.in_(("pending", "accepted")),
            _assignment.c.registration_id.in_(sa.select(_cancellation.c.registration_id)),
        )
        .values(
            state="withdrawn",
            closed_by=_of_cancellation(_cancellation.c.cancelled_by),
            closed_at=_of_cancellation(_cancellation.c.cancelled_at),
        )
    )


def downgrade() -> None:
    # Earlier versions know no "withdrawn": such work is open again, as they left it.
    op.execute(
        sa.update(_assignment)
        .where(_assignment.c.state == "withdrawn")
        .values(
            state=sa.case((_assignment.c.accepted_by.is_(None), "pending"), else_="accepted"),
            closed_by=None,
            closed_at=None,
        )
    )
