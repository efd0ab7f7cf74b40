"""A survey round written straight into the database, for the synthesis and export tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from bot.authoring.activities import parse_activity
from storage import models
from storage.activities import store_activity

SURVEY_YAML = """\
key: priorities
kind: survey
title: {en: "Family priorities", es: "Prioridades"}
questions:
  - key: top
    type: single_choice
    prompt: {en: "What matters most?", es: "¿Qué importa más?"}
    options:
      - key: safety
        label: {en: "Safety", es: "Seguridad"}
      - key: reading
        label: {en: "Reading", es: "Lectura"}
      - key: buses
        label: {en: "Buses", es: "Autobuses"}
  - key: many
    type: multiple_choice
    prompt: {en: "Which help?", es: "¿Qué ayuda?"}
    options:
      - key: tutoring
        label: {en: "Tutoring", es: "Tutoría"}
      - key: meals
        label: {en: "Meals", es: "Comidas"}
  - key: safe
    type: scale
    prompt: {en: "How safe is school?", es: "¿Qué tan segura es la escuela?"}
  - key: news
    type: yes_no
    prompt: {en: "Do you get news in your language?", es: "¿Recibe noticias en su idioma?"}
  - key: rank
    type: ranking
    max_choices: 3
    prompt: {en: "Rank these", es: "Ordene"}
    options:
      - key: safety
        label: {en: "Safety", es: "Seguridad"}
      - key: reading
        label: {en: "Reading", es: "Lectura"}
      - key: buses
        label: {en: "Buses", es: "Autobuses"}
  - key: why
    type: free_text
    optional: true
    prompt: {en: "What would help?", es: "¿Qué ayudaría?"}
"""

SCHOOLS = ("lincoln-es", "adams-ms")
START = datetime(2026, 9, 1, 15, 0)


@dataclass
class Round:
    """Ids handed out while seeding, so tests can refer to people."""

    engine: Engine
    activity_id: int
    people: list[int] = field(default_factory=list)
    contacts: dict[int, int] = field(default_factory=dict)
    clock: datetime = START
    _response_id: int = 0

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=7)
        return self.clock

    def person(
        self,
        *,
        role: str | None = "parent",
        school: str | None = "lincoln-es",
        language: str | None = "en",
        grade: str | None = "3",
        phone: str | None = None,
    ) -> int:
        now = self.tick()
        with self.engine.begin() as connection:
            household = None
            if school is not None and grade is not None:
                household = connection.execute(
                    insert(models.table(models.Household)).returning(
                        models.table(models.Household).c.id
                    ),
                    {"created_at": now},
                ).scalar_one()
            person_id = connection.execute(
                insert(models.Participant.__table__).returning(models.Participant.__table__.c.id),
                {
                    "pseudonym": f"P-{len(self.people) + 1:010X}",
                    "role": role,
                    "household_id": household,
                    "language": language,
                    "consent": True,
                    "consent_at": now,
                    "onboarding_started": True,
                    "attempts": 0,
                    "pending": [],
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            if school is not None and grade is not None:
                student = connection.execute(
                    insert(models.table(models.Student)).returning(
                        models.table(models.Student).c.id
                    ),
                    {"school": school, "grade": grade, "created_at": now, "updated_at": now},
                ).scalar_one()
                connection.execute(
                    insert(models.table(models.Guardianship)),
                    {"student_id": student, "participant_id": person_id, "created_at": now},
                )
            elif school is not None:
                connection.execute(
                    insert(models.table(models.ParticipantSchool)),
                    {"participant_id": person_id, "school": school, "created_at": now},
                )
            if phone is not None:
                self.contacts[person_id] = connection.execute(
                    insert(models.Contact.__table__).returning(models.Contact.__table__.c.id),
                    {
                        "participant_id": person_id,
                        "channel": "sms",
                        "address": phone,
                        "created_at": now,
                    },
                ).scalar_one()
            connection.execute(
                insert(models.Conversation.__table__),
                {
                    "participant_id": person_id,
                    "activity_id": self.activity_id,
                    "status": "completed",
                    "attempts": 0,
                    "answers": {},
                    "household_id": household,
                    "schools": {school: [grade] if grade else []} if school else {},
                    "started_at": now,
                    "updated_at": now,
                    "completed_at": now,
                },
            )
        self.people.append(person_id)
        return int(person_id)

    def answer(
        self,
        person: int,
        question: str,
        value: Any,
        text: str | None = None,
        *,
        status: str = "answered",
        language: str = "en",
        detected: str | None = None,
        channel: str = "sms",
        at: datetime | None = None,
    ) -> None:
        with self.engine.begin() as connection:
            conversation = connection.execute(
                models.Conversation.__table__.select().where(
                    models.Conversation.__table__.c.participant_id == person
                )
            ).first()
            assert conversation is not None
            connection.execute(
                insert(models.Response.__table__),
                {
                    "participant_id": person,
                    "conversation_id": conversation.id,
                    "activity_id": self.activity_id,
                    "question": question,
                    "value": value,
                    "text": text if text is not None else str(value),
                    "status": status,
                    "language": language,
                    "detected_language": detected,
                    "channel": channel,
                    "created_at": at or self.tick(),
                },
            )

    def full_survey(self, person: int, language: str = "en", why: str | None = None) -> None:
        self.answer(person, "top", "safety", "1", language=language)
        self.answer(person, "many", ["tutoring", "meals"], "1,2", language=language)
        self.answer(person, "safe", 4, "4", language=language)
        self.answer(person, "news", "no", "no", language=language)
        self.answer(person, "rank", ["reading", "safety"], "2 1", language=language)
        if why is None:
            self.answer(person, "why", None, "SKIP", status="skipped", language=language)
        else:
            self.answer(person, "why", why, why, language=language, detected=language)


def seed_round(engine: Engine, source: str = SURVEY_YAML) -> Round:
    """Schools and the survey; add people and answers with the returned Round."""
    with engine.begin() as connection:
        for code in SCHOOLS:
            connection.execute(
                insert(models.School.__table__),
                {"code": code, "name": code.replace("-", " ").title(), "created_at": START},
            )
    activity = parse_activity(source, "priorities.yaml")
    store_activity(engine, activity, source, START)
    with engine.connect() as connection:
        activity_id = connection.execute(
            models.Activity.__table__.select()
            .with_only_columns(models.Activity.__table__.c.id)
            .order_by(models.Activity.__table__.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    assert activity_id is not None
    return Round(engine, int(activity_id))


def enroll(engine: Engine, figures: dict[tuple[str, str, str], int]) -> None:
    """Enrollment figures (school, language, role) -> count, as an import would store them."""
    with engine.begin() as connection:
        connection.execute(
            insert(models.Enrollment.__table__),
            [
                {"school": s, "language": la, "role": r, "count": n, "imported_at": START}
                for (s, la, r), n in figures.items()
            ],
        )
