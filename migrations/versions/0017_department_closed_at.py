"""a department closed in a reorganisation keeps its history (department.closed_at)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("department", sa.Column("closed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("department") as batch:
        batch.drop_column("closed_at")
