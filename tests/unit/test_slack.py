"""Slack adapter: each captured payload parses to exactly what the handlers should see."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.core.messages import Channel, Choice, InboundMessage
from bot.core.staff import InboxItem, ItemStatus, StaffReply
from bot.errors import DeliveryFailure, UnsupportedEvent
from channels.slack import (
    SlashCommand,
    as_provider_error,
    is_genuine,
    is_readable,
    parse_command,
    parse_event,
    parse_tap,
    plain_text,
    render_blocks,
    render_inbox_item,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
IGNORED = "ignored"
Parsed = InboundMessage | StaffReply | SlashCommand


# The ts of the fixtures' DMs, 1726500000.000100.
SENT = datetime(2024, 9, 16, 15, 20, 0, 100)


def dm(event_id: str, text: str, **fields: Any) -> InboundMessage:
    return InboundMessage(Channel.SLACK, "U0STAFF", text, event_id, received_at=SENT, **fields)


def tap(payload: str, action_ts: str) -> InboundMessage:
    return InboundMessage(
        Channel.SLACK, "U0STAFF", "", f"action:U0STAFF:{action_ts}", button=payload
    )


EXPECTED: dict[str, Parsed | str] = {
    "url_verification__handshake": IGNORED,
    "message__im": dm("Ev0001", "Necesitamos más rutas de autobús"),
    "message__im_markup": dm(
        "Ev0002",
        "Ask about the plan (https://district.example.org/plan) & the <draft>",
    ),
    "message__im_file_share": dm("Ev0003", "", media_count=1),
    "message__im_from_other_bot": IGNORED,
    "message__im_bot_without_subtype": IGNORED,
    "message__im_changed": IGNORED,
    "message__im_deleted": IGNORED,
    "message__thread_reply": StaffReply(
        "C0INBOX",
        "1726500000.000200",
        "U0STAFF",
        "Thank you, we are adding a route in October.",
        "Ev0008",
    ),
    "message__thread_broadcast": StaffReply(
        "C0INBOX", "1726500000.000200", "U0STAFF", "We hear you; the board meets Tuesday.", "Ev0009"
    ),
    "message__channel_top_level": IGNORED,
    "message__channel_join": IGNORED,
    # The workspace is checked before parsing (a Bolt middleware); see the e2e tests.
    "message__other_workspace": InboundMessage(
        Channel.SLACK,
        "U0STRANGER",
        "Hello from elsewhere",
        "Ev0012",
        received_at=datetime(2024, 9, 16, 15, 22, 20, 340),
    ),
    "app_mention__inbox": IGNORED,
    "app_home_opened__messages_tab": IGNORED,
    "block_actions__answer_button": tap("q:family-priorities-2026:safe:4", "1726500400.123456"),
    "block_actions__answer_menu": tap("q:family-priorities-2026:top:reading", "1726500410.234567"),
    "block_actions__resolve": tap("lets_talk:resolve:7", "1726500420.345678"),
    "block_actions__claim": tap("lets_talk:claim:7", "1726500430.456789"),
    "block_actions__reassign": tap("lets_talk:7:reassign:U0ORGANIZER", "1726500440.567890"),
    "block_actions__link_button": IGNORED,
    "view_submission__modal": IGNORED,
    "command__engage_stats": SlashCommand(
        "U0ORGANIZER", "stats family-priorities-2026", "district"
    ),
    "command__engage_empty": SlashCommand("U0ORGANIZER", "", "district"),
}


def load(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def parse(name: str) -> Parsed:
    data = load(name)
    if name.startswith("command__"):
        return parse_command(data)
    if name.startswith(("block_actions__", "view_submission__")):
        return parse_tap(data)
    return parse_event(data)


def fixture_names() -> list[str]:
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def test_every_fixture_has_an_expected_result() -> None:
    assert fixture_names() == sorted(EXPECTED)


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_parses_to_what_the_handlers_should_see(name: str) -> None:
    expected = EXPECTED[name]
    if expected == IGNORED:
        with pytest.raises(UnsupportedEvent):
            parse(name)
    else:
        assert parse(name) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"type": "event_callback"},
        {"type": "event_callback", "event_id": "Ev1", "event": "message"},
        {"type": "event_callback", "event_id": "Ev1", "event": {"type": "message"}},
        {"type": "event_callback", "event_id": 7, "event": {"type": "message", "user": "U1"}},
    ],
    ids=["no-event-id", "event-not-object", "message-without-user", "numeric-event-id"],
)
def test_malformed_events_are_unsupported_not_errors(body: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedEvent):
        parse_event(body)


def signed(secret: str, body: bytes, at: int) -> dict[str, str]:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(at), body=body)
    return {"x-slack-request-timestamp": str(at), "x-slack-signature": signature}


def test_signatures_are_checked_within_five_minutes() -> None:
    body = json.dumps(load("message__im")).encode()
    now = int(time.time())
    secret = "signing-secret"
    assert is_genuine(body, signed(secret, body, now), secret)
    assert not is_genuine(body, signed("other-secret", body, now), secret)
    assert not is_genuine(body + b" ", signed(secret, body, now), secret)
    assert not is_genuine(body, signed(secret, body, now - 301), secret)
    assert not is_genuine(body, {}, secret)
    assert not is_genuine(body, {**signed(secret, body, now), "x-slack-signature": "é"}, secret)


def test_a_body_that_is_not_utf8_is_checked_not_raised_on() -> None:
    body = b"\xff\xfe"
    now = int(time.time())
    signature = "v0=" + hmac.new(b"s", f"v0:{now}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"x-slack-request-timestamp": str(now), "x-slack-signature": signature}
    assert is_genuine(body, headers, "s")


@pytest.mark.parametrize(
    ("body", "content_type", "readable"),
    [
        (b'{"type": "event_callback"}', "application/json", True),
        (b"{not json", "application/json", False),
        (b"[1, 2]", "application/json", False),
        (b"\xff\xfe", "application/json", False),
        (urlencode({"payload": "{broken"}).encode(), "application/x-www-form-urlencoded", False),
        (urlencode({"command": "/engage", "text": "help"}).encode(), None, True),
        (b"", None, True),
    ],
    ids=["json", "broken-json", "json-list", "not-utf8", "broken-payload", "form", "empty"],
)
def test_bodies_bolt_cannot_read_are_caught_first(
    body: bytes, content_type: str | None, readable: bool
) -> None:
    assert is_readable(body, content_type) is readable


def test_staff_markup_reads_as_plain_text() -> None:
    assert plain_text("<mailto:help@district.org|help@district.org> <!here> hi") == (
        "help@district.org hi"
    )


def test_a_few_choices_are_buttons_and_many_are_a_menu() -> None:
    few = [Choice(k, k.title(), f"q:a:q:{k}") for k in ("yes", "no")]
    blocks = render_blocks("Did you attend? <b>", few)
    assert blocks[0]["text"]["text"] == "Did you attend? &lt;b&gt;"
    assert [(e["type"], e["value"]) for e in blocks[1]["elements"]] == [
        ("button", "q:a:q:yes"),
        ("button", "q:a:q:no"),
    ]
    many = [Choice(str(n), f"Option {n}", f"q:a:q:{n}") for n in range(8)]
    (menu,) = render_blocks("Pick one", many)[1]["elements"]
    assert menu["type"] == "static_select" and len(menu["options"]) == 8
    assert all(e["action_id"].startswith("answer:") for e in blocks[1]["elements"])


def test_an_inbox_item_shows_who_where_and_claim_reassign_resolve() -> None:
    item = InboxItem(
        7,
        "P-1A2B3C4D5E",
        "sms",
        "Buses are late",
        datetime(2026, 9, 1),
        "lincoln-es",
        "parent",
        "es",
    )
    blocks = render_inbox_item(item, "Lincoln Elementary")
    assert blocks[0]["elements"][0]["text"] == (
        "*P-1A2B3C4D5E* · Lincoln Elementary · parent · ES · SMS"
    )
    buttons = blocks[-1]["elements"]
    assert [b.get("value") for b in buttons] == ["lets_talk:claim:7", None, "lets_talk:resolve:7"]
    assert buttons[1]["type"] == "users_select" and buttons[1]["action_id"] == "answer:reassign"
    resolved = render_inbox_item(
        InboxItem(
            7,
            "P-1A2B3C4D5E",
            "telegram",
            "Buses are late",
            datetime(2026, 9, 1),
            status=ItemStatus.RESOLVED,
            resolved_by="U0STAFF",
            resolved_at=datetime(2026, 9, 2, 8, 30),
        )
    )
    assert resolved[-1]["elements"][0]["text"] == (
        ":white_check_mark: Resolved by <@U0STAFF> 2026-09-02 08:30 UTC"
    )


def api_error(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    response = AsyncSlackResponse(
        client=AsyncWebClient(),
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(error, response)


@pytest.mark.parametrize(
    ("error", "transient", "failure"),
    [
        (api_error(429, "ratelimited", {"retry-after": "3"}), True, None),
        (api_error(503, "service_unavailable"), True, None),
        (api_error(200, "user_not_found"), False, DeliveryFailure.INVALID_ADDRESS),
        (api_error(200, "user_disabled"), False, DeliveryFailure.UNREACHABLE),
        (api_error(200, "not_in_channel"), False, DeliveryFailure.REJECTED),
        (api_error(200, "invalid_auth"), False, DeliveryFailure.CONFIGURATION),
        (api_error(200, "msg_too_long"), False, DeliveryFailure.REJECTED),
        (TimeoutError(), True, None),
    ],
    ids=[
        "429",
        "503",
        "no-user",
        "deactivated",
        "not-in-channel",
        "invalid-auth",
        "too-long",
        "timeout",
    ],
)
def test_web_api_errors_map_to_what_the_outbox_does(
    error: Exception, transient: bool, failure: DeliveryFailure | None
) -> None:
    mapped = as_provider_error(error)
    assert (mapped.transient, mapped.failure) == (transient, failure)


def test_a_rate_limit_carries_slacks_retry_after() -> None:
    assert as_provider_error(api_error(429, "ratelimited", {"retry-after": "3"})).retry_after == 3.0
