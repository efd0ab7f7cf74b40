"""Credential failures pause the channel and keep the messages, on SQLite and PostgreSQL.

Before: a wrong Twilio token marked every message of a broadcast `failed`. Now
the real twilio client, given a wrong token, gets 401/20003 from a fake Twilio;
the worker pauses SMS (for that configuration, in the database, so every worker
and /healthz see it), nothing is marked failed, and `engage broadcast status`
says why in plain words. A worker started with the right token sends it all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from bot.bootstrap import credential_fingerprints
from bot.cli import app
from bot.core.messages import Channel, InboundMessage, OutboundMessage, Reply
from bot.core.setup_problems import explain
from bot.errors import DeliveryFailure, ProviderError
from bot.ports import OutboxKind
from bot.services.sender import OutboxSender
from bot.settings import Settings
from channels.twilio_sms import TwilioSms
from storage import models
from storage.channel_pauses import SqlChannelPauses
from storage.outbox import OutboxStore
from storage.unit_of_work import SqlUnitOfWork
from tests.conftest import EXAMPLES
from tests.fakes.twilio_api import FakeTwilio, run_fake_twilio

ACCOUNT = "AC" + "4" * 32
TOKEN = "right-token"
NOW = datetime(2026, 9, 1, 15, 0)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with run_fake_twilio(ACCOUNT, TOKEN) as fake:
        yield fake


def queue(engine: Engine, families: int) -> None:
    with SqlUnitOfWork(engine) as uow:
        for n in range(families):
            phone = f"+1312555{n:04d}"
            sender = uow.add_sender(Channel.SMS, phone, NOW)
            uow.enqueue(
                sender.contact_id, Channel.SMS, phone, [Reply(f"hi {n}")], OutboxKind.BROADCAST, NOW
            )
        uow.commit()


def statuses(engine: Engine) -> dict[str, int]:
    o = models.Outbox
    with engine.connect() as connection:
        rows = connection.execute(select(o.status, func.count()).group_by(o.status)).all()
    return {status: number for status, number in rows}


def settings(fake: FakeTwilio, token: str) -> Settings:
    return Settings(
        twilio_account_sid=ACCOUNT,
        twilio_auth_token=token,
        twilio_from_number="+13125550100",
        twilio_api_base_url=fake.url,
    )


async def send_all(engine: Engine, fake: FakeTwilio, token: str, clock: datetime) -> None:
    sms = TwilioSms(
        account_sid=ACCOUNT,
        auth_token=token,
        from_number="+13125550100",
        messaging_service_sid=None,
        public_url="https://bot.example.org",
        api_base_url=fake.url,
    )
    sender = OutboxSender(
        OutboxStore(engine),
        {Channel.SMS: sms},
        lambda: clock,
        pauses=SqlChannelPauses(engine),
        credentials=credential_fingerprints(settings(fake, token)),
    )
    try:
        while await sender.run_once():
            pass
    finally:
        await sms.close()


def test_a_wrong_token_pauses_sms_and_keeps_every_message(
    db_url: str, engine: Engine, fake: FakeTwilio
) -> None:
    queue(engine, 12)
    asyncio.run(send_all(engine, fake, "wrong-token", NOW))
    assert fake.messages == []
    assert statuses(engine) == {"pending": 12}  # not one marked failed
    (pause,) = SqlChannelPauses(engine).pauses()
    assert (pause.channel, pause.code, pause.since) == (Channel.SMS, "20003", NOW)
    tried = len(fake.requests)  # those already in flight when the first refusal came back

    # A minute later the same configuration is not tried again yet.
    asyncio.run(send_all(engine, fake, "wrong-token", NOW + timedelta(minutes=1)))
    assert len(fake.requests) == tried

    result = CliRunner().invoke(
        app,
        ["broadcast", "status"],
        env={
            "ENGAGE_DATABASE_URL": db_url,
            "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
            "COLUMNS": "300",
        },
    )
    assert result.exit_code == 0, result.output
    assert "sms paused since" in result.output
    assert "Twilio refused our credentials: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN." in (
        result.output
    )
    assert "messages wait in the queue" in result.output

    # The token is fixed and the worker restarted: everything goes, and the pause is over.
    asyncio.run(send_all(engine, fake, TOKEN, NOW + timedelta(minutes=2)))
    assert sorted(m["Body"] for m in fake.messages) == sorted(f"hi {n}" for n in range(12))
    assert statuses(engine) == {"sent": 12}
    assert SqlChannelPauses(engine).pauses() == []


def test_after_the_probe_time_one_message_tries_the_same_configuration(
    engine: Engine, fake: FakeTwilio
) -> None:
    queue(engine, 3)
    # The account is suspended for a while (Twilio answers 401/20003), then reinstated.
    fake.fail_next(3, 401, 20003, "Authenticate")
    asyncio.run(send_all(engine, fake, TOKEN, NOW))
    assert statuses(engine) == {"pending": 3}
    asyncio.run(send_all(engine, fake, TOKEN, NOW + timedelta(minutes=4)))
    assert fake.messages == []
    asyncio.run(send_all(engine, fake, TOKEN, NOW + timedelta(minutes=6)))
    assert statuses(engine) == {"sent": 3}
    assert SqlChannelPauses(engine).pauses() == []


class Refusing:
    """A channel whose provider refuses our configuration with `code`."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.tries = 0

    async def send(self, message: OutboundMessage) -> str:
        self.tries += 1
        raise ProviderError(
            "refused", transient=False, code=self.code, failure=DeliveryFailure.CONFIGURATION
        )


@pytest.mark.parametrize(
    ("channel", "code", "plain"),
    [
        (Channel.SMS, "21606", "not an SMS-capable number of this account"),
        (Channel.SMS, "21608", "trial account"),
        (Channel.TELEGRAM, "401", "Telegram refused TELEGRAM_BOT_TOKEN"),
        (Channel.SLACK, "invalid_auth", "Slack refused SLACK_BOT_TOKEN"),
    ],
    ids=["twilio-21606", "twilio-21608", "telegram-401", "slack-invalid-auth"],
)
def test_each_configuration_refusal_pauses_its_channel_only(
    engine: Engine, channel: Channel, code: str, plain: str
) -> None:
    with SqlUnitOfWork(engine) as uow:
        for n, each in enumerate((channel, Channel.WHATSAPP)):
            sender = uow.add_sender(each, f"addr{n}", NOW)
            # A reply answers a message: they wrote just now (WhatsApp's window is open).
            uow.record_inbound(
                sender, InboundMessage(each, f"addr{n}", "hola", provider_id=f"in{n}"), None, NOW
            )
            uow.enqueue(sender.contact_id, each, f"addr{n}", [Reply("hi")], OutboxKind.REPLY, NOW)
        uow.commit()
    refusing = Refusing(code)

    class Working:
        async def send(self, message: OutboundMessage) -> str:
            return "SM" + "1" * 32

    sender = OutboxSender(
        OutboxStore(engine),
        {channel: refusing, Channel.WHATSAPP: Working()},
        lambda: NOW,
        pauses=SqlChannelPauses(engine),
        credentials={channel: "cfg-1"},
    )
    asyncio.run(sender.run_once())
    asyncio.run(sender.run_once())
    assert refusing.tries == 1
    assert statuses(engine) == {"pending": 1, "sent": 1}
    (pause,) = SqlChannelPauses(engine).pauses()
    assert (pause.channel, pause.code, pause.credentials) == (channel, code, "cfg-1")
    assert plain in explain(channel, code)
