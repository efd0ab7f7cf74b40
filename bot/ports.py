"""What the service layer needs from storage and the channels, as Protocols (storage/
and channels/ implement them)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from bot.core.audience import Audience, AudienceCounts, AudienceRules, Group, Recipient
from bot.core.broadcasts import (
    BatchOutcome,
    BroadcastKind,
    BroadcastRecord,
    LoadedState,
    Progress,
)
from bot.core.consent import ConsentChange
from bot.core.households import HouseholdGraph
from bot.core.ideas import IdeaTally, Vote
from bot.core.messages import (
    Channel,
    Choice,
    InboundMessage,
    OutboundMessage,
    Reply,
    Template,
)
from bot.core.moderation import IdeaCard, KnownName
from bot.core.places import Place
from bot.core.roster_plan import RosterKeys, RosterPlan, Snapshot
from bot.core.routing import Route
from bot.core.staff import (
    ClaimOutcome,
    InboxItem,
    InboxSummary,
    ReplyOutcome,
    StaffProfile,
    StaffReply,
    Translation,
    TranslationRequest,
)
from bot.core.state import ConversationState, ParticipantState, Response
from bot.core.urgency import Assessment
from bot.core.versions import Parse, Version
from bot.errors import DeliveryFailure

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ActivityProgress",
    "ActivityRow",
    "Arrival",
    "AuthorAddress",
    "BroadcastLine",
    "BroadcastStorage",
    "ChannelPause",
    "ChannelPauses",
    "ChannelSender",
    "DashboardSessions",
    "DashboardStore",
    "EnqueueBatch",
    "ExchangeTables",
    "ExchangeUnitOfWork",
    "FollowUp",
    "FunnelStep",
    "HeardCounts",
    "IdeaCards",
    "InboundQueue",
    "InboxPoster",
    "InboxStore",
    "LetsTalkLog",
    "LetsTalkMessage",
    "LetsTalkSummary",
    "LinkUnitOfWork",
    "ModerationUnitOfWork",
    "Outbox",
    "OutboxKind",
    "OutboxRow",
    "OutboxStatus",
    "ParkedMessages",
    "PersonOnFile",
    "PrivacyStore",
    "PrivacyUnitOfWork",
    "QueueBatch",
    "QueueDepth",
    "Queued",
    "QueuedKind",
    "QueuedStaffReply",
    "QueuedStatus",
    "Redeemed",
    "RepresentationStore",
    "RosterUnitOfWork",
    "Scrubbed",
    "SendProblem",
    "SenderRecord",
    "SentLookup",
    "StaffDirectory",
    "StaffReplyEntry",
    "SynthesisStore",
    "UnitOfWork",
]


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """A stored activity version; `source` is its YAML."""

    id: int
    key: str
    version: int
    source: str
    is_open: bool


@dataclass(frozen=True, slots=True)
class SenderRecord:
    """Who sent a message, as the store knows them."""

    contact_id: int
    participant_id: int
    pseudonym: str
    state: ParticipantState
    conversation_id: int | None = None
    conversation_activity_id: int | None = None


# -- the outbox: what a queued message is, and where it stands -----------------------


class OutboxKind(StrEnum):
    """Why a message is queued; it decides who may still get it."""

    REPLY = "reply"  # an answer to something the family just wrote
    BROADCAST = "broadcast"  # an organizer's send: waits out quiet hours and pauses
    CONFIRMATION = "confirmation"  # "you will get no more messages" (and its START twin)
    HELP = "help"  # the program, a contact and how to stop: also to an opted-out contact
    STAFF_REPLY = "staff_reply"  # a staff member's answer to a Let's Talk message

    @property
    def reaches_opted_out(self) -> bool:
        """Whether this message goes to a contact who opted out (it answers their STOP or HELP)."""
        return self in (OutboxKind.CONFIRMATION, OutboxKind.HELP)


class OutboxStatus(StrEnum):
    """pending -> sending (claimed; then in flight) -> sent | failed; or, unsent for good,
    cancelled (an organizer withdrew it) or withheld (the recipient opted out, blocked us,
    cannot be reached or was forgotten)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    WITHHELD = "withheld"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A claimed message; `attempts` is this claim's number, the fence of every later write."""

    id: int
    contact_id: int
    channel: Channel
    address: str
    text: str
    reply: Reply
    kind: OutboxKind
    attempts: int
    # Where the family lives (`Place.key()`, from the roster), if known; else their number's.
    place: str | None = None
    # WhatsApp: the template that may stand in for it outside the 24-hour window, whether
    # it went already, and when the contact last wrote (the window's start).
    template: Template | None = None
    template_sent: bool = False
    last_inbound_at: datetime | None = None


class ExchangeUnitOfWork(Protocol):
    """What an idea exchange's conversation reads and writes, in the inbound transaction."""

    def idea_tallies(self, activity_key: str) -> Sequence[IdeaTally]:
        """The exchange's approved ideas, every text and their counts (bot.core.ideas)."""
        ...

    def ideas_seen(self, participant_id: int, activity_key: str) -> set[int]:
        """The ideas they wrote or reacted to."""
        ...

    def is_idea_live(self, idea_id: int) -> bool: ...

    def add_idea(
        self,
        sender: SenderRecord,
        activity_key: str,
        text: str,
        language: str,
        flags: Sequence[str],
        live: bool,
        message_id: int | None,
        now: datetime,
    ) -> int: ...

    def add_reaction(
        self,
        sender: SenderRecord,
        activity_key: str,
        idea_id: int,
        vote: Vote,
        channel: Channel,
        message_id: int | None,
        now: datetime,
    ) -> bool:
        """Record (or change) a reaction; False for an idea not live or their own."""
        ...

    def roster_names(self) -> Sequence[KnownName]:
        """Students' and staff members' names, for flagging ideas."""
        ...


class UnitOfWork(ExchangeUnitOfWork, Protocol):
    """One transaction: everything written inside commits together or not at all."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def find_sender(self, channel: Channel, address: str) -> SenderRecord | None: ...

    def add_sender(
        self,
        channel: Channel,
        address: str,
        now: datetime,
        *,
        role: str | None = None,
        name: str | None = None,
    ) -> SenderRecord:
        """A new person writing from `address` (a staff member comes with their role
        and name)."""
        ...

    def add_contact(
        self, person: SenderRecord, channel: Channel, address: str, now: datetime
    ) -> SenderRecord:
        """A new contact for `person` (the same phone number on another channel); it
        starts opted out if the contact `person` wrote from is."""
        ...

    def is_forgotten(self, digest: str) -> bool:
        """Whether an address with this keyed hash (bot.core.keys) was forgotten."""
        ...

    def record_inbound(
        self,
        sender: SenderRecord,
        message: InboundMessage,
        detected_language: str | None,
        now: datetime,
    ) -> int | None:
        """The new message id, or None when this provider id was seen before."""
        ...

    def activity(self, activity_id: int) -> ActivityRow | None: ...

    def open_activities(self) -> Sequence[ActivityRow]: ...

    def save_participant(
        self, participant_id: int, state: ParticipantState, now: datetime
    ) -> None: ...

    def start_conversation(self, participant_id: int, activity_id: int, now: datetime) -> int: ...

    def save_conversation(
        self, conversation_id: int, state: ParticipantState, completed: bool, now: datetime
    ) -> None: ...

    def add_responses(
        self,
        sender: SenderRecord,
        conversation_ids: dict[str, int],
        activity_ids: dict[str, int],
        responses: Sequence[Response],
        message_id: int | None,
        channel: Channel,
        detected_language: str | None,
        now: datetime,
    ) -> None: ...

    def enqueue(
        self,
        contact_id: int,
        channel: Channel,
        address: str,
        replies: Sequence[Reply],
        kind: OutboxKind,
        now: datetime,
    ) -> None: ...

    def resume_after_template(self, contact_id: int, now: datetime) -> int:
        """The contact wrote: messages waiting for an answer to their WhatsApp template
        are due now; how many."""
        ...

    def record_consent(
        self, sender: SenderRecord, change: ConsentChange, message_id: int | None, now: datetime
    ) -> None:
        """Append `change` to the consent ledger and change the state it names, together.

        An opt-out reaches every contact of the person and withholds what is queued
        for them (claimed rows too); an opt-in re-opens the contact it came from.
        """
        ...

    def stop_contact(
        self, sender: SenderRecord, change: ConsentChange, message_id: int | None, now: datetime
    ) -> None:
        """Append `change` (an opt-out) to the ledger and stop the contact `sender` wrote
        from, only that one (the person blocked us on that channel), withholding what
        is queued for it, claimed rows too."""
        ...

    def add_lets_talk(
        self,
        sender: SenderRecord,
        message_id: int | None,
        text: str,
        language: str | None,
        now: datetime,
        assessment: Assessment | None = None,
        is_closing: bool = False,
    ) -> int: ...


@dataclass(frozen=True, slots=True)
class AuthorAddress:
    """Where to tell an idea's author it is live: the contact it came from, and their language."""

    contact_id: int
    channel: Channel
    address: str
    language: str | None


class ModerationUnitOfWork(Protocol):
    """One moderator's or translator's action on ideas, in one transaction."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def cards(self, activity_key: str | None, statuses: Collection[str]) -> list[IdeaCard]:
        """The ideas with one of `statuses`, oldest first, with their translations."""
        ...

    def card(self, activity_key: str, number: int) -> IdeaCard | None: ...

    def card_by_id(self, idea_id: int) -> IdeaCard | None: ...

    def decide(
        self,
        idea_id: int,
        status: str,
        text: str | None,
        note: str | None,
        actor: str,
        now: datetime,
    ) -> None:
        """Set the idea's status (and new words, a note); approving sets when it went live."""
        ...

    def translate(
        self, idea_id: int, language: str, text: str, actor: str, now: datetime
    ) -> None: ...

    def claim_author_notice(self, idea_id: int, now: datetime) -> AuthorAddress | None:
        """The author's address, once: None when there is none or they were told already."""
        ...

    def heard(self, activity_key: str) -> Mapping[str, int]:
        """People taking part in the exchange (sharing or reacting), per language."""
        ...

    def claim_unposted(self, now: datetime, limit: int, lease: timedelta) -> list[IdeaCard]:
        """Ideas waiting for a moderator and not on Slack yet, leased to this poster."""
        ...

    def mark_posted(self, idea_id: int, channel: str, ts: str) -> None: ...

    def enqueue(
        self,
        contact_id: int,
        channel: Channel,
        address: str,
        replies: Sequence[Reply],
        kind: OutboxKind,
        now: datetime,
    ) -> None: ...

    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None: ...


class Redeemed(StrEnum):
    LINKED = "linked"
    ALREADY = "already"
    INVALID = "invalid"


class LinkUnitOfWork(UnitOfWork, Protocol):
    """The service's unit of work, plus link codes (storage.linking.SqlLinkUnitOfWork)."""

    def create_link_code(
        self, participant_id: int, code: str, channel: Channel, expires_at: datetime, now: datetime
    ) -> None: ...

    def redeem_link_code(
        self, code: str, channel: Channel, address: str, now: datetime
    ) -> Redeemed: ...

    def preset_school(self, participant_id: int, school: str, now: datetime) -> bool: ...


class Outbox(Protocol):
    """The queue the sender works from (storage.outbox.OutboxStore)."""

    def claim_due(
        self, now: datetime, limit: int, lease: timedelta, channels: Sequence[Channel] | None = None
    ) -> list[OutboxRow]: ...

    def begin_sending(self, rows: Sequence[OutboxRow], now: datetime) -> set[int]:
        """Mark claimed rows as in flight, in one statement, unless their contact opted out
        (or cannot be reached) or their broadcast was cancelled or paused: the ids cleared.

        Called immediately before the provider call, so a STOP, a cancel or a pause
        committed before it stops the row. A row refused is withheld, cancelled or
        given back to the queue (paused) in the same transaction.
        """
        ...

    def mark_sent(self, row: OutboxRow, provider_id: str, now: datetime) -> None: ...

    def mark_sent_many(self, sent: Sequence[tuple[OutboxRow, str]], now: datetime) -> int:
        """Record many sends in one transaction; how many rows were still being sent."""
        ...

    def release(self, rows: Sequence[OutboxRow], not_before: datetime) -> None:
        """Give claimed rows back unsent; the claim does not count as an attempt."""
        ...

    def known_provider_ids(self, channel: Channel, provider_ids: Sequence[str]) -> set[str]:
        """Which of these provider ids are already recorded for a sent message."""
        ...

    def await_answer(
        self, row: OutboxRow, provider_id: str, now: datetime, until: datetime
    ) -> None:
        """WhatsApp: the row's template went out (`provider_id`); the row itself waits,
        until `until` at most, for the family's answer (`UnitOfWork.resume_after_template`)."""
        ...

    def mark_retry(
        self, row: OutboxRow, not_before: datetime, error: str, code: str | None
    ) -> None: ...

    def mark_failed(
        self,
        row: OutboxRow,
        error: str,
        code: str | None,
        failure: DeliveryFailure | None,
        now: datetime,
    ) -> None: ...


# -- the inbound queue: recorded before the provider's answer, drained by the engine -------


class QueuedKind(StrEnum):
    """What a queued row holds, and so who handles it."""

    MESSAGE = "message"  # a parsed InboundMessage: the engine runs it
    SLACK = "slack"  # a raw Slack request (event, command, tap): replayed through the desk


class QueuedStatus(StrEnum):
    """pending -> done; or parked, with its error, after failing every try."""

    PENDING = "pending"
    DONE = "done"
    PARKED = "parked"


@dataclass(frozen=True, slots=True)
class Queued:
    """One queued row, as a drainer claims it."""

    id: int
    channel: Channel
    kind: QueuedKind
    sender: str
    payload: Mapping[str, object]
    attempts: int


@dataclass(frozen=True, slots=True)
class Arrival:
    """One row a webhook records (`InboundQueue.put_many`)."""

    channel: Channel
    provider_id: str | None
    kind: QueuedKind
    sender: str
    payload: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """How far behind the engine is: unhandled rows, the oldest one's age, parked rows."""

    pending: int
    oldest_seconds: float | None
    parked: int


class QueueBatch(Protocol):
    """The rows of one batch, and what can be done with them in its transaction."""

    rows: list[Queued]

    def attempt(self) -> AbstractContextManager[None]:
        """One row's work: units of work opened in the block write into the batch's
        transaction; when the block raises, nothing of it stays."""
        ...

    def finish(self, ids: Sequence[int], now: datetime) -> None: ...

    def fail(self, row: Queued, error: str, park: bool, now: datetime) -> None: ...


class InboundQueue(Protocol):
    """The durable inbound queue (storage.inbound_queue.SqlInboundQueue)."""

    def put(
        self,
        channel: Channel,
        provider_id: str | None,
        kind: QueuedKind,
        sender: str,
        payload: Mapping[str, object],
        now: datetime,
    ) -> bool:
        """Record one row in its own short transaction; False when this provider id
        was recorded before (a redelivery)."""
        ...

    def put_many(self, arrivals: Sequence[Arrival], now: datetime) -> list[bool]:
        """Record rows in one short transaction (the requests that arrived meanwhile
        share its commit); for each, False when its provider id was recorded before."""
        ...

    def claim(self, kind: QueuedKind, limit: int, now: datetime, lease: timedelta) -> list[Queued]:
        """Up to `limit` pending rows of `kind`, oldest first, leased to this caller
        (rows another drainer holds are skipped)."""
        ...

    def batch(
        self, kind: QueuedKind, limit: int, now: datetime
    ) -> AbstractContextManager[QueueBatch]:
        """One transaction holding up to `limit` due rows of `kind`, oldest first, of
        senders no other drainer holds; committed when the block ends, rolled back
        (every row left as it was) when it raises."""
        ...

    def finish(self, ids: Sequence[int], now: datetime) -> None:
        """Mark rows handled, dropping their payload."""
        ...

    def fail(self, row: Queued, error: str, park: bool, now: datetime) -> None:
        """Count a failed try; `park` sets the row aside with its error for an operator."""
        ...

    def prune(self, before: datetime) -> int:
        """Delete rows handled before `before`; how many."""
        ...

    def depth(self, now: datetime) -> QueueDepth: ...

    def watch(self, arrived: Callable[[], None], stop: threading.Event) -> bool:
        """Call `arrived` each time another process records rows, until `stop` is set
        (it blocks: run it in a thread); False at once where the database cannot
        tell (SQLite, where one server records and drains)."""
        ...


# -- paused channels: the provider refused our credentials or sender (bot.services.sender) --


@dataclass(frozen=True, slots=True)
class ChannelPause:
    """A channel stopped until its configuration works; `credentials` tells the
    configuration that failed (a fingerprint, never the secret)."""

    channel: Channel
    credentials: str
    code: str | None
    since: datetime
    probe_after: datetime


class ChannelPauses(Protocol):
    """Where paused channels are kept, so every worker, /healthz and status see them."""

    def pause(
        self,
        channel: Channel,
        credentials: str,
        code: str | None,
        now: datetime,
        probe_after: datetime,
    ) -> None:
        """Record (or extend) the pause of `channel` under these credentials."""
        ...

    def pauses(self) -> list[ChannelPause]: ...

    def lift(self, channel: Channel) -> int:
        """A message went out on `channel`: its pauses are over; how many."""
        ...


class ChannelSender(Protocol):
    """The sending half of a channel adapter."""

    async def send(self, message: OutboundMessage) -> str:
        """Send one message; return the provider's id for it or raise ProviderError."""
        ...


@runtime_checkable
class SentLookup(Protocol):
    """A channel that can say whether a message already went out (Twilio can; Telegram cannot).

    The sender asks before sending a row again whose earlier attempt may have
    reached the provider (a worker killed mid-send, a time-out), so a retry
    does not send it twice.
    """

    async def find_sent(self, message: OutboundMessage) -> list[str]:
        """Provider ids of messages already sent to `message.address` with this text."""
        ...


# -- representation: what synthesis reads to see whose voices are missing ------------------


@dataclass(frozen=True, slots=True)
class HeardCounts:
    """Enrolled people and respondents per group, as the store counts them.

    `respondents` holds every group some respondent belongs to, enrolled or
    not, counting each household once per group; `unknown` counts respondents
    whose school, language or role is unknown.
    """

    enrolled: Mapping[Group, int]
    respondents: Mapping[Group, int]
    unknown: int = 0
    # The school a school's own round is measured in (its enrollment only); None: district.
    school: str | None = None


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A follow-up planned for the under-represented groups of an activity.

    `filters` has one audience filter per group, in `engage broadcast` syntax:
    each reaches exactly that group's people who have not answered yet.
    """

    id: int
    activity: str
    groups: tuple[Group, ...]
    audience: int
    filters: tuple[str, ...]
    requested_by: str
    requested_at: datetime


class RepresentationStore(Protocol):
    """Counts behind the representation check, and follow-up plans (storage.representation)."""

    def heard(self, activity_key: str | None) -> HeardCounts:
        """Raises RepresentationError without enrollment figures or for an unknown activity."""
        ...

    def follow_up_reach(self, groups: Sequence[Group], activity_key: str | None) -> int:
        """How many people a follow-up to `groups` would reach."""
        ...

    def record_follow_up(
        self,
        activity_key: str,
        groups: Sequence[Group],
        audience: int,
        filters: Sequence[str],
        actor: str,
        now: datetime,
    ) -> FollowUp: ...

    def follow_up_plans(self, limit: int = 10) -> list[FollowUp]:
        """The newest follow-up plans, newest first."""


# -- Privacy: forgetting a person on request (bot.services.privacy) ------------------------


@dataclass(frozen=True, slots=True)
class PersonOnFile:
    """Who a forget request names, as the store knows them before anything is removed."""

    id: int
    pseudonym: str
    export_salt: str
    forgotten_at: datetime | None
    addresses: tuple[tuple[str, str], ...]  # (channel, address) of every contact


@dataclass(frozen=True, slots=True)
class Scrubbed:
    """How much of a person's Let's Talk was removed (`slack_threads`: to delete by hand)."""

    texts: int
    closed: int
    slack_threads: tuple[str, ...]


class PrivacyUnitOfWork(Protocol):
    """One transaction of a forget request (storage.privacy.SqlPrivacyUnitOfWork)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def person(self, participant_id: int) -> PersonOnFile | None: ...

    def person_by_pseudonym(self, pseudonym: str) -> int | None: ...

    def person_by_address(self, channel: str, address: str) -> int | None: ...

    def export_salts(self) -> Sequence[tuple[int, str]]:
        """(participant id, export salt) of everyone: the keys exports print are made of them."""
        ...

    def answered_activities(self, participant_id: int) -> Sequence[ActivityRow]: ...

    def record_forget_request(self, participant_id: int, actor: str, now: datetime) -> None:
        """The request is a revocation: an opt-out in the consent ledger, source `forget`."""
        ...

    def forget_contacts(self, participant_id: int, now: datetime) -> int:
        """Replace every address by `forgotten:<contact id>`, opted out; how many."""
        ...

    def hash_consent_addresses(self, participant_id: int) -> None:
        """Keep their consent events with each address as a keyed hash, no words."""
        ...

    def cancel_outbox(self, participant_id: int) -> int:
        """Cancel what waits to be sent to them and blank every outbox row's text."""
        ...

    def scrub_messages(self, participant_id: int) -> int: ...

    def clear_answer_words(
        self, participant_id: int, free_text: Collection[tuple[int, str]]
    ) -> int:
        """Blank the words of every answer, and the value of free-text ones
        ((activity id, question) pairs); how many answers."""
        ...

    def delete_answers(self, participant_id: int) -> int: ...

    def scrub_lets_talk(self, participant_id: int, now: datetime) -> Scrubbed:
        """Blank their Let's Talk text and staff replies to it; resolve what is open."""
        ...

    def scrub_ideas(self, participant_id: int, now: datetime) -> int:
        """Blank the ideas they wrote (and their translations), taken out of the exchange."""
        ...

    def scrub_participant(self, participant_id: int, now: datetime) -> None:
        """Name, roster id, link codes, engine progress; forgotten_at set."""
        ...

    def block_addresses(self, digests: Collection[str], now: datetime) -> None:
        """Remember keyed hashes of their addresses, so a late message is dropped."""
        ...

    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None: ...


class PrivacyStore(Protocol):
    """Where forget requests are carried out (storage.privacy.SqlPrivacyStore)."""

    def unit_of_work(self) -> PrivacyUnitOfWork: ...

    def wipe_old_copies(self) -> bool:
        """Make sure no removed text survives in the store's files (SQLite: truncate the
        write-ahead log); False when it could not be done now."""
        ...


class ParkedMessages(Protocol):
    """Inbound messages parked while the database was busy (storage.spool.Spool)."""

    def purge(self, channel: str, address: str) -> int:
        """Delete every parked message from this address; how many."""
        ...


# -- roster import: students, guardians, their contacts and households ----------------------


class RosterUnitOfWork(Protocol):
    """One transaction of a roster or enrollment import (storage.roster.SqlRosterUnitOfWork).

    Nothing is kept unless `commit()` is called: a dry run, or an import that
    fails half-way, leaves the database as it was.
    """

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def load(self, keys: RosterKeys) -> Snapshot:
        """Every stored person, contact, student and link the keys touch."""
        ...

    def apply(self, plan: RosterPlan, now: datetime) -> None: ...

    def household_graph(self) -> HouseholdGraph:
        """Every guardianship and shared contact, and each linked person's household."""
        ...

    def set_households(self, changes: Mapping[int, int | None], now: datetime) -> None:
        """Move people to households: an id, None for none, `-n` for the n-th new one."""
        ...

    def store_enrollment(self, figures: Mapping[Group, int], now: datetime) -> int:
        """Replace the enrollment figures these groups name; how many were stored."""
        ...

    def audit(self, actor: str, action: str, detail: dict[str, object], now: datetime) -> None: ...


# -- broadcasting (bot.services.broadcasting): broadcasts, audiences, enqueue batches ------


class EnqueueBatch(Protocol):
    """One transaction of an enqueue (storage.broadcasts.EnqueueBatch).

    The service decides per reachable recipient (`send`, `set_pending`, `skip`);
    the store then writes it all at once. A conversation start or pending change
    tied to a message applies only when that message's outbox row is new, so an
    enqueue run again after a crash changes nothing twice.
    """

    now: datetime

    @property
    def reachable(self) -> Iterator[tuple[Recipient, LoadedState]]: ...

    def place(self, recipient: Recipient) -> Place | None:
        """Where the family is, for quiet hours: the roster's ZIP, else their number's area."""
        ...

    def is_introduced(self, recipient: Recipient) -> bool:
        """Whether the contact wrote to us, or was sent a message by us, before: if not,
        what goes out now is a first contact they did not ask for."""
        ...

    def send(
        self,
        recipient: Recipient,
        reply: Reply,
        not_before: datetime,
        *,
        start: tuple[int, ConversationState] | None = None,
        pending: tuple[str, ...] | None = None,
        template: Template | None = None,
    ) -> None:
        """Queue `reply`; `template` stands in for it on WhatsApp outside the 24-hour window."""
        ...

    def set_pending(self, recipient: Recipient, pending: tuple[str, ...]) -> None: ...

    def skip(self, recipient: Recipient) -> None: ...

    def activity(self, activity_id: int) -> ActivityRow | None:
        """A stored activity version, read in this batch's own transaction."""
        ...


class BroadcastStorage(Protocol):
    """Broadcasts, their audiences and outbox rows (storage.broadcasts.BroadcastStore)."""

    def resolve_audience(self, text: str, rules: AudienceRules) -> Audience:
        """The audience a filter names (`segment=` looked up); raises AudienceError."""
        ...

    def count(self, audience: Audience, rules: AudienceRules) -> AudienceCounts: ...

    def save_segment(self, name: str, audience: Audience, now: datetime, actor: str) -> bool:
        """Save (or replace) a named filter; whether it is new."""
        ...

    def latest_activity(self, key: str) -> ActivityRow | None:
        """The newest stored version of the activity `key`."""
        ...

    def activity(self, activity_id: int) -> ActivityRow | None: ...

    def create(
        self,
        *,
        kind: BroadcastKind,
        audience: Audience,
        scheduled_at: datetime,
        now: datetime,
        actor: str,
        activity_id: int | None = None,
        message: Mapping[str, str] | None = None,
        reminders: Sequence[datetime] = (),
        detail: Mapping[str, object] | None = None,
        request_key: str | None = None,
    ) -> list[int]:
        """Create a broadcast and its scheduled reminders; ids, the broadcast's first.

        With `request_key` (a confirmation's nonce) a broadcast that request created
        already is returned instead, alone.
        """
        ...

    def by_request(self, request_key: str) -> int | None:
        """The broadcast a confirmation created, if it did."""
        ...

    def get(self, broadcast_id: int) -> BroadcastRecord | None: ...

    def latest(self, limit: int = 20) -> list[BroadcastRecord]: ...

    def due(self, now: datetime) -> list[int]:
        """Broadcasts to enqueue now: scheduled ones whose time came, and interrupted ones."""
        ...

    def progress(self, broadcast_id: int) -> Progress: ...

    def cancel(self, broadcast_id: int, now: datetime, actor: str) -> int:
        """Cancel it and its reminders; how many unsent messages were withdrawn."""
        ...

    def pause(self, broadcast_id: int, now: datetime, actor: str) -> bool: ...

    def resume(self, broadcast_id: int, now: datetime, actor: str) -> bool: ...

    def start_enqueue(self, broadcast_id: int) -> bool:
        """Move a due broadcast to `enqueuing`; False if it is cancelled or already queued."""
        ...

    def finish_enqueue(
        self, broadcast_id: int, outcome: BatchOutcome, now: datetime, actor: str
    ) -> bool:
        """Mark it queued with its total; False if it was cancelled meanwhile."""
        ...

    def is_cancelled(self, broadcast_id: int) -> bool: ...

    def enqueue_lock(self, broadcast_id: int) -> AbstractContextManager[bool]:
        """Hold "this process is enqueueing it" across processes; whether it is held."""
        ...

    def enqueue(
        self,
        broadcast_id: int,
        audience: Audience,
        rules: AudienceRules,
        now: datetime,
        decide: Callable[[EnqueueBatch], None],
        *,
        size: int = 1000,
        only: Sequence[int] | None = None,
        progress: Callable[[BatchOutcome], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> BatchOutcome:
        """Walk the audience in batches of `size` people, one transaction each."""
        ...

    def reminder_targets(self, broadcast_id: int, activity_key: str) -> list[int]:
        """Participants invited by it whose conversation on the activity is still open."""
        ...


# -- Slack: the Let's Talk inbox, idea cards and staff profiles (bot.services.inbox,
# bot.services.idea_desk, bot.services.staff_desk) ---------------------------------------


class InboxStore(Protocol):
    """storage.inbox.SqlInbox"""

    def claim_unposted(self, now: datetime, limit: int, lease: timedelta) -> list[InboxItem]: ...

    def mark_posted(
        self,
        item_id: int,
        channel: str,
        ts: str,
        route: Route | None = None,
        due_at: datetime | None = None,
        remind_at: datetime | None = None,
    ) -> None: ...

    def item(self, item_id: int) -> InboxItem | None: ...

    def roots(self) -> list[InboxItem]: ...

    def due_reminders(self, now: datetime, limit: int = 50) -> list[InboxItem]: ...

    def due_escalations(self, now: datetime, limit: int = 50) -> list[InboxItem]: ...

    def thread(self, channel: str, ts: str) -> InboxItem | None: ...

    def set_aside(self, item_id: int, now: datetime) -> None: ...

    def add_staff_reply(
        self,
        reply: StaffReply,
        compose: Callable[[str | None, str], str],
        now: datetime,
        translate: Translation | None = None,
    ) -> ReplyOutcome: ...

    def translation_requests(
        self, now: datetime, limit: int, lease: timedelta
    ) -> list[TranslationRequest]: ...

    def mark_translation_posted(self, reply_id: int, ts: str) -> None: ...

    def add_translation(
        self, reply: StaffReply, compose: Callable[[str | None, str], str], now: datetime
    ) -> tuple[ReplyOutcome, TranslationRequest | None]: ...

    def held_reply(self, provider_id: str) -> tuple[InboxItem, str] | None: ...

    def release_held(
        self,
        provider_id: str,
        by: str,
        send: bool,
        compose: Callable[[str | None, str], str],
        now: datetime,
        translate: Translation | None = None,
    ) -> ReplyOutcome: ...

    def claim(
        self, item_id: int, user: str, now: datetime
    ) -> tuple[ClaimOutcome, InboxItem | None]: ...

    def reassign(
        self, item_id: int, to: str, by: str, now: datetime
    ) -> tuple[ClaimOutcome, InboxItem | None]: ...

    def resolve(self, item_id: int, by: str, now: datetime) -> InboxItem | None: ...

    def summary(self, now: datetime, limit: int = 10) -> InboxSummary: ...


class InboxPoster(Protocol):
    """channels.slack.SlackChannel"""

    async def post_inbox_item(
        self, channel: str, item: InboxItem, school_name: str | None = None
    ) -> str: ...

    async def update_inbox_item(
        self, channel: str, ts: str, item: InboxItem, school_name: str | None = None
    ) -> None: ...

    async def post_note(self, channel: str, text: str, thread_ts: str | None = None) -> None: ...

    async def post_message(self, channel: str, text: str) -> str: ...

    async def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        choices: Sequence[Choice] = (),
    ) -> None: ...


class IdeaCards(Protocol):
    """channels.slack.SlackChannel"""

    async def post_idea_card(
        self, channel: str, card: IdeaCard, languages: Sequence[str]
    ) -> str: ...

    async def update_idea_card(
        self, channel: str, ts: str, card: IdeaCard, languages: Sequence[str], decided: str
    ) -> None: ...

    async def post_note(self, channel: str, text: str, thread_ts: str | None = None) -> None: ...


class StaffDirectory(Protocol):
    """channels.slack.SlackChannel"""

    async def profile(self, user_id: str) -> StaffProfile: ...


# -- Synthesis: what the pack, the board report and an exchange's report read ---------


@dataclass(frozen=True, slots=True)
class LetsTalkMessage:
    """A Let's Talk message with who sent it, for the pack's lets_talk table."""

    id: int
    participant_id: int
    activity_id: int | None
    text: str
    language: str | None
    status: str
    slack_channel: str | None
    slack_ts: str | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    role: str | None
    school: str | None
    export_salt: str  # every participant has one (`engage init`)


@dataclass(frozen=True, slots=True)
class StaffReplyEntry:
    """A staff member's reply to a Let's Talk thread as audited: who, and `detail`
    naming the thread (`item`), the words (`text`) and the outbox row (`outbox_id`)."""

    actor: str
    detail: Mapping[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class QueuedStaffReply:
    """A staff reply queued to a participant (an outbox row), audited or not."""

    id: int
    body: str
    created_at: datetime
    participant_id: int


@dataclass(frozen=True, slots=True)
class LetsTalkLog:
    """Every Let's Talk message about some activity versions (and unsolicited ones),
    oldest first, with what staff replied, all read in one snapshot.

    `roots`: the first message id of each Slack thread, by (channel, ts)."""

    messages: tuple[LetsTalkMessage, ...]
    roots: Mapping[tuple[str | None, str | None], int]
    audited_replies: tuple[StaffReplyEntry, ...]
    queued_replies: tuple[QueuedStaffReply, ...]


@dataclass(frozen=True)
class ExchangeTables:
    """An exchange as tables for the analysis (bot.synthesis.ideas.ExchangeVotes has the columns).

    Participants are numbered from 1 in the order they first took part;
    `participant_ids` maps those numbers back to database ids, for the
    service only (nothing written out carries a database id).
    """

    ideas: pd.DataFrame
    votes: pd.DataFrame
    participants: pd.DataFrame
    participant_ids: Mapping[int, int]


class SynthesisStore(Protocol):
    """What the synthesis pack, the board report and an exchange's report read, and the
    little they write (storage.synthesis.SqlSynthesisStore)."""

    @property
    def representation(self) -> RepresentationStore: ...

    def versions(self, activity_key: str, parse: Parse) -> list[Version]:
        """Every stored version of `activity_key`, oldest first; ExportError if none."""
        ...

    def tidy_responses(
        self,
        activity_key: str,
        parse: Parse,
        secret: str,
        timezone: str,
        *,
        include_contacts: bool = False,
    ) -> pd.DataFrame:
        """Every answer to `activity_key`, one row each (bot.files.answers.TIDY_COLUMNS)."""
        ...

    def lets_talk(self, version_ids: Sequence[int]) -> LetsTalkLog: ...

    def exchange_tables(self, activity_key: str, language: str) -> ExchangeTables: ...

    def set_group_splits(self, activity_key: str, splits: Mapping[int, float | None]) -> None:
        """Keep each idea's spread between opinion groups (by idea number) for the next picks."""
        ...

    def record_audit(
        self, actor: str, action: str, detail: dict[str, object], now: datetime
    ) -> None: ...


# -- the organizers' dashboard (bot.web.dashboard) -------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityProgress:
    """An activity, all its versions together: who started, completed and answered it."""

    key: str
    title: str
    kind: str
    version: int
    is_open: bool
    started: int
    completed: int
    answers: int
    last_answer_at: datetime | None


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One question: how many people reached it, answered, skipped or were not understood."""

    question: str
    prompt: str
    reached: int
    answered: int
    skipped: int
    unparsed: int


@dataclass(frozen=True, slots=True)
class LetsTalkSummary:
    """How Let's Talk stands on the dashboard: open and answered threads, the oldest,
    how fast staff first reply, and the latest open ones."""

    open: int
    resolved: int
    awaiting_first_reply: int
    median_hours_to_first_reply: float | None
    oldest_open_at: datetime | None
    by_language: dict[str, int]
    latest_open: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SendProblem:
    """Messages of one broadcast that failed (or wait to be retried) for one reason."""

    channel: str
    code: str | None
    count: int
    retrying: bool


@dataclass(frozen=True, slots=True)
class BroadcastLine:
    """One broadcast and where its messages are."""

    id: int
    kind: str
    activity: str | None
    status: str
    paused: bool
    scheduled_at: datetime
    created_by: str
    total: int
    counts: dict[str, int]
    problems: list[SendProblem] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return self.counts.get(OutboxStatus.PENDING, 0) + self.counts.get(OutboxStatus.SENDING, 0)


class DashboardStore(SynthesisStore, Protocol):
    """What the organizers' dashboard reads (storage.dashboard.SqlDashboardStore); its
    results and exchange sections read what the synthesis pack does."""

    @property
    def database(self) -> str:
        """Which database it reads (the dashboard keeps results per database)."""
        ...

    def progress(self) -> list[ActivityProgress]:
        """Every activity (all versions together), open ones first, then by key."""
        ...

    def funnel(self, activity_key: str, parse: Parse) -> list[FunnelStep]:
        """How far people got in `activity_key`, question by question."""
        ...

    def answers_per_day(
        self, activity_key: str | None, timezone: str, days: int, now: datetime
    ) -> pd.Series:
        """Answers per local day over the last `days` days (all activities when None)."""
        ...

    def lets_talk_summary(self) -> LetsTalkSummary: ...

    def inbox_roots(self) -> list[InboxItem]:
        """Every Let's Talk thread's first item (and every item not posted yet), oldest first."""
        ...

    def recent_broadcasts(self) -> list[BroadcastLine]: ...

    def pauses(self) -> list[ChannelPause]: ...

    def inbound_depth(self, now: datetime) -> QueueDepth: ...

    def waiting_ideas(self, activity_key: str) -> list[IdeaCard]:
        """An exchange's ideas waiting for a moderator, oldest first."""
        ...

    def enrolled(self, column: str) -> dict[str, int]:
        """Enrollment summed per `column` (language or school)."""
        ...


class DashboardSessions(Protocol):
    """The dashboard's sign-in attempts and sessions, shared by every server process
    (storage.logins.SqlDashboardSessions)."""

    def begin_login(self, client: str, since: datetime, now: datetime) -> tuple[int, int]:
        """Record an attempt from `client` (an IP address) as failed, and count the failed
        ones since `since` before it: (the attempt's id, failures before it)."""
        ...

    def finish_login(self, attempt: int) -> None:
        """The attempt's token was right: it was a sign-in, not a failure."""
        ...

    def start_session(
        self, session_id: str, client: str, now: datetime, expires_at: datetime
    ) -> None: ...

    def is_live_session(self, session_id: str, now: datetime) -> bool:
        """Whether the session exists, has not expired and was not signed out."""
        ...

    def revoke_session(self, session_id: str, now: datetime) -> None: ...
