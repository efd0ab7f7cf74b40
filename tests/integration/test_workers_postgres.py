"""Several workers share one outbox on PostgreSQL: no message twice, none lost.

Each worker is its own thread with its own event loop and connection pool,
as `engage worker` processes would be; one of them hangs mid-batch (a stuck
process) and the others take its rows over when its lease runs out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, insert, select

from bot.core.messages import Channel, OutboundMessage
from bot.services.inbound import utcnow
from bot.services.sender import OutboxSender
from storage import models
from storage.database import connect
from storage.outbox import OutboxStore
from tests.conftest import POSTGRES_URL, _postgres_engine, _truncate

pytestmark = pytest.mark.postgres

ROWS = 2000
WORKERS = 4


class Provider:
    """One provider shared by every worker: records each accepted message, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[str, str, str]] = []  # (sid, address, text)

    def accept(self, message: OutboundMessage) -> str:
        with self.lock:
            sid = f"SM{len(self.accepted):032d}"
            self.accepted.append((sid, message.address, message.text))
            return sid

    def find(self, message: OutboundMessage) -> list[str]:
        with self.lock:
            return [
                sid for sid, a, t in self.accepted if a == message.address and t == message.text
            ]


class WorkerChannel:
    """A worker's view of the provider; `hang_after` makes this worker stall for good."""

    def __init__(self, provider: Provider, hang_after: int | None = None) -> None:
        self.provider = provider
        self.hang_after = hang_after
        self.sent = 0

    async def send(self, message: OutboundMessage) -> str:
        await asyncio.sleep(0.002)  # the provider's latency
        if self.hang_after is not None and self.sent >= self.hang_after:
            await asyncio.Event().wait()  # stuck forever: its rows' leases run out
        self.sent += 1
        return self.provider.accept(message)

    async def find_sent(self, message: OutboundMessage) -> list[str]:
        return self.provider.find(message)


@pytest.fixture
def pg() -> Iterator[Engine]:
    _truncate(_postgres_engine())
    engine = connect(POSTGRES_URL)
    yield engine
    engine.dispose()


def fill(engine: Engine) -> None:
    now = utcnow()
    p, c, o = models.Participant.__table__, models.Contact.__table__, models.Outbox.__table__
    with engine.begin() as connection:
        connection.execute(
            insert(p),
            [
                {
                    "id": n + 1,
                    "pseudonym": f"P-{n:06d}",
                    "onboarding_started": True,
                    "attempts": 0,
                    "pending": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(ROWS)
            ],
        )
        connection.execute(
            insert(c),
            [
                {
                    "id": n + 1,
                    "participant_id": n + 1,
                    "channel": "sms",
                    "address": f"+1312555{n:04d}",
                    "created_at": now,
                }
                for n in range(ROWS)
            ],
        )
        connection.execute(
            insert(o),
            [
                {
                    "contact_id": n + 1,
                    "channel": "sms",
                    "address": f"+1312555{n:04d}",
                    "body": f"invitation {n}",
                    "choices": [],
                    "kind": "broadcast",
                    "status": "pending",
                    "attempts": 0,
                    "not_before": now,
                    "broadcast_id": 1,
                    "dedup_key": f"b:1:{n + 1}",
                    "created_at": now,
                }
                for n in range(ROWS)
            ],
        )


def outstanding(engine: Engine) -> int:
    o = models.Outbox
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).where(o.status.in_(("pending", "sending")))
        ).scalar_one()


def test_workers_share_the_outbox_with_no_duplicate_and_no_loss(pg: Engine) -> None:
    fill(pg)
    provider = Provider()
    channels = [WorkerChannel(provider, hang_after=50 if n == 0 else None) for n in range(WORKERS)]
    stop = threading.Event()

    def work(channel: WorkerChannel) -> None:
        engine = connect(POSTGRES_URL)
        sender = OutboxSender(
            OutboxStore(engine),
            {Channel.SMS: channel},
            utcnow,
            run_db=asyncio.to_thread,
            batch=100,
            concurrency=16,
            lease=timedelta(seconds=2),
        )

        async def run() -> None:
            halt = asyncio.Event()
            task = asyncio.create_task(sender.run(halt, idle=0.05))
            while not stop.is_set():
                await asyncio.sleep(0.05)
            halt.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        try:
            asyncio.run(run())
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(channel,)) for channel in channels]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    try:
        while outstanding(pg) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert outstanding(pg) == 0
    per_address = Counter(address for _, address, _ in provider.accepted)
    assert len(per_address) == ROWS, "a message was lost"
    assert max(per_address.values()) == 1, "a message was sent twice"
    o, m = models.Outbox, models.Message
    with pg.connect() as connection:
        statuses = dict(connection.execute(select(o.status, func.count()).group_by(o.status)).all())
        logged = connection.execute(
            select(func.count(), func.count(func.distinct(m.provider_id))).where(
                m.direction == "out"
            )
        ).one()
    assert statuses == {"sent": ROWS}
    assert tuple(logged) == (ROWS, ROWS)
    # The work was shared, and the stuck worker's rows were taken over.
    assert all(channel.sent > 0 for channel in channels)
    assert channels[0].sent == 50
