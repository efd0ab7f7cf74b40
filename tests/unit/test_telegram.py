"""Telegram adapter: each captured update parses to exactly what the service should see."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from telegram import Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from bot.core.messages import Channel, Choice, InboundMessage
from bot.errors import DeliveryFailure, UnsupportedEvent
from channels.telegram import (
    ButtonTap,
    TelegramUpdate,
    as_provider_error,
    is_genuine,
    parse_update,
    render_keyboard,
    use_timedelta_periods,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
IGNORED = "ignored"
ANA = "555000111"
SENT = datetime(2024, 9, 16, 15, 20)


def text(update_id: int, body: str, **fields: object) -> TelegramUpdate:
    values: dict[str, object] = {"received_at": SENT, "locale_hint": "es", **fields}
    return TelegramUpdate(
        message=InboundMessage(Channel.TELEGRAM, ANA, body, str(update_id), **values)
    )


def tap(update_id: int, payload: str, callback: str, message_id: int | None) -> TelegramUpdate:
    return TelegramUpdate(
        message=InboundMessage(
            Channel.TELEGRAM, ANA, "", str(update_id), button=payload, locale_hint="es"
        ),
        tap=ButtonTap(callback, int(ANA), message_id),
    )


EXPECTED: dict[str, TelegramUpdate | str] = {
    "message__text": text(700000101, "Sí, 2"),
    "message__lets_talk": text(700000102, "La ruta del autobús llega tarde todos los días"),
    "message__start": text(700000103, "/start"),
    "message__start_school_deep_link": text(700000104, "/start lincoln-es"),
    "message__start_link_code": text(700000105, "/start link-Ab3dE_f9Kq2x"),
    "message__start_bad_payload": text(700000106, "/start"),
    "message__start_addressed_to_bot": text(700000107, "/start"),
    "message__help": text(700000108, "/help"),
    "message__stop": text(700000109, "/stop"),
    "message__language": text(700000110, "/language"),
    "message__unknown_command": text(700000111, "/help"),
    "message__no_language_code": TelegramUpdate(
        message=InboundMessage(
            Channel.TELEGRAM, "555000222", "hello", "700000112", received_at=SENT
        )
    ),
    "message__sticker": text(700000113, "", media_count=1),
    "message__photo": text(700000114, "", media_count=1),
    "message__photo_with_caption": text(
        700000115, "El baño de la escuela está roto desde hace semanas", media_count=1
    ),
    "message__group": IGNORED,
    "message__bot_added_to_group": IGNORED,
    "edited_message__text": IGNORED,
    "callback_query__answer": tap(
        700000119, "q:family-priorities-2026:attended:yes", "4382bfdwdsb323b2d9", 42
    ),
    "callback_query__language_menu": tap(700000120, "language:es", "4382bfdwdsb323b2e0", 43),
    "callback_query__inaccessible_message": tap(
        700000121, "q:family-priorities-2026:safe:4", "4382bfdwdsb323b2e1", None
    ),
    "callback_query__group": TelegramUpdate(
        tap=ButtonTap("4382bfdwdsb323b2e2", -1001234567890, 44)
    ),
    "callback_query__game": TelegramUpdate(tap=ButtonTap("4382bfdwdsb323b2e3", int(ANA), 45)),
    # A block is the person's message with no words: the engine stops that contact.
    "my_chat_member__blocked": TelegramUpdate(
        message=InboundMessage(
            Channel.TELEGRAM,
            ANA,
            "",
            "700000124",
            received_at=datetime(2024, 9, 16, 15, 23, 20),
            blocked=True,
        )
    ),
    "my_chat_member__unblocked": IGNORED,
    "my_chat_member__added_to_group": IGNORED,
    "channel_post__text": IGNORED,
    "message_reaction__added": IGNORED,
}


def load(name: str) -> object:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def fixture_names() -> list[str]:
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def test_every_fixture_has_an_expected_result() -> None:
    assert fixture_names() == sorted(EXPECTED)


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_parses_to_what_the_service_should_see(name: str) -> None:
    expected = EXPECTED[name]
    if expected == IGNORED:
        with pytest.raises(UnsupportedEvent):
            parse_update(load(name))
    else:
        assert parse_update(load(name)) == expected


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_is_an_update_the_real_library_reads(name: str) -> None:
    data = load(name)
    assert isinstance(data, dict)
    update = Update.de_json(data, None)
    assert update.update_id == data["update_id"]


@pytest.mark.parametrize(
    "data",
    [
        [],
        "update",
        {},
        {"update_id": "1", "message": {}},
        {"update_id": 1, "message": "hi"},
        {"update_id": 1, "message": {"chat": {"type": "private"}}},
        {"update_id": 1, "callback_query": {"id": 5}},
        {"update_id": True, "message": {"chat": {"id": 1, "type": "private"}}},
    ],
    ids=[
        "list",
        "string",
        "empty",
        "string-update-id",
        "message-not-object",
        "chat-without-id",
        "numeric-callback-id",
        "boolean-update-id",
    ],
)
def test_malformed_updates_are_unsupported_not_errors(data: object) -> None:
    with pytest.raises(UnsupportedEvent):
        parse_update(data)


@pytest.mark.parametrize(
    ("header", "genuine"),
    [("s3cret-token", True), ("s3cret-tokeN", False), ("", False), (None, False), ("é", False)],
    ids=["same", "different", "empty", "missing", "non-ascii"],
)
def test_the_secret_header_must_match(header: str | None, genuine: bool) -> None:
    assert is_genuine(header, "s3cret-token") is genuine


def test_short_choices_share_a_row_and_long_ones_stack() -> None:
    scale = [Choice(str(n), str(n), f"q:a:q:{n}") for n in range(1, 6)]
    keyboard = render_keyboard(scale)
    assert keyboard is not None
    assert [[b.text for b in row] for row in keyboard.inline_keyboard] == [
        ["1", "2", "3", "4", "5"]
    ]
    options = [Choice("s", "Safety and belonging", "q:a:q:s"), Choice("r", "Reading", "q:a:q:r")]
    keyboard = render_keyboard(options)
    assert keyboard is not None
    assert [[b.callback_data for b in row] for row in keyboard.inline_keyboard] == [
        ["q:a:q:s"],
        ["q:a:q:r"],
    ]
    assert render_keyboard([]) is None


def test_callback_data_never_exceeds_64_bytes() -> None:
    long = "q:" + "é" * 40
    keyboard = render_keyboard([Choice("x", "X", long)])
    assert keyboard is not None
    data = keyboard.inline_keyboard[0][0].callback_data
    assert isinstance(data, str) and len(data.encode()) <= 64 and long.startswith(data)


def test_provider_errors_map_to_what_the_outbox_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    use_timedelta_periods()
    flood = as_provider_error(RetryAfter(timedelta(seconds=7)))
    assert (flood.transient, flood.retry_after, flood.code) == (True, 7.0, "429")
    blocked = as_provider_error(Forbidden("Forbidden: bot was blocked by the user"))
    assert (blocked.transient, blocked.failure) == (False, DeliveryFailure.OPTED_OUT)
    missing = as_provider_error(BadRequest("Bad Request: chat not found"))
    assert (missing.transient, missing.failure) == (False, DeliveryFailure.INVALID_ADDRESS)
    bad = as_provider_error(BadRequest("Bad Request: message text is empty"))
    assert (bad.transient, bad.failure) == (False, DeliveryFailure.REJECTED)
    token = as_provider_error(InvalidToken())
    assert (token.transient, token.failure) == (False, DeliveryFailure.CONFIGURATION)
    assert as_provider_error(NetworkError("Bad Gateway")).transient
    assert as_provider_error(TimedOut()).transient
