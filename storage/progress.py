"""How a round is going, for the organizers' dashboard: counts, funnels, time, inbox.

Each function is one or two aggregate queries; nothing here reads row by row,
so the dashboard stays fast on a round of a million answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine, case, func, select

from bot.core.activity import Activity
from bot.ports import ActivityProgress, FunnelStep, LetsTalkSummary
from storage import models
from storage.households import first_school

__all__ = [
    "ActivityProgress",
    "FunnelStep",
    "LetsTalkSummary",
    "activity_progress",
    "answers_per_day",
    "inbox_summary",
    "question_funnel",
]

activities = models.table(models.Activity)
conversations = models.table(models.Conversation)
responses = models.table(models.Response)
lets_talk = models.table(models.LetsTalk)
participants = models.table(models.Participant)

UTC = ZoneInfo("UTC")


def activity_progress(engine: Engine) -> list[ActivityProgress]:
    """Every activity (all versions together), open ones first, then by key."""
    started = (
        select(
            activities.c.key,
            func.count(func.distinct(conversations.c.participant_id)).label("started"),
            func.count(
                func.distinct(
                    case((conversations.c.status == "completed", conversations.c.participant_id))
                )
            ).label("completed"),
        )
        .join(activities, activities.c.id == conversations.c.activity_id)
        .group_by(activities.c.key)
        .subquery()
    )
    answered = (
        select(
            activities.c.key,
            func.count().label("answers"),
            func.max(responses.c.created_at).label("last_answer_at"),
        )
        .join(activities, activities.c.id == responses.c.activity_id)
        .where(responses.c.status == "answered")
        .group_by(activities.c.key)
        .subquery()
    )
    newest = (
        select(activities.c.key, func.max(activities.c.version).label("version"))
        .group_by(activities.c.key)
        .subquery()
    )
    query = (
        select(
            activities.c.key,
            activities.c.title,
            activities.c.kind,
            activities.c.version,
            activities.c.is_open,
            func.coalesce(started.c.started, 0),
            func.coalesce(started.c.completed, 0),
            func.coalesce(answered.c.answers, 0),
            answered.c.last_answer_at,
        )
        .join(
            newest,
            (newest.c.key == activities.c.key) & (newest.c.version == activities.c.version),
        )
        .outerjoin(started, started.c.key == activities.c.key)
        .outerjoin(answered, answered.c.key == activities.c.key)
    )
    with engine.connect() as connection:
        rows = [ActivityProgress(*row) for row in connection.execute(query)]
    return sorted(rows, key=lambda a: (not a.is_open, a.key))


def question_funnel(
    engine: Engine, activity_key: str, parse: Callable[[str, str], Activity]
) -> list[FunnelStep]:
    """The questions of the newest version in order, with who reached and answered each.

    Questions only older versions asked follow at the end. Skip logic makes a
    later question reach fewer people on purpose.
    """
    with engine.connect() as connection:
        versions = connection.execute(
            select(activities.c.id, activities.c.key, activities.c.version, activities.c.source)
            .where(activities.c.key == activity_key)
            .order_by(activities.c.version.desc())
        ).all()
        if not versions:
            return []
        rows = connection.execute(
            select(
                responses.c.question,
                func.count(func.distinct(responses.c.participant_id)),
                func.count(
                    func.distinct(
                        case((responses.c.status == "answered", responses.c.participant_id))
                    )
                ),
                func.count(
                    func.distinct(
                        case((responses.c.status == "skipped", responses.c.participant_id))
                    )
                ),
                func.count(
                    func.distinct(
                        case((responses.c.status == "unparsed", responses.c.participant_id))
                    )
                ),
            )
            .where(responses.c.activity_id.in_([v.id for v in versions]))
            .group_by(responses.c.question)
        ).all()
    newest = versions[0]
    activity = parse(newest.source, f"{newest.key}@v{newest.version}")
    counts = {row[0]: row[1:] for row in rows}
    steps = []
    for question in activity.questions:
        if question.type.value == "info":
            continue
        reached, answered, skipped, unparsed = counts.pop(question.key, (0, 0, 0, 0))
        prompt = question.prompt.get(activity.default_language)
        steps.append(FunnelStep(question.key, prompt, reached, answered, skipped, unparsed))
    for key in sorted(counts):
        reached, answered, skipped, unparsed = counts[key]
        steps.append(FunnelStep(key, "", reached, answered, skipped, unparsed))
    return steps


def answers_per_day(
    engine: Engine, activity_key: str | None, timezone: str, days: int, now: datetime
) -> pd.Series:
    """Answers received per local day over the last `days` days (zeros included), oldest first."""
    zone = ZoneInfo(timezone)
    today = now.replace(tzinfo=UTC).astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC).replace(tzinfo=None)
    if engine.dialect.name == "sqlite":
        hour: Any = func.strftime("%Y-%m-%d %H:00:00", responses.c.created_at)
    else:
        hour = func.date_trunc("hour", responses.c.created_at)
    query = (
        select(hour.label("hour"), func.count())
        .where(responses.c.status == "answered", responses.c.created_at >= since)
        .group_by(hour)
    )
    if activity_key is not None:
        query = query.where(
            responses.c.activity_id.in_(
                select(activities.c.id).where(activities.c.key == activity_key)
            )
        )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    index = pd.date_range(first, periods=days, freq="D").date
    if not rows:
        return pd.Series(0, index=index, dtype="int64")
    hours = pd.to_datetime(pd.Series([r[0] for r in rows]), format="ISO8601", utc=True)
    local_days = hours.dt.tz_convert(zone).dt.date
    counts = pd.Series([int(r[1]) for r in rows]).groupby(local_days.to_numpy()).sum()
    return counts.reindex(index, fill_value=0).astype("int64")


def inbox_summary(engine: Engine, latest: int = 5) -> LetsTalkSummary:
    """The Let's Talk inbox: open and resolved threads, reply times, the newest open ones."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                lets_talk.c.status,
                lets_talk.c.language,
                lets_talk.c.created_at,
                lets_talk.c.first_response_at,
            )
        ).all()
        newest = connection.execute(
            select(
                lets_talk.c.id,
                participants.c.pseudonym,
                first_school().label("school"),
                lets_talk.c.language,
                lets_talk.c.text,
                lets_talk.c.created_at,
            )
            .join(participants, participants.c.id == lets_talk.c.participant_id)
            .where(lets_talk.c.status == "open")
            .order_by(lets_talk.c.created_at.desc(), lets_talk.c.id.desc())
            .limit(latest)
        ).all()
    open_rows = [r for r in rows if r.status == "open"]
    waits = [
        (r.first_response_at - r.created_at).total_seconds() / 3600
        for r in rows
        if r.first_response_at is not None
    ]
    by_language: dict[str, int] = {}
    for r in open_rows:
        by_language[r.language or "?"] = by_language.get(r.language or "?", 0) + 1
    return LetsTalkSummary(
        open=len(open_rows),
        resolved=sum(1 for r in rows if r.status == "resolved"),
        awaiting_first_reply=sum(1 for r in open_rows if r.first_response_at is None),
        median_hours_to_first_reply=float(pd.Series(waits).median()) if waits else None,
        oldest_open_at=min((r.created_at for r in open_rows), default=None),
        by_language=dict(sorted(by_language.items(), key=lambda kv: (-kv[1], kv[0]))),
        latest_open=[
            {
                "id": r.id,
                "pseudonym": r.pseudonym,
                "school": r.school or "",
                "language": r.language or "",
                "text": r.text,
                "created_at": r.created_at,
            }
            for r in newest
        ],
    )
