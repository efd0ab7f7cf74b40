"""An exchange's ideas and reactions read back for the analysis and the next pick,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, insert

from bot.core.ideas import IdeaTally
from storage import models
from storage.ideas import exchange_tables, idea_tallies, ideas_seen, insert_ideas, insert_reactions

NOW = datetime(2026, 3, 2, 9, 0)
KEY = "belonging-2026"


def _people(engine: Engine, count: int) -> list[int]:
    table = models.table(models.Participant)
    with engine.begin() as connection:
        connection.execute(
            insert(models.table(models.School)),
            [{"code": "lincoln-es", "name": "Lincoln", "created_at": NOW}],
        )
        ids = [
            connection.execute(
                insert(table).returning(table.c.id),
                {
                    "pseudonym": f"P-{n}",
                    "language": "vi" if n == 0 else "en",
                    "onboarding_started": True,
                    "attempts": 0,
                    "pending": [],
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ).scalar_one()
            for n in range(count)
        ]
        connection.execute(
            insert(models.table(models.ParticipantSchool)),
            [
                {"participant_id": pid, "school": "lincoln-es", "created_at": NOW}
                for n, pid in enumerate(ids)
                if n % 2
            ],
        )
        return ids


def _idea(number: int, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "activity_key": KEY,
        "number": number,
        "participant_id": None,
        "seed_key": None,
        "text": f"Idea {number}",
        "original": f"Idea {number}",
        "language": "en",
        "status": "approved",
        "flags": [],
        "reviewed_by": "U0MOD",
        "live_at": NOW,
        "agree": 0,
        "disagree": 0,
        "passed": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    row.update(values)
    return row


def _exchange(engine: Engine) -> list[int]:
    people = _people(engine, 3)
    insert_ideas(
        engine,
        [
            _idea(0, seed_key="s0", reviewed_by="activity file", agree=2),
            _idea(
                1,
                participant_id=people[0],
                text="Đêm gia đình",
                original="Dem gia dinh",
                language="vi",
                disagree=1,
            ),
            _idea(2, participant_id=people[1], status="pending", reviewed_by=None, live_at=None),
            _idea(3, participant_id=people[2], status="rejected"),
            _idea(0, activity_key="other-exchange"),
        ],
    )
    with engine.begin() as connection:
        connection.execute(
            insert(models.table(models.IdeaTranslation)),
            [
                {
                    "idea_id": 2,
                    "language": "en",
                    "text": "Family nights",
                    "translated_by": "U0MOD",
                    "created_at": NOW,
                    "updated_at": NOW,
                },
                {
                    "idea_id": 1,
                    "language": "vi",
                    "text": "Ý tưởng 0",
                    "translated_by": "activity file",
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ],
        )
    insert_reactions(
        engine,
        [
            {
                "idea_id": idea,
                "participant_id": person,
                "activity_key": KEY,
                "vote": vote,
                "channel": "sms",
                "message_id": None,
                "created_at": NOW + timedelta(minutes=minutes),
                "updated_at": NOW + timedelta(minutes=minutes),
            }
            for idea, person, vote, minutes in [
                (1, people[2], 1, 1),
                (1, people[1], 1, 5),
                (2, people[2], -1, 2),
            ]
        ],
    )
    return people


def test_tallies_hold_approved_ideas_with_every_text(engine: Engine) -> None:
    _exchange(engine)
    with engine.connect() as connection:
        tallies = {t.id: t for t in idea_tallies(connection, KEY)}
    assert set(tallies) == {1, 2}
    assert tallies[1] == IdeaTally(1, {"en": "Idea 0", "vi": "Ý tưởng 0"}, 2, 0, 0, NOW, None)
    assert tallies[2].texts == {"vi": "Đêm gia đình", "en": "Family nights"}
    assert tallies[2].disagree == 1


def test_seen_ideas_are_those_reacted_to_and_written(engine: Engine) -> None:
    people = _exchange(engine)
    with engine.connect() as connection:
        assert ideas_seen(connection, people[2], KEY) == {1, 2, 4}
        assert ideas_seen(connection, people[0], KEY) == {2}
        assert ideas_seen(connection, people[0], "other-exchange") == set()


def test_the_analysis_tables_number_people_by_when_they_took_part(engine: Engine) -> None:
    people = _exchange(engine)
    with engine.connect() as connection:
        tables = exchange_tables(connection, KEY, "en")
    # people[0] wrote an idea at NOW; people[1] and [2] wrote theirs then too, ids break ties.
    assert tables.participant_ids == {1: people[0], 2: people[1], 3: people[2]}
    assert list(tables.ideas["number"]) == [0, 1, 2, 3]
    assert list(tables.ideas["text"]) == ["Idea 0", "Family nights", "Idea 2", "Idea 3"]
    assert list(tables.ideas["author"]) == [0, 1, 2, 3]
    assert list(tables.ideas["is_seed"]) == [True, False, False, False]
    assert list(tables.ideas["status"]) == ["approved", "approved", "pending", "rejected"]
    votes = tables.votes.sort_values("at").reset_index(drop=True)
    assert list(votes["participant"]) == [3, 3, 2]
    assert list(votes["idea"]) == [0, 1, 0]
    assert list(votes["vote"]) == [1, -1, 1]
    assert votes.at[0, "at"] == NOW + timedelta(minutes=1)
    assert tables.participants.loc[1, "language"] == "vi"
    assert tables.participants.loc[1, "school"] == ""
    assert tables.participants.loc[2, "school"] == "lincoln-es"
