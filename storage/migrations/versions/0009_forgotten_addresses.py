"""keyed hashes of the addresses of forgotten people

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forgotten_addresses",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_forgotten_addresses")),
    )


def downgrade() -> None:
    op.drop_table("forgotten_addresses")
