"""outbox rows carry the WhatsApp template that stands in for them outside the 24-hour window;
participants the channel the roster says they chose

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain nullable columns: no table rebuild on SQLite.
    op.add_column("outbox", sa.Column("template", sa.JSON(), nullable=True))
    op.add_column("outbox", sa.Column("template_sent_at", sa.DateTime(), nullable=True))
    op.add_column(
        "participants", sa.Column("preferred_channel", sa.String(length=16), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("participants", "preferred_channel")
    op.drop_column("outbox", "template_sent_at")
    op.drop_column("outbox", "template")
