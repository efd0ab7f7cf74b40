"""The inbound queue: what providers sent, recorded in one short transaction before
the webhook answers, then drained by the engine.

`put` is the webhook's only write. Rows are handled in arrival order per sender
(`sender` is the channel and address); a handled row keeps its channel and
provider id, so a redelivery still collides, but not its payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.core.messages import Channel
from bot.ports import Queued, QueueDepth, QueuedKind, QueuedStatus
from storage import models

__all__ = ["SqlInboundQueue", "sender_key"]

queue = models.table(models.InboundQueue)

MAX_ERROR = 500
RETRY_CAP = 60


def sender_key(channel: Channel, address: str) -> str:
    """Whose turn a row is: one sender's rows are handled one at a time, in order."""
    return f"{channel.value}:{address}"


class SqlInboundQueue:
    """The inbound queue on `engine` (implements bot.ports.InboundQueue)."""

    def __init__(self, engine: Engine, put_engine: Engine | None = None) -> None:
        self.engine = engine
        # The webhooks' writes may go through an engine that waits less for a lock
        # (SQLite): past that, the row goes to the spool and the provider still hears 200.
        self.put_engine = put_engine or engine
        self.is_postgres = engine.dialect.name == "postgresql"
        dialect_insert = postgresql.insert if self.is_postgres else sqlite.insert
        # Compiled once (SQLAlchemy caches it): the webhook's one statement.
        self._put = (
            dialect_insert(queue)
            .values(
                channel=bindparam("channel"),
                provider_id=bindparam("provider_id"),
                kind=bindparam("kind"),
                sender=bindparam("sender"),
                payload=bindparam("payload", type_=queue.c.payload.type),
                status=QueuedStatus.PENDING.value,
                attempts=0,
                received_at=bindparam("now"),
            )
            .on_conflict_do_nothing()
        )

    def put(
        self,
        channel: Channel,
        provider_id: str | None,
        kind: QueuedKind,
        sender: str,
        payload: Mapping[str, object],
        now: datetime,
    ) -> bool:
        with self.put_engine.begin() as connection:
            inserted = connection.execute(
                self._put,
                {
                    "channel": channel.value,
                    "provider_id": provider_id,
                    "kind": kind.value,
                    "sender": sender,
                    "payload": dict(payload),
                    "now": now,
                },
            )
            return bool(inserted.rowcount)

    def claim(self, kind: QueuedKind, limit: int, now: datetime, lease: timedelta) -> list[Queued]:
        candidate, earlier = queue.alias("candidate"), queue.alias("earlier")
        # A sender's row waits while an earlier one of theirs is claimed (in hand, or
        # failed and waiting to be tried again): one sender's rows run in order.
        waiting = (
            select(earlier.c.id)
            .where(
                earlier.c.sender == candidate.c.sender,
                earlier.c.status == QueuedStatus.PENDING.value,
                earlier.c.id < candidate.c.id,
                earlier.c.claimed_until >= now,
            )
            .exists()
        )
        due = (
            select(candidate.c.id)
            .where(
                candidate.c.status == QueuedStatus.PENDING.value,
                candidate.c.kind == kind.value,
                or_(candidate.c.claimed_until.is_(None), candidate.c.claimed_until < now),
                ~waiting,
            )
            .order_by(candidate.c.id)
            .limit(limit)
        )
        if self.is_postgres:
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(queue)
            .where(queue.c.id.in_(due.scalar_subquery()))
            .values(claimed_until=now + lease)
            .returning(
                queue.c.id,
                queue.c.channel,
                queue.c.kind,
                queue.c.sender,
                queue.c.payload,
                queue.c.attempts,
            )
        )
        with self.engine.begin() as connection:
            rows = connection.execute(statement).all()
        return sorted(
            (
                Queued(
                    row.id,
                    Channel(row.channel),
                    QueuedKind(row.kind),
                    row.sender,
                    row.payload or {},
                    row.attempts,
                )
                for row in rows
            ),
            key=lambda row: row.id,
        )

    def release_claims(self) -> int:
        """Forget every lease (a SQLite database has one server: after a restart,
        nobody else holds them); how many."""
        with self.engine.begin() as connection:
            return connection.execute(
                update(queue)
                .where(
                    queue.c.status == QueuedStatus.PENDING.value,
                    queue.c.claimed_until.is_not(None),
                )
                .values(claimed_until=None)
            ).rowcount

    def finish(self, ids: Sequence[int], now: datetime) -> None:
        if not ids:
            return
        with self.engine.begin() as connection:
            connection.execute(
                update(queue)
                .where(queue.c.id.in_(list(ids)))
                .values(status=QueuedStatus.DONE.value, payload=None, handled_at=now)
            )

    def fail(self, row: Queued, error: str, park: bool, now: datetime) -> None:
        values: dict[str, object] = {
            "attempts": row.attempts + 1,
            "error": error[:MAX_ERROR],
            # Tried again after a pause that grows with each failure.
            "claimed_until": now + timedelta(seconds=min(2**row.attempts, RETRY_CAP)),
        }
        if park:
            values.update(status=QueuedStatus.PARKED.value, handled_at=now)
        with self.engine.begin() as connection:
            connection.execute(update(queue).where(queue.c.id == row.id).values(**values))

    def depth(self, now: datetime) -> QueueDepth:
        with self.engine.connect() as connection:
            pending, oldest = connection.execute(
                select(func.count(), func.min(queue.c.received_at)).where(
                    queue.c.status == QueuedStatus.PENDING.value
                )
            ).one()
            parked = connection.execute(
                select(func.count()).where(queue.c.status == QueuedStatus.PARKED.value)
            ).scalar_one()
        age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else None
        return QueueDepth(pending, age, parked)

    def pending_of(self, channel: Channel, address: str) -> int:
        """How many rows from this address wait (tests, the privacy purge)."""
        with self.engine.connect() as connection:
            return connection.execute(
                select(func.count()).where(
                    and_(
                        queue.c.sender == sender_key(channel, address),
                        queue.c.status == QueuedStatus.PENDING.value,
                    )
                )
            ).scalar_one()
