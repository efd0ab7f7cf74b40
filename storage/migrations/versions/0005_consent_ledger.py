"""consent ledger: every opt-in, opt-out, help and consent change, append-only

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

The ledger starts with what the database already knew, marked
`before_ledger`: an opt-out for each opted-out contact (at its opt-out time),
a consent for each participant who gave it (at its time), and a withdrawal
for each who declined. Earlier history (an opt-out later undone by START)
was never kept and cannot be recovered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("words", sa.Text(), nullable=True),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_consent_events_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_consent_events_message_id_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_consent_events_participant_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_events_address_hash"), ["address_hash"], unique=False
        )
        batch_op.create_index("ix_consent_events_contact", ["contact_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_consent_events_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            "ix_consent_events_participant", ["participant_id", "id"], unique=False
        )
    address = "CASE WHEN c.address LIKE 'forgotten:%' THEN NULL ELSE c.address END"
    op.execute(
        "INSERT INTO consent_events (participant_id, contact_id, channel, address, kind, "
        "source, created_at) "
        f"SELECT c.participant_id, c.id, c.channel, {address}, 'opt_out', 'before_ledger', "
        "c.opted_out_at FROM contacts c WHERE c.opted_out_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO consent_events (participant_id, contact_id, channel, address, kind, "
        "source, created_at) "
        f"SELECT c.participant_id, c.id, c.channel, {address}, 'consent_given', "
        "'before_ledger', p.consent_at FROM contacts c JOIN participants p "
        "ON p.id = c.participant_id WHERE p.consent IS TRUE AND p.consent_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO consent_events (participant_id, contact_id, channel, address, kind, "
        "source, created_at) "
        f"SELECT c.participant_id, c.id, c.channel, {address}, 'consent_withdrawn', "
        "'before_ledger', p.updated_at FROM contacts c JOIN participants p "
        "ON p.id = c.participant_id WHERE p.consent IS FALSE"
    )


def downgrade() -> None:
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_events_participant")
        batch_op.drop_index(batch_op.f("ix_consent_events_created_at"))
        batch_op.drop_index("ix_consent_events_contact")
        batch_op.drop_index(batch_op.f("ix_consent_events_address_hash"))
    op.drop_table("consent_events")
