"""Not one message after STOP: a STOP, a cancel or a pause that lands while a worker
holds a claimed batch stops every row of it whose provider call has not begun.

Seen before this was fixed: STOP at 10:24:53, the broadcast delivered at 10:24:56,
because the worker had claimed the row (in a batch of ~50) before the STOP; and 50
of 67 messages sent after `engage broadcast cancel`. Here a worker claims a batch,
and while it works through it (at SMS pace, one at a time) a family says STOP, or
an organizer cancels or pauses the broadcast.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from bot.core.broadcasts import BroadcastKind
from bot.core.messages import Channel, InboundMessage, OutboundMessage, Reply
from bot.core.state import Program
from bot.ports import OutboxKind
from bot.services.inbound import Service
from bot.services.sender import OutboxSender
from storage import models
from storage.audience import Audience
from storage.broadcasts import BroadcastStore
from storage.outbox import OutboxStore
from storage.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 9, 1, 15, 24, 50)
PROGRAM = Program(name="Riverside Plan", contact="555-0100", languages=("en", "es"))
BATCH = 50


def phone(n: int) -> str:
    return f"+1312555{n:04d}"


def broadcast(engine: Engine, families: int) -> int:
    """A broadcast with one queued invitation to each of `families` onboarded families."""
    store = BroadcastStore(engine)
    (broadcast_id,) = store.create(
        kind=BroadcastKind.MESSAGE,
        audience=Audience(),
        scheduled_at=NOW,
        now=NOW,
        actor="test",
    )
    with SqlUnitOfWork(engine) as uow:
        for n in range(families):
            sender = uow.add_sender(Channel.SMS, phone(n), NOW)
            uow.enqueue(
                sender.contact_id,
                Channel.SMS,
                phone(n),
                [Reply(f"invitation {n}")],
                OutboxKind.BROADCAST,
                NOW,
                broadcast_id=broadcast_id,
            )
        uow.commit()
    return broadcast_id


class Provider:
    """Records every provider call; `during(n)` runs before the n-th call (0-based) returns."""

    def __init__(self, latency: float = 0.0) -> None:
        self.calls: list[OutboundMessage] = []
        self.latency = latency
        self.hooks: dict[int, Callable[[], Awaitable[None]]] = {}
        self.lock = threading.Lock()

    async def send(self, message: OutboundMessage) -> str:
        with self.lock:
            n = len(self.calls)
            self.calls.append(message)
        if self.latency:
            await asyncio.sleep(self.latency)
        hook = self.hooks.get(n)
        if hook is not None:
            await hook()
        return f"SM{n:032d}"

    def to(self, address: str) -> list[str]:
        return [m.text for m in self.calls if m.address == address]


def stop_from(service: Service, address: str, words: str = "STOP", sid: str = "") -> None:
    service.handle_inbound(
        InboundMessage(Channel.SMS, address, words, provider_id=sid or f"SMin{address}")
    )


def statuses(engine: Engine) -> dict[str, str]:
    o = models.Outbox
    with engine.connect() as connection:
        rows = connection.execute(select(o.address, o.status).where(o.kind == "broadcast")).all()
    return {address: status for address, status in rows}


def paced_sender(engine: Engine, provider: Provider) -> OutboxSender:
    # One message at a time, as SMS goes out at 1 a second: the batch stays claimed a while.
    return OutboxSender(
        OutboxStore(engine), {Channel.SMS: provider}, lambda: NOW, batch=BATCH, concurrency=1
    )


def test_a_stop_while_the_batch_is_claimed_stops_that_familys_message(engine: Engine) -> None:
    broadcast(engine, BATCH)
    service = Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=lambda: NOW)
    provider = Provider()
    stopper = phone(30)

    async def family_says_stop() -> None:
        await asyncio.to_thread(stop_from, service, stopper, "please stop texting me")

    provider.hooks[3] = family_says_stop
    handled = asyncio.run(paced_sender(engine, provider).run_once())

    assert handled == BATCH  # the whole batch was claimed before the STOP
    assert provider.to(stopper) == []
    assert len(provider.calls) == BATCH - 1
    assert statuses(engine)[stopper] == "withheld"
    # The STOP's own confirmation is still queued, and goes out next.
    asyncio.run(paced_sender(engine, provider).run_once())
    assert provider.to(stopper) == [
        "You are unsubscribed from Riverside Plan and will get no more messages. "
        "Text START to rejoin."
    ]


def test_cancel_withdraws_the_rows_a_worker_has_claimed(engine: Engine) -> None:
    broadcast_id = broadcast(engine, 67)
    provider = Provider()
    store = BroadcastStore(engine)
    withdrawn: list[int] = []

    async def organizer_cancels() -> None:
        withdrawn.append(await asyncio.to_thread(store.cancel, broadcast_id, NOW, "cli:test"))

    provider.hooks[16] = organizer_cancels
    sender = paced_sender(engine, provider)
    asyncio.run(sender.run_once())
    asyncio.run(sender.run_once())

    assert len(provider.calls) == 17  # the 17th was in flight when the cancel came
    assert withdrawn == [67 - 17]  # 33 claimed and 17 still pending, all withdrawn
    progress = store.progress(broadcast_id)
    assert (progress.sent, progress.cancelled, progress.opted_out) == (17, 50, 0)
    assert (progress.queued, progress.sending) == (0, 0)


def test_pause_holds_the_claimed_rows_and_resume_sends_them_once(engine: Engine) -> None:
    broadcast_id = broadcast(engine, 20)
    provider = Provider()
    store = BroadcastStore(engine)

    async def organizer_pauses() -> None:
        assert await asyncio.to_thread(store.pause, broadcast_id, NOW, "cli:test")

    provider.hooks[4] = organizer_pauses
    sender = paced_sender(engine, provider)
    asyncio.run(sender.run_once())
    assert len(provider.calls) == 5
    progress = store.progress(broadcast_id)
    assert (progress.sent, progress.queued, progress.sending, progress.paused) == (5, 15, 0, True)
    assert asyncio.run(sender.run_once()) == 0  # nothing of a paused broadcast is claimed

    assert store.resume(broadcast_id, NOW, "cli:test")
    asyncio.run(sender.run_once())
    assert sorted(m.address for m in provider.calls) == sorted(phone(n) for n in range(20))
    assert store.progress(broadcast_id).sent == 20


def test_stops_racing_a_busy_worker_never_lose_to_it(engine: Engine) -> None:
    """STOPs from another thread at random moments while a worker sends 8 at a time.

    Whenever a STOP returns (committed), that family's message is either already in
    flight or sent, or withheld; and a withheld message never reaches the provider.
    """
    families = 160
    broadcast(engine, families)
    service = Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=lambda: NOW)
    provider = Provider(latency=0.003)
    sender = OutboxSender(
        OutboxStore(engine), {Channel.SMS: provider}, lambda: NOW, batch=40, concurrency=8
    )
    chosen = random.Random(13).sample(range(families), 40)
    seen_after_stop: dict[str, tuple[str, datetime | None]] = {}
    done = threading.Event()

    def families_say_stop() -> None:
        o = models.Outbox
        for n in chosen:
            time.sleep(random.Random(n).uniform(0.0, 0.01))
            stop_from(service, phone(n))
            with engine.connect() as connection:
                row = connection.execute(
                    select(o.status, o.sending_at).where(
                        o.address == phone(n), o.kind == "broadcast"
                    )
                ).one()
            seen_after_stop[phone(n)] = (row.status, row.sending_at)
        done.set()

    async def send_everything() -> None:
        while await sender.run_once():
            pass

    stopping = threading.Thread(target=families_say_stop)
    stopping.start()
    asyncio.run(send_everything())
    stopping.join(timeout=60)
    assert done.is_set()
    asyncio.run(send_everything())

    final = statuses(engine)
    for n in chosen:
        address = phone(n)
        status, in_flight = seen_after_stop[address]
        got = [t for t in provider.to(address) if t.startswith("invitation")]
        if status == "withheld":
            assert got == [], f"{address}: withheld at its STOP, yet sent"
            assert final[address] == "withheld"
        else:
            # The provider call had begun before the STOP committed.
            assert status in ("sending", "sent") and in_flight is not None, (address, status)
            assert got == [f"invitation {n}"]
    stopped = {phone(n) for n in chosen}
    for n in range(families):
        if phone(n) not in stopped:
            assert final[phone(n)] == "sent"
            assert provider.to(phone(n)) == [f"invitation {n}"]
    withheld = [a for a in stopped if final[a] == "withheld"]
    assert withheld, "no STOP landed while rows were still queued: the race never ran"


def test_a_row_taken_over_by_another_worker_is_not_sent_by_the_first(engine: Engine) -> None:
    broadcast(engine, 1)
    store = OutboxStore(engine)
    (first,) = store.claim_due(NOW, 10, timedelta(seconds=5))
    (second,) = store.claim_due(NOW + timedelta(seconds=6), 10, timedelta(seconds=5))
    assert store.begin_sending([first], NOW + timedelta(seconds=7)) == set()
    assert store.begin_sending([second], NOW + timedelta(seconds=7)) == {second.id}
    assert store.begin_sending([second], NOW + timedelta(seconds=7)) == set()  # once
