"""Sending broadcasts: replies first, quiet hours, provider trouble, and no second send."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from bot.core.messages import Channel, OutboundMessage, Reply
from bot.core.quiet_hours import parse_quiet_hours
from bot.errors import ProviderError
from bot.services.sender import OutboxSender
from storage import models
from storage.outbox import Delivery, OutboxStore
from storage.unit_of_work import SqlUnitOfWork

# 10:00 in Chicago.
NOW = datetime(2026, 9, 1, 15, 0)
NIGHT = datetime(2026, 9, 2, 3, 0)  # 22:00 in Chicago
QUIET = parse_quiet_hours("20:00-08:00", "America/Chicago")


class Provider:
    """A ChannelSender (and SentLookup) that records sends and fails on cue."""

    def __init__(self, failures: list[ProviderError] | None = None) -> None:
        self.sent: list[OutboundMessage] = []
        self.failures = failures or []
        self.history: dict[str, list[tuple[str, str]]] = {}  # address -> (sid, text)

    async def send(self, message: OutboundMessage) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        sid = f"SM{len(self.sent) + sum(map(len, self.history.values())):032d}"
        self.history.setdefault(message.address, []).append((sid, message.text))
        return sid

    async def find_sent(self, message: OutboundMessage) -> list[str]:
        return [sid for sid, text in self.history.get(message.address, []) if text == message.text]


def queue(engine: Engine, kind: str, *bodies: str, phone: str = "+13125550101") -> None:
    with SqlUnitOfWork(engine) as uow:
        sender = uow.find_sender(Channel.SMS, phone) or uow.add_sender(Channel.SMS, phone, NOW)
        uow.enqueue(sender.contact_id, Channel.SMS, phone, [Reply(b) for b in bodies], kind, NOW)
        uow.commit()


def rows(engine: Engine) -> list[tuple[str, str, int]]:
    o = models.Outbox
    with engine.connect() as connection:
        found = connection.execute(select(o.body, o.status, o.attempts).order_by(o.id)).all()
    return [tuple(r) for r in found]


def test_a_reply_goes_before_a_broadcast_backlog(engine: Engine) -> None:
    for n in range(5):
        queue(engine, "broadcast", f"invitation {n}", phone=f"+1312555010{n}")
    queue(engine, "reply", "your next question", phone="+13125550199")
    store = OutboxStore(engine)
    claimed = store.claim_due(NOW, 2, timedelta(minutes=2))
    assert sorted(row.text for row in claimed) == ["invitation 0", "your next question"]


def test_sms_broadcasts_wait_for_the_morning_and_replies_do_not(engine: Engine) -> None:
    queue(engine, "broadcast", "invitation")
    queue(engine, "reply", "answer to someone who wrote")
    provider = Provider()
    clock = [NIGHT]
    sender = OutboxSender(
        OutboxStore(engine), {Channel.SMS: provider}, lambda: clock[0], quiet_hours=QUIET
    )
    asyncio.run(sender.run_once())
    assert [m.text for m in provider.sent] == ["answer to someone who wrote"]
    o = models.Outbox
    with engine.connect() as connection:
        waiting = connection.execute(
            select(o.status, o.not_before, o.attempts).where(o.kind == "broadcast")
        ).one()
    assert tuple(waiting) == ("pending", datetime(2026, 9, 2, 13, 0), 0)
    clock[0] = datetime(2026, 9, 2, 13, 0)
    asyncio.run(sender.run_once())
    assert [m.text for m in provider.sent][-1] == "invitation"


def test_a_broadcast_row_claimed_as_quiet_hours_begin_goes_back_unsent(engine: Engine) -> None:
    queue(engine, "broadcast", "invitation")
    store = OutboxStore(engine)
    (row,) = store.claim_due(NIGHT, 10, timedelta(minutes=2))
    provider = Provider()
    sender = OutboxSender(store, {Channel.SMS: provider}, lambda: NIGHT, quiet_hours=QUIET)
    asyncio.run(sender._send(row, NIGHT + timedelta(minutes=1)))
    assert provider.sent == []
    assert rows(engine) == [("invitation", "pending", 0)]


def test_a_provider_answering_500_for_a_minute_loses_nothing_and_sends_nothing_twice(
    engine: Engine,
) -> None:
    for n in range(20):
        queue(engine, "broadcast", f"invitation {n}", phone=f"+131255501{n:02d}")
    clock = [NOW]

    class Down(Provider):
        tries = 0

        async def send(self, message: OutboundMessage) -> str:
            self.tries += 1
            if clock[0] < NOW + timedelta(minutes=1):
                raise ProviderError("twilio 500", transient=True, code="500")
            return await super().send(message)

    provider = Down()
    sender = OutboxSender(OutboxStore(engine), {Channel.SMS: provider}, lambda: clock[0], batch=5)
    for _ in range(100):
        asyncio.run(sender.run_once())
        clock[0] += timedelta(seconds=5)
    assert rows(engine) == [(f"invitation {n}", "sent", rows(engine)[n][2]) for n in range(20)]
    assert sorted(m.text for m in provider.sent) == sorted(f"invitation {n}" for n in range(20))
    # The channel was paused rather than hammered, and no row used up its tries.
    assert provider.tries - 20 <= 15
    assert max(attempts for _, _, attempts in rows(engine)) <= 3


def test_a_row_whose_earlier_attempt_went_out_is_recorded_not_sent_again(engine: Engine) -> None:
    queue(engine, "broadcast", "invitation")
    store = OutboxStore(engine)
    provider = Provider()
    # A worker claimed the row, sent it, and was killed before recording it.
    (row,) = store.claim_due(NOW, 10, timedelta(seconds=30))
    asyncio.run(provider.send(OutboundMessage(Channel.SMS, row.address, row.text)))
    later = NOW + timedelta(minutes=1)
    sender = OutboxSender(store, {Channel.SMS: provider}, lambda: later)
    assert asyncio.run(sender.run_once()) == 1
    assert len(provider.sent) == 1
    assert rows(engine) == [("invitation", "sent", 2)]
    with engine.connect() as connection:
        assert connection.execute(select(models.Message.provider_id)).scalar_one() == f"SM{1:032d}"


def test_identical_texts_sent_before_are_not_taken_for_this_row(engine: Engine) -> None:
    queue(engine, "reply", "Sorry?")
    store = OutboxStore(engine)
    provider = Provider()
    sender = OutboxSender(store, {Channel.SMS: provider}, lambda: NOW)
    asyncio.run(sender.run_once())
    queue(engine, "reply", "Sorry?")
    (row,) = store.claim_due(NOW, 10, timedelta(seconds=30))
    later = NOW + timedelta(minutes=1)
    asyncio.run(OutboxSender(store, {Channel.SMS: provider}, lambda: later).run_once())
    assert len(provider.sent) == 2
    assert [status for _, status, _ in rows(engine)] == ["sent", "sent"]


def test_a_status_callback_for_an_unrecorded_send_marks_its_row_sent(engine: Engine) -> None:
    queue(engine, "broadcast", "invitation")
    store = OutboxStore(engine)
    (row,) = store.claim_due(NOW, 10, timedelta(minutes=2))
    delivered = Delivery(Channel.SMS, "SM" + "a" * 32, "delivered")
    assert store.record_delivery(delivered, NOW, reference=str(row.id))
    assert rows(engine) == [("invitation", "sent", 1)]
    # The worker, had it survived, finds the row already recorded and changes nothing.
    assert store.mark_sent_many([(row, "SM" + "a" * 32)], NOW) == 0
    with engine.connect() as connection:
        logged = connection.execute(select(models.Message.provider_id, models.Message.status)).all()
    assert [tuple(r) for r in logged] == [("SM" + "a" * 32, "delivered")]
    assert not store.record_delivery(Delivery(Channel.SMS, "SMx", "sent"), NOW, reference="x")


def test_a_row_too_close_to_the_end_of_its_lease_is_given_back(engine: Engine) -> None:
    queue(engine, "broadcast", "invitation")
    store = OutboxStore(engine)
    (row,) = store.claim_due(NOW, 10, timedelta(minutes=2))
    provider = Provider()
    sender = OutboxSender(store, {Channel.SMS: provider}, lambda: NOW + timedelta(minutes=2))
    asyncio.run(sender._send(row, NOW + timedelta(minutes=1)))
    assert provider.sent == []
    assert rows(engine) == [("invitation", "pending", 0)]


def test_a_slow_rate_claims_only_what_it_can_send_within_the_lease(engine: Engine) -> None:
    sender = OutboxSender(
        OutboxStore(engine),
        {Channel.SMS: Provider()},
        lambda: NOW,
        rates={Channel.SMS: 0.5},
        batch=100,
        lease=timedelta(minutes=2),
    )
    assert sender._claim_limit(Channel.SMS) == 25


def test_a_family_in_honolulu_and_one_in_chicago_each_keep_their_own_evening(
    engine: Engine,
) -> None:
    """21:00 in Chicago is 16:00 in Honolulu: the Honolulu family's text goes now."""
    queue(engine, "broadcast", "to Chicago", phone="+13125550101")
    queue(engine, "broadcast", "to Honolulu", phone="+18085550101")
    provider = Provider()
    clock = [datetime(2026, 9, 2, 2, 0)]  # 21:00 CDT, 16:00 HST
    sender = OutboxSender(
        OutboxStore(engine), {Channel.SMS: provider}, lambda: clock[0], quiet_hours=QUIET
    )
    asyncio.run(sender.run_once())
    assert [m.text for m in provider.sent] == ["to Honolulu"]
    o = models.Outbox
    with engine.connect() as connection:
        waiting = connection.execute(
            select(o.address, o.status, o.not_before, o.attempts).where(o.status != "sent")
        ).all()
    # 08:00 CDT the next morning; the claim cost no attempt.
    assert [tuple(r) for r in waiting] == [
        ("+13125550101", "pending", datetime(2026, 9, 2, 13, 0), 0)
    ]
    # 07:00 in Chicago is 02:00 in Honolulu: a Honolulu text queued now waits for its morning.
    queue(engine, "broadcast", "to Honolulu again", phone="+18085550101")
    clock[0] = datetime(2026, 9, 2, 12, 0)
    asyncio.run(sender.run_once())
    assert [m.text for m in provider.sent] == ["to Honolulu"]
    clock[0] = datetime(2026, 9, 2, 13, 0)  # 08:00 CDT, 03:00 HST
    asyncio.run(sender.run_once())
    assert [m.text for m in provider.sent] == ["to Honolulu", "to Chicago"]
    clock[0] = datetime(2026, 9, 2, 18, 0)  # 08:00 HST
    asyncio.run(sender.run_once())
    assert [m.text for m in provider.sent][-1] == "to Honolulu again"


def test_the_night_daylight_saving_time_ends_in_the_familys_zone(engine: Engine) -> None:
    """Fall back in Denver (an El Paso number): the morning is 08:00 MST, 15:00 UTC, not 14:00."""
    queue(engine, "broadcast", "to El Paso", phone="+19155550101")
    provider = Provider()
    clock = [datetime(2026, 11, 1, 5, 0)]  # 23:00 MDT on Saturday
    sender = OutboxSender(
        OutboxStore(engine), {Channel.SMS: provider}, lambda: clock[0], quiet_hours=QUIET
    )
    asyncio.run(sender.run_once())
    clock[0] = datetime(2026, 11, 1, 14, 30)  # 07:30 MST: 08:30 by yesterday's clock
    asyncio.run(sender.run_once())
    assert provider.sent == []
    assert rows(engine) == [("to El Paso", "pending", 0)]
    clock[0] = datetime(2026, 11, 1, 15, 0)
    asyncio.run(sender.run_once())
    assert [m.text for m in provider.sent] == ["to El Paso"]


def test_a_state_with_a_stricter_window_waits_longer(engine: Engine) -> None:
    texas = parse_quiet_hours("20:00-08:00", "America/Chicago", "TX=21:00-09:00")
    queue(engine, "broadcast", "to Dallas", phone="+12145550101")
    queue(engine, "broadcast", "to Chicago", phone="+13125550101")
    provider = Provider()
    clock = [datetime(2026, 9, 2, 13, 30)]  # 08:30 CDT in both
    sender = OutboxSender(
        OutboxStore(engine), {Channel.SMS: provider}, lambda: clock[0], quiet_hours=texas
    )
    asyncio.run(sender.run_once())
    assert [m.text for m in provider.sent] == ["to Chicago"]
    clock[0] = datetime(2026, 9, 2, 14, 0)  # 09:00 CDT
    asyncio.run(sender.run_once())
    assert [m.text for m in provider.sent] == ["to Chicago", "to Dallas"]
