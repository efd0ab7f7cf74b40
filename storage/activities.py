"""Stored activity versions: load a definition, list them, open and close them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, insert, select, update

from bot.core.activity import Activity
from storage import models

__all__ = [
    "ActivitySummary",
    "LoadResult",
    "audit_in",
    "list_activities",
    "record_audit",
    "set_open",
    "store_activity",
]

activities = models.table(models.Activity)
responses = models.table(models.Response)
conversations = models.table(models.Conversation)
audit = models.table(models.AuditEntry)


@dataclass(frozen=True, slots=True)
class LoadResult:
    key: str
    version: int
    created: bool


@dataclass(frozen=True, slots=True)
class ActivitySummary:
    key: str
    version: int
    kind: str
    title: str
    is_open: bool
    participants: int
    completed: int
    responses: int


def store_activity(
    engine: Engine, activity: Activity, source: str, now: datetime, actor: str = "cli"
) -> LoadResult:
    """Store `activity` as its next version, unless the newest one has the same source.

    The new version is open and older versions of the same key are closed;
    conversations already under way finish on the version they started.
    """
    with engine.begin() as connection:
        newest = connection.execute(
            select(activities.c.version, activities.c.source)
            .where(activities.c.key == activity.key)
            .order_by(activities.c.version.desc())
            .limit(1)
        ).first()
        if newest is not None and newest.source == source:
            connection.execute(
                update(activities).where(
                    activities.c.key == activity.key, activities.c.version == newest.version
                ),
                {"is_open": True},
            )
            return LoadResult(activity.key, newest.version, created=False)
        version = max(activity.version, (newest.version + 1) if newest else 1)
        connection.execute(
            update(activities).where(activities.c.key == activity.key), {"is_open": False}
        )
        connection.execute(
            insert(activities),
            {
                "key": activity.key,
                "version": version,
                "kind": activity.kind.value,
                "title": activity.title.get(activity.default_language)[:300],
                "school": activity.school,
                "source": source,
                "is_open": True,
                "loaded_at": now,
            },
        )
        if activity.exchange is not None:
            # Here, not at the top: the analysis half of storage.ideas reads pandas.
            from storage.ideas import store_seeds

            store_seeds(connection, activity, now)
        _audit(connection, actor, "activity.load", {"key": activity.key, "version": version}, now)
    return LoadResult(activity.key, version, created=True)


def set_open(engine: Engine, key: str, is_open: bool, now: datetime, actor: str = "cli") -> bool:
    """Open or close the newest version of `key`; False when there is no such activity."""
    with engine.begin() as connection:
        newest = connection.execute(
            select(func.max(activities.c.version)).where(activities.c.key == key)
        ).scalar()
        if newest is None:
            return False
        connection.execute(
            update(activities).where(activities.c.key == key, activities.c.version == newest),
            {"is_open": is_open},
        )
        action = "activity.open" if is_open else "activity.close"
        _audit(connection, actor, action, {"key": key, "version": newest}, now)
    return True


def list_activities(engine: Engine) -> list[ActivitySummary]:
    started = (
        select(
            conversations.c.activity_id,
            func.count().label("participants"),
            func.count().filter(conversations.c.status == "completed").label("completed"),
        )
        .group_by(conversations.c.activity_id)
        .subquery()
    )
    answered = (
        select(responses.c.activity_id, func.count().label("responses"))
        .group_by(responses.c.activity_id)
        .subquery()
    )
    query = (
        select(
            activities.c.key,
            activities.c.version,
            activities.c.kind,
            activities.c.title,
            activities.c.is_open,
            func.coalesce(started.c.participants, 0),
            func.coalesce(started.c.completed, 0),
            func.coalesce(answered.c.responses, 0),
        )
        .outerjoin(started, started.c.activity_id == activities.c.id)
        .outerjoin(answered, answered.c.activity_id == activities.c.id)
        .order_by(activities.c.key, activities.c.version)
    )
    with engine.connect() as connection:
        return [ActivitySummary(*row) for row in connection.execute(query)]


def record_audit(
    engine: Engine, actor: str, action: str, detail: dict[str, object], now: datetime
) -> None:
    with engine.begin() as connection:
        _audit(connection, actor, action, detail, now)


def audit_in(
    connection: Connection, actor: str, action: str, detail: dict[str, object], now: datetime
) -> None:
    """Write an audit entry inside the caller's transaction, so it commits with the action."""
    _audit(connection, actor, action, detail, now)


def _audit(
    connection: Connection, actor: str, action: str, detail: dict[str, object], now: datetime
) -> None:
    connection.execute(
        insert(audit), {"actor": actor, "action": action, "detail": detail, "created_at": now}
    )
