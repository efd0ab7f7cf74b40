"""SMS end to end: signed Twilio webhooks into `engage serve`'s app under uvicorn,
replies sent by the outbox with the real twilio client to a fake Twilio on loopback."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.authoring.activities import parse_activity
from bot.bootstrap import Runtime, build_runtime, sync_schools
from bot.core.messages import Channel
from bot.services.inbound import utcnow
from bot.settings import Settings
from bot.web.app import create_app
from storage import models
from storage.activities import store_activity
from storage.database import migrate
from tests.conftest import EXAMPLES
from tests.e2e.chat_bot import drained
from tests.fakes.server import free_port, serve
from tests.fakes.twilio_api import FakeTwilio, run_fake_twilio

pytestmark = pytest.mark.e2e

ACCOUNT = "AC" + "1" * 32
TOKEN = "test-auth-token"
OUR_NUMBER = "+15550100000"
FAMILY = "+15550100123"


@dataclass
class Bot:
    url: str
    runtime: Runtime
    twilio: FakeTwilio
    spool: Path

    def post(
        self, path: str, form: dict[str, str], signature: str | None = "sign"
    ) -> httpx.Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "sign":
            signature = RequestValidator(TOKEN).compute_signature(self.url + path, form)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        response = httpx.post(self.url + path, content=urlencode(form), headers=headers, timeout=10)
        drained(self.runtime.engine)
        return response

    def text(self, body: str, sid: str, sender: str = FAMILY) -> httpx.Response:
        return self.post("/webhooks/twilio/sms", sms_form(body, sid, sender))

    def rows(self, model: type[models.Base]) -> list[models.Base]:
        with self.runtime.engine.connect() as connection:
            return list(connection.execute(select(model).order_by(model.id)).all())  # type: ignore[attr-defined]


def sms_form(body: str, sid: str, sender: str = FAMILY) -> dict[str, str]:
    return {
        "ToCountry": "US",
        "ToState": "IL",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "CHICAGO",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "IL",
        "SmsStatus": "received",
        "FromCity": "CHICAGO",
        "Body": body,
        "FromCountry": "US",
        "To": OUR_NUMBER,
        "MessagingServiceSid": "MG" + "2" * 32,
        "ToZip": "60601",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    with running_bot(tmp_path, EXAMPLES / "district.yaml") as started:
        yield started


@contextmanager
def running_bot(tmp_path: Path, district_file: Path) -> Iterator[Bot]:
    """`engage serve`'s app under uvicorn with the survey loaded, and a fake Twilio."""
    port = free_port()
    with run_fake_twilio(ACCOUNT, TOKEN) as twilio:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp_path / 'engage.db'}",
            public_url=f"http://127.0.0.1:{port}",
            district_file=district_file,
            spool_dir=tmp_path / "spool",
            sms_per_second=0,
            twilio_account_sid=ACCOUNT,
            twilio_auth_token=TOKEN,
            twilio_from_number=OUR_NUMBER,
            twilio_api_base_url=twilio.url,
        )
        runtime = build_runtime(settings, detector=False, busy_timeout=0.2)
        migrate(runtime.engine)
        sync_schools(runtime.engine, runtime.district)
        source = (EXAMPLES / "family-priorities.yaml").read_text("utf-8")
        store_activity(
            runtime.engine, parse_activity(source, "family-priorities.yaml"), source, utcnow()
        )
        twilio.callback_target = settings.public_url
        with serve(create_app(runtime), port=port) as url:
            yield Bot(url, runtime, twilio, tmp_path / "spool")


def test_a_family_takes_the_survey_by_sms(bot: Bot) -> None:
    for n, body in enumerate(["Hola", "2", "sí", "1", "1", "4", "3,1,5", "sí", "Más consejeros"]):
        response = bot.text(body, f"SM{n:032d}")
        assert response.status_code == 200
        assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
        assert response.headers["content-type"].startswith("text/xml")
    eventually(lambda: any(b.startswith("¡Gracias!") for b in bot.twilio.bodies_to(FAMILY)))
    bodies = bot.twilio.bodies_to(FAMILY)
    assert bodies[0].startswith("Hi! This is Riverside Plan 2030.")
    assert "1) English\n2) Español\n3) Tiếng Việt" in bodies[0]
    sent = bot.twilio.messages[0]
    assert (sent["From"], sent["StatusCallback"]) == (
        OUR_NUMBER,
        f"{bot.runtime.settings.public_url}/webhooks/twilio/status?ref=1",
    )
    answers = [(r.question, r.value) for r in bot.rows(models.Response)]
    assert answers == [
        ("connected", 4),
        ("priorities", ["mental-health", "safety", "communication"]),
        ("news-in-language", "yes"),
        ("one-change", "Más consejeros"),
    ]


def test_a_redelivered_webhook_changes_nothing(bot: Bot) -> None:
    assert bot.text("hi", "SM" + "a" * 32).status_code == 200
    eventually(lambda: len(bot.twilio.messages) == 1)
    assert bot.text("hi", "SM" + "a" * 32).status_code == 200
    time.sleep(0.5)
    assert len(bot.twilio.messages) == 1
    assert len(bot.rows(models.Message)) == 2  # one in, one out


@pytest.mark.parametrize(
    "signature",
    [None, "", "bm90IGEgc2lnbmF0dXJl"],
    ids=["missing", "empty", "forged"],
)
def test_unsigned_or_forged_requests_are_refused(bot: Bot, signature: str | None) -> None:
    response = bot.post("/webhooks/twilio/sms", sms_form("STOP", "SM" + "b" * 32), signature)
    assert response.status_code == 403
    assert bot.rows(models.Message) == []


def test_a_signature_over_another_url_is_refused(bot: Bot) -> None:
    form = sms_form("hi", "SM" + "c" * 32)
    wrong = RequestValidator(TOKEN).compute_signature(
        "https://elsewhere.example/webhooks/twilio/sms", form
    )
    assert bot.post("/webhooks/twilio/sms", form, wrong).status_code == 403


@pytest.mark.parametrize(
    ("body", "sender"),
    [
        ("", FAMILY),
        ("😀" * 5000, FAMILY),
        ("hi\x00\x07 there\x1b", FAMILY),
        ("hello", "VERIZON"),
    ],
    ids=["empty-body", "5000-emoji", "control-characters", "not-a-phone"],
)
def test_odd_messages_get_a_2xx_and_are_kept(bot: Bot, body: str, sender: str) -> None:
    response = bot.text(body, "SM" + "d" * 32, sender)
    assert response.status_code == 200
    [message] = bot.rows(models.Message)
    assert message.direction == "in" and len(message.body) <= 1600
    assert "\x00" not in message.body


def test_a_payload_without_a_sender_is_acknowledged(bot: Bot) -> None:
    form = sms_form("hi", "SM" + "e" * 32)
    del form["From"]
    assert bot.post("/webhooks/twilio/sms", form).status_code == 200


def test_stop_in_spanish_then_nothing_more(bot: Bot) -> None:
    bot.text("hola", "SM" + "1" * 32)
    bot.text("PARAR", "SM" + "2" * 32)
    eventually(lambda: any("Ya no le mandaremos" in b for b in bot.twilio.bodies_to(FAMILY)))
    count = len(bot.twilio.messages)
    bot.text("2", "SM" + "3" * 32)
    time.sleep(0.5)
    assert len(bot.twilio.messages) == count
    [contact] = bot.rows(models.Contact)
    assert contact.opted_out_at is not None


def test_delivery_reports_are_recorded(bot: Bot) -> None:
    bot.twilio.deliver_callbacks = True
    bot.text("hi", "SM" + "f" * 32)
    eventually(
        lambda: (
            [m.status for m in bot.rows(models.Message) if m.direction == "out"] == ["delivered"]
        )
    )


def test_twilio_21610_on_send_opts_the_contact_out(bot: Bot) -> None:
    bot.twilio.fail_next(1, 400, 21610, "Attempt to send to unsubscribed recipient")
    bot.text("hi", "SM" + "9" * 32)
    eventually(lambda: bot.rows(models.Contact)[0].opted_out_at is not None)
    [row] = bot.rows(models.Outbox)
    assert (row.status, row.error_code) == ("failed", "21610")


def test_a_locked_database_parks_the_message_and_loses_nothing(bot: Bot) -> None:
    bot.runtime.service.retries = 0
    locker = sqlite3.connect(bot.runtime.engine.url.database or "", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        response = bot.text("hello?", "SM" + "7" * 32)
        assert response.status_code == 200
        assert len(list(bot.spool.glob("*.json"))) == 1
    finally:
        locker.rollback()
        locker.close()
    eventually(lambda: len(bot.rows(models.Message)) >= 1, timeout=15)
    assert bot.rows(models.Message)[0].body == "hello?"
    eventually(lambda: not list(bot.spool.glob("*.json")))


def test_health(bot: Bot) -> None:
    response = httpx.get(bot.url + "/healthz")
    assert response.json() == {
        "status": "ok",
        "channels": ["sms"],
        "inbound": {"queued": 0, "oldest_seconds": None, "parked": 0},
    }


def test_health_says_how_far_behind_the_engine_is(bot: Bot) -> None:
    from datetime import timedelta

    from bot.ports import QueuedKind
    from bot.services.inbound import utcnow

    # A Slack request in a server without Slack: nobody here drains it.
    bot.runtime.queue.put(
        Channel.SLACK, "e:Ev1", QueuedKind.SLACK, "slack:U1", {}, utcnow() - timedelta(seconds=90)
    )
    inbound = httpx.get(bot.url + "/healthz").json()["inbound"]
    assert (inbound["queued"], inbound["parked"]) == (1, 0)
    assert 90 <= inbound["oldest_seconds"] < 120


def test_health_says_why_a_channel_is_paused(bot: Bot) -> None:
    from datetime import datetime

    from storage.channel_pauses import SqlChannelPauses

    since = datetime(2026, 9, 1, 15, 0)
    SqlChannelPauses(bot.runtime.engine).pause(
        Channel.SMS, "fp", "20003", since, since.replace(hour=16)
    )
    response = httpx.get(bot.url + "/healthz")
    assert response.status_code == 200  # the webhooks work; nothing is lost
    body = response.json()
    assert (body["status"], body["channels"]) == ("degraded", ["sms"])
    assert body["paused"] == {
        "sms": {
            "since": "2026-09-01T15:00:00Z",
            "code": "20003",
            "reason": "Twilio refused our credentials: check TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN. (20003)",
        }
    }
    assert "wait in the queue" in body["meanwhile"]
