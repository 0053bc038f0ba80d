"""later registrations found from the one they name as related (its replies)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 14:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_registration_relation_related_id", "registration_relation", ["related_id"])


def downgrade() -> None:
    op.drop_index("ix_registration_relation_related_id", table_name="registration_relation")
