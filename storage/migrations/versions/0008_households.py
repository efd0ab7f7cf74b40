"""households: students, guardians and shared contacts

A participant's single school becomes a link: with a grade (a roster family,
or a student texting), a student at that school and grade whom the participant
answers for, in a household of their own; without one, a school the
participant belongs to (`participant_schools`). Every participant, answer and
consent is kept. Conversations record the household and its schools as they
were, so exports show what each round saw.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The tables as this revision finds and leaves them (not the models, which move on).
_participants = sa.table(
    "participants",
    sa.column("id", sa.Integer),
    sa.column("role", sa.String),
    sa.column("school", sa.String),
    sa.column("grade", sa.String),
    sa.column("household_id", sa.Integer),
)
_conversations = sa.table(
    "conversations",
    sa.column("id", sa.Integer),
    sa.column("participant_id", sa.Integer),
    sa.column("activity_id", sa.Integer),
    sa.column("household_id", sa.Integer),
    sa.column("schools", sa.JSON),
)
_activities = sa.table("activities", sa.column("id", sa.Integer), sa.column("school", sa.String))
_households = sa.table(
    "households", sa.column("id", sa.Integer), sa.column("created_at", sa.DateTime)
)
_students = sa.table(
    "students",
    sa.column("id", sa.Integer),
    sa.column("sis_id", sa.String),
    sa.column("school", sa.String),
    sa.column("grade", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("updated_at", sa.DateTime),
)
_guardianships = sa.table(
    "guardianships",
    sa.column("student_id", sa.Integer),
    sa.column("participant_id", sa.Integer),
    sa.column("relationship", sa.String),
    sa.column("contact_order", sa.Integer),
    sa.column("created_at", sa.DateTime),
)
_participant_schools = sa.table(
    "participant_schools",
    sa.column("participant_id", sa.Integer),
    sa.column("school", sa.String),
    sa.column("created_at", sa.DateTime),
)

_BLOCK = 2000


def upgrade() -> None:
    op.create_table(
        "households",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
    )
    op.create_table(
        "students",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sis_id", sa.String(length=64), nullable=True),
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school"], ["schools.code"], name=op.f("fk_students_school_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_students")),
        sa.UniqueConstraint("sis_id", name=op.f("uq_students_sis_id")),
    )
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_students_school"), ["school"], unique=False)
    op.create_table(
        "guardianships",
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("relationship", sa.String(length=32), nullable=True),
        sa.Column("contact_order", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_guardianships_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_guardianships_student_id_students")
        ),
        sa.PrimaryKeyConstraint("student_id", "participant_id", name=op.f("pk_guardianships")),
    )
    with op.batch_alter_table("guardianships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guardianships_participant_id"), ["participant_id"], unique=False
        )
    op.create_table(
        "participant_schools",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_participant_schools_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["school"], ["schools.code"], name=op.f("fk_participant_schools_school_schools")
        ),
        sa.PrimaryKeyConstraint("participant_id", "school", name=op.f("pk_participant_schools")),
    )
    op.create_table(
        "shared_contacts",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_shared_contacts_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_shared_contacts_participant_id_participants"),
        ),
        sa.PrimaryKeyConstraint("contact_id", "participant_id", name=op.f("pk_shared_contacts")),
    )
    with op.batch_alter_table("shared_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shared_contacts_participant_id"), ["participant_id"], unique=False
        )
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("household_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_participants_household_id_households"),
            "households",
            ["household_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_participants_household_id"), ["household_id"], unique=False
        )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("household_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("schools", sa.JSON(), nullable=True))

    _move_schools_to_links(op.get_bind())

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.alter_column("schools", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_index("ix_participants_school")
        batch_op.drop_constraint("fk_participants_school_schools", type_="foreignkey")
        batch_op.drop_column("school")
        batch_op.drop_column("grade")


def _move_schools_to_links(connection: sa.Connection) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    people = connection.execute(
        sa.select(
            _participants.c.id, _participants.c.role, _participants.c.school, _participants.c.grade
        ).order_by(_participants.c.id)
    ).all()
    known: dict[int, tuple[str | None, str | None, int | None]] = {}
    ties: list[dict[str, Any]] = []
    for person in people:
        household = None
        if person.school is not None and person.grade is not None:
            household = connection.execute(
                sa.insert(_households).returning(_households.c.id), {"created_at": now}
            ).scalar_one()
            student = connection.execute(
                sa.insert(_students).returning(_students.c.id),
                {
                    "sis_id": None,
                    "school": person.school,
                    "grade": person.grade,
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            connection.execute(
                sa.insert(_guardianships),
                {
                    "student_id": student,
                    "participant_id": person.id,
                    "relationship": "self" if person.role == "student" else "guardian",
                    "contact_order": None,
                    "created_at": now,
                },
            )
            connection.execute(
                sa.update(_participants).where(_participants.c.id == person.id),
                {"household_id": household},
            )
        elif person.school is not None:
            ties.append({"participant_id": person.id, "school": person.school, "created_at": now})
        known[person.id] = (person.school, person.grade, household)
    for start in range(0, len(ties), _BLOCK):
        connection.execute(sa.insert(_participant_schools), ties[start : start + _BLOCK])
    scopes = dict(connection.execute(sa.select(_activities.c.id, _activities.c.school)).all())
    rows = connection.execute(
        sa.select(
            _conversations.c.id, _conversations.c.participant_id, _conversations.c.activity_id
        )
    ).all()
    updates = []
    for row in rows:
        school, grade, household = known.get(row.participant_id, (None, None, None))
        grades = [grade] if grade is not None else []
        scope = scopes.get(row.activity_id)
        if scope is not None:
            schools = {scope: grades if scope == school else []}
        else:
            schools = {school: grades} if school is not None else {}
        updates.append({"cid": row.id, "hid": household, "seen": schools})
    statement = (
        sa.update(_conversations)
        .where(_conversations.c.id == sa.bindparam("cid"))
        .values(household_id=sa.bindparam("hid"), schools=sa.bindparam("seen"))
    )
    for start in range(0, len(updates), _BLOCK):
        connection.execute(statement, updates[start : start + _BLOCK])


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("school", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("grade", sa.String(length=16), nullable=True))
    connection = op.get_bind()
    # Each participant gets back one school: a student's they answer for, else their own.
    first: dict[int, tuple[str, str | None]] = {}
    for row in connection.execute(
        sa.select(_guardianships.c.participant_id, _students.c.school, _students.c.grade)
        .join(_students, _students.c.id == _guardianships.c.student_id)
        .order_by(_guardianships.c.participant_id, _guardianships.c.contact_order, _students.c.id)
    ):
        first.setdefault(row.participant_id, (row.school, row.grade))
    for own in connection.execute(
        sa.select(_participant_schools.c.participant_id, _participant_schools.c.school)
    ):
        first.setdefault(own.participant_id, (own.school, None))
    statement = (
        sa.update(_participants)
        .where(_participants.c.id == sa.bindparam("pid"))
        .values(school=sa.bindparam("s"), grade=sa.bindparam("g"))
    )
    updates = [{"pid": pid, "s": s, "g": g} for pid, (s, g) in first.items()]
    for start in range(0, len(updates), _BLOCK):
        connection.execute(statement, updates[start : start + _BLOCK])
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_participants_school_schools"), "schools", ["school"], ["code"]
        )
        batch_op.create_index(batch_op.f("ix_participants_school"), ["school"], unique=False)
        batch_op.drop_index(batch_op.f("ix_participants_household_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_participants_household_id_households"), type_="foreignkey"
        )
        batch_op.drop_column("household_id")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("schools")
        batch_op.drop_column("household_id")
    op.drop_table("shared_contacts")
    op.drop_table("participant_schools")
    op.drop_table("guardianships")
    op.drop_table("students")
    op.drop_table("households")
