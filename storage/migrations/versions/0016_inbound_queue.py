"""inbound queue: what providers sent, recorded before the answer, drained by the engine

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_queue")),
        sa.UniqueConstraint("channel", "provider_id", name="uq_inbound_queue_provider_id"),
    )
    op.create_index("ix_inbound_queue_status", "inbound_queue", ["status", "id"])
    op.create_index("ix_inbound_queue_sender", "inbound_queue", ["sender", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_queue_sender", table_name="inbound_queue")
    op.drop_index("ix_inbound_queue_status", table_name="inbound_queue")
    op.drop_table("inbound_queue")
