"""WhatsApp through TwilioSms.send, with the real twilio client against the fake Twilio:
free text, buttons and lists made once through the Content API, and templates."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.core.messages import Channel, Choice, OutboundMessage, Template
from bot.errors import DeliveryFailure, ProviderError
from channels.twilio_sms import TwilioSms
from tests.fakes.twilio_api import FakeTwilio, run_fake_twilio

ACCOUNT = "AC" + "1" * 32
TOKEN = "test-auth-token"
OUR_WHATSAPP = "+13125550199"
FAMILY = "+17735550123"
PUBLIC = "https://bot.example.org"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
YES_NO = (Choice("yes", "Sí", "q:plan:consent:yes"), Choice("no", "No", "q:plan:consent:no"))
SIX = tuple(
    Choice(str(n), label, f"q:plan:top:{n}")
    for n, label in enumerate(
        ["Seguridad", "Salud mental", "Lectura", "Autobuses", "Clubes", "Comida"], start=1
    )
)


def whatsapp(text: str, choices: tuple[Choice, ...] = (), **fields: object) -> OutboundMessage:
    return OutboundMessage(Channel.WHATSAPP, FAMILY, text, choices, reference="7", **fields)  # type: ignore[arg-type]


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with run_fake_twilio(ACCOUNT, TOKEN) as fake:
        fake.open_window(FAMILY)
        yield fake


@pytest.fixture
async def twilio(fake: FakeTwilio) -> AsyncIterator[TwilioSms]:
    channel = TwilioSms(
        ACCOUNT,
        TOKEN,
        "+13125550100",
        None,
        PUBLIC,
        api_base_url=fake.url,
        whatsapp_from=f"whatsapp:{OUR_WHATSAPP}",
    )
    yield channel
    await channel.close()


def sends(fake: FakeTwilio) -> list[dict[str, str]]:
    return [r.form for r in fake.requests if r.path == MESSAGES]


async def test_free_text_goes_from_our_whatsapp_number_to_theirs(
    fake: FakeTwilio, twilio: TwilioSms
) -> None:
    await twilio.send(whatsapp("Gracias por su mensaje."))
    assert sends(fake) == [
        {
            "To": f"whatsapp:{FAMILY}",
            "From": f"whatsapp:{OUR_WHATSAPP}",
            "Body": "Gracias por su mensaje.",
            "StatusCallback": f"{PUBLIC}/webhooks/twilio/status?ref=7",
        }
    ]


async def test_two_options_become_quick_reply_buttons_made_once(
    fake: FakeTwilio, twilio: TwilioSms
) -> None:
    await twilio.send(whatsapp("¿Participa?", YES_NO))
    await twilio.send(whatsapp("¿Participa?", YES_NO))
    [content] = fake.contents.values()
    assert content["types"] == {
        "twilio/quick-reply": {
            "body": "¿Participa?",
            "actions": [
                {"title": "Sí", "id": "q:plan:consent:yes"},
                {"title": "No", "id": "q:plan:consent:no"},
            ],
        }
    }
    [sid] = fake.contents
    assert [form.get("ContentSid") for form in sends(fake)] == [sid, sid]
    assert all("Body" not in form for form in sends(fake))
    assert [m["Body"] for m in fake.messages] == ["¿Participa?", "¿Participa?"]


async def test_a_restarted_sender_reuses_the_buttons_it_made_before(fake: FakeTwilio) -> None:
    for _ in range(2):
        channel = TwilioSms(
            ACCOUNT, TOKEN, None, None, PUBLIC, api_base_url=fake.url, whatsapp_from=OUR_WHATSAPP
        )
        await channel.send(whatsapp("¿Participa?", YES_NO))
        await channel.close()
    assert len(fake.contents) == 1


async def test_six_options_become_a_list(fake: FakeTwilio, twilio: TwilioSms) -> None:
    await twilio.send(whatsapp("¿Qué es lo más importante?", SIX))
    [content] = fake.contents.values()
    picker = content["types"]["twilio/list-picker"]
    assert picker["button"] == "☰ 1–6"
    assert [(i["item"], i["id"]) for i in picker["items"]] == [(c.label, c.payload) for c in SIX]


async def test_eleven_options_stay_numbered_text(fake: FakeTwilio, twilio: TwilioSms) -> None:
    many = tuple(Choice(str(n), f"Option {n}", f"q:p:q:{n}") for n in range(1, 12))
    await twilio.send(whatsapp("Pick", many))
    assert fake.contents == {}
    [form] = sends(fake)
    assert form["Body"].startswith("Pick\n1) Option 1\n")


async def test_a_template_goes_with_its_variables(fake: FakeTwilio, twilio: TwilioSms) -> None:
    sid = fake.approve_template("Hola, {{1}} pregunta: {{2}}. Responda para empezar.")
    template = Template(sid, ("Riverside Plan 2030", "¿qué importa más?"))
    await twilio.send(whatsapp("ignored outside the window", template=template))
    [form] = sends(fake)
    assert form["ContentSid"] == sid
    assert json.loads(form["ContentVariables"]) == {
        "1": "Riverside Plan 2030",
        "2": "¿qué importa más?",
    }
    assert fake.messages[0]["Body"] == (
        "Hola, Riverside Plan 2030 pregunta: ¿qué importa más?. Responda para empezar."
    )


async def test_without_a_whatsapp_sender_it_is_a_configuration_failure(fake: FakeTwilio) -> None:
    channel = TwilioSms(ACCOUNT, TOKEN, "+13125550100", None, PUBLIC, api_base_url=fake.url)
    with pytest.raises(ProviderError) as raised:
        await channel.send(whatsapp("Hola"))
    await channel.close()
    assert raised.value.failure is DeliveryFailure.CONFIGURATION
    assert sends(fake) == []


async def test_an_earlier_send_of_the_same_buttons_is_found(
    fake: FakeTwilio, twilio: TwilioSms
) -> None:
    message = whatsapp("¿Participa?", YES_NO)
    sid = await twilio.send(message)
    assert await twilio.find_sent(message) == [sid]
