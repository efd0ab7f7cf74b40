"""Broadcasts as organizers see them: kinds, statuses, records and progress; pure values.

The rules live in bot.services.broadcasting; the SQL in storage.broadcasts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.core.audience import Audience
from bot.core.state import ParticipantState
from bot.errors import EngageError

__all__ = [
    "BatchOutcome",
    "BroadcastError",
    "BroadcastKind",
    "BroadcastRecord",
    "BroadcastStatus",
    "LoadedState",
    "Progress",
]


class BroadcastError(EngageError):
    """A broadcast that cannot be created, enqueued or changed as asked."""


class BroadcastKind(StrEnum):
    ACTIVITY = "activity"  # an invitation: the activity's intro and first question
    UPDATE = "update"  # a message with no question (a progress update)
    REMINDER = "reminder"  # to those who started an activity and have not finished
    MESSAGE = "message"


class BroadcastStatus(StrEnum):
    SCHEDULED = "scheduled"
    ENQUEUING = "enqueuing"
    QUEUED = "queued"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class BroadcastRecord:
    id: int
    kind: BroadcastKind
    status: BroadcastStatus
    audience: Audience
    scheduled_at: datetime
    created_by: str
    created_at: datetime
    total: int = 0
    activity_id: int | None = None
    activity_key: str | None = None
    message: Mapping[str, str] = field(default_factory=dict)
    reminder_of: int | None = None
    enqueued_at: datetime | None = None
    paused_at: datetime | None = None


@dataclass
class Progress:
    """Where a broadcast stands: outbox rows by state, delivery reports, people waiting."""

    broadcast_id: int
    status: str
    total: int = 0
    queued: int = 0
    sending: int = 0
    sent: int = 0
    delivered: int = 0
    undelivered: int = 0
    failed: int = 0
    opted_out: int = 0  # withheld: the recipient opted out, blocked us or cannot be reached
    cancelled: int = 0  # withdrawn when an organizer cancelled the broadcast
    paused: bool = False

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.opted_out + self.cancelled

    @property
    def finished(self) -> bool:
        return self.status == BroadcastStatus.QUEUED and self.queued + self.sending == 0


@dataclass(frozen=True, slots=True)
class LoadedState:
    """A participant's engine state, read under lock inside an enqueue batch."""

    participant_id: int
    state: ParticipantState
    conversation_id: int | None
    conversation_activity_id: int | None


@dataclass
class BatchOutcome:
    """Counts over a whole enqueue, batch by batch."""

    people: int = 0
    queued: int = 0
    waiting: int = 0
    skipped: int = 0
    # People reached by another person's message to a contact they share.
    shared: int = 0
    opted_out: int = 0
    unreachable: int = 0
    declined: int = 0
    last_participant: int = 0

    def merge(self, other: BatchOutcome) -> None:
        for name in (
            "people",
            "queued",
            "waiting",
            "skipped",
            "shared",
            "opted_out",
            "unreachable",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.declined += other.declined
        self.last_participant = max(self.last_participant, other.last_participant)

    def as_dict(self) -> dict[str, int]:
        return {
            "people": self.people,
            "queued": self.queued,
            "waiting": self.waiting,
            "skipped": self.skipped,
            "shared": self.shared,
            "opted_out": self.opted_out,
            "unreachable": self.unreachable,
            "declined": self.declined,
        }
