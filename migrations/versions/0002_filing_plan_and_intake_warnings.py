"""filing plan and intake warnings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:44:32.444313
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classification",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("retention_years", sa.Integer(), nullable=False),
        sa.Column("disposal", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_registration_classification", "classification", ["classification_code"], ["code"]
        )
    with op.batch_alter_table("registration_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warnings", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("registration_file", schema=None) as batch_op:
        batch_op.drop_column("warnings")
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint("fk_registration_classification", type_="foreignkey")
    op.drop_table("classification")
