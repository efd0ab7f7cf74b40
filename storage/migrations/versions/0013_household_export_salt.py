"""a random value per household for the household keys exports print

Exports gain a household key beside the participant key, made the same way:
a keyed hash of a random value, never of the id (which counts up). Existing
households get one here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: no table rebuild on SQLite (participants point at households).
    op.add_column("households", sa.Column("export_salt", sa.String(length=32), nullable=True))
    households = sa.table(
        "households", sa.column("id", sa.Integer), sa.column("export_salt", sa.String)
    )
    connection = op.get_bind()
    ids = connection.execute(sa.select(households.c.id)).scalars().all()
    if ids:
        connection.execute(
            households.update()
            .where(households.c.id == sa.bindparam("hid"))
            .values(export_salt=sa.bindparam("salt")),
            [{"hid": hid, "salt": secrets.token_hex(16)} for hid in ids],
        )


def downgrade() -> None:
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_column("export_salt")
