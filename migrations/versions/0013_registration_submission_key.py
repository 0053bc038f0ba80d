"""a registration remembers the form or request that made it, so a resubmission makes no second

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("registration", sa.Column("submission_key", sa.String(length=100)))
    op.create_index(
        "uq_registration_submission",
        "registration",
        ["registered_by", "submission_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_registration_submission", table_name="registration")
    with op.batch_alter_table("registration") as batch:
        batch.drop_column("submission_key")
