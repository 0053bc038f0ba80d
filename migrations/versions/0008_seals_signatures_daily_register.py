"""sealed documents, signature reports of files, daily registers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registration_file") as batch:
        batch.add_column(sa.Column("signatures", sa.JSON(), server_default="[]", nullable=False))
    op.create_table(
        "seal",
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("verification_code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["registration_id"], ["registration.id"]),
        sa.PrimaryKeyConstraint("registration_id"),
        sa.UniqueConstraint("verification_code"),
    )
    op.create_index(op.f("ix_seal_sha256"), "seal", ["sha256"], unique=False)
    op.create_table(
        "daily_register",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("audit_head", sa.String(length=64), nullable=False),
        sa.Column("json_sha256", sa.String(length=64), nullable=False),
        sa.Column("json_key", sa.String(length=255), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_key", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("daily_register")
    op.drop_index(op.f("ix_seal_sha256"), table_name="seal")
    op.drop_table("seal")
    with op.batch_alter_table("registration_file") as batch:
        batch.drop_column("signatures")
