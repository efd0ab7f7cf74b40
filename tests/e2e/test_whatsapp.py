"""WhatsApp end to end: signed Twilio webhooks from `whatsapp:` numbers into the app under
uvicorn; replies go back through the real twilio client to the fake Twilio, options as
WhatsApp buttons and lists that the family taps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from bot.authoring.activities import parse_activity
from bot.bootstrap import Runtime, build_broadcasting, build_runtime, sync_schools
from bot.core.broadcasts import BroadcastError
from bot.services.inbound import utcnow
from bot.settings import Settings
from bot.web.app import create_app
from storage import models
from storage.activities import store_activity
from storage.database import migrate
from tests.conftest import EXAMPLES
from tests.e2e.test_sms_webhook import eventually
from tests.fakes.server import free_port, serve
from tests.fakes.twilio_api import FakeTwilio, run_fake_twilio

pytestmark = pytest.mark.e2e

ACCOUNT = "AC" + "1" * 32
TOKEN = "test-auth-token"
OUR_WHATSAPP = "+15550100099"
FAMILY = "+15550100124"


class WhatsAppBot:
    def __init__(self, url: str, runtime: Runtime, twilio: FakeTwilio) -> None:
        self.url, self.runtime, self.twilio = url, runtime, twilio
        self.sent = 0

    def write(self, body: str = "", **fields: str) -> httpx.Response:
        """A message from the family's WhatsApp, as Twilio posts it."""
        self.sent += 1
        sid = f"SM{self.sent:032d}"
        form = {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": "Lan",
            "MessageType": "text",
            "SmsSid": sid,
            "WaId": FAMILY.removeprefix("+"),
            "SmsStatus": "received",
            "Body": body,
            "To": f"whatsapp:{OUR_WHATSAPP}",
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": ACCOUNT,
            "From": f"whatsapp:{FAMILY}",
            "ApiVersion": "2010-04-01",
            **fields,
        }
        url = self.url + "/webhooks/twilio/sms"
        signature = RequestValidator(TOKEN).compute_signature(url, form)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        return httpx.post(url, content=urlencode(form), headers=headers, timeout=10)

    def tap(self, title: str) -> httpx.Response:
        """Tap the button (or list item) called `title` in the last message with options."""
        content = self.twilio.contents[self.twilio.messages[-1]["ContentSid"]]
        [kind] = content["types"].values()
        items = kind.get("actions") or kind.get("items")
        [choice] = [c for c in items if c.get("title", c.get("item")) == title]
        if "actions" in kind:
            return self.write(title, ButtonText=title, ButtonPayload=choice["id"])
        return self.write(title, ListId=choice["id"], ListTitle=title)

    def answers(self) -> list[tuple[str, object]]:
        with self.runtime.engine.connect() as connection:
            rows = connection.execute(
                select(models.Response.question, models.Response.value).order_by(models.Response.id)
            ).all()
        return [(question, value) for question, value in rows]

    def wait_for_reply(self, count: int) -> None:
        eventually(lambda: len(self.twilio.messages) >= count)


@contextmanager
def running_bot(tmp_path: Path) -> Iterator[WhatsAppBot]:
    port = free_port()
    with run_fake_twilio(ACCOUNT, TOKEN) as twilio:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp_path / 'engage.db'}",
            public_url=f"http://127.0.0.1:{port}",
            district_file=EXAMPLES / "district.yaml",
            spool_dir=tmp_path / "spool",
            whatsapp_per_second=0,
            twilio_account_sid=ACCOUNT,
            twilio_auth_token=TOKEN,
            twilio_whatsapp_from=OUR_WHATSAPP,
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
            yield WhatsAppBot(url, runtime, twilio)


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[WhatsAppBot]:
    with running_bot(tmp_path) as started:
        started.twilio.open_window(FAMILY)
        yield started


def test_a_family_takes_the_survey_on_whatsapp_tapping_buttons(bot: WhatsAppBot) -> None:
    assert bot.write("Hola").status_code == 200
    bot.wait_for_reply(1)
    first = bot.twilio.messages[0]
    assert (first["To"], first["From"]) == (f"whatsapp:{FAMILY}", f"whatsapp:{OUR_WHATSAPP}")
    assert first["Body"].startswith("Hi! This is Riverside Plan 2030.")
    bot.tap("Español")
    bot.wait_for_reply(2)
    bot.tap("Si")
    bot.wait_for_reply(3)
    for reply in ("1", "1", "4"):
        count = len(bot.twilio.messages)
        bot.write(reply)
        bot.wait_for_reply(count + 1)
    assert bot.answers() == [("connected", 4)]
    # Buttons and lists were made through the Content API, each once.
    assert len(bot.twilio.contents) == len(
        {c["friendly_name"] for c in bot.twilio.contents.values()}
    )
    assert all(m["To"] == f"whatsapp:{FAMILY}" for m in bot.twilio.messages)


def test_a_voice_note_is_answered_and_kept_for_staff(bot: WhatsAppBot) -> None:
    bot.write("Hola")
    bot.wait_for_reply(1)
    note = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME1"
    bot.write(NumMedia="1", MediaContentType0="audio/ogg", MediaUrl0=note, MessageType="audio")
    eventually(lambda: any("only read text" in m["Body"] for m in bot.twilio.messages))
    with bot.runtime.engine.connect() as connection:
        kept = connection.execute(select(models.LetsTalk.text)).scalars().all()
    assert kept == [f"🎤 {note}"]


# -- the 24-hour window -------------------------------------------------------------------

NEWS = """\
key: news-{key}
kind: update
title: {{en: School news, es: Noticias de la escuela}}
message:
  en: The board approved the new bus routes.
  es: La junta aprobó las nuevas rutas de autobús.
{templates}"""


def onboard_then_fall_silent(bot: WhatsAppBot) -> None:
    """The family starts in Spanish, then writes nothing for more than 24 hours."""
    bot.write("Hola")
    bot.wait_for_reply(1)
    bot.tap("Español")
    bot.wait_for_reply(2)
    bot.tap("Si")
    bot.wait_for_reply(3)
    with bot.runtime.engine.begin() as connection:
        connection.execute(
            update(models.Contact).values(last_inbound_at=utcnow() - timedelta(hours=25))
        )
    bot.twilio.open_windows.discard(FAMILY)


def broadcast_news(bot: WhatsAppBot, key: str, templates: str = "") -> None:
    source = NEWS.format(key=key, templates=templates)
    store_activity(bot.runtime.engine, parse_activity(source, f"news-{key}.yaml"), source, utcnow())
    broadcasting = build_broadcasting(bot.runtime)
    plan = broadcasting.plan(f"news-{key}", "language=es", reminders=0)
    broadcasting.enqueue(broadcasting.confirm(plan, actor="e2e"))


def outbox(bot: WhatsAppBot) -> list[tuple[str, str, str | None]]:
    o = models.Outbox
    with bot.runtime.engine.connect() as connection:
        rows = connection.execute(
            select(o.body, o.status, o.error).where(o.kind == "broadcast").order_by(o.id)
        ).all()
    return [tuple(row) for row in rows]


def test_outside_the_window_the_template_goes_and_an_answer_brings_the_message(
    bot: WhatsAppBot,
) -> None:
    onboard_then_fall_silent(bot)
    sid = bot.twilio.approve_template("{{1}}: hay noticias sobre «{{2}}». Responda para leerlas.")
    templates = f"whatsapp_templates:\n  es: {{content_sid: {sid}, variables: [program, title]}}\n"
    broadcast_news(bot, "window", templates)
    bot.wait_for_reply(4)
    template = bot.twilio.messages[3]
    assert (template["ContentSid"], template["Body"]) == (
        sid,
        "Riverside Plan 2030: hay noticias sobre «Noticias de la escuela». Responda para leerlas.",
    )
    # Nothing free-form went while the window was closed; the news waits for an answer
    # (pending again once the sender has recorded the template it sent instead).
    waiting = [("La junta aprobó las nuevas rutas de autobús.", "pending")]
    eventually(lambda: [(body, status) for body, status, _ in outbox(bot)] == waiting)
    bot.twilio.open_window(FAMILY)
    bot.write("ok")
    bot.wait_for_reply(5)
    assert bot.twilio.messages[4]["Body"] == "La junta aprobó las nuevas rutas de autobús."
    eventually(lambda: outbox(bot)[0][1] == "sent")
    # "ok" answered the template, not the role question the family was left at.
    time.sleep(0.5)
    assert len(bot.twilio.messages) == 5
    assert bot.answers() == []


def test_outside_the_window_without_a_template_nothing_is_sent_and_it_says_why(
    bot: WhatsAppBot,
) -> None:
    onboard_then_fall_silent(bot)
    broadcast_news(bot, "no-template")
    eventually(lambda: outbox(bot)[0][1] == "failed")
    [(_, _, error)] = outbox(bot)
    assert error is not None and error.startswith(
        "WhatsApp allows only an approved template more than 24 hours after the family last "
        "wrote, and the activity has none in their language"
    )
    assert len(bot.twilio.messages) == 3
    assert all("La junta" not in r.form.get("Body", "") for r in bot.twilio.requests)


# -- opt-in and opt-out -------------------------------------------------------------------


def ledger(bot: WhatsAppBot) -> list[tuple[str, str, str]]:
    e = models.ConsentEvent
    with bot.runtime.engine.connect() as connection:
        rows = connection.execute(select(e.kind, e.source, e.channel).order_by(e.id)).all()
    return [tuple(row) for row in rows]


def test_the_consent_answer_on_whatsapp_is_the_opt_in_broadcasts_need(bot: WhatsAppBot) -> None:
    bot.write("Hola")
    bot.wait_for_reply(1)
    bot.tap("Español")
    bot.wait_for_reply(2)
    # Not opted in yet: a family who only wrote is not someone to broadcast to.
    source = NEWS.format(key="early", templates="")
    store_activity(bot.runtime.engine, parse_activity(source, "news-early.yaml"), source, utcnow())
    broadcasting = build_broadcasting(bot.runtime)
    with pytest.raises(BroadcastError, match="nobody to send to"):
        broadcasting.plan("news-early", "language=es", reminders=0)
    bot.tap("Si")
    bot.wait_for_reply(3)
    assert ledger(bot) == [("consent_given", "onboarding", "whatsapp")]
    plan = broadcasting.plan("news-early", "language=es", reminders=0)
    assert dict(plan.counts.by_channel) == {"whatsapp": 1}


@pytest.mark.parametrize(
    "words",
    ["STOP", "PARAR", "por favor ya no me manden mensajes"],
    ids=["stop", "parar", "plain-words"],
)
def test_stop_and_plain_words_opt_out_on_whatsapp_as_on_sms(bot: WhatsAppBot, words: str) -> None:
    onboard_then_fall_silent(bot)
    bot.twilio.open_window(FAMILY)
    bot.write(words)
    bot.wait_for_reply(4)
    kind, _, channel = ledger(bot)[-1]
    assert (kind, channel) == ("opt_out", "whatsapp")
    with bot.runtime.engine.connect() as connection:
        stopped = connection.execute(select(models.Contact.opted_out_at)).scalar_one()
    assert stopped is not None
    broadcasting = build_broadcasting(bot.runtime)
    source_ = NEWS.format(key="after-stop", templates="")
    store_activity(
        bot.runtime.engine, parse_activity(source_, "news-after-stop.yaml"), source_, utcnow()
    )
    with pytest.raises(BroadcastError, match="nobody to send to"):
        broadcasting.plan("news-after-stop", "language=es", reminders=0)
