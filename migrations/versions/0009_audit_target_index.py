"""audit events found by their target (a registration's trail on its page)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_event_target", "audit_event", ["target"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_target", table_name="audit_event")
