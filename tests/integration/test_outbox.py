"""The outbox and its sender: claim once, re-check opt-out, retry, record failures."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bot.core.messages import Channel, OutboundMessage, Reply
from bot.errors import DeliveryFailure, ProviderError
from bot.services.sender import OutboxSender
from storage import models
from storage.outbox import Delivery, OutboxStore
from storage.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 9, 1, 15, 0)


class RecordingChannel:
    """A ChannelSender that records what it was asked to send, and can fail on cue."""

    def __init__(self, failures: list[ProviderError] | None = None) -> None:
        self.sent: list[OutboundMessage] = []
        self.failures = failures or []

    async def send(self, message: OutboundMessage) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return f"SM{len(self.sent):032d}"


def queue(engine: Engine, *bodies: str, phone: str = "+15550100001") -> int:
    with SqlUnitOfWork(engine) as uow:
        sender = uow.add_sender(Channel.SMS, phone, NOW)
        uow.enqueue(sender.contact_id, Channel.SMS, phone, [Reply(b) for b in bodies], "reply", NOW)
        uow.commit()
    return sender.contact_id


def outbox_rows(engine: Engine) -> list[tuple[str, str, int]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                select(models.Outbox.body, models.Outbox.status, models.Outbox.attempts).order_by(
                    models.Outbox.id
                )
            )
        ]


def sender_for(engine: Engine, channel: RecordingChannel, clock: list[datetime]) -> OutboxSender:
    return OutboxSender(OutboxStore(engine), {Channel.SMS: channel}, lambda: clock[0])


def test_due_rows_are_sent_once_and_logged(engine: Engine) -> None:
    queue(engine, "one", "two")
    channel = RecordingChannel()
    sender = sender_for(engine, channel, [NOW])
    assert asyncio.run(sender.run_once()) == 2
    assert asyncio.run(sender.run_once()) == 0
    assert [m.text for m in channel.sent] == ["one", "two"]
    assert [m.reference for m in channel.sent] == ["1", "2"]
    assert outbox_rows(engine) == [("one", "sent", 1), ("two", "sent", 1)]
    with engine.connect() as connection:
        logged = connection.execute(
            select(models.Message.direction, models.Message.provider_id, models.Message.status)
        ).all()
    assert logged == [("out", f"SM{1:032d}", "sent"), ("out", f"SM{2:032d}", "sent")]


class SlowFirstChannel(RecordingChannel):
    """The provider takes longer over the first message it is given."""

    async def send(self, message: OutboundMessage) -> str:
        if not self.sent and message.text.endswith("first"):
            await asyncio.sleep(0.05)
        return await super().send(message)


def test_one_familys_messages_go_out_in_the_order_they_were_written(engine: Engine) -> None:
    queue(engine, "hi first", "then the question", phone="+15550100001")
    queue(engine, "another family", phone="+15550100002")
    channel = SlowFirstChannel()
    assert asyncio.run(sender_for(engine, channel, [NOW]).run_once()) == 3
    to_first = [m.text for m in channel.sent if m.address == "+15550100001"]
    assert to_first == ["hi first", "then the question"]
    # The other family did not wait for the first one's slow send.
    assert channel.sent[0].text == "another family"


def test_a_claimed_row_is_not_claimed_again_until_its_lease_expires(engine: Engine) -> None:
    queue(engine, "one")
    store = OutboxStore(engine)
    assert len(store.claim_due(NOW, 10, timedelta(minutes=2))) == 1
    assert store.claim_due(NOW + timedelta(minutes=1), 10, timedelta(minutes=2)) == []
    assert len(store.claim_due(NOW + timedelta(minutes=3), 10, timedelta(minutes=2))) == 1


def test_opt_out_is_checked_again_at_send_time(engine: Engine) -> None:
    contact_id = queue(engine, "invitation")
    with engine.begin() as connection:
        connection.execute(
            models.Contact.__table__.update().where(models.Contact.id == contact_id),
            {"opted_out_at": NOW},
        )
    channel = RecordingChannel()
    asyncio.run(sender_for(engine, channel, [NOW]).run_once())
    assert channel.sent == []
    assert outbox_rows(engine) == [("invitation", "withheld", 1)]


def test_transient_errors_are_retried_with_backoff(engine: Engine) -> None:
    queue(engine, "hello")
    channel = RecordingChannel([ProviderError("busy", transient=True, code="20429", retry_after=5)])
    clock = [NOW]
    sender = sender_for(engine, channel, clock)
    asyncio.run(sender.run_once())
    assert outbox_rows(engine) == [("hello", "pending", 1)]
    assert asyncio.run(sender.run_once()) == 0  # not due for 5 seconds
    clock[0] = NOW + timedelta(seconds=6)
    asyncio.run(sender.run_once())
    assert outbox_rows(engine) == [("hello", "sent", 2)]


def test_twilio_21610_marks_the_contact_opted_out(engine: Engine) -> None:
    contact_id = queue(engine, "hello", "again")
    refused = ProviderError(
        "unsubscribed", transient=False, code="21610", failure=DeliveryFailure.OPTED_OUT
    )
    channel = RecordingChannel([refused])
    store = OutboxStore(engine)
    sender = OutboxSender(store, {Channel.SMS: channel}, lambda: NOW, batch=1)
    asyncio.run(sender.run_once())
    asyncio.run(sender.run_once())
    assert outbox_rows(engine) == [("hello", "failed", 1), ("again", "withheld", 0)]
    with engine.connect() as connection:
        contact = connection.execute(
            select(models.Contact).where(models.Contact.id == contact_id)
        ).one()
    assert contact.opted_out_at == NOW


@pytest.mark.parametrize(
    ("reports", "final"),
    [
        (["sent", "delivered"], "delivered"),
        (["delivered", "sent"], "delivered"),
        (["queued", "undelivered"], "undelivered"),
    ],
    ids=["in-order", "out-of-order", "undelivered"],
)
def test_delivery_reports_only_move_forward(engine: Engine, reports: list[str], final: str) -> None:
    queue(engine, "hello")
    channel = RecordingChannel()
    asyncio.run(sender_for(engine, channel, [NOW]).run_once())
    store = OutboxStore(engine)
    for status in reports:
        assert store.record_delivery(Delivery(Channel.SMS, f"SM{1:032d}", status), NOW)
    assert not store.record_delivery(Delivery(Channel.SMS, "SMunknown", "delivered"), NOW)
    with engine.connect() as connection:
        assert connection.execute(select(models.Message.status)).scalar_one() == final


def test_an_arabic_reply_goes_out_with_each_line_marked_right_to_left(engine: Engine) -> None:
    queue(engine, "Riverside Plan 2030: شكرا لكم.\nأرسل توقف للإيقاف.")
    channel = RecordingChannel()
    assert asyncio.run(sender_for(engine, channel, [NOW]).run_once()) == 1
    assert channel.sent[0].text == (
        "\u200fRiverside Plan 2030: شكرا لكم.\n\u200fأرسل توقف للإيقاف."
    )
    # The outbox keeps the words as written; the marks are how they are sent.
    assert outbox_rows(engine)[0][0] == "Riverside Plan 2030: شكرا لكم.\nأرسل توقف للإيقاف."
