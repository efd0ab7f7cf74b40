"""Requests no sender would make: too big (413 before anything is parsed), or signed but
malformed (200 and a log line, never 500), and text longer than its channel allows."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from bot.web.requests import LIMITS
from storage import models
from tests.e2e.chat_bot import (
    SLACK_FIXTURES,
    TELEGRAM_FIXTURES,
    TELEGRAM_SECRET,
    ChatBot,
    eventually,
    fixture,
    running_bot,
)

pytestmark = pytest.mark.e2e

ROUTES = {
    "twilio": "/webhooks/twilio/sms",
    "telegram": "/webhooks/telegram",
    "slack": "/webhooks/slack/events",
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatBot]:
    folder = tmp_path_factory.mktemp("hostile")
    with running_bot(folder, twilio=True, telegram=True, slack=True) as bot:
        yield bot


def chunks(size: int) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked), `size` bytes of it."""
    sent = 0
    while sent < size:
        piece = min(64 * 1024, size - sent)
        sent += piece
        yield b"a" * piece


@pytest.mark.parametrize("provider", list(ROUTES))
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_before_it_is_read(
    bot: ChatBot, provider: str, declared: bool
) -> None:
    size = LIMITS[provider] + 1
    before = len(bot.rows(models.Message))
    content: bytes | Iterator[bytes] = b"a" * size if declared else chunks(size)

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if provider == "telegram":  # its secret is a header: checked before the body is read
        headers["X-Telegram-Bot-Api-Secret-Token"] = TELEGRAM_SECRET
    response = httpx.post(bot.url + ROUTES[provider], content=content, headers=headers, timeout=10)

    assert response.status_code == 413
    assert len(bot.rows(models.Message)) == before


def test_a_huge_declared_body_is_refused_at_once(bot: ChatBot) -> None:
    with httpx.Client(base_url=bot.url, timeout=10) as client:
        started = time.monotonic()
        response = client.post(
            ROUTES["twilio"],
            content=chunks(100 * 1024 * 1024),
            headers={"Content-Length": str(100 * 1024 * 1024)},
        )
    assert response.status_code == 413
    assert time.monotonic() - started < 5  # not 100 MB read and parsed first


def telegram_update(update_id: int, **message: object) -> dict[str, object]:
    data = copy.deepcopy(fixture(TELEGRAM_FIXTURES, "message__text"))
    data["update_id"] = update_id
    data["message"].update(message)  # type: ignore[union-attr]
    return data


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,
        json.dumps(telegram_update(900001, date=10**20)).encode(),
        json.dumps(telegram_update(900002, chat={"id": "not-a-chat"})).encode(),
        json.dumps(telegram_update(900003, text=["a", "list"])).encode(),
        json.dumps({"update_id": "x", "message": 5}).encode(),
    ],
    ids=["nested-200k-deep", "date-10e20", "chat-id-a-string", "text-a-list", "message-a-number"],
)
def test_a_genuine_but_malformed_telegram_update_gets_200(bot: ChatBot, body: bytes) -> None:
    response = httpx.post(
        bot.url + ROUTES["telegram"],
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        timeout=30,
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("user",), 5),
        (("user", "id"), 5),
        (("actions",), "none"),
        (("actions", 0), 7),
        (("team",), [1]),
        (("container",), 3),
    ],
    ids=[
        "user-5",
        "user-id-5",
        "actions-a-string",
        "action-a-number",
        "team-a-list",
        "container-3",
    ],
)
def test_a_signed_but_malformed_slack_tap_gets_200(
    bot: ChatBot, path: tuple[str | int, ...], value: object
) -> None:
    payload = copy.deepcopy(fixture(SLACK_FIXTURES, "block_actions__answer_button"))
    target = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value

    assert bot.slack_interaction(payload).status_code == 200


def test_text_longer_than_its_channel_allows_is_cut_to_the_channel_limit(bot: ChatBot) -> None:
    long = "palabra " * 1000  # 8,000 characters; Telegram allows 4,096
    response = bot.update(telegram_update(900100, text=long))
    assert response.status_code == 200

    def stored() -> list[str]:
        return [m.body for m in bot.rows(models.Message) if m.provider_id == "900100"]

    eventually(lambda: bool(stored()))
    assert [len(b) for b in stored()] == [4096]
