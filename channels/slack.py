"""Slack: Bolt's async app for events, slash commands and buttons; Block Kit; the Web API.

Bolt checks signatures and the five-minute window, answers Slack at once
(`process_before_response=False`) and runs our listeners after the ack. The
listeners only parse and hand over to `SlackHandlers` (bot.services.staff_desk); the
rest of this module renders Block Kit and calls the Web API through
slack_sdk's `AsyncWebClient`.

    parse_event(body)   event_callback -> InboundMessage (a DM) | StaffReply (a thread)
    parse_tap(body)     block_actions on one of our buttons -> InboundMessage with its payload

Every button we render has an `answer:` action id and carries its payload as
its value (`q:…`, `onboard:…`, `lets_talk:resolve:<id>`, `broadcast:…`), so
one listener takes them all and the handlers route by payload.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.messages import Channel, Choice, InboundMessage, OutboundMessage, Reply
from bot.core.moderation import Decision, IdeaCard, IdeaTap
from bot.core.routing import mention
from bot.core.staff import CLOSED_BY_FAMILY, InboxItem, ItemStatus, StaffProfile, StaffReply
from bot.core.urgency import Urgency
from bot.errors import DeliveryFailure, ProviderError, UnsupportedEvent

__all__ = [
    "RequestSummary",
    "describe_request",
    "replay_request",
    "API_BASE_URL",
    "SlackChannel",
    "SlackHandlers",
    "SlashCommand",
    "build_bolt_app",
    "is_genuine",
    "is_readable",
    "parse_command",
    "parse_event",
    "parse_idea_tap",
    "parse_tap",
    "plain_text",
    "render_blocks",
    "render_idea_card",
    "render_inbox_item",
]

log = logging.getLogger(__name__)

API_BASE_URL = "https://slack.com/api/"
# Message subtypes that are still a person writing; the rest (edits, joins, bots) are not.
KEPT_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
ANSWER_ACTION = re.compile(r"^answer:")
IDEA_ACTION = re.compile(r"^idea:")
IDEA_EDIT, IDEA_NOTE, IDEA_TRANSLATION = "idea_edit", "idea_note", "idea_translation:"
INPUT_LIMIT = 3000
REASSIGN_ACTION = "answer:reassign"
SECTION_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75
SELECT_TEXT_LIMIT = 75
SELECT_VALUE_LIMIT = 150
# Up to this many choices are buttons; more go in a menu.
MAX_BUTTONS = 5
MAX_SELECT_OPTIONS = 100
SIGNATURE_WINDOW_SECONDS = 300
PROFILE_TTL_SECONDS = 3600.0
GROUP_TTL_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """`/engage stats …` from a user; `team_domain` builds links to threads."""

    user_id: str
    text: str
    team_domain: str | None = None


class SlackHandlers(Protocol):
    """What the Bolt listeners hand their parsed requests to, after Slack has its ack."""

    async def message(self, message: InboundMessage) -> None:
        """A staff member wrote to the bot in a DM."""

    async def tap(self, message: InboundMessage) -> Reply | None:
        """A button of ours was tapped; a Reply replaces the (ephemeral) message it was on."""

    async def thread_reply(self, reply: StaffReply) -> None:
        """Someone replied in a channel thread (the inbox's, or any other)."""

    async def moderate(self, tap: IdeaTap) -> None:
        """A moderator approved or rejected an idea on its card."""

    async def command(self, command: SlashCommand) -> Reply:
        """`/engage …`; the Reply is shown to that user only."""


# -- verifying -------------------------------------------------------------------


def is_genuine(
    body: bytes, headers: Mapping[str, str], signing_secret: str, now: float | None = None
) -> bool:
    """Slack's signature over the raw bytes, within five minutes (CHANNELS.md 3.1).

    Computed here rather than with slack_sdk's SignatureVerifier, which decodes
    the body as UTF-8 first and raises on a body that is not.
    """
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or not signature:
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


def is_readable(body: bytes, content_type: str | None) -> bool:
    """Whether Bolt can read the body; it answers 500 to anything it cannot (a payload
    whose `user` is a number, whose `actions` is not a list of objects)."""
    try:
        raw = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not raw:
        return True
    try:
        if content_type == "application/json" or raw.startswith("{"):
            data = json.loads(raw)
            return isinstance(data, dict) and _well_formed(data)
        form = dict(parse_qsl(raw, keep_blank_values=True))
        if "payload" in raw and "payload" in form:
            data = json.loads(form["payload"])
            return isinstance(data, dict) and _well_formed(data)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """What the webhook needs to know of a Slack request before it records it.

    `handshake`: Slack's URL check, answered at once and never recorded;
    `dedup_id`: the event id (Slack sends an event again until it hears 2xx);
    None for a command or an interaction, which Slack never sends twice (a second
    identical one is someone doing it again);
    `user`: whose request it is (their rows are handled in order).
    """

    handshake: bool
    dedup_id: str | None
    user: str


def describe_request(body: bytes, content_type: str | None) -> RequestSummary:
    """Summarize a request `is_readable` accepted."""
    raw = body.decode("utf-8")
    data: Mapping[str, Any] = {}
    if content_type == "application/json" or raw.startswith("{"):
        loaded = json.loads(raw) if raw else {}
        data = loaded if isinstance(loaded, dict) else {}
        if data.get("type") == "url_verification":
            return RequestSummary(True, None, "")
        event = data.get("event")
        user = event.get("user") if isinstance(event, Mapping) else None
        event_id = data.get("event_id")
        dedup = f"e:{event_id}" if isinstance(event_id, str) and event_id else None
        return RequestSummary(False, dedup, user if isinstance(user, str) else "")
    form = dict(parse_qsl(raw, keep_blank_values=True))
    if form.get("ssl_check"):
        return RequestSummary(True, None, "")
    if "payload" in form:
        loaded = json.loads(form["payload"])
        data = loaded if isinstance(loaded, dict) else {}
        user = data.get("user")
        user_id = user.get("id") if isinstance(user, Mapping) else user
        return RequestSummary(False, None, user_id if isinstance(user_id, str) else "")
    return RequestSummary(False, None, form.get("user_id", ""))


# Where Bolt looks, and what it expects there (slack_bolt.request.internals).
_OBJECT_OR_ID = ("user", "team", "enterprise", "channel")
_OBJECTS = ("event", "message", "previous_message", "item", "view", "container", "assistant_thread")
_LISTS_OF_OBJECTS = ("actions", "authorizations")


def _well_formed(payload: Mapping[str, Any], depth: int = 0) -> bool:
    if depth > 3:
        return True
    for key in _OBJECT_OR_ID:
        value = payload.get(key)
        if value is not None and not isinstance(value, str | dict):
            return False
    for key in _LISTS_OF_OBJECTS:
        value = payload.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, dict) for v in value)
        ):
            return False
    for key in (*_OBJECTS, *_LISTS_OF_OBJECTS):
        value = payload.get(key)
        inner = value if isinstance(value, list) else [value]
        for item in inner:
            if item is None:
                continue
            if not isinstance(item, dict) or not _well_formed(item, depth + 1):
                return False
    return True


# -- parsing ---------------------------------------------------------------------


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise UnsupportedEvent(f"malformed payload: {key}")
    return value


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise UnsupportedEvent(f"malformed payload: {key}")
    return value


_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def plain_text(mrkdwn: str) -> str:
    """Slack's message markup as a family would read it by SMS.

    `<https://x.org|our page>` becomes `our page (https://x.org)`, `<#C1|general>`
    becomes `#general`, mentions go, and `&amp;`, `&lt;`, `&gt;` are unescaped.
    """

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("#"):
            return f"#{label}" if label else ""
        if target.startswith(("@", "!")):
            return f"@{label}" if label else ""
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        return f"{label} ({target})" if label and label != target else target

    text = re.sub(r"[ \t]{2,}", " ", _LINK.sub(link, mrkdwn))
    return html.unescape(text.strip())


def _event_time(event: Mapping[str, Any]) -> datetime | None:
    ts = event.get("ts")
    try:
        return datetime.fromtimestamp(float(ts), UTC).replace(tzinfo=None) if ts else None
    except (TypeError, ValueError):
        return None


def parse_event(body: Mapping[str, Any]) -> InboundMessage | StaffReply:
    """A message event: a DM to the bot, or a reply in a channel thread; else UnsupportedEvent."""
    if body.get("type") != "event_callback":
        raise UnsupportedEvent(f"payload type {body.get('type')}")
    event_id = _str(body, "event_id")
    event = _mapping(body, "event")
    kind = event.get("type")
    if kind != "message":
        raise UnsupportedEvent(f"event {kind}")
    subtype = event.get("subtype")
    if subtype not in KEPT_SUBTYPES:
        raise UnsupportedEvent(f"message subtype {subtype}")
    if event.get("bot_id") or event.get("bot_profile"):
        raise UnsupportedEvent("message from a bot")
    user = _str(event, "user")
    raw = event.get("text")
    text = plain_text(raw) if isinstance(raw, str) else ""
    files = event.get("files")
    media = len(files) if isinstance(files, list) else 0
    if event.get("channel_type") == "im":
        return InboundMessage(
            channel=Channel.SLACK,
            address=user,
            text=text,
            provider_id=event_id,
            received_at=_event_time(event),
            media_count=media,
        )
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if isinstance(thread_ts, str) and thread_ts and thread_ts != ts:
        if not text:
            raise UnsupportedEvent("thread reply without text")
        return StaffReply(_str(event, "channel"), thread_ts, user, text, event_id)
    raise UnsupportedEvent(f"{event.get('channel_type')} message outside a thread")


def parse_command(form: Mapping[str, Any]) -> SlashCommand:
    """A slash command's form fields."""
    text = form.get("text")
    domain = form.get("team_domain")
    return SlashCommand(
        user_id=_str(form, "user_id"),
        text=text.strip() if isinstance(text, str) else "",
        team_domain=domain if isinstance(domain, str) and domain else None,
    )


def parse_tap(body: Mapping[str, Any]) -> InboundMessage:
    """A button or menu of ours, tapped: its payload as `button`."""
    user = _str(_mapping(body, "user"), "id")
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        raise UnsupportedEvent("malformed payload: actions")
    action = actions[0]
    selected = action.get("selected_option")
    value = selected.get("value") if isinstance(selected, Mapping) else action.get("value")
    person, block = action.get("selected_user"), action.get("block_id")
    if action.get("action_id") == REASSIGN_ACTION and isinstance(person, str) and person:
        # Reassign is a people menu in an item's block (`lets_talk:<id>`): no value of its own.
        value = f"{block}:reassign:{person}" if isinstance(block, str) else None
    if not isinstance(value, str) or not value:
        raise UnsupportedEvent("button without a value")
    action_ts = action.get("action_ts") or ""
    return InboundMessage(
        channel=Channel.SLACK,
        address=user,
        text="",
        # Taps carry no event id; the user and the tap's time name it.
        provider_id=f"action:{user}:{action_ts}",
        button=value,
    )


# -- rendering -------------------------------------------------------------------


def escape(text: str) -> str:
    """Text safe to show as mrkdwn: Slack reads `&`, `<` and `>` as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sections(text: str) -> list[dict[str, Any]]:
    safe = escape(text) or " "
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": safe[i : i + SECTION_LIMIT]}}
        for i in range(0, len(safe), SECTION_LIMIT)
    ]


def render_blocks(text: str, choices: Sequence[Choice]) -> list[dict[str, Any]]:
    """The text, then its choices: buttons for a few, a menu for many (CHANNELS.md 3.5)."""
    blocks = _sections(text)
    if not choices:
        return blocks
    if len(choices) <= MAX_BUTTONS:
        elements: list[dict[str, Any]] = [
            {
                "type": "button",
                "action_id": f"answer:{number}",
                "text": {"type": "plain_text", "text": _cut(choice.label, BUTTON_TEXT_LIMIT)},
                "value": choice.payload,
            }
            for number, choice in enumerate(choices)
        ]
    else:
        elements = [
            {
                "type": "static_select",
                "action_id": "answer:menu",
                "placeholder": {"type": "plain_text", "text": "Choose"},
                "options": [
                    {
                        "text": {
                            "type": "plain_text",
                            "text": _cut(f"{n}. {choice.label}", SELECT_TEXT_LIMIT),
                        },
                        "value": choice.payload[:SELECT_VALUE_LIMIT],
                    }
                    for n, choice in enumerate(choices[:MAX_SELECT_OPTIONS], 1)
                ],
            }
        ]
    blocks.append({"type": "actions", "block_id": "choices", "elements": elements})
    return blocks


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _input(block_id: str, label: str, initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "multiline": True}
    if initial:
        element["initial_value"] = _cut(initial, INPUT_LIMIT)
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }


def idea_card_text(card: IdeaCard) -> str:
    """The card's notification text: which exchange, which idea."""
    return f"Idea {card.number} for {card.activity}: {_cut(card.text, 200)}"


def render_idea_card(
    card: IdeaCard, languages: Sequence[str], decided: str | None = None
) -> list[dict[str, Any]]:
    """An idea waiting for a moderator: the idea, its flags, a translation field per district
    language, an edit and a note, and Approve / Reject; once `decided`, that line instead."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _cut(
                    f"*Idea {card.number}* for `{escape(card.activity)}` "
                    f"(written in {escape(card.language)})\n>{escape(card.text)}",
                    SECTION_LIMIT,
                ),
            },
        }
    ]
    if card.flags:
        flagged = "; ".join(escape(flag) for flag in card.flags)
        blocks.append(_context(f":triangular_flag_on_post: Look twice: {flagged}"))
    live = card.status == "approved"
    if live and decided is None:
        blocks.append(_context(":eyes: Live already (moderation after): keep it, or take it down."))
    if decided is not None:
        for language, words in sorted(card.translations.items()):
            blocks.append(_context(f"{escape(language)}: {escape(words)}"))
        blocks.append(_context(decided))
        return blocks
    for language in languages:
        if language != card.language:
            blocks.append(
                _input(
                    f"{IDEA_TRANSLATION}{language}",
                    f"Translation ({language})",
                    card.translations.get(language),
                )
            )
    blocks.append(_input(IDEA_EDIT, "Edit before approving (optional)"))
    blocks.append(_input(IDEA_NOTE, "Note: why the edit (needed with an edit)"))
    blocks.append(
        {
            "type": "actions",
            "block_id": f"idea:{card.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": "idea:approve",
                    "text": {"type": "plain_text", "text": "Keep" if live else "Approve"},
                    "style": "primary",
                    "value": f"idea:{card.id}:approve",
                },
                {
                    "type": "button",
                    "action_id": "idea:reject",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "style": "danger",
                    "value": f"idea:{card.id}:reject",
                },
            ],
        }
    )
    return blocks


def parse_idea_tap(body: Mapping[str, Any]) -> IdeaTap:
    """Approve or Reject on an idea's card, with the fields typed on it."""
    user = _str(_mapping(body, "user"), "id")
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        raise UnsupportedEvent("malformed payload: actions")
    parts = str(actions[0].get("value") or "").split(":")
    if len(parts) != 3 or parts[0] != "idea" or not parts[1].isdigit():
        raise UnsupportedEvent("idea button without an idea")
    try:
        decision = Decision(parts[2])
    except ValueError:
        raise UnsupportedEvent("idea button with an unknown decision") from None
    container = _mapping(body, "container")
    values = _mapping(_mapping(body, "state"), "values")
    typed: dict[str, str] = {}
    for block_id, fields in values.items():
        field = fields.get("value") if isinstance(fields, Mapping) else None
        value = field.get("value") if isinstance(field, Mapping) else None
        if isinstance(block_id, str) and isinstance(value, str) and value.strip():
            typed[block_id] = value.strip()
    edit = typed.get(IDEA_EDIT)
    return IdeaTap(
        user=user,
        idea_id=int(parts[1]),
        decision=Decision.EDIT if decision is Decision.APPROVE and edit else decision,
        channel=_str(container, "channel_id"),
        ts=_str(container, "message_ts"),
        edit=edit,
        note=typed.get(IDEA_NOTE),
        translations={
            key.removeprefix(IDEA_TRANSLATION): value
            for key, value in typed.items()
            if key.startswith(IDEA_TRANSLATION)
        },
    )


def render_inbox_item(item: InboxItem, school_name: str | None = None) -> list[dict[str, Any]]:
    """A Let's Talk thread's first message: who (pseudonymously), where from, what they said."""
    facts = [
        f"*{escape(item.pseudonym)}*",
        escape(school_name or item.school or "school not given"),
        escape(item.role or "role not given"),
        (item.language or "?").upper(),
        item.channel.upper() if item.channel == "sms" else item.channel.title(),
    ]
    blocks: list[dict[str, Any]] = []
    if item.is_urgent:
        about = ", ".join(c.replace("_", " ") for c in item.concerns) or "safety"
        blocks.append(_context(f":rotating_light: *Urgent* ({escape(about)}): answer now."))
    elif item.urgency is Urgency.POSSIBLE:
        about = ", ".join(c.replace("_", " ") for c in item.concerns)
        blocks.append(_context(f":warning: Possibly about safety ({escape(about)}): please read."))
    blocks += [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]},
        *_sections(item.text),
    ]
    routed = []
    if item.owner:
        routed.append(f"Owner: {mention(item.owner)}")
    if item.claimed_by:
        routed.append(f"Claimed by {mention(item.claimed_by)}")
    if item.team:
        routed.append(f"Team: {escape(item.team)}")
    if item.topics:
        routed.append(f"Topics: {escape(', '.join(item.topics))}")
    if item.due_at is not None and item.status is ItemStatus.OPEN:
        routed.append(f"Answer by {_when(item.due_at)}")
    if routed:
        blocks.append(_context(" · ".join(routed)))
    if item.status is ItemStatus.RESOLVED:
        who = "staff"
        if item.resolved_by == CLOSED_BY_FAMILY:
            who = "the family's thanks"
        elif item.resolved_by:
            who = f"<@{item.resolved_by}>"
        when = _when(item.resolved_at) if item.resolved_at else ""
        blocks.append(_context(f":white_check_mark: Resolved by {who} {when}"))
    else:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": (
                            "Reply in this thread to answer them on their own channel; "
                            "start with `note:` to keep a reply among staff."
                        ),
                    }
                ],
            }
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": f"lets_talk:{item.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "answer:claim",
                        "text": {"type": "plain_text", "text": "Claim"},
                        "value": f"lets_talk:claim:{item.id}",
                    },
                    {
                        "type": "users_select",
                        "action_id": REASSIGN_ACTION,
                        "placeholder": {"type": "plain_text", "text": "Reassign"},
                    },
                    {
                        "type": "button",
                        "action_id": "answer:resolve",
                        "text": {"type": "plain_text", "text": "Resolved"},
                        "style": "primary",
                        "value": f"lets_talk:resolve:{item.id}",
                    },
                ],
            }
        )
    return blocks


def inbox_item_text(item: InboxItem) -> str:
    """The notification text of an inbox post (blocks carry the rest)."""
    if item.is_urgent:
        on_call = f" for {mention(item.owner)}" if item.owner else ""
        return f"Urgent{on_call}: Let's Talk from {item.pseudonym}: {_cut(item.text, 200)}"
    return f"Let's Talk from {item.pseudonym}: {_cut(item.text, 200)}"


# -- the Web API -----------------------------------------------------------------


def _failure(error: SlackApiError) -> ProviderError:
    response = error.response
    status = response.status_code
    code = str(response.get("error") or status)
    message = f"slack: {code}"
    if status == 429 or code == "ratelimited":
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        try:
            retry_after = float(headers.get("retry-after") or 1)
        except ValueError:
            retry_after = 1.0
        return ProviderError(message, transient=True, code=code, retry_after=retry_after)
    if status >= 500 or code in ("fatal_error", "internal_error", "service_unavailable"):
        return ProviderError(message, transient=True, code=code)
    if code in ("user_not_found", "channel_not_found", "cannot_dm_bot", "user_not_visible"):
        return ProviderError(
            message, transient=False, code=code, failure=DeliveryFailure.INVALID_ADDRESS
        )
    if code in ("user_disabled", "account_inactive_user", "is_archived"):
        return ProviderError(
            message, transient=False, code=code, failure=DeliveryFailure.UNREACHABLE
        )
    if code in ("invalid_auth", "not_authed", "token_revoked", "account_inactive", "missing_scope"):
        return ProviderError(
            message, transient=False, code=code, failure=DeliveryFailure.CONFIGURATION
        )
    return ProviderError(message, transient=False, code=code, failure=DeliveryFailure.REJECTED)


def as_provider_error(error: Exception) -> ProviderError:
    """The outbox's view of a Web API failure."""
    if isinstance(error, SlackApiError):
        return _failure(error)
    # aiohttp errors and timeouts: the request may not have reached Slack.
    return ProviderError(f"slack: {type(error).__name__}", transient=True, code="network")


WEB_API_ERRORS = (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError)


class SlackChannel:
    """Sends DMs, posts and updates inbox threads, and looks people up, via the Web API.

    `api_base_url` is the Web API root with its trailing slash
    (`https://slack.com/api/`); tests point it at a fake.
    """

    def __init__(self, token: str, signing_secret: str, api_base_url: str | None = None) -> None:
        base = api_base_url or API_BASE_URL
        self.client = AsyncWebClient(
            token=token, base_url=base if base.endswith("/") else base + "/"
        )
        self.client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
        self.signing_secret = signing_secret
        self._dms: dict[str, str] = {}
        self._profiles: dict[str, tuple[float, StaffProfile]] = {}
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def is_genuine(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return is_genuine(body, headers, self.signing_secret)

    async def close(self) -> None:
        """Nothing is held open: slack_sdk opens a session per call when given none."""

    async def _call(self, work: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await work()
        except WEB_API_ERRORS as error:
            raise as_provider_error(error) from error

    async def _dm(self, user: str) -> str:
        channel = self._dms.get(user)
        if channel is None:
            response = await self._call(lambda: self.client.conversations_open(users=user))
            channel = self._dms[user] = str(response["channel"]["id"])
        return channel

    async def send(self, message: OutboundMessage) -> str:
        """DM a staff member; returns `channel:ts`. One conversation at a time, in order."""
        lock = self._locks.setdefault(message.address, asyncio.Lock())
        async with lock:
            channel = await self._dm(message.address)
            response = await self._call(
                lambda: self.client.chat_postMessage(
                    channel=channel,
                    text=_cut(message.text, 4000) or " ",
                    blocks=render_blocks(message.text, message.choices),
                )
            )
        return f"{response['channel']}:{response['ts']}"

    async def profile(self, user_id: str) -> StaffProfile:
        """Name, locale, time zone and email of a user (cached an hour)."""
        cached = self._profiles.get(user_id)
        if cached is not None and time.monotonic() - cached[0] < PROFILE_TTL_SECONDS:
            return cached[1]
        response = await self._call(
            lambda: self.client.users_info(user=user_id, include_locale=True)
        )
        data = response["user"]
        profile = data.get("profile") or {}
        user = StaffProfile(
            id=user_id,
            name=profile.get("real_name") or data.get("real_name") or data.get("name"),
            locale=data.get("locale"),
            time_zone=data.get("tz"),
            email=profile.get("email"),
            is_bot=bool(data.get("is_bot")),
        )
        self._profiles[user_id] = (time.monotonic(), user)
        return user

    async def group_members(self, group_id: str) -> frozenset[str]:
        """The user ids in a user group (cached five minutes)."""
        cached = self._groups.get(group_id)
        if cached is not None and time.monotonic() - cached[0] < GROUP_TTL_SECONDS:
            return cached[1]
        response = await self._call(lambda: self.client.usergroups_users_list(usergroup=group_id))
        members = frozenset(str(u) for u in response.get("users") or ())
        self._groups[group_id] = (time.monotonic(), members)
        return members

    async def post_inbox_item(
        self, channel: str, item: InboxItem, school_name: str | None = None
    ) -> str:
        """Post an item: a new thread, or a reply in its person's open thread. Returns the ts."""
        if item.thread_ts is not None:
            text = f"{item.pseudonym} ({item.channel}): {item.text}"
            response = await self._call(
                lambda: self.client.chat_postMessage(
                    channel=channel, thread_ts=item.thread_ts, text=_cut(text, 4000)
                )
            )
            return str(item.thread_ts)
        response = await self._call(
            lambda: self.client.chat_postMessage(
                channel=channel,
                text=inbox_item_text(item),
                blocks=render_inbox_item(item, school_name),
                unfurl_links=False,
            )
        )
        return str(response["ts"])

    async def update_inbox_item(
        self, channel: str, ts: str, item: InboxItem, school_name: str | None = None
    ) -> None:
        await self._call(
            lambda: self.client.chat_update(
                channel=channel,
                ts=ts,
                text=inbox_item_text(item),
                blocks=render_inbox_item(item, school_name),
            )
        )

    async def post_idea_card(self, channel: str, card: IdeaCard, languages: Sequence[str]) -> str:
        """Post an idea for moderation; returns the card's ts."""
        response = await self._call(
            lambda: self.client.chat_postMessage(
                channel=channel,
                text=idea_card_text(card),
                blocks=render_idea_card(card, languages),
                unfurl_links=False,
            )
        )
        return str(response["ts"])

    async def update_idea_card(
        self, channel: str, ts: str, card: IdeaCard, languages: Sequence[str], decided: str
    ) -> None:
        """Show the decision on the card, in place of its fields and buttons."""
        await self._call(
            lambda: self.client.chat_update(
                channel=channel,
                ts=ts,
                text=idea_card_text(card),
                blocks=render_idea_card(card, languages, decided),
            )
        )

    async def post_note(self, channel: str, text: str, thread_ts: str | None = None) -> None:
        """A short note from the bot, in a thread when given."""
        await self._call(
            lambda: self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        )

    async def post_message(self, channel: str, text: str) -> str:
        """A plain post in `channel`; returns its ts (a thread others can reply in)."""
        response = await self._call(
            lambda: self.client.chat_postMessage(
                channel=channel, text=_cut(text, 4000), unfurl_links=False
            )
        )
        return str(response["ts"])

    async def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        choices: Sequence[Choice] = (),
    ) -> None:
        """A note only `user` sees, in a thread when given, with buttons when given."""
        await self._call(
            lambda: self.client.chat_postEphemeral(
                channel=channel,
                user=user,
                thread_ts=thread_ts,
                text=_cut(text, 4000),
                blocks=render_blocks(text, choices),
            )
        )

    async def close_choices(self, body: Mapping[str, Any]) -> None:
        """After a tap: show what was chosen in place of the buttons, so nobody taps twice."""
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel, ts = container.get("channel_id"), container.get("message_ts")
        if not channel or not ts:
            return
        action = (body.get("actions") or [{}])[0]
        chosen = (action.get("selected_option") or {}).get("text") or action.get("text") or {}
        label = chosen.get("text") if isinstance(chosen, Mapping) else None
        blocks = [b for b in message.get("blocks") or () if b.get("type") != "actions"]
        if label:
            blocks.append(
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f":ballot_box_with_check: {escape(label)}"}
                    ],
                }
            )
        try:
            await self.client.chat_update(
                channel=channel, ts=ts, text=message.get("text") or " ", blocks=blocks
            )
        except WEB_API_ERRORS as error:
            log.info("slack.choices_not_closed", extra={"error": type(error).__name__})


# -- Bolt ------------------------------------------------------------------------


def _teams(body: Mapping[str, Any]) -> set[str]:
    """Every workspace a request names: the envelope's, the sender's (Slack Connect), the
    installation's."""

    def part(key: str) -> Mapping[str, Any]:
        value = body.get(key)
        return value if isinstance(value, Mapping) else {}

    found = [
        body.get("team_id"),
        part("event").get("user_team"),
        part("user").get("team_id"),
        part("team").get("id"),
    ]
    for authorization in body.get("authorizations") or ():
        if isinstance(authorization, Mapping):
            found.append(authorization.get("team_id"))
    return {t for t in found if isinstance(t, str) and t}


def _is_direct_message(body: Mapping[str, Any]) -> bool:
    container = body.get("container")
    if not isinstance(container, Mapping) or container.get("is_ephemeral"):
        return False
    return str(container.get("channel_id") or "").startswith("D")


def build_bolt_app(
    channel: SlackChannel,
    signing_secret: str,
    handlers: SlackHandlers,
    *,
    workspace: str | None = None,
    spawn: Callable[[Awaitable[None]], None] | None = None,
    replay: bool = False,
) -> AsyncApp:
    """The Bolt app behind `POST /webhooks/slack/events`.

    Every request is acknowledged before any work (`process_before_response`
    False); `spawn` runs that work (the default leaves it to Bolt's own task).
    `workspace` (a team id), when set, drops requests from any other workspace with a 200.
    With `replay`, the app handles requests the webhook already checked and recorded
    (`replay_request`): no signature check (the timestamp may be old by then), and
    `async_dispatch` returns when the work is done.
    """

    async def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        # A single-workspace bot token: no auth.test round trip before the first ack.
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            bot_token=channel.client.token,
        )

    # Bolt gives each request a client with the token `authorize` returns; one with a
    # token of its own here would make it warn that the token is ignored.
    requests_client = AsyncWebClient(
        base_url=channel.client.base_url, retry_handlers=channel.client.retry_handlers
    )
    app = AsyncApp(
        signing_secret=signing_secret,
        client=requests_client,
        authorize=authorize,
        process_before_response=replay,
        request_verification_enabled=not replay,
        # Our own posts carry bot_id and are dropped by parse_event; no bot ids needed.
        ignoring_self_events_enabled=False,
    )

    async def run(work: Awaitable[None]) -> None:
        if spawn is None:
            await work
        else:
            spawn(work)

    @app.middleware
    async def only_our_workspace(
        req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        if workspace and _teams(req.body) - {workspace}:
            log.warning("slack.other_workspace")
            return BoltResponse(status=200, body="")
        return await next()

    @app.event("message")
    async def on_message(body: dict[str, Any]) -> None:
        try:
            parsed = parse_event(body)
        except UnsupportedEvent as error:
            log.info("slack.ignored", extra={"reason": str(error)})
            return
        if isinstance(parsed, InboundMessage):
            await run(handlers.message(parsed))
        else:
            await run(handlers.thread_reply(parsed))

    @app.event(re.compile(".*"))
    async def on_other_event(body: dict[str, Any]) -> None:
        # Subscribed (or not) but nothing to do; a 404 would count as a failure.
        log.info("slack.ignored", extra={"reason": f"event {body.get('event', {}).get('type')}"})

    @app.command(re.compile(".*"))
    async def on_command(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        try:
            command = parse_command(body)
        except UnsupportedEvent as error:
            log.info("slack.ignored", extra={"reason": str(error)})
            return

        async def answer() -> None:
            reply = await handlers.command(command)
            await respond(text=reply.text, blocks=render_blocks(reply.text, reply.choices))

        await run(answer())

    @app.action(ANSWER_ACTION)
    async def on_tap(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        try:
            message = parse_tap(body)
        except UnsupportedEvent as error:
            log.info("slack.ignored", extra={"reason": str(error)})
            return

        async def answer() -> None:
            reply = await handlers.tap(message)
            if reply is not None:
                blocks = render_blocks(reply.text, reply.choices)
                await respond(text=reply.text, blocks=blocks, replace_original=True)
            elif _is_direct_message(body):
                await channel.close_choices(body)

        await run(answer())

    @app.action(IDEA_ACTION)
    async def on_idea(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        try:
            tap = parse_idea_tap(body)
        except UnsupportedEvent as error:
            log.info("slack.ignored", extra={"reason": str(error)})
            return
        await run(handlers.moderate(tap))

    @app.action(re.compile(".*"))
    async def on_other_action(ack: Any) -> None:
        await ack()

    @app.view(re.compile(".*"))
    async def on_view(ack: Any) -> None:
        await ack()

    @app.shortcut(re.compile(".*"))
    async def on_shortcut(ack: Any) -> None:
        await ack()

    return app


async def replay_request(app: AsyncApp, body: bytes, content_type: str) -> int:
    """Run a recorded request through a replay app (`build_bolt_app(replay=True)`);
    Bolt's status (a 404 is a request no listener took)."""
    request = AsyncBoltRequest(body=body.decode("utf-8"), headers={"content-type": content_type})
    response = await app.async_dispatch(request)
    return response.status
