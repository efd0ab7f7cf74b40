"""Migrating a database from before households keeps every person, answer and consent.

A participant's single school becomes a link: with a grade, a student at that
school they answer for; without one, a school of their own.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from storage import models
from storage.database import connect, migrate
from tests.conftest import POSTGRES_URL, _postgres_engine

NOW = datetime(2026, 5, 4, 12, 0)

SURVEY = "key: s\nkind: survey\ntitle: {en: S}\nquestions: []\n"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A database at revision 0001, the schema before households."""
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        _postgres_engine()
        engine = connect(POSTGRES_URL)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrate(engine, "0001")
    yield engine
    if request.param == "postgres":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        migrate(engine)
    engine.dispose()


def _seed(engine: Engine) -> None:
    statements = [
        "INSERT INTO schools (id, code, name, created_at) VALUES "
        "(1, 'lincoln-es', 'Lincoln', :now), (2, 'kennedy-hs', 'Kennedy', :now)",
        "INSERT INTO activities (id, key, version, kind, title, school, source, is_open, "
        "loaded_at) VALUES (1, 's', 1, 'survey', 'S', NULL, :src, true, :now), "
        "(2, 'k', 1, 'survey', 'K', 'kennedy-hs', :src, true, :now)",
        # A roster family with a grade, a staff member, someone who texted in.
        "INSERT INTO participants (id, pseudonym, role, school, language, consent, consent_at, "
        "onboarding_started, attempts, pending, grade, name, external_id, created_at, "
        "updated_at) VALUES "
        "(1, 'P-1', 'parent', 'lincoln-es', 'es', true, :now, true, 0, '[]', '3', 'Ana', "
        "'S1001', :now, :now), "
        "(2, 'P-2', 'staff', 'kennedy-hs', 'en', NULL, NULL, true, 0, '[]', NULL, NULL, NULL, "
        ":now, :now), "
        "(3, 'P-3', NULL, NULL, 'vi', false, NULL, false, 0, '[]', NULL, NULL, NULL, :now, :now)",
        "INSERT INTO contacts (id, participant_id, channel, address, opted_out_at, created_at) "
        "VALUES (1, 1, 'sms', '+15550100101', NULL, :now), (2, 3, 'sms', '+15550100103', :now, "
        ":now)",
        "INSERT INTO conversations (id, participant_id, activity_id, status, attempts, answers, "
        "started_at, updated_at) VALUES (1, 1, 1, 'completed', 0, '{}', :now, :now), "
        "(2, 2, 2, 'active', 0, '{}', :now, :now)",
        "INSERT INTO responses (id, participant_id, conversation_id, activity_id, question, "
        "value, text, status, language, channel, created_at) VALUES "
        "(1, 1, 1, 1, 'top', '\"safety\"', '1', 'answered', 'es', 'sms', :now)",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), {"now": NOW, "src": SURVEY})
        if engine.dialect.name == "postgresql":
            for table in ("participants", "contacts", "conversations", "responses"):
                connection.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )


def test_every_person_answer_and_consent_survives_and_schools_become_links(
    old_engine: Engine,
) -> None:
    _seed(old_engine)
    migrate(old_engine)

    p, c = models.table(models.Participant), models.table(models.Contact)
    s, g = models.table(models.Student), models.table(models.Guardianship)
    ps, conv = models.table(models.ParticipantSchool), models.table(models.Conversation)
    with old_engine.connect() as connection:
        people = connection.execute(
            select(p.c.id, p.c.role, p.c.language, p.c.consent, p.c.external_id).order_by(p.c.id)
        ).all()
        assert [tuple(row) for row in people] == [
            (1, "parent", "es", True, "S1001"),
            (2, "staff", "en", None, None),
            (3, None, "vi", False, None),
        ]
        opted = connection.execute(select(c.c.id, c.c.opted_out_at).order_by(c.c.id)).all()
        assert [(row.id, row.opted_out_at is not None) for row in opted] == [(1, False), (2, True)]
        assert connection.execute(select(models.table(models.Response).c.id)).scalars().all() == [1]
        links = connection.execute(
            select(g.c.participant_id, g.c.relationship, s.c.sis_id, s.c.school, s.c.grade).join(
                s, s.c.id == g.c.student_id
            )
        ).all()
        assert [tuple(row) for row in links] == [(1, "guardian", None, "lincoln-es", "3")]
        own = connection.execute(select(ps.c.participant_id, ps.c.school)).all()
        assert [tuple(row) for row in own] == [(2, "kennedy-hs")]
        household = connection.execute(select(p.c.household_id).where(p.c.id == 1)).scalar()
        assert household is not None
        seen = connection.execute(
            select(conv.c.id, conv.c.household_id, conv.c.schools).order_by(conv.c.id)
        ).all()
        assert [tuple(row) for row in seen] == [
            (1, household, {"lincoln-es": ["3"]}),
            (2, None, {"kennedy-hs": []}),
        ]
