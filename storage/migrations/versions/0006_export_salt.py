"""a random value per participant for the keys exports print

Exports printed HMAC(secret, participant id): ids count up, so with a known
secret every key reversed to its id. Each participant now gets a random value
and exports hash that instead. Existing participants get one here (their
export keys change once).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("export_salt", sa.String(length=32), nullable=True))
    participants = sa.table(
        "participants", sa.column("id", sa.Integer), sa.column("export_salt", sa.String)
    )
    connection = op.get_bind()
    ids = connection.execute(sa.select(participants.c.id)).scalars().all()
    if ids:
        connection.execute(
            participants.update()
            .where(participants.c.id == sa.bindparam("pid"))
            .values(export_salt=sa.bindparam("salt")),
            [{"pid": pid, "salt": secrets.token_hex(16)} for pid in ids],
        )
    # Nullable: making it NOT NULL would rebuild the table on SQLite, which the rows
    # pointing at participants forbid. Every insert gets one (storage.models).


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("export_salt")
