"""where a family lives, from the roster's ZIP, for quiet hours in their own time zone

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns only: no table rebuild on SQLite.
    op.add_column("participants", sa.Column("place", sa.String(length=160), nullable=True))
    op.add_column("outbox", sa.Column("place", sa.String(length=160), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("place")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("place")
