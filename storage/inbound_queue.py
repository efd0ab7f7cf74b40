"""The inbound queue: what providers sent, recorded in one short transaction before
the webhook answers, then drained by the engine.

`put` is the webhook's only write. Rows are handled in arrival order per sender
(`sender` is the channel and address); a handled row keeps its channel and
provider id, so a redelivery still collides, but not its payload.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from bot.core.messages import Channel
from bot.errors import StoreBusy
from bot.ports import Arrival, Queued, QueueDepth, QueuedKind, QueuedStatus
from storage import models
from storage.prepared import Prepared, savepoint
from storage.unit_of_work import SHARED, Shared

__all__ = ["SqlInboundQueue", "SqlQueueBatch", "sender_key"]

log = logging.getLogger(__name__)

queue = models.table(models.InboundQueue)
# Built once: an alias copies every column of the table.
_CANDIDATE, _EARLIER, _HEAD = queue.alias("candidate"), queue.alias("earlier"), queue.alias("head")

MAX_ERROR = 500
# PostgreSQL: the channel `put_many` notifies and drainers LISTEN on (`watch`); how
# long a watcher waits before looking at `stop` again, and before connecting again.
ARRIVALS = "engage_inbound"
WATCH_TIMEOUT = 1.0
WATCH_RETRY = 2.0
# How long a webhook waits for its turn to write (SQLite) before it parks the request.
PUT_WAIT = 0.5
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
        # SQLite has one writer: this process's writers of the queue take turns here,
        # handing over at once, rather than in the sleeps of SQLite's busy handler.
        self.is_postgres = engine.dialect.name == "postgresql"
        self._writer_lock = _WriterLock(PUT_WAIT)
        self._writer: AbstractContextManager[object] = (
            nullcontext() if self.is_postgres else self._writer_lock
        )
        # A batch waits for its turn as long as it takes.
        self._batch_writer: AbstractContextManager[object] = (
            nullcontext() if self.is_postgres else self._writer_lock.lock
        )
        dialect_insert = postgresql.insert if self.is_postgres else sqlite.insert
        # The webhook's one statement, compiled once and handed to the driver.
        self._put = Prepared(
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
            .returning(queue.c.id)
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
        return self.put_many([Arrival(channel, provider_id, kind, sender, payload)], now)[0]

    def put_many(self, arrivals: Sequence[Arrival], now: datetime) -> list[bool]:
        """Record `arrivals` in one transaction, one commit for all of them; for each,
        whether it was new (False: a redelivery)."""
        with self._writer, self.put_engine.begin() as connection:
            fresh = [
                self._put.first(
                    connection,
                    {
                        "channel": arrival.channel.value,
                        "provider_id": arrival.provider_id,
                        "kind": arrival.kind.value,
                        "sender": arrival.sender,
                        "payload": dict(arrival.payload),
                        "now": now,
                    },
                )
                is not None
                for arrival in arrivals
            ]
            if self.is_postgres and any(fresh):
                # Delivered at the commit, to every drainer waiting in `watch`.
                _NOTIFY.execute(connection, {})
            return fresh

    def watch(self, arrived: Callable[[], None], stop: threading.Event) -> bool:
        """PostgreSQL: LISTEN on a connection of its own, and call `arrived` for each
        notification `put_many` sends (and once on connecting, for rows recorded while
        nobody listened); a lost connection is opened again. SQLite: False at once."""
        if not self.is_postgres:
            return False
        dialect = self.engine.dialect
        while not stop.is_set():
            try:
                arguments, options = dialect.create_connect_args(self.engine.url)
                connection: Any = dialect.connect(*arguments, **options)
                try:
                    connection.autocommit = True
                    connection.execute(f"LISTEN {ARRIVALS}")
                    arrived()
                    while not stop.is_set():
                        for _ in connection.notifies(timeout=WATCH_TIMEOUT):
                            arrived()
                finally:
                    connection.close()
            except dialect.loaded_dbapi.Error as error:
                log.warning("inbound.watch_lost", extra={"error": type(error).__name__})
                stop.wait(WATCH_RETRY)
        return True

    def claim(self, kind: QueuedKind, limit: int, now: datetime, lease: timedelta) -> list[Queued]:
        due = self._due(kind, limit, now)
        if self.is_postgres:
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(queue)
            .where(queue.c.id.in_(due.scalar_subquery()))
            .values(claimed_until=now + lease)
            .returning(*_ROW)
        )
        with self._writer, self.engine.begin() as connection:
            rows = connection.execute(statement).all()
        return sorted((_queued(row) for row in rows), key=lambda row: row.id)

    @contextmanager
    def batch(self, kind: QueuedKind, limit: int, now: datetime) -> Iterator[SqlQueueBatch]:
        """A transaction holding up to `limit` due rows of `kind`, oldest first, none of
        them of a sender another drainer holds; it commits when the block ends (nothing
        of it when the block raises), and a process killed meanwhile leaves every row
        as it was."""
        with self._batch_writer, self.engine.connect() as connection, connection.begin():
            if self.is_postgres:
                rows = self._claim_senders(connection, kind, limit, now)
            else:
                # The write lock is ours (BEGIN IMMEDIATE) until the commit.
                found = connection.execute(
                    _BATCH_SQLITE, {"kind": kind.value, "limit": limit, "now": now}
                )
                rows = sorted((_queued(row) for row in found), key=lambda row: row.id)
            yield SqlQueueBatch(connection, rows)

    def _claim_senders(
        self, connection: Connection, kind: QueuedKind, limit: int, now: datetime
    ) -> list[Queued]:
        """PostgreSQL: lock the first due row of up to `limit` senders (skipping senders
        another drainer holds), then take their rows in order. A sender's later rows
        are not first while the row this transaction locked is pending, so no other
        drainer takes one of them before this one commits."""
        head, earlier = _HEAD, _EARLIER
        first = ~(
            select(earlier.c.id)
            .where(
                earlier.c.sender == head.c.sender,
                earlier.c.status == QueuedStatus.PENDING.value,
                earlier.c.id < head.c.id,
            )
            .exists()
        )
        heads = connection.execute(
            select(head.c.sender)
            .where(
                head.c.status == QueuedStatus.PENDING.value,
                head.c.kind == kind.value,
                or_(head.c.claimed_until.is_(None), head.c.claimed_until < now),
                first,
            )
            .order_by(head.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
        senders = list(heads)
        if not senders:
            return []
        rows = connection.execute(
            select(*_ROW)
            .where(
                queue.c.sender.in_(senders),
                queue.c.status == QueuedStatus.PENDING.value,
                queue.c.kind == kind.value,
            )
            .order_by(queue.c.id)
            .limit(limit)
        ).all()
        return [_queued(row) for row in rows]

    def _due(self, kind: QueuedKind, limit: int, now: datetime) -> Select[tuple[int]]:
        return _due(kind.value, limit, now)

    def release_claims(self) -> int:
        """Forget every lease (a SQLite database has one server: after a restart,
        nobody else holds them); how many."""
        with self._writer, self.engine.begin() as connection:
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
        with self._writer, self.engine.begin() as connection:
            _finish(connection, ids, now)

    def fail(self, row: Queued, error: str, park: bool, now: datetime) -> None:
        with self._writer, self.engine.begin() as connection:
            _fail(connection, row, error, park, now)

    def prune(self, before: datetime) -> int:
        """Delete rows handled before `before` (a redelivery that late finds the message
        log instead); how many. Parked rows stay for an operator."""
        with self._writer, self.engine.begin() as connection:
            removed = connection.execute(
                delete(queue).where(
                    queue.c.status == QueuedStatus.DONE.value, queue.c.handled_at < before
                )
            ).rowcount
        return int(removed or 0)

    def depth(self, now: datetime) -> QueueDepth:
        # A plain read: it never waits for SQLite's write lock.
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as connection:
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


_ROW = (
    queue.c.id,
    queue.c.channel,
    queue.c.kind,
    queue.c.sender,
    queue.c.payload,
    queue.c.attempts,
)


def _due(kind: Any, limit: Any, now: Any) -> Select[tuple[int]]:
    """Ids of the due rows of `kind`, oldest first, at most `limit` (values or bound
    parameters)."""
    candidate, earlier = _CANDIDATE, _EARLIER
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
    return (
        select(candidate.c.id)
        .where(
            candidate.c.status == QueuedStatus.PENDING.value,
            candidate.c.kind == kind,
            or_(candidate.c.claimed_until.is_(None), candidate.c.claimed_until < now),
            ~waiting,
        )
        .order_by(candidate.c.id)
        .limit(limit)
    )


# Built once, as every batch runs them (SQLAlchemy finds their compiled form by the
# statement alone).
_BATCH_SQLITE = select(*_ROW).where(
    queue.c.id.in_(
        _due(
            bindparam("kind"), bindparam("limit"), bindparam("now", type_=queue.c.received_at.type)
        ).scalar_subquery()
    )
)
_NOTIFY = Prepared(select(func.pg_notify(ARRIVALS, "")))
_FINISH = (
    update(queue)
    .where(queue.c.id.in_(bindparam("ids", expanding=True)))
    .values(status=QueuedStatus.DONE.value, payload=None, handled_at=bindparam("now"))
)


class SqlQueueBatch:
    """The rows of one batch, in its transaction (bot.ports.QueueBatch)."""

    def __init__(self, connection: Connection, rows: list[Queued]) -> None:
        self.connection = connection
        self.rows = rows

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Run one row's work in a savepoint: units of work opened in the block (in
        this thread) write into it; if the block raises, none of it stays."""
        with savepoint(self.connection, "attempt") as point:
            token = SHARED.set(Shared(self.connection, point))
            try:
                yield
            finally:
                SHARED.reset(token)

    def finish(self, ids: Sequence[int], now: datetime) -> None:
        if ids:
            _finish(self.connection, ids, now)

    def fail(self, row: Queued, error: str, park: bool, now: datetime) -> None:
        _fail(self.connection, row, error, park, now)


class _WriterLock:
    """A lock that gives up after `timeout` seconds (then the database counts as busy)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        if not self.lock.acquire(timeout=self.timeout):
            raise StoreBusy("the inbound queue is busy")

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def _queued(row: Any) -> Queued:
    return Queued(
        row.id,
        Channel(row.channel),
        QueuedKind(row.kind),
        row.sender,
        row.payload or {},
        row.attempts,
    )


def _finish(connection: Connection, ids: Sequence[int], now: datetime) -> None:
    connection.execute(_FINISH, {"ids": list(ids), "now": now})


def _fail(connection: Connection, row: Queued, error: str, park: bool, now: datetime) -> None:
    values: dict[str, object] = {
        "attempts": row.attempts + 1,
        "error": error[:MAX_ERROR],
        # Tried again after a pause that grows with each failure.
        "claimed_until": now + timedelta(seconds=min(2**row.attempts, RETRY_CAP)),
    }
    if park:
        values.update(status=QueuedStatus.PARKED.value, handled_at=now)
    connection.execute(update(queue).where(queue.c.id == row.id).values(**values))
