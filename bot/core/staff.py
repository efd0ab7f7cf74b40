"""The staff side in provider-neutral terms: who a staff member is, the Let's Talk inbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.urgency import Urgency

__all__ = [
    "CLOSED_BY_FAMILY",
    "ClaimOutcome",
    "ReplyStatus",
    "Translation",
    "TranslationRequest",
    "needs_translation",
    "InboxItem",
    "InboxSummary",
    "ItemStatus",
    "ReplyOutcome",
    "StaffProfile",
    "StaffReply",
]


@dataclass(frozen=True, slots=True)
class StaffProfile:
    """A staff member as their workspace knows them (Slack's `users.info`)."""

    id: str
    name: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    email: str | None = None
    is_bot: bool = False


# Who resolved a thread the family closed themselves ("gracias" after a reply).
CLOSED_BY_FAMILY = "family"


class ItemStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One Let's Talk message and who sent it, as far as staff may know them.

    `thread_ts` is the thread staff discuss it in: None until posted, and for a
    follow-up from someone with an open thread, that thread.
    """

    id: int
    pseudonym: str
    channel: str
    text: str
    created_at: datetime
    school: str | None = None
    role: str | None = None
    language: str | None = None
    status: ItemStatus = ItemStatus.OPEN
    thread_channel: str | None = None
    thread_ts: str | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    urgency: Urgency = Urgency.NONE
    concerns: tuple[str, ...] = ()
    is_closing: bool = False
    # Where routing sent it (bot.core.routing) and when the reply promise falls due.
    team: str | None = None
    owner: str | None = None
    topics: tuple[str, ...] = ()
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    due_at: datetime | None = None

    @property
    def is_urgent(self) -> bool:
        return self.urgency is Urgency.URGENT


@dataclass(frozen=True, slots=True)
class StaffReply:
    """A staff member's answer in an item's thread, to deliver to the participant.

    `provider_id` (the Slack event id) makes a redelivered event change nothing.
    """

    thread_channel: str
    thread_ts: str
    author: str
    text: str
    provider_id: str


class ReplyOutcome(StrEnum):
    QUEUED = "queued"
    TRANSLATING = "translating"  # waits for a translator
    HELD = "held"  # someone else holds the thread: its author is asked first
    INTERNAL = "internal"  # a note among staff, not for the participant
    DUPLICATE = "duplicate"
    NOT_A_THREAD = "not_a_thread"
    OPTED_OUT = "opted_out"
    UNREACHABLE = "unreachable"


class ReplyStatus(StrEnum):
    """What became of a staff reply (storage's inbox_replies.status)."""

    SENT = "sent"
    HELD = "held"
    NOTE = "note"
    TRANSLATING = "translating"
    CANCELLED = "cancelled"


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"
    HELD = "held"  # by someone else
    RESOLVED = "resolved"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Translation:
    """A staff reply must be translated into `language` before it goes out."""

    language: str
    queue_channel: str
    written_in: str | None = None


@dataclass(frozen=True, slots=True)
class TranslationRequest:
    """A staff reply waiting in the translators' channel, and the thread it answers."""

    reply_id: int
    text: str
    language: str
    author: str
    queue_channel: str
    thread_channel: str | None
    thread_ts: str | None
    pseudonym: str
    written_at: datetime


def needs_translation(
    family_language: str | None, written_in: str | None, default_language: str
) -> bool:
    """Whether a staff reply must be translated before the family gets it.

    Staff may write in the family's language; a reply whose language is not
    known (no detector, or too short to tell) is taken to be in the district's
    default language.
    """
    if family_language is None:
        return False
    return (written_in or default_language) != family_language


@dataclass(frozen=True, slots=True)
class InboxSummary:
    """How the inbox stands: open threads, the oldest, and how fast staff answer."""

    open: int
    unanswered: int
    oldest_open: datetime | None
    median_first_response: timedelta | None
    answered_last_30_days: int
    items: tuple[InboxItem, ...] = field(default=())
    # Threads answered within the reply promise, of those whose outcome is known; overdue now.
    within_promise: int = 0
    promise_decided: int = 0
    overdue: int = 0
