"""`engage serve`'s app under uvicorn, with any of the fake Twilio, Bot API and Slack servers.

Shared by the Telegram, Slack and Let's Talk end-to-end tests: real signed
requests in, the real client libraries out to the fakes on loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from bot.authoring.activities import parse_activity
from bot.bootstrap import Runtime, build_runtime, sync_schools
from bot.services.inbound import utcnow
from bot.settings import Settings
from bot.web.app import create_app
from storage import models
from storage.activities import store_activity
from storage.database import migrate
from tests.conftest import EXAMPLES
from tests.fakes.server import free_port, serve
from tests.fakes.slack_api import BOT_TOKEN, FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.fakes.twilio_api import FakeTwilio, run_fake_twilio

ACCOUNT = "AC" + "1" * 32
TWILIO_TOKEN = "test-auth-token"
OUR_NUMBER = "+15550100000"
TELEGRAM_SECRET = "tg-webhook-secret_123"
SLACK_SECRET = "slack-signing-secret"
INBOX = "C0INBOX"
TELEGRAM_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
SLACK_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def drained(engine: Engine, timeout: float = 10.0) -> None:
    """Wait until the engine has handled every message the webhooks recorded (the
    webhooks answer as soon as a message is recorded; the engine drains it after)."""
    queue = models.table(models.InboundQueue)
    pending = (
        select(func.count())
        .select_from(queue)
        .where(queue.c.status == "pending", queue.c.kind == "message")
    )

    def settled() -> bool:
        # A plain read: it must not wait for (or take) SQLite's write lock.
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as connection:
            return connection.execute(pending).scalar_one() == 0

    deadline = time.monotonic() + timeout
    while not settled():
        if time.monotonic() > deadline:
            raise AssertionError("the engine did not drain the inbound queue in time")
        time.sleep(0.01)


def fixture(folder: Path, name: str) -> dict[str, Any]:
    data = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@dataclass
class ChatBot:
    url: str
    runtime: Runtime
    twilio: FakeTwilio | None = None
    telegram: FakeTelegramApi | None = None
    slack: FakeSlackApi | None = None
    slack_base: str = ""
    sms_count: int = 0

    def rows(self, model: type[models.Base]) -> list[Any]:
        with self.runtime.engine.connect() as connection:
            order = models.table(model).primary_key.columns
            return list(connection.execute(select(model).order_by(*order)).all())

    # -- SMS -----------------------------------------------------------------------

    def sms(self, body: str, sender: str) -> None:
        """A family's text, as Twilio posts and signs it."""
        self.sms_count += 1
        sid = f"SM{self.sms_count:032d}"
        form = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": ACCOUNT,
            "From": sender,
            "To": OUR_NUMBER,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
            "FromZip": "",
        }
        url = self.url + "/webhooks/twilio/sms"
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        response = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
        assert response.status_code == 200
        drained(self.runtime.engine)

    def texts_to(self, phone: str) -> list[str]:
        assert self.twilio is not None
        return self.twilio.bodies_to(phone)

    # -- Telegram ------------------------------------------------------------------

    def update(self, data: dict[str, Any], secret: str | None = TELEGRAM_SECRET) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        response = httpx.post(
            self.url + "/webhooks/telegram", content=json.dumps(data), headers=headers, timeout=10
        )
        drained(self.runtime.engine)
        return response

    # -- Slack -----------------------------------------------------------------------

    def slack_post(
        self,
        body: bytes,
        content_type: str,
        *,
        secret: str = SLACK_SECRET,
        age: int = 0,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        at = str(int(time.time()) - age)
        base = f"v0:{at}:".encode() + body
        signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": at,
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        return httpx.post(
            self.url + "/webhooks/slack/events", content=body, headers=all_headers, timeout=10
        )

    def slack_event(self, payload: dict[str, Any], **options: Any) -> httpx.Response:
        return self.slack_post(json.dumps(payload).encode(), "application/json", **options)

    def slack_form(self, form: dict[str, str], **options: Any) -> httpx.Response:
        return self.slack_post(
            urlencode(form).encode(), "application/x-www-form-urlencoded", **options
        )

    def slack_interaction(self, payload: dict[str, Any], **options: Any) -> httpx.Response:
        payload = {**payload, "response_url": self.slack_base + "/respond/actions"}
        return self.slack_form({"payload": json.dumps(payload)}, **options)

    def slack_command(self, form: dict[str, str], **options: Any) -> httpx.Response:
        form = {**form, "response_url": self.slack_base + "/respond/commands"}
        return self.slack_form(form, **options)


@contextmanager
def running_bot(
    tmp_path: Path,
    *,
    twilio: bool = False,
    telegram: bool = False,
    slack: bool = False,
    **overrides: Any,
) -> Iterator[ChatBot]:
    """The app with the chosen channels on, a migrated SQLite file and the example survey."""
    with ExitStack() as stack:
        port = free_port()
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path / 'engage.db'}",
            "public_url": f"http://127.0.0.1:{port}",
            "district_file": EXAMPLES / "district.yaml",
            "spool_dir": tmp_path / "spool",
            "sms_per_second": 0,
            "telegram_per_second": 0,
            "telegram_chat_per_second": 0,
            "slack_per_second": 0,
        }
        bot = ChatBot("", None)  # type: ignore[arg-type]
        if twilio:
            bot.twilio = stack.enter_context(run_fake_twilio(ACCOUNT, TWILIO_TOKEN))
            values.update(
                twilio_account_sid=ACCOUNT,
                twilio_auth_token=TWILIO_TOKEN,
                twilio_from_number=OUR_NUMBER,
                twilio_api_base_url=bot.twilio.url,
            )
        if telegram:
            bot.telegram = FakeTelegramApi()
            base = stack.enter_context(serve(bot.telegram.app))
            values.update(
                telegram_bot_token=TOKEN,
                telegram_webhook_secret=TELEGRAM_SECRET,
                telegram_api_base_url=base,
            )
        if slack:
            bot.slack = FakeSlackApi()
            bot.slack_base = stack.enter_context(serve(bot.slack.app))
            values.update(
                slack_bot_token=BOT_TOKEN,
                slack_signing_secret=SLACK_SECRET,
                slack_api_base_url=bot.slack_base + "/api/",
                slack_inbox_channel=INBOX,
                slack_organizers="U0ORGANIZER",
                slack_team_id="T0001",
            )
        values.update(overrides)
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        runtime = build_runtime(settings, detector=False)
        migrate(runtime.engine)
        sync_schools(runtime.engine, runtime.district)
        source = (EXAMPLES / "family-priorities.yaml").read_text("utf-8")
        store_activity(
            runtime.engine, parse_activity(source, "family-priorities.yaml"), source, utcnow()
        )
        if bot.twilio is not None:
            bot.twilio.callback_target = settings.public_url
        bot.runtime = runtime
        bot.url = stack.enter_context(serve(create_app(runtime), port=port))
        yield bot
