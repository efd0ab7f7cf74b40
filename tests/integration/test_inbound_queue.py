"""The inbound queue on SQLite and PostgreSQL: recorded once, drained in order per sender,
many messages to a transaction, a poisoned message set aside without holding anyone up."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import Engine, func, select

from bot.authoring.activities import parse_activity
from bot.core.messages import Channel, InboundMessage, message_to_record
from bot.ports import QueuedKind
from bot.services.inbound import Service
from bot.services.inbound_queue import Drain, Intake, MessageBatches
from storage import models
from storage.activities import store_activity
from storage.database import connect
from storage.inbound_queue import SqlInboundQueue, sender_key
from storage.unit_of_work import SqlUnitOfWork
from tests.integration.test_service import PROGRAM, SURVEY_YAML

NOW = datetime(2026, 9, 1, 15, 0)
PHONES = [f"+1555010{n:04d}" for n in range(8)]
T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def put(queue: SqlInboundQueue, phone: str, text: str, sid: str, now: datetime = NOW) -> bool:
    message = InboundMessage(Channel.SMS, phone, text, provider_id=sid)
    return queue.put(
        Channel.SMS,
        sid,
        QueuedKind.MESSAGE,
        sender_key(Channel.SMS, phone),
        message_to_record(message),
        now,
    )


def statuses(engine: Engine) -> dict[str, int]:
    q = models.InboundQueue
    with engine.connect() as connection:
        return dict(connection.execute(select(q.status, func.count()).group_by(q.status)).all())


def drain_all(batches: MessageBatches) -> int:
    total = 0
    while handled := batches():
        total += handled
    return total


@pytest.fixture
def service(engine: Engine) -> Service:
    with engine.begin() as connection:
        connection.execute(
            models.School.__table__.insert(),
            {"code": "lincoln-es", "name": "Lincoln Elementary", "created_at": NOW},
        )
    store_activity(engine, parse_activity(SURVEY_YAML, "priorities.yaml"), SURVEY_YAML, NOW)
    return Service(lambda: SqlUnitOfWork(engine), PROGRAM)


def test_a_redelivery_is_recorded_once(engine: Engine) -> None:
    queue = SqlInboundQueue(engine)
    assert put(queue, PHONES[0], "hello", "SM1") is True
    assert put(queue, PHONES[0], "hello", "SM1") is False
    assert statuses(engine) == {"pending": 1}
    depth = queue.depth(NOW + timedelta(seconds=3))
    assert (depth.pending, depth.oldest_seconds, depth.parked) == (1, 3.0, 0)


def test_requests_that_arrive_together_share_one_commit_and_each_hears_its_own_answer(
    engine: Engine,
) -> None:
    queue = SqlInboundQueue(engine)
    writes: list[int] = []

    async def run_db(work: Callable[[], T]) -> T:
        writes.append(1)
        return await asyncio.to_thread(work)

    intake = Intake(queue, run_db, lambda row: None, lambda: NOW)

    async def arrive(sid: str) -> bool:
        message = InboundMessage(Channel.SMS, PHONES[0], "hola", provider_id=sid)
        return await intake.record(
            Channel.SMS,
            sid,
            QueuedKind.MESSAGE,
            sender_key(Channel.SMS, PHONES[0]),
            message_to_record(message),
        )

    async def together() -> list[bool]:
        return await asyncio.gather(*(arrive(sid) for sid in ["SM1", "SM2", "SM1", "SM3"]))

    assert asyncio.run(together()) == [True, True, False, True]
    assert len(writes) == 1
    assert statuses(engine) == {"pending": 3}


def test_the_engine_lets_recording_webhooks_go_first_but_never_waits_on_them_for_long(
    engine: Engine, service: Service
) -> None:
    queue = SqlInboundQueue(engine)
    put(queue, PHONES[0], "Hola", "SM1")
    batches = MessageBatches(queue, service.handle_once, lambda: NOW)

    async def run_db(work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)

    async def until_handled() -> float:
        # Webhooks that never stop recording: the engine still takes its turn.
        drain = Drain(
            queue, run_db, lambda: NOW, {}, batches=batches, recording=lambda: True, hand_over=1.0
        )
        stop = asyncio.Event()
        started = time.monotonic()
        running = asyncio.create_task(drain.run(stop))
        while statuses(engine).get("pending"):
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
        stop.set()
        await running
        return elapsed

    elapsed = asyncio.run(until_handled())
    assert 1.0 <= elapsed < 10
    assert statuses(engine) == {"done": 1}


def test_long_handled_rows_are_pruned_and_parked_ones_kept(
    engine: Engine, service: Service
) -> None:
    queue = SqlInboundQueue(engine)
    put(queue, PHONES[0], "hello", "SM1")
    put(queue, PHONES[1], "hello", "SM2")
    [first, second] = queue.claim(QueuedKind.MESSAGE, 2, NOW, timedelta(seconds=30))
    queue.finish([first.id], NOW)
    queue.fail(second, "broken", True, NOW)
    assert queue.prune(NOW - timedelta(days=2)) == 0
    assert queue.prune(NOW + timedelta(seconds=1)) == 1
    assert statuses(engine) == {"parked": 1}


def test_many_messages_share_a_commit_and_each_is_handled_once(
    engine: Engine, service: Service
) -> None:
    queue = SqlInboundQueue(engine)
    conversation = ["Hola", "2", "sí", "1", "1", "2", "4", "Más consejeros"]
    for turn, text in enumerate(conversation):
        for phone in PHONES:
            put(queue, phone, text, f"SM{turn}{phone}")
    batches = MessageBatches(queue, service.handle_once, Clock(), max_seconds=60)
    total = len(conversation) * len(PHONES)
    commits = 0
    while handled := batches():
        commits += 1
        total -= handled
    assert total == 0
    total = len(conversation) * len(PHONES)
    assert commits <= 5  # 8, then twice as many each time
    assert statuses(engine) == {"done": total}
    m, r = models.Message, models.Response
    with engine.connect() as connection:
        inbound = connection.execute(select(func.count()).where(m.direction == "in")).scalar_one()
        answers = connection.execute(select(r.question, func.count()).group_by(r.question)).all()
        payloads = connection.execute(select(models.InboundQueue.payload)).scalars().all()
    assert inbound == total
    assert dict(answers) == {"top": len(PHONES), "safe": len(PHONES), "why": len(PHONES)}
    assert set(payloads) == {None}  # handled rows keep no copy of what was said
    # The same messages again (a provider redelivering): nothing more.
    for phone in PHONES:
        put(queue, phone, "1", f"SM3{phone}")
    assert batches() == 0


def test_a_poisoned_message_is_retried_alone_then_parked_and_blocks_nobody(
    engine: Engine, service: Service
) -> None:
    queue = SqlInboundQueue(engine)
    clock = Clock()
    handled: list[tuple[str, str]] = []

    def handle(message: InboundMessage) -> object:
        if message.text == "poison":
            # Half written when it fails: none of it may stay.
            service.handle_once(message)
            raise ValueError("a message the engine cannot take")
        handled.append((message.address, message.text))
        return service.handle_once(message)

    put(queue, PHONES[0], "poison", "SMp")
    put(queue, PHONES[0], "after", "SMa")
    put(queue, PHONES[1], "hello", "SMh")
    batches = MessageBatches(queue, handle, clock, max_attempts=3)
    batches()
    # The other family is answered; the poisoned sender's next message waits its turn.
    assert handled == [(PHONES[1], "hello")]
    assert statuses(engine) == {"pending": 2, "done": 1}
    for _ in range(2):
        assert drain_all(batches) == 0  # not yet due again
        clock.now += timedelta(minutes=2)
        batches()
    # Parked on its third try: the sender's next message goes ahead.
    drain_all(batches)
    assert statuses(engine) == {"parked": 1, "done": 2}
    assert handled[-1] == (PHONES[0], "after")
    q, m = models.InboundQueue, models.Message
    with engine.connect() as connection:
        parked = connection.execute(
            select(q.attempts, q.error, q.payload).where(q.status == "parked")
        ).one()
        bodies = connection.execute(select(m.body).where(m.direction == "in")).scalars().all()
    assert parked.attempts == 3
    assert parked.error == "ValueError: a message the engine cannot take"
    assert parked.payload["text"] == "poison"  # kept for an operator
    assert sorted(bodies) == ["after", "hello"]
    depth = queue.depth(clock.now)
    assert (depth.pending, depth.parked) == (0, 1)


@pytest.mark.postgres
def test_two_drainers_never_interleave_one_sender(db_url: str, engine: Engine) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several drainers share a queue on PostgreSQL")
    queue = SqlInboundQueue(engine)
    per_sender = 12
    for n in range(per_sender):
        for phone in PHONES:
            put(queue, phone, str(n), f"SM{n:03d}{phone}")
    in_hand: set[str] = set()
    seen: dict[str, list[int]] = defaultdict(list)
    overlaps: list[str] = []
    guard = threading.Lock()

    def handle(message: InboundMessage) -> object:
        with guard:
            if message.address in in_hand:
                overlaps.append(message.address)
            in_hand.add(message.address)
        time.sleep(0.002)
        with guard:
            in_hand.discard(message.address)
            seen[message.address].append(int(message.text))
        return None

    def worker() -> None:
        batches = MessageBatches(queue, handle, Clock(), limit=5, max_seconds=60)
        idle = 0
        while idle < 3:
            idle = 0 if batches() else idle + 1

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert overlaps == []
    assert dict(seen) == {phone: list(range(per_sender)) for phone in PHONES}
    assert statuses(engine) == {"done": per_sender * len(PHONES)}


def test_a_drainer_hears_at_once_of_rows_another_process_records(
    db_url: str, engine: Engine, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = SqlInboundQueue(engine)
    if not db_url.startswith("postgresql"):
        # One server records and drains a SQLite file: nothing to listen for.
        assert queue.watch(lambda: None, threading.Event()) is False
        return
    # Without the notification the drainer would look again only after a minute.
    monkeypatch.setattr("bot.services.inbound_queue.IDLE_POLL", 60.0)
    webhooks = connect(db_url)  # another process's engine, as `engage serve --no-engine`
    batches = MessageBatches(queue, service.handle_once, lambda: NOW)

    async def run_db(work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)

    async def seconds_to_handle() -> float:
        drain = Drain(queue, run_db, lambda: NOW, {}, batches=batches)
        stop = asyncio.Event()
        running = asyncio.create_task(drain.run(stop))
        await asyncio.sleep(0.5)  # idle, and listening
        started = time.monotonic()
        put(SqlInboundQueue(webhooks), PHONES[0], "Hola", "SM1")
        while statuses(engine).get("pending") and time.monotonic() - started < 30:
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
        stop.set()
        await running
        return elapsed

    try:
        elapsed = asyncio.run(seconds_to_handle())
    finally:
        webhooks.dispose()
    assert elapsed < 5
    assert statuses(engine) == {"done": 1}


def test_in_a_batch_a_unit_of_work_left_uncommitted_leaves_nothing_and_others_stay(
    engine: Engine,
) -> None:
    queue = SqlInboundQueue(engine)
    put(queue, PHONES[0], "hello", "SM1")
    phones = [f"+1312555{n:04d}" for n in range(4)]
    with queue.batch(QueuedKind.MESSAGE, 10, NOW) as batch:
        with batch.attempt():
            with SqlUnitOfWork(engine) as uow:  # the message's first: its savepoint
                uow.add_sender(Channel.SMS, phones[0], NOW)
            with SqlUnitOfWork(engine) as uow:  # the savepoint again, now kept
                uow.add_sender(Channel.SMS, phones[1], NOW)
                uow.commit()
            with SqlUnitOfWork(engine) as uow:  # a savepoint of its own
                uow.add_sender(Channel.SMS, phones[2], NOW)
            with pytest.raises(RuntimeError), SqlUnitOfWork(engine) as uow:
                uow.add_sender(Channel.SMS, phones[3], NOW)
                uow.commit()
                raise RuntimeError("after the commit: still within the message")
        with pytest.raises(RuntimeError), batch.attempt():
            with SqlUnitOfWork(engine) as uow:
                uow.add_sender(Channel.SMS, "+13125559999", NOW)
                uow.commit()
            raise RuntimeError("the message failed after its unit of work")
        batch.finish([row.id for row in batch.rows], NOW)
    contacts = models.table(models.Contact)
    with engine.connect() as connection:
        kept = connection.execute(select(contacts.c.address).order_by(contacts.c.id)).scalars()
        assert list(kept) == [phones[1], phones[3]]
