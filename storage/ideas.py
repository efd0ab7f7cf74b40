"""Idea exchanges in the database: ideas, their translations, reactions.

Ideas belong to an exchange's key across its versions. Each reaction keeps
its idea's counters (`agree`, `disagree`, `passed`) up to date in the same
transaction, so weighing ideas for the next pick reads a couple of thousand
rows, never the reactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, func, insert, or_, select, union, update

from bot.core.activity import Activity
from bot.core.ideas import IdeaStatus, IdeaTally, Vote
from bot.core.moderation import KnownName
from bot.ports import ExchangeTables
from storage import models
from storage.households import first_school

__all__ = [
    "ExchangeTables",
    "add_idea",
    "exchange_tables",
    "ideas_seen",
    "idea_tallies",
    "insert_ideas",
    "insert_reactions",
    "is_idea_live",
    "react",
    "roster_names",
    "save_translation",
    "set_group_splits",
    "store_seeds",
]

ideas = models.table(models.Idea)
translations = models.table(models.IdeaTranslation)
reactions = models.table(models.Reaction)
participants = models.table(models.Participant)
students = models.table(models.Student)

SEED_TRANSLATOR = "activity file"
COUNTERS = {Vote.AGREE: "agree", Vote.DISAGREE: "disagree", Vote.PASS: "passed"}

INSERT_CHUNK = 20_000


def idea_tallies(connection: Connection, activity_key: str) -> list[IdeaTally]:
    """The approved ideas of an exchange with every text they have and their counts."""
    rows = connection.execute(
        select(
            ideas.c.id,
            ideas.c.text,
            ideas.c.language,
            ideas.c.agree,
            ideas.c.disagree,
            ideas.c.passed,
            ideas.c.live_at,
            ideas.c.created_at,
            ideas.c.group_split,
        ).where(ideas.c.activity_key == activity_key, ideas.c.status == "approved")
    ).all()
    texts: dict[int, dict[str, str]] = {row.id: {row.language: row.text} for row in rows}
    for idea_id, language, text in connection.execute(
        select(translations.c.idea_id, translations.c.language, translations.c.text)
        .join(ideas, ideas.c.id == translations.c.idea_id)
        .where(ideas.c.activity_key == activity_key, ideas.c.status == "approved")
    ):
        texts[idea_id].setdefault(language, text)
    return [
        IdeaTally(
            id=row.id,
            texts=texts[row.id],
            agree=row.agree,
            disagree=row.disagree,
            passed=row.passed,
            live_since=row.live_at or row.created_at,
            group_split=row.group_split,
        )
        for row in rows
    ]


# Built once: the next idea is picked for every reaction, and building a statement
# costs more than running this one.
_SEEN = union(
    select(reactions.c.idea_id).where(
        reactions.c.participant_id == bindparam("participant"),
        reactions.c.activity_key == bindparam("key"),
    ),
    select(ideas.c.id).where(
        ideas.c.participant_id == bindparam("participant"),
        ideas.c.activity_key == bindparam("key"),
    ),
)


def ideas_seen(connection: Connection, participant_id: int, activity_key: str) -> set[int]:
    """The ideas a participant may not be shown: those they reacted to and those they wrote."""
    found = connection.execute(_SEEN, {"participant": participant_id, "key": activity_key})
    return set(found.scalars())


def is_idea_live(connection: Connection, idea_id: int) -> bool:
    """Whether the idea is approved now (a moderator may have rejected it a moment ago)."""
    status = connection.execute(select(ideas.c.status).where(ideas.c.id == idea_id)).scalar()
    return status == IdeaStatus.APPROVED


def _next_number(connection: Connection, activity_key: str) -> int:
    highest = connection.execute(
        select(func.max(ideas.c.number)).where(ideas.c.activity_key == activity_key)
    ).scalar()
    return 0 if highest is None else int(highest) + 1


def add_idea(
    connection: Connection,
    *,
    activity_key: str,
    participant_id: int | None,
    text: str,
    language: str,
    flags: Sequence[str],
    live: bool,
    message_id: int | None,
    now: datetime,
) -> int:
    """Store a participant's idea: live at once (`live`), or waiting for a moderator."""
    idea_id: int = connection.execute(
        insert(ideas).returning(ideas.c.id),
        {
            "activity_key": activity_key,
            "number": _next_number(connection, activity_key),
            "participant_id": participant_id,
            "message_id": message_id,
            "text": text,
            "original": text,
            "language": language,
            "status": IdeaStatus.APPROVED if live else IdeaStatus.PENDING,
            "flags": list(flags),
            "reviewed_by": "auto" if live else None,
            "reviewed_at": now if live else None,
            "live_at": now if live else None,
            # Live at once: the conversation tells the author in the same breath.
            "author_told_at": now if live else None,
            "agree": 0,
            "disagree": 0,
            "passed": 0,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    return idea_id


def react(
    connection: Connection,
    *,
    activity_key: str,
    idea_id: int,
    participant_id: int,
    vote: Vote,
    channel: str,
    message_id: int | None,
    now: datetime,
) -> bool:
    """Record a reaction and keep the idea's counters; a second one on an idea replaces the first.

    False, and nothing written, for an idea that is not live in this exchange or
    that the participant wrote.
    """
    idea = connection.execute(
        select(ideas.c.id).where(
            ideas.c.id == idea_id,
            ideas.c.activity_key == activity_key,
            ideas.c.status == IdeaStatus.APPROVED,
            or_(ideas.c.participant_id.is_(None), ideas.c.participant_id != participant_id),
        )
    ).scalar()
    if idea is None:
        return False
    earlier = connection.execute(
        select(reactions.c.id, reactions.c.vote).where(
            reactions.c.idea_id == idea_id, reactions.c.participant_id == participant_id
        )
    ).first()
    counts: dict[str, Any] = {COUNTERS[vote]: getattr(ideas.c, COUNTERS[vote]) + 1}
    if earlier is None:
        connection.execute(
            insert(reactions),
            {
                "idea_id": idea_id,
                "participant_id": participant_id,
                "activity_key": activity_key,
                "vote": int(vote),
                "channel": channel,
                "message_id": message_id,
                "created_at": now,
                "updated_at": now,
            },
        )
    elif earlier.vote == int(vote):
        return True
    else:
        before = COUNTERS[Vote(earlier.vote)]
        counts[before] = getattr(ideas.c, before) - 1
        connection.execute(
            update(reactions).where(reactions.c.id == earlier.id),
            {"vote": int(vote), "channel": channel, "message_id": message_id, "updated_at": now},
        )
    connection.execute(update(ideas).where(ideas.c.id == idea_id).values(**counts))
    return True


def set_group_splits(
    connection: Connection, activity_key: str, splits: Mapping[int, float | None]
) -> None:
    """Keep each idea's spread between opinion groups (by idea number) for the next picks."""
    for number, split in splits.items():
        connection.execute(
            update(ideas).where(ideas.c.activity_key == activity_key, ideas.c.number == number),
            {"group_split": split},
        )


def roster_names(connection: Connection) -> list[KnownName]:
    """Students' and staff members' names on file, for flagging ideas that name them."""
    found = [
        KnownName(row.name, row.role or "")
        for row in connection.execute(
            select(participants.c.name, participants.c.role).where(
                participants.c.name.is_not(None),
                participants.c.role.in_(("student", "staff")),
                participants.c.forgotten_at.is_(None),
            )
        )
    ]
    found.extend(
        KnownName(name, "student")
        for name in connection.execute(
            select(students.c.name).where(students.c.name.is_not(None))
        ).scalars()
    )
    return found


def store_seeds(connection: Connection, activity: Activity, now: datetime) -> int:
    """Make an exchange's seed ideas live, each with its translations; a new version of the
    file updates their texts. The number of seeds added."""
    exchange = activity.exchange
    if exchange is None:
        return 0
    added = 0
    default = activity.default_language
    for seed in exchange.seeds:
        text = seed.text.get(default, default)
        found = connection.execute(
            select(ideas.c.id).where(
                ideas.c.activity_key == activity.key, ideas.c.seed_key == seed.key
            )
        ).scalar()
        if found is None:
            found = connection.execute(
                insert(ideas).returning(ideas.c.id),
                {
                    "activity_key": activity.key,
                    "number": _next_number(connection, activity.key),
                    "seed_key": seed.key,
                    "text": text,
                    "original": text,
                    "language": default,
                    "status": IdeaStatus.APPROVED,
                    "flags": [],
                    "reviewed_by": "auto",
                    "reviewed_at": now,
                    "live_at": now,
                    "agree": 0,
                    "disagree": 0,
                    "passed": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            added += 1
        else:
            connection.execute(
                update(ideas).where(ideas.c.id == found),
                {"text": text, "original": text, "updated_at": now},
            )
        for language, words in seed.text.values.items():
            if language != default:
                save_translation(connection, found, language, words, SEED_TRANSLATOR, now)
    return added


def save_translation(
    connection: Connection,
    idea_id: int,
    language: str,
    text: str,
    translator: str,
    now: datetime,
) -> None:
    """Set the idea's text in `language` (a new one, or a correction)."""
    changed = connection.execute(
        update(translations).where(
            translations.c.idea_id == idea_id, translations.c.language == language
        ),
        {"text": text, "translated_by": translator, "updated_at": now},
    ).rowcount
    if not changed:
        connection.execute(
            insert(translations),
            {
                "idea_id": idea_id,
                "language": language,
                "text": text,
                "translated_by": translator,
                "created_at": now,
                "updated_at": now,
            },
        )


def _frame(connection: Connection, sql: str, params: Any, names: Sequence[str]) -> pd.DataFrame:
    """A query's rows as a frame, read with the driver's own cursor: plain tuples, so a
    million rows take a second rather than ten."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return pd.DataFrame({name: [] for name in names})
    return pd.DataFrame(dict(zip(names, zip(*rows, strict=True), strict=True)))


def _times(values: pd.Series) -> pd.Series:
    # SQLite hands the driver ISO text, PostgreSQL datetimes: both become datetime64.
    return (
        pd.to_datetime(values, format="ISO8601") if len(values) else values.astype("datetime64[ns]")
    )


def exchange_tables(connection: Connection, activity_key: str, language: str) -> ExchangeTables:
    """Everything the analysis reads about one exchange; idea texts in `language` when translated."""
    positional = connection.dialect.paramstyle == "qmark"
    mark, language_mark = ("?", "?") if positional else ("%(key)s", "%(language)s")
    params: dict[str, Any] = {"key": activity_key, "language": language}
    idea_rows = _frame(
        connection,
        "SELECT i.id, i.number, i.participant_id, i.seed_key, "
        f"COALESCE(t.text, i.text), i.language, i.status, i.reviewed_by, i.created_at "
        f"FROM ideas i LEFT JOIN idea_translations t "
        f"ON t.idea_id = i.id AND t.language = {language_mark} "
        f"WHERE i.activity_key = {mark} ORDER BY i.number",
        _ordered(params, ("language", "key"), positional),
        [
            "id",
            "number",
            "participant_id",
            "seed_key",
            "text",
            "language",
            "status",
            "reviewed_by",
            "created_at",
        ],
    )
    votes = _frame(
        connection,
        "SELECT r.participant_id, i.number, r.vote, r.updated_at FROM reactions r "
        f"JOIN ideas i ON i.id = r.idea_id WHERE r.activity_key = {mark}",
        _ordered(params, ("key",), positional),
        ["participant_id", "idea", "vote", "at"],
    )
    votes["at"] = _times(votes["at"])
    idea_rows["created_at"] = _times(idea_rows["created_at"])
    first = pd.concat(
        [
            votes.groupby("participant_id")["at"].min(),
            idea_rows.dropna(subset=["participant_id"])
            .astype({"participant_id": np.int64})
            .groupby("participant_id")["created_at"]
            .min(),
        ]
    )
    first = first.groupby(level=0).min()
    order = pd.DataFrame({"id": first.index.to_numpy(np.int64), "first": first.to_numpy()})
    ids = order.sort_values(["first", "id"])["id"].to_numpy(np.int64)
    number_of = pd.Series(np.arange(1, len(ids) + 1, dtype=np.int64), index=ids)
    people = _participants(connection, ids)
    people.index = number_of.reindex(people.index).to_numpy()
    table = pd.DataFrame(
        {
            "number": idea_rows["number"].astype(np.int64),
            "status": idea_rows["status"].astype(str),
            "reviewed": idea_rows["reviewed_by"].notna() & (idea_rows["reviewed_by"] != "auto"),
            "text": idea_rows["text"].astype(str),
            "language": idea_rows["language"].astype(str),
            "author": idea_rows["participant_id"].map(number_of).fillna(0).astype(np.int64),
            "created_at": idea_rows["created_at"],
            "is_seed": idea_rows["seed_key"].notna(),
        }
    )
    vote_table = pd.DataFrame(
        {
            "participant": number_of.reindex(votes["participant_id"].to_numpy()).to_numpy(np.int64),
            "idea": votes["idea"].astype(np.int64),
            "vote": votes["vote"].astype(np.int8),
            "at": votes["at"],
        }
    )
    numbers = dict(zip(number_of.to_numpy().tolist(), ids.tolist(), strict=True))
    return ExchangeTables(table, vote_table, people.sort_index(), numbers)


def _ordered(params: Mapping[str, Any], names: Sequence[str], positional: bool) -> Any:
    return tuple(params[n] for n in names) if positional else dict(params)


def _participants(connection: Connection, ids: Iterable[int]) -> pd.DataFrame:
    wanted = [int(i) for i in ids]  # numpy integers do not bind on SQLite
    found: list[tuple[int, str | None, str | None]] = []
    for start in range(0, len(wanted), INSERT_CHUNK):
        chunk = wanted[start : start + INSERT_CHUNK]
        found.extend(
            (row.id, row.school, row.language)
            for row in connection.execute(
                select(
                    participants.c.id, first_school().label("school"), participants.c.language
                ).where(participants.c.id.in_(chunk))
            )
        )
    frame = pd.DataFrame.from_records(found, columns=["id", "school", "language"])
    return frame.set_index("id").fillna("")


# -- bulk loading (seeding a database for benchmarks and tests) -----------------------


def insert_ideas(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert idea rows as they are (each a mapping of `ideas` columns)."""
    with engine.begin() as connection:
        for start in range(0, len(rows), INSERT_CHUNK):
            connection.execute(insert(ideas), list(rows[start : start + INSERT_CHUNK]))


def insert_reactions(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert reaction rows as they are; the ideas' counters are the caller's to set."""
    with engine.begin() as connection:
        for start in range(0, len(rows), INSERT_CHUNK):
            connection.execute(insert(reactions), list(rows[start : start + INSERT_CHUNK]))
