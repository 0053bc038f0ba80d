"""the organisation's renames found without reading the whole audit chain

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_RENAMED = sa.text("action = 'organisation.renamed'")


def upgrade() -> None:
    op.create_index(
        "ix_audit_event_renamed",
        "audit_event",
        ["seq"],
        sqlite_where=_RENAMED,
        postgresql_where=_RENAMED,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_event_renamed", table_name="audit_event")
