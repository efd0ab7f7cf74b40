"""the confirmation that created a broadcast, so a replayed Confirm creates nothing more

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A column and a unique index: no table rebuild on SQLite (outbox rows point here).
    op.add_column("broadcasts", sa.Column("request_key", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_broadcasts_request_key"), "broadcasts", ["request_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_broadcasts_request_key"), table_name="broadcasts")
    op.drop_column("broadcasts", "request_key")
