"""A sender's messages reach the inbound queue in the order they came, also when
one of them had to wait in the spool (SQLite locked past the webhook's wait)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, select

from bot.core.messages import Channel
from bot.ports import QueuedKind
from bot.services.inbound_queue import Intake
from storage import models
from storage.database import connect, migrate
from storage.inbound_queue import SqlInboundQueue, sender_key
from storage.spool import Spool

NOW = datetime(2026, 9, 1, 15, 0)
ANA, BEA = "+13125550101", "+13125550102"
T = TypeVar("T")


async def inline(work: Callable[[], T]) -> T:
    return work()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(f"sqlite:///{tmp_path / 'engage.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def intake(engine: Engine, spool: Spool) -> Intake:
    impatient = connect(str(engine.url), busy_timeout=0.05)
    queue = SqlInboundQueue(engine, impatient)
    return Intake(queue, inline, spool.put_queued, lambda: NOW, spooled=spool.queued_senders)


def text(intake: Intake, phone: str, sid: str) -> None:
    payload = {"channel": "sms", "address": phone, "text": sid, "provider_id": sid}
    sender = sender_key(Channel.SMS, phone)
    asyncio.run(intake.record(Channel.SMS, sid, QueuedKind.MESSAGE, sender, payload))


def queued(engine: Engine) -> list[str]:
    q = models.InboundQueue
    with engine.connect() as connection:
        return list(connection.execute(select(q.provider_id).order_by(q.id)).scalars())


def test_a_text_behind_a_spooled_one_waits_its_turn_there(engine: Engine, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    webhooks = intake(engine, spool)
    with engine.begin():  # another writer holds SQLite's lock (BEGIN IMMEDIATE)
        text(webhooks, ANA, "SM-ana-1")
    assert len(spool.pending()) == 1
    text(webhooks, ANA, "SM-ana-2")  # the database is free, but Ana's first text is not in
    text(webhooks, BEA, "SM-bea-1")
    assert queued(engine) == ["SM-bea-1"]
    assert len(spool.pending()) == 2

    # A server started now knows whose rows wait in the spool.
    assert intake(engine, spool)._behind == {sender_key(Channel.SMS, ANA)}

    spool.drain(lambda message: None, handle_queued=webhooks.replay_parked)
    webhooks.spool_replayed()
    text(webhooks, ANA, "SM-ana-3")
    assert queued(engine) == ["SM-bea-1", "SM-ana-1", "SM-ana-2", "SM-ana-3"]
    assert spool.pending() == []
