"""inbox routing, claims, the reply promise, urgency and staff replies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lets_talk", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="message", nullable=False)
        )
        batch_op.add_column(
            sa.Column("urgency", sa.String(length=16), server_default="none", nullable=False)
        )
        batch_op.add_column(sa.Column("concerns", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("topics", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("team", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("owner", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("remind_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))

    op.create_table(
        "inbox_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("written_in", sa.String(length=16), nullable=True),
        sa.Column("translation", sa.Text(), nullable=True),
        sa.Column("translated_by", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("queue_channel", sa.String(length=32), nullable=True),
        sa.Column("queue_ts", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("translated_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["lets_talk.id"], name=op.f("fk_inbox_replies_item_id_lets_talk")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_replies")),
        sa.UniqueConstraint("provider_id", name=op.f("uq_inbox_replies_provider_id")),
    )
    with op.batch_alter_table("inbox_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_replies_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbox_replies_queue_ts"), ["queue_ts"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbox_replies_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_replies_status"))
        batch_op.drop_index(batch_op.f("ix_inbox_replies_queue_ts"))
        batch_op.drop_index(batch_op.f("ix_inbox_replies_item_id"))
    op.drop_table("inbox_replies")
    with op.batch_alter_table("lets_talk", schema=None) as batch_op:
        for column in (
            "escalated_at",
            "reminded_at",
            "remind_at",
            "due_at",
            "claimed_at",
            "claimed_by",
            "owner",
            "team",
            "topics",
            "concerns",
            "urgency",
            "kind",
        ):
            batch_op.drop_column(column)
