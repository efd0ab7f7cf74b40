"""TwilioSms.send with the real twilio client against a fake Twilio on loopback: what Twilio
receives, and what each refusal means to the outbox."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.core.messages import Channel, Choice, OutboundMessage
from bot.errors import DeliveryFailure, ProviderError
from channels.twilio_sms import DeliveryReport, TwilioSms
from tests.fakes.server import free_port, serve
from tests.fakes.twilio_api import FakeTwilio, run_fake_twilio

ACCOUNT = "AC" + "1" * 32
TOKEN = "test-auth-token"
OUR_NUMBER = "+13125550100"
SERVICE = "MG" + "2" * 32
FAMILY = "+17735550123"
PUBLIC = "https://bot.example.org"
QUESTION = OutboundMessage(
    Channel.SMS,
    FAMILY,
    "¿Qué es lo más importante?",
    (Choice("1", "Seguridad", "q:plan:p:safety"), Choice("2", "Salud mental", "q:plan:p:mh")),
    reference="42",
)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with run_fake_twilio(ACCOUNT, TOKEN) as fake:
        yield fake


def channel(fake: FakeTwilio, **overrides: object) -> TwilioSms:
    values: dict[str, object] = {
        "account_sid": ACCOUNT,
        "auth_token": TOKEN,
        "from_number": OUR_NUMBER,
        "messaging_service_sid": None,
        "public_url": PUBLIC,
        "api_base_url": fake.url,
        **overrides,
    }
    return TwilioSms(**values)  # type: ignore[arg-type]


@pytest.fixture
async def sms(fake: FakeTwilio) -> AsyncIterator[TwilioSms]:
    sms = channel(fake)
    yield sms
    await sms.close()


async def test_a_message_reaches_twilio_as_numbered_text(fake: FakeTwilio, sms: TwilioSms) -> None:
    sid = await sms.send(QUESTION)
    [request] = fake.requests
    assert (request.method, request.path) == (
        "POST",
        f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
    )
    assert request.form == {
        "To": FAMILY,
        "From": OUR_NUMBER,
        "Body": "¿Qué es lo más importante?\n1) Seguridad\n2) Salud mental",
        "StatusCallback": f"{PUBLIC}/webhooks/twilio/status?ref=42",
    }
    credentials = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {credentials}"
    assert fake.messages == [{**request.form, "sid": sid}]
    assert sid.startswith("SM") and len(sid) == 34


async def test_a_messaging_service_sends_without_a_from_number(fake: FakeTwilio) -> None:
    sms = channel(fake, from_number=None, messaging_service_sid=SERVICE)
    try:
        sid = await sms.send(QUESTION)
    finally:
        await sms.close()
    [message] = fake.messages
    assert message["MessagingServiceSid"] == SERVICE
    assert "From" not in message
    assert message["sid"] == sid


async def test_the_session_is_reopened_after_close(fake: FakeTwilio, sms: TwilioSms) -> None:
    await sms.send(QUESTION)
    await sms.close()
    await sms.send(QUESTION)
    assert len(fake.messages) == 2


async def test_region_and_edge_in_the_environment_do_not_move_the_fake(
    fake: FakeTwilio, sms: TwilioSms, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client would rewrite 127.0.0.1 to 127.dublin.ie1.0.1.
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    assert await sms.send(QUESTION) == fake.messages[0]["sid"]


# status, Twilio code (None: an HTML body), transient, failure
REFUSALS = {
    "opted-out": (400, 21610, False, DeliveryFailure.OPTED_OUT),
    "invalid-to": (400, 21211, False, DeliveryFailure.INVALID_ADDRESS),
    "not-mobile": (400, 21614, False, DeliveryFailure.INVALID_ADDRESS),
    "region-off": (400, 21408, False, DeliveryFailure.REJECTED),
    "from-not-ours": (400, 21606, False, DeliveryFailure.CONFIGURATION),
    "trial-account": (400, 21608, False, DeliveryFailure.CONFIGURATION),
    "too-long": (400, 21617, False, DeliveryFailure.REJECTED),
    "other-4xx": (400, 21620, False, DeliveryFailure.REJECTED),
    "rate-limited": (429, 20429, True, None),
    "server-error-html": (500, None, True, None),
    "bad-gateway": (502, None, True, None),
}


@pytest.mark.parametrize("case", REFUSALS, ids=str)
async def test_a_refusal_tells_the_outbox_what_to_do(
    fake: FakeTwilio, sms: TwilioSms, case: str
) -> None:
    status, code, transient, failure = REFUSALS[case]
    fake.fail_next(1, status, code, "refused")
    with pytest.raises(ProviderError) as raised:
        await sms.send(QUESTION)
    error = raised.value
    assert (error.transient, error.failure, error.code) == (
        transient,
        failure,
        str(code or status),
    )
    assert fake.messages == []


async def test_wrong_credentials_are_a_configuration_problem(fake: FakeTwilio) -> None:
    sms = channel(fake, auth_token="not-the-token")
    try:
        with pytest.raises(ProviderError) as raised:
            await sms.send(QUESTION)
    finally:
        await sms.close()
    error = raised.value
    assert (error.transient, error.failure, error.code) == (
        False,
        DeliveryFailure.CONFIGURATION,
        "20003",
    )


async def test_rate_limits_are_retried_then_the_message_goes(
    fake: FakeTwilio, sms: TwilioSms
) -> None:
    fake.fail_next(2, 429, 20429, "Too Many Requests")
    for _ in range(2):
        with pytest.raises(ProviderError) as raised:
            await sms.send(QUESTION)
        assert raised.value.transient and raised.value.retry_after is None
    sid = await sms.send(QUESTION)
    assert [m["sid"] for m in fake.messages] == [sid]
    assert len(fake.requests) == 3


async def test_retry_after_is_passed_on(fake: FakeTwilio, sms: TwilioSms) -> None:
    fake.fail_next(1, 429, 20429, "Too Many Requests", retry_after=7)
    with pytest.raises(ProviderError) as raised:
        await sms.send(QUESTION)
    assert raised.value.retry_after == 7.0
    await sms.send(QUESTION)  # a success forgets it


async def test_a_slow_twilio_times_out_as_transient(fake: FakeTwilio) -> None:
    fake.stall_next(1, 1.0)
    sms = channel(fake, timeout=0.2)
    try:
        with pytest.raises(ProviderError) as raised:
            await sms.send(QUESTION)
    finally:
        await sms.close()
    assert (raised.value.transient, raised.value.code) == (True, "timeout")


async def test_an_unreachable_twilio_is_transient() -> None:
    sms = TwilioSms(ACCOUNT, TOKEN, OUR_NUMBER, None, PUBLIC, f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ProviderError) as raised:
            await sms.send(QUESTION)
    finally:
        await sms.close()
    assert (raised.value.transient, raised.value.code) == (True, "network")


def test_status_callbacks_are_signed_over_the_public_url(fake: FakeTwilio) -> None:
    """The fake posts to where the app listens; the app checks against its public URL."""
    received: list[DeliveryReport] = []
    sms = channel(fake)

    async def status(request: Request) -> Response:
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        signature = request.headers.get("X-Twilio-Signature")
        if not sms.is_genuine(request.url.path, request.url.query, pairs, signature):
            return Response(status_code=403)
        received.append(sms.parse_status(pairs, request.url.query))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/webhooks/twilio/status", status, methods=["POST"])])

    async def send() -> str:
        try:
            return await sms.send(QUESTION)
        finally:
            await sms.close()

    with serve(app) as listening:
        fake.deliver_callbacks = True
        fake.callback_target = listening
        sid = asyncio.run(send())
        callbacks = fake.wait_for_callbacks(2)
    assert [c.status_code for c in callbacks] == [204, 204]
    assert {urlsplit(c.url).netloc for c in callbacks} == {"bot.example.org"}
    assert received == [
        DeliveryReport(sid, "sent", None, "42"),
        DeliveryReport(sid, "delivered", None, "42"),
    ]


async def test_info_logs_hold_no_phone_number_or_body(
    fake: FakeTwilio, sms: TwilioSms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await sms.send(QUESTION)
    fake.fail_next(1, 400, 21211, f"The 'To' number {FAMILY} is not a valid phone number.")
    with pytest.raises(ProviderError) as raised:
        await sms.send(QUESTION)
    logged = caplog.text + str(raised.value)
    assert FAMILY[2:] not in logged and "Seguridad" not in logged
