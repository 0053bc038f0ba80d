"""an assignment found from the one forwarded to it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 22:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_assignment_forwarded_from_id", "assignment", ["forwarded_from_id"])


def downgrade() -> None:
    op.drop_index("ix_assignment_forwarded_from_id", table_name="assignment")
