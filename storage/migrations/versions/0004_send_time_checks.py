"""send-time checks: rows in flight, paused broadcasts, withheld rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

`outbox.sending_at` marks a row whose provider call began; `broadcasts.paused_at`
marks a paused broadcast. Rows that were cancelled because their recipient opted
out (or blocked us, or was forgotten) become `withheld`, so a cancelled broadcast
counts only what an organizer withdrew as cancelled.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sending_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE outbox SET status = 'withheld' "
        "WHERE status = 'cancelled' AND (error IS NULL OR error <> 'broadcast cancelled')"
    )


def downgrade() -> None:
    op.execute("UPDATE outbox SET status = 'cancelled' WHERE status = 'withheld'")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("paused_at")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("sending_at")
