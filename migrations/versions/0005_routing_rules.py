"""routing rules

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:36:18.058251
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sender_contains", sa.String(length=200), nullable=True),
        sa.Column("subject_words", sa.JSON(), nullable=False),
        sa.Column("classification_code", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("routing_rule")
