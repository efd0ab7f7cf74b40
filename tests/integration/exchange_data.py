"""An idea exchange with planted opinion groups, written straight into the database."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Engine, insert, update

from storage import models
from storage.ideas import insert_ideas, insert_reactions

NOW = datetime(2026, 3, 3, 9, 0)


def seed_exchange(
    engine: Engine,
    key: str,
    people: int = 60,
    ideas: int = 12,
    *,
    school: str | None = None,
    pending: tuple[str, ...] = (),
) -> list[int]:
    """`people` reacting to all `ideas`, in two planted groups: ideas 0-3 every group likes,
    the rest split them. A third of the people read Spanish. `pending` ideas wait for a
    moderator. Returns the participants' ids."""
    rng = np.random.default_rng(7)
    table = models.table(models.Participant)
    with engine.begin() as connection:
        ids = [
            connection.execute(
                insert(table).returning(table.c.id),
                {
                    "pseudonym": f"X-{key}-{n}",
                    "language": "es" if n % 3 == 0 else "en",
                    "role": "parent",
                    "onboarding_started": True,
                    "attempts": 0,
                    "pending": [],
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ).scalar_one()
            for n in range(people)
        ]
        if school is not None:
            connection.execute(
                insert(models.table(models.ParticipantSchool)),
                [{"participant_id": pid, "school": school, "created_at": NOW} for pid in ids],
            )
    rows = [
        {
            "activity_key": key,
            "number": n,
            "text": f"Idea {n}",
            "original": f"Idea {n}",
            "language": "en",
            "status": "approved",
            "flags": [],
            "reviewed_by": "moderator",
            "live_at": NOW,
            "agree": 0,
            "disagree": 0,
            "passed": 0,
            "created_at": NOW + timedelta(minutes=n),
            "updated_at": NOW,
        }
        for n in range(ideas)
    ]
    rows += [
        {
            **rows[0],
            "number": ideas + n,
            "text": text,
            "original": text,
            "status": "pending",
            "flags": ["phone: 555-010-0199"] if "555" in text else [],
            "reviewed_by": None,
            "live_at": None,
            "participant_id": ids[n],
        }
        for n, text in enumerate(pending)
    ]
    insert_ideas(engine, rows)
    ideas_table = models.table(models.Idea)
    with engine.connect() as connection:
        idea_ids = dict(
            connection.execute(
                ideas_table.select()
                .with_only_columns(ideas_table.c.number, ideas_table.c.id)
                .where(ideas_table.c.activity_key == key)
            ).all()
        )
    reactions = []
    for index, person in enumerate(ids):
        group = index % 2
        for idea in range(ideas):
            likes = idea < 4 or (idea % 2 == group)
            vote = 1 if (rng.random() < 0.9) == likes else -1
            reactions.append(
                {
                    "idea_id": idea_ids[idea],
                    "participant_id": person,
                    "activity_key": key,
                    "vote": vote,
                    "channel": "sms",
                    "created_at": NOW + timedelta(hours=1, seconds=index),
                    "updated_at": NOW + timedelta(hours=1, seconds=index),
                }
            )
    insert_reactions(engine, reactions)
    with engine.begin() as connection:
        for idea in range(ideas):
            agree = sum(1 for r in reactions if r["idea_id"] == idea_ids[idea] and r["vote"] == 1)
            connection.execute(
                update(ideas_table).where(ideas_table.c.id == idea_ids[idea]),
                {"agree": agree, "disagree": people - agree},
            )
    return ids
