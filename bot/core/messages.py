"""Provider-neutral messages: what channels hand the engine and what it hands back."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

__all__ = [
    "Attachment",
    "Channel",
    "Choice",
    "InboundMessage",
    "MAX_TEXT",
    "OutboundMessage",
    "Reply",
    "Template",
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
    SMS, a chat id for Telegram, a user id for Slack.
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
