"""No secret reaches a log at any level: a full run at DEBUG, every configured secret looked for.

Families text by SMS and Telegram, staff write in Slack, an organizer signs in
to the dashboard (once wrongly): the real provider clients send through the
fakes while everything is logged, as `engage serve -v` would, to one buffer.
"""

from __future__ import annotations

import copy
import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.logs import QUIET_LOGGERS, configure_logging
from tests.e2e.chat_bot import (
    SLACK_FIXTURES,
    TELEGRAM_FIXTURES,
    ChatBot,
    eventually,
    fixture,
    running_bot,
)

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "admin-token-0f9e8d7c6b5a"
PSEUDONYM_SECRET = "pseudonym-secret-1a2b3c4d5e6f"


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, as the entrypoint writes it."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in QUIET_LOGGERS}
    buffer = io.StringIO()
    configure_logging(logging.DEBUG, stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def bot(tmp_path: Path, log: io.StringIO) -> Iterator[ChatBot]:
    with running_bot(
        tmp_path,
        twilio=True,
        telegram=True,
        slack=True,
        admin_token=ADMIN_TOKEN,
        pseudonym_secret=PSEUDONYM_SECRET,
    ) as bot:
        yield bot


def test_a_full_run_logs_no_secret(bot: ChatBot, log: io.StringIO) -> None:
    # A family by SMS.
    for body in ["Hola", "2", "sí"]:
        bot.sms(body, "+15550100177")
    eventually(lambda: len(bot.texts_to("+15550100177")) >= 3)
    # A family by Telegram.
    start = copy.deepcopy(fixture(TELEGRAM_FIXTURES, "message__start"))
    assert bot.update(start).status_code == 200
    assert bot.telegram is not None
    eventually(lambda: bool(bot.telegram.sent("sendMessage")))  # type: ignore[union-attr]
    # A teacher in Slack.
    message = copy.deepcopy(fixture(SLACK_FIXTURES, "message__im"))
    message["event"]["ts"] = f"{time.time():.6f}"
    assert bot.slack_event(message).status_code == 200
    assert bot.slack is not None
    eventually(lambda: bool(bot.slack.called("chat.postMessage")))  # type: ignore[union-attr]
    # An organizer, wrong once, then right.
    with httpx.Client(base_url=bot.url, follow_redirects=False) as client:
        assert client.post("/login", data={"token": "not-it"}).status_code == 401
        assert client.post("/login", data={"token": ADMIN_TOKEN}).status_code == 303
    # And a forged Telegram update.
    assert bot.update(start, secret="wrong").status_code == 403

    written = log.getvalue()
    assert '"event": "channels"' in written  # the log was written to
    secrets = bot.runtime.settings.secret_values()
    assert len(secrets) == 7  # Twilio, Telegram (2), Slack (2), admin, pseudonyms
    assert [s for s in secrets if s in written] == []
