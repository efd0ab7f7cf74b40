"""WhatsApp's rules, as arithmetic: the 24-hour window and what an interactive message holds.

WhatsApp lets a business write freely only within 24 hours of the person's
last message; outside that window only a template the provider approved may
go out, and a reply to it opens the window again. A question's options can be
quick-reply buttons (up to 3, titles of up to 20 characters) or a list (up to
10 items, titles of up to 24); beyond that the numbered text of SMS is used.

An activity declares its approved templates per language (`WhatsAppTemplate`):
a Content SID and, in order, the names of the texts that fill its `{{1}}`,
`{{2}}` … (`TEMPLATE_VARIABLES`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.messages import Channel, Choice, Template

__all__ = [
    "LIST_ITEMS",
    "LIST_TITLE",
    "QUICK_REPLIES",
    "QUICK_REPLY_TITLE",
    "TEMPLATE_ANSWER_WAIT",
    "TEMPLATE_VARIABLES",
    "WINDOW",
    "WINDOW_MARGIN",
    "Interactive",
    "WhatsAppTemplate",
    "WindowSend",
    "fill_template",
    "how_to_send",
    "interactive_kind",
    "is_window_open",
    "same_number",
    "window_closes_at",
]

WINDOW = timedelta(hours=24)
# We learn of a message a little after WhatsApp does, and a claimed message may wait a
# while before its send: a window this close to its end counts as closed.
WINDOW_MARGIN = timedelta(minutes=10)
# How long a message waits, once its template went out, for the family to answer.
TEMPLATE_ANSWER_WAIT = timedelta(days=14)
QUICK_REPLIES = 3
QUICK_REPLY_TITLE = 20
LIST_ITEMS = 10
LIST_TITLE = 24


# What a template's numbered placeholders may be filled with, and what each is.
TEMPLATE_VARIABLES: Mapping[str, str] = {
    "program": "the program's name (district.yaml)",
    "title": "the activity's title",
    "intro": "the activity's intro",
    "reminder": "the activity's reminder text",
}


class Interactive(StrEnum):
    QUICK_REPLY = "quick-reply"
    LIST = "list-picker"


class WindowSend(StrEnum):
    """How a message to a WhatsApp contact may go out now."""

    FREE_FORM = "free-form"  # the window is open: as written
    TEMPLATE = "template"  # closed: the template first; the message waits for their answer
    NO_TEMPLATE = "no-template"  # closed, and no template in their language: it cannot go
    UNANSWERED = "unanswered"  # closed still, long after its template went out


def window_closes_at(last_inbound: datetime | None) -> datetime | None:
    """When free-form messages stop being allowed; None when the person never wrote."""
    return None if last_inbound is None else last_inbound + WINDOW


def is_window_open(
    last_inbound: datetime | None, now: datetime, margin: timedelta = timedelta(0)
) -> bool:
    """Whether a free-form message may go out `now` (strictly within 24 hours of their last,
    less `margin`)."""
    closes = window_closes_at(last_inbound)
    return closes is not None and now + margin < closes


def how_to_send(
    last_inbound: datetime | None, now: datetime, *, has_template: bool, template_sent: bool
) -> WindowSend:
    """How a message may reach a WhatsApp contact who last wrote at `last_inbound`.

    Free-form only inside the window (with `WINDOW_MARGIN` to spare); outside it,
    the template once, then the message waits for their answer. Never free-form
    outside the window.
    """
    if is_window_open(last_inbound, now, WINDOW_MARGIN):
        return WindowSend.FREE_FORM
    if template_sent:
        return WindowSend.UNANSWERED
    return WindowSend.TEMPLATE if has_template else WindowSend.NO_TEMPLATE


def interactive_kind(choices: Sequence[Choice]) -> Interactive | None:
    """Buttons, a list, or None (numbered text) for a question's options."""
    if len(choices) < 2:
        return None
    if len(choices) <= QUICK_REPLIES and all(len(c.label) <= QUICK_REPLY_TITLE for c in choices):
        return Interactive.QUICK_REPLY
    if len(choices) <= LIST_ITEMS and all(len(c.label) <= LIST_TITLE for c in choices):
        return Interactive.LIST
    return None


@dataclass(frozen=True, slots=True)
class WhatsAppTemplate:
    """An approved WhatsApp template as an activity declares it for one language.

    `variables` name, in placeholder order, the texts that fill `{{1}}`, `{{2}}` …
    (keys of `TEMPLATE_VARIABLES`).
    """

    content_sid: str
    variables: tuple[str, ...] = ()


def fill_template(template: WhatsAppTemplate, values: Mapping[str, str]) -> Template:
    """The template ready to send, its placeholders filled from `values` by name.

    A name missing from `values` fills its placeholder with nothing rather than
    failing a send; `engage activity validate` refuses such a file before then.
    """
    return Template(template.content_sid, tuple(values.get(n, "") for n in template.variables))


# SMS and WhatsApp reach a phone number: one person, whichever they write from.
_SAME_NUMBER = {Channel.SMS: Channel.WHATSAPP, Channel.WHATSAPP: Channel.SMS}


def same_number(channel: Channel) -> Channel | None:
    """The other channel whose address is the same phone number (SMS <-> WhatsApp)."""
    return _SAME_NUMBER.get(channel)
