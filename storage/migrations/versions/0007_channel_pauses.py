"""channel pauses: a channel the provider refused our configuration for

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("credentials", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("probe_after", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_pauses")),
        sa.UniqueConstraint("channel", "credentials", name="uq_channel_pauses_channel_credentials"),
    )


def downgrade() -> None:
    op.drop_table("channel_pauses")
