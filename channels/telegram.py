"""Telegram: check the webhook secret, parse updates, render inline keyboards, send with PTB.

The webhook is the hot path, so updates are read straight from their JSON
(CHANNELS.md 2.2) rather than through `Update.de_json`; sending goes through
python-telegram-bot's `Bot`. Nothing here decides anything: commands become
the keywords the engine knows (`/stop` reads as STOP), a button tap carries
its payload, and a `/start PAYLOAD` deep link keeps its payload in the text
for bot.services.linking to read.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.core.messages import Channel, Choice, InboundMessage, OutboundMessage
from bot.errors import DeliveryFailure, ProviderError, UnsupportedEvent

__all__ = [
    "API_BASE_URL",
    "WEBHOOK_UPDATES",
    "ButtonTap",
    "TelegramChannel",
    "TelegramUpdate",
    "is_genuine",
    "parse_update",
    "render_keyboard",
]

log = logging.getLogger(__name__)

API_BASE_URL = "https://api.telegram.org"
# What the webhook asks for; everything else Telegram can send is acknowledged and ignored.
WEBHOOK_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
# Commands become the engine's keywords; an unknown command gets the help text.
COMMANDS = {"start": "/start", "help": "/help", "stop": "/stop", "language": "/language"}
DEEP_LINK = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Kinds of message that carry something other than text.
MEDIA = (
    "photo",
    "sticker",
    "animation",
    "audio",
    "document",
    "video",
    "video_note",
    "voice",
    "contact",
    "location",
    "venue",
    "poll",
    "dice",
)
# Labels this short share a keyboard row (a 1-5 scale, yes/no); longer ones get a row each.
SHORT_LABEL = 6
PER_ROW = 5


@dataclass(frozen=True, slots=True)
class ButtonTap:
    """A callback query to answer, and the message whose keyboard to take away."""

    callback_id: str
    chat_id: int | None = None
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class TelegramUpdate:
    """What one update asks of us: a message for the service (a block is one, with no
    words), a tap to answer."""

    message: InboundMessage | None = None
    tap: ButtonTap | None = None


def is_genuine(header: str | None, secret: str) -> bool:
    """Whether `X-Telegram-Bot-Api-Secret-Token` is the secret we registered the webhook with."""
    if not header or not secret:
        return False
    return hmac.compare_digest(header.encode(), secret.encode())


# -- parsing -------------------------------------------------------------------


def _field(data: Mapping[str, Any], key: str, kind: type, *, required: bool = True) -> Any:
    value = data.get(key)
    if value is None and not required:
        return None
    # bool is an int to Python, never to Telegram.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UnsupportedEvent(f"malformed update: {key}")
    return value


def parse_update(data: object) -> TelegramUpdate:
    """Read one webhook update; raises UnsupportedEvent for what we acknowledge and ignore."""
    if not isinstance(data, Mapping):
        raise UnsupportedEvent("malformed update: not an object")
    update_id = _field(data, "update_id", int)
    if "message" in data:
        return TelegramUpdate(message=_message(update_id, _field(data, "message", Mapping)))
    if "callback_query" in data:
        return _callback(update_id, _field(data, "callback_query", Mapping))
    if "my_chat_member" in data:
        return _membership(update_id, _field(data, "my_chat_member", Mapping))
    if "edited_message" in data:
        # The original was answered already; an edit must not answer twice.
        raise UnsupportedEvent("edited message")
    kinds = sorted(k for k in data if k != "update_id")
    raise UnsupportedEvent(f"update type {kinds[0] if kinds else 'none'}")


def _private_chat(message: Mapping[str, Any]) -> int:
    chat = _field(message, "chat", Mapping)
    if chat.get("type") != "private":
        raise UnsupportedEvent(f"{chat.get('type')} chat")
    chat_id: int = _field(chat, "id", int)
    return chat_id


def _message(update_id: int, message: Mapping[str, Any]) -> InboundMessage:
    chat_id = _private_chat(message)
    sender = _field(message, "from", Mapping, required=False) or {}
    if sender.get("is_bot"):
        raise UnsupportedEvent("message from a bot")
    text = _field(message, "text", str, required=False)
    caption = _field(message, "caption", str, required=False)
    body = _command(text, message.get("entities")) if text is not None else (caption or "")
    date = _field(message, "date", int, required=False)
    return InboundMessage(
        channel=Channel.TELEGRAM,
        address=str(chat_id),
        text=body,
        provider_id=str(update_id),
        received_at=_time(date),
        locale_hint=_field(sender, "language_code", str, required=False),
        media_count=sum(1 for kind in MEDIA if message.get(kind)),
    )


def _command(text: str, entities: object) -> str:
    """`/stop@district_bot` reads as `/stop`; `/start PAYLOAD` keeps a valid deep-link payload."""
    starts_with_command = isinstance(entities, list) and any(
        isinstance(e, Mapping) and e.get("type") == "bot_command" and e.get("offset") == 0
        for e in entities
    )
    if not starts_with_command or not text.startswith("/"):
        return text
    head, _, rest = text.partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    command = COMMANDS.get(name, COMMANDS["help"])
    payload = rest.strip()
    if name == "start" and DEEP_LINK.fullmatch(payload):
        return f"{command} {payload}"
    return command


def _callback(update_id: int, query: Mapping[str, Any]) -> TelegramUpdate:
    callback_id: str = _field(query, "id", str)
    sender = _field(query, "from", Mapping)
    user_id: int = _field(sender, "id", int)
    message = _field(query, "message", Mapping, required=False)
    chat_id = message_id = None
    if message is not None:
        chat = _field(message, "chat", Mapping)
        chat_id, message_id = chat.get("id"), message.get("message_id")
        if chat.get("type") != "private":
            return TelegramUpdate(tap=ButtonTap(callback_id, chat_id, message_id))
        # A message older than 48 hours arrives as a stub with date 0: it can't be edited.
        if not message.get("date"):
            message_id = None
    tap = ButtonTap(callback_id, chat_id, message_id)
    data = _field(query, "data", str, required=False)
    if not data:
        return TelegramUpdate(tap=tap)
    inbound = InboundMessage(
        channel=Channel.TELEGRAM,
        address=str(chat_id if chat_id is not None else user_id),
        text="",
        provider_id=str(update_id),
        received_at=None,
        button=data,
        locale_hint=_field(sender, "language_code", str, required=False),
    )
    return TelegramUpdate(message=inbound, tap=tap)


def _membership(update_id: int, change: Mapping[str, Any]) -> TelegramUpdate:
    chat_id = _private_chat(change)
    new = _field(change, "new_chat_member", Mapping)
    if new.get("status") == "kicked":
        blocked = InboundMessage(
            channel=Channel.TELEGRAM,
            address=str(chat_id),
            text="",
            provider_id=str(update_id),
            received_at=_time(_field(change, "date", int, required=False)),
            blocked=True,
        )
        return TelegramUpdate(message=blocked)
    # Unblocking sends /start as well; that message is what brings them back.
    raise UnsupportedEvent(f"chat member {new.get('status')}")


def _time(date: int | None) -> datetime | None:
    if not date:
        return None
    try:
        return datetime.fromtimestamp(date, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):  # a date no clock has reached
        raise UnsupportedEvent("malformed update: date") from None


# -- rendering -----------------------------------------------------------------


def _callback_data(payload: str) -> str:
    raw = payload.encode()[:MAX_CALLBACK_BYTES]
    return raw.decode("utf-8", "ignore")


def render_keyboard(choices: Sequence[Choice]) -> InlineKeyboardMarkup | None:
    """Choices as an inline keyboard whose callback data is the choice's payload."""
    if not choices:
        return None
    buttons = [
        InlineKeyboardButton(choice.label, callback_data=_callback_data(choice.payload))
        for choice in choices
    ]
    per_row = PER_ROW if all(len(c.label) <= SHORT_LABEL for c in choices) else 1
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    return InlineKeyboardMarkup(rows)


def _chunks(text: str) -> list[str]:
    """Telegram takes 4,096 characters a message; longer text goes in several, split at lines."""
    text = text or " "
    chunks: list[str] = []
    while len(text) > MAX_TEXT:
        cut = text.rfind("\n", 0, MAX_TEXT)
        cut = cut if cut > 0 else MAX_TEXT
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n")
    chunks.append(text)
    return chunks


# -- sending -------------------------------------------------------------------


class _ChatPace:
    """About one message a second per chat (a short burst is fine), in order.

    Kept in memory: Telegram's per-chat limit is soft and a 429 carries
    retry_after, which the outbox honours across processes.
    """

    def __init__(self, per_second: float = 1.0, burst: int = 3) -> None:
        self.per_second = per_second
        self.burst = burst
        self._chats: dict[str, tuple[asyncio.Lock, float, float]] = {}

    def lock(self, chat: str) -> asyncio.Lock:
        entry = self._chats.get(chat)
        if entry is None:
            loop_time = asyncio.get_running_loop().time()
            entry = self._chats[chat] = (asyncio.Lock(), float(self.burst), loop_time)
        return entry[0]

    async def wait(self, chat: str) -> None:
        """Call holding `lock(chat)`."""
        if self.per_second <= 0:
            return
        lock, tokens, updated = self._chats[chat]
        loop = asyncio.get_running_loop()
        now = loop.time()
        tokens = min(float(self.burst), tokens + (now - updated) * self.per_second)
        if tokens < 1:
            await asyncio.sleep((1 - tokens) / self.per_second)
            now, tokens = loop.time(), 1.0
        self._chats[chat] = (lock, tokens - 1, now)
        if len(self._chats) > 10_000:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        for chat, (lock, _, updated) in list(self._chats.items()):
            if not lock.locked() and now - updated > self.burst / self.per_second:
                del self._chats[chat]


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def use_timedelta_periods() -> None:
    """Opt in to PTB's timedelta time periods (PTB 22.2+), which we read either way.

    Without it PTB warns each time it builds a RetryAfter, even inside its own
    request code, and a warning is an error under our tests.
    """
    os.environ.setdefault("PTB_TIMEDELTA", "true")


def as_provider_error(error: TelegramError) -> ProviderError:
    """The outbox's view of a Bot API failure (CHANNELS.md 2.3)."""
    message = f"telegram: {error.message}"
    match error:
        case RetryAfter():
            wait = _seconds(error.retry_after)
            return ProviderError(message, transient=True, code="429", retry_after=wait)
        case Forbidden():
            # Blocked by the user (or never started): they said no on this channel.
            return ProviderError(
                message, transient=False, code="403", failure=DeliveryFailure.OPTED_OUT
            )
        case InvalidToken():
            return ProviderError(
                message, transient=False, code="401", failure=DeliveryFailure.CONFIGURATION
            )
        case BadRequest() if "chat not found" in error.message.lower():
            return ProviderError(
                message, transient=False, code="400", failure=DeliveryFailure.INVALID_ADDRESS
            )
        case BadRequest() | ChatMigrated():
            return ProviderError(
                message, transient=False, code="400", failure=DeliveryFailure.REJECTED
            )
        case NetworkError():
            return ProviderError(message, transient=True, code="network")
        case _:
            return ProviderError(message, transient=True, code=type(error).__name__)


class TelegramChannel:
    """Sends through the Bot API and answers button taps.

    `api_base_url` is the Bot API root (`https://api.telegram.org`); tests point
    it at a fake. `close()` waits for tap answers still under way.
    """

    def __init__(
        self,
        token: str,
        webhook_secret: str,
        api_base_url: str | None = None,
        *,
        bot_username: str | None = None,
        per_chat_per_second: float = 1.0,
    ) -> None:
        use_timedelta_periods()
        root = (api_base_url or API_BASE_URL).rstrip("/")
        self.webhook_secret = webhook_secret
        # Ours, so close() can shut them whether or not the Bot was initialized.
        self._requests = (
            HTTPXRequest(connection_pool_size=32, read_timeout=10.0),
            HTTPXRequest(connection_pool_size=1),
        )
        self.bot = Bot(
            token,
            base_url=f"{root}/bot",
            base_file_url=f"{root}/file/bot",
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )
        self.username = bot_username
        self._pace = _ChatPace(per_chat_per_second)
        self._taps: set[asyncio.Task[None]] = set()
        self._paused_until = 0.0

    def is_genuine(self, header: str | None) -> bool:
        return is_genuine(header, self.webhook_secret)

    async def start(self) -> None:
        """Learn the bot's username (for deep links) with getMe; the channel works without it."""
        if self.username:
            return
        try:
            me = await self.bot.get_me()
        except TelegramError as error:
            log.warning("telegram.get_me_failed", extra={"error": type(error).__name__})
            return
        self.username = me.username

    async def close(self) -> None:
        if self._taps:
            await asyncio.gather(*self._taps, return_exceptions=True)
        for request in self._requests:
            await request.shutdown()

    def deep_link(self, payload: str) -> str | None:
        """`https://t.me/<bot>?start=<payload>`, or None while the username is unknown."""
        if not self.username:
            return None
        return f"https://t.me/{self.username}?start={payload}"

    async def send(self, message: OutboundMessage) -> str:
        """Send one message (several if over 4,096 characters); returns `chat:message_id`."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._paused_until:
            # Telegram said wait for the whole bot, not only for that chat.
            raise ProviderError(
                "telegram: flood control",
                transient=True,
                code="429",
                retry_after=self._paused_until - loop.time(),
            )
        chunks = _chunks(message.text)
        keyboard = render_keyboard(message.choices)
        sent_id = ""
        async with self._pace.lock(message.address):
            for number, chunk in enumerate(chunks, 1):
                await self._pace.wait(message.address)
                try:
                    sent = await self.bot.send_message(
                        chat_id=message.address,
                        text=chunk,
                        reply_markup=keyboard if number == len(chunks) else None,
                    )
                except TelegramError as error:
                    failure = as_provider_error(error)
                    if isinstance(error, RetryAfter) and failure.retry_after:
                        self._paused_until = loop.time() + failure.retry_after
                    raise failure from error
                sent_id = f"{sent.chat_id}:{sent.message_id}"
        return sent_id

    def answer_tap(self, tap: ButtonTap) -> None:
        """Answer a button tap (else the client spins) and take the keyboard off, after the
        webhook has answered; failures only cost the spinner."""
        task = asyncio.create_task(self._answer_tap(tap))
        self._taps.add(task)
        task.add_done_callback(self._taps.discard)

    async def _answer_tap(self, tap: ButtonTap) -> None:
        try:
            await self.bot.answer_callback_query(tap.callback_id)
            if tap.chat_id is not None and tap.message_id is not None:
                await self.bot.edit_message_reply_markup(
                    chat_id=tap.chat_id, message_id=tap.message_id, reply_markup=None
                )
        except TelegramError as error:
            # "query is too old", "message is not modified": nothing to fix.
            log.info("telegram.tap_not_answered", extra={"error": type(error).__name__})

    async def register_webhook(self, url: str) -> None:
        """Point Telegram at `url` with our secret, asking only for the updates we handle."""
        try:
            await self.bot.set_webhook(
                url=url,
                secret_token=self.webhook_secret,
                allowed_updates=list(WEBHOOK_UPDATES),
            )
        except TelegramError as error:
            raise as_provider_error(error) from error
