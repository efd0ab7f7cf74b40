"""Provider-neutral messages: what channels hand the engine and what it hands back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "Attachment",
    "Channel",
    "Choice",
    "InboundMessage",
    "MAX_TEXT",
    "OutboundMessage",
    "Reply",
    "Template",
    "message_from_record",
    "message_to_record",
    "within_limits",
]


class Channel(StrEnum):
    SMS = "sms"
    TELEGRAM = "telegram"
    SLACK = "slack"
    WHATSAPP = "whatsapp"
    SIMULATOR = "simulator"


# The longest text each channel lets anyone send; more than that is stored cut.
MAX_TEXT = {
    Channel.SMS: 1_600,  # Twilio's limit for one (concatenated) message
    Channel.WHATSAPP: 4_096,
    Channel.TELEGRAM: 4_096,
    Channel.SLACK: 40_000,
    Channel.SIMULATOR: 4_096,
}


@dataclass(frozen=True, slots=True)
class Choice:
    """One option offered with a question.

    `payload` is what a button carries back (`q:<activity>:<question>:<option>`),
    so a late tap still lands on the question it belonged to.
    """

    key: str
    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A photo, voice note, video or document sent with a message, where the provider keeps it."""

    content_type: str
    url: str

    @property
    def is_audio(self) -> bool:
        """A voice note (WhatsApp sends them as audio/ogg)."""
        return self.content_type.lower().startswith("audio/")


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a participant, already verified and parsed by its channel.

    `address` is the channel's handle for the sender: an E.164 phone number for
    SMS, a chat id for Telegram, a user id for Slack. `sender_name` is what the
    channel calls them (a Slack profile's name; kept for staff only). `blocked`: no
    words, the person blocked the bot on this channel (Telegram), so it stops
    writing there.
    """

    channel: Channel
    address: str
    text: str
    provider_id: str | None = None
    received_at: datetime | None = None
    button: str | None = None
    locale_hint: str | None = None
    media_count: int = 0
    attachments: tuple[Attachment, ...] = ()
    sender_name: str | None = None
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """What the engine wants said to the participant who wrote; the channel renders it."""

    text: str
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True, slots=True)
class Template:
    """A message template approved by the provider (WhatsApp, outside the 24-hour window).

    `content_sid` names it at Twilio (`HX…`); `variables` fill its numbered
    placeholders, in order (`{{1}}`, `{{2}}` …).
    """

    content_sid: str
    variables: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A reply or broadcast bound for one contact, as the sender hands it to a channel.

    `reference` is the outbox row id, echoed back in delivery callbacks. A
    `template` is sent instead of the text where the channel requires one.
    """

    channel: Channel
    address: str
    text: str
    choices: tuple[Choice, ...] = field(default=())
    reference: str = ""
    template: Template | None = None


def within_limits(message: InboundMessage) -> InboundMessage:
    """`message` with its text cut to what its channel allows (`MAX_TEXT`)."""
    limit = MAX_TEXT.get(message.channel)
    if limit is None or len(message.text) <= limit:
        return message
    return replace(message, text=message.text[:limit])


def message_to_record(message: InboundMessage) -> dict[str, object]:
    """`message` as JSON-able values (the inbound queue, the spool)."""
    return {
        "channel": message.channel.value,
        "address": message.address,
        "text": message.text,
        "provider_id": message.provider_id,
        "received_at": message.received_at.isoformat() if message.received_at else None,
        "button": message.button,
        "locale_hint": message.locale_hint,
        "media_count": message.media_count,
        "attachments": [[a.content_type, a.url] for a in message.attachments],
        "sender_name": message.sender_name,
        "blocked": message.blocked,
    }


def message_from_record(data: Mapping[str, Any]) -> InboundMessage:
    """The message `message_to_record` wrote."""
    received = data.get("received_at")
    return InboundMessage(
        channel=Channel(data["channel"]),
        address=str(data["address"]),
        text=str(data["text"]),
        provider_id=data.get("provider_id"),
        received_at=datetime.fromisoformat(received) if received else None,
        button=data.get("button"),
        locale_hint=data.get("locale_hint"),
        media_count=int(data.get("media_count") or 0),
        attachments=tuple(Attachment(str(t), str(u)) for t, u in data.get("attachments") or ()),
        sender_name=data.get("sender_name"),
        blocked=bool(data.get("blocked")),
    )
