"""What the dashboard lists of broadcasts: the newest, their messages by status, and
why messages failed. Read-only queries; the dashboard says what they mean."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from bot.ports import BroadcastLine, OutboxStatus, SendProblem
from storage import models

__all__ = ["BroadcastLine", "SendProblem", "recent_broadcasts"]

broadcasts = models.table(models.Broadcast)
activities = models.table(models.Activity)
outbox = models.table(models.Outbox)


def recent_broadcasts(engine: Engine, limit: int = 8) -> list[BroadcastLine]:
    """The newest broadcasts, each with its messages counted by status and the reasons
    its failed and retrying messages gave, most frequent first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                broadcasts.c.id,
                broadcasts.c.kind,
                broadcasts.c.status,
                broadcasts.c.paused_at,
                broadcasts.c.scheduled_at,
                broadcasts.c.created_by,
                broadcasts.c.total,
                activities.c.key.label("activity"),
            )
            .outerjoin(activities, activities.c.id == broadcasts.c.activity_id)
            .order_by(broadcasts.c.id.desc())
            .limit(limit)
        ).all()
        ids = [row.id for row in rows]
        counts: dict[int, dict[str, int]] = {}
        problems: dict[int, list[SendProblem]] = {}
        if ids:
            for broadcast, status, count in connection.execute(
                select(outbox.c.broadcast_id, outbox.c.status, func.count())
                .where(outbox.c.broadcast_id.in_(ids))
                .group_by(outbox.c.broadcast_id, outbox.c.status)
            ):
                counts.setdefault(broadcast, {})[status] = count
            failing = (outbox.c.status == OutboxStatus.FAILED) | (
                (outbox.c.status == OutboxStatus.PENDING) & outbox.c.error.is_not(None)
            )
            for broadcast, channel, code, status, count in connection.execute(
                select(
                    outbox.c.broadcast_id,
                    outbox.c.channel,
                    outbox.c.error_code,
                    outbox.c.status,
                    func.count(),
                )
                .where(outbox.c.broadcast_id.in_(ids), failing)
                .group_by(
                    outbox.c.broadcast_id, outbox.c.channel, outbox.c.error_code, outbox.c.status
                )
            ):
                problems.setdefault(broadcast, []).append(
                    SendProblem(channel, code, count, status == OutboxStatus.PENDING)
                )
    return [
        BroadcastLine(
            id=row.id,
            kind=row.kind,
            activity=row.activity,
            status=row.status,
            paused=row.paused_at is not None,
            scheduled_at=row.scheduled_at,
            created_by=row.created_by,
            total=row.total,
            counts=counts.get(row.id, {}),
            problems=sorted(
                problems.get(row.id, []), key=lambda p: (-p.count, p.channel, p.code or "")
            ),
        )
        for row in rows
    ]
