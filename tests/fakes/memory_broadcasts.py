"""An in-memory BroadcastStorage (bot.ports): the broadcasting rules tested without SQL.

It keeps what storage.broadcasts keeps (broadcasts, outbox rows keyed by
broadcast and contact, conversation starts, pending invitations, segments,
activity versions) in dicts, and records what it was asked. Audience filters
by role, school, language and channel; `not-answered`, `not-finished` and
grades are SQL's business and refused here, so a test cannot pass by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.core.audience import (
    Audience,
    AudienceCounts,
    AudienceError,
    AudienceRules,
    Reach,
    Recipient,
    parse_audience,
)
from bot.core.broadcasts import (
    BatchOutcome,
    BroadcastError,
    BroadcastKind,
    BroadcastRecord,
    BroadcastStatus,
    LoadedState,
    Progress,
)
from bot.core.messages import Channel, Reply, Template
from bot.core.places import Place, place_of_number
from bot.core.state import ConversationState, ParticipantState
from bot.ports import ActivityRow, EnqueueBatch

__all__ = ["Family", "MemoryBroadcasts", "QueuedMessage"]


@dataclass
class Family:
    """A participant with one contact, as the audience queries see them."""

    participant_id: int
    contact_id: int
    address: str
    state: ParticipantState
    channel: Channel = Channel.SMS
    reach: Reach = Reach.SEND
    conversation_id: int | None = None
    conversation_activity_id: int | None = None
    # The contact wrote to us, or a message of ours reached it, before.
    introduced: bool = True


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    broadcast_id: int
    contact_id: int
    reply: Reply
    not_before: datetime
    status: str = "pending"
    template: Template | None = None


@dataclass
class _Broadcast:
    record: BroadcastRecord
    paused: bool = False


@dataclass
class MemoryBroadcasts:
    """Implements bot.ports.BroadcastStorage over dicts."""

    families: dict[int, Family] = field(default_factory=dict)
    activities: dict[int, ActivityRow] = field(default_factory=dict)
    segments: dict[str, Audience] = field(default_factory=dict)
    broadcasts: dict[int, _Broadcast] = field(default_factory=dict)
    outbox: dict[tuple[int, int], QueuedMessage] = field(default_factory=dict)
    conversations: list[tuple[int, int, ConversationState]] = field(default_factory=list)
    audit: list[tuple[str, str, int]] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)  # confirmation nonce -> broadcast
    # Called before each batch is written: a test may change the world mid-enqueue.
    between_batches: Callable[[], None] | None = None

    # -- set-up ------------------------------------------------------------------

    def add_family(self, address: str, **state: object) -> Family:
        number = len(self.families) + 1
        reach = state.pop("reach", Reach.SEND)
        introduced = bool(state.pop("introduced", True))
        family = Family(
            number,
            100 + number,
            address,
            ParticipantState(**state),  # type: ignore[arg-type]
            reach=reach,  # type: ignore[arg-type]
            introduced=introduced,
        )
        self.families[number] = family
        return family

    def add_activity(self, key: str, source: str, *, is_open: bool = True) -> int:
        version = 1 + max((a.version for a in self.activities.values() if a.key == key), default=0)
        activity_id = len(self.activities) + 1
        self.activities[activity_id] = ActivityRow(activity_id, key, version, source, is_open)
        return activity_id

    # -- audiences ---------------------------------------------------------------

    def resolve_audience(self, text: str, rules: AudienceRules) -> Audience:
        audience = parse_audience(text)
        for name in audience.segments:
            saved = self.segments.get(name)
            if saved is None:
                raise AudienceError(f"no segment named {name!r}")
            audience = replace(audience, segments=()).narrowed(saved)
        for role in audience.roles:
            if role not in rules.roles:
                raise AudienceError(f"unknown role {role!r}")
        return audience

    def count(self, audience: Audience, rules: AudienceRules) -> AudienceCounts:
        counts = AudienceCounts()
        for recipient in self._recipients(audience, rules, None):
            counts.add(recipient)
        return counts

    def save_segment(self, name: str, audience: Audience, now: datetime, actor: str) -> bool:
        created = name not in self.segments
        self.segments[name] = audience
        return created

    def _recipients(
        self, audience: Audience, rules: AudienceRules, only: Sequence[int] | None
    ) -> Iterator[Recipient]:
        if audience.grades or audience.not_answered or audience.not_finished or audience.took_part:
            raise AssertionError("the in-memory store filters by role, school, language, channel")
        for family in sorted(self.families.values(), key=lambda f: f.participant_id):
            state = family.state
            language = state.language or rules.default_language
            if only is not None and family.participant_id not in only:
                continue
            if audience.roles and state.role not in audience.roles:
                continue
            if audience.schools and not set(audience.schools) & set(_schools(state)):
                continue
            if audience.languages and language not in audience.languages:
                continue
            if audience.channels and family.channel not in audience.channels:
                continue
            reach = family.reach
            if reach is Reach.SEND and family.channel not in rules.channels:
                reach = Reach.UNREACHABLE
            if state.consent is False:
                reach = Reach.DECLINED
            sendable = reach is Reach.SEND
            yield Recipient(
                family.participant_id,
                language,
                reach,
                family.contact_id if sendable else None,
                family.channel if sendable else None,
                family.address if sendable else None,
            )

    # -- activities --------------------------------------------------------------

    def latest_activity(self, key: str) -> ActivityRow | None:
        versions = [a for a in self.activities.values() if a.key == key]
        return max(versions, key=lambda a: a.version, default=None)

    def activity(self, activity_id: int) -> ActivityRow | None:
        return self.activities.get(activity_id)

    # -- broadcasts --------------------------------------------------------------

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
        if request_key is not None:
            found = self.by_request(request_key)
            if found is not None:
                return [found]
            self.requests[request_key] = len(self.broadcasts) + 1
        ids = []
        for n, moment in enumerate((scheduled_at, *reminders)):
            broadcast_id = len(self.broadcasts) + 1
            self.broadcasts[broadcast_id] = _Broadcast(
                BroadcastRecord(
                    id=broadcast_id,
                    kind=kind if n == 0 else BroadcastKind.REMINDER,
                    status=BroadcastStatus.SCHEDULED,
                    audience=audience,
                    scheduled_at=moment,
                    created_by=actor,
                    created_at=now,
                    activity_id=activity_id,
                    activity_key=self.activities[activity_id].key if activity_id else None,
                    message=dict(message or {}) if n == 0 else {},
                    reminder_of=ids[0] if n else None,
                )
            )
            ids.append(broadcast_id)
        self.audit.append((actor, "broadcast.create", ids[0]))
        return ids

    def by_request(self, request_key: str) -> int | None:
        return self.requests.get(request_key)

    def get(self, broadcast_id: int) -> BroadcastRecord | None:
        found = self.broadcasts.get(broadcast_id)
        if found is None:
            return None
        return replace(found.record, paused_at=found.record.created_at if found.paused else None)

    def latest(self, limit: int = 20) -> list[BroadcastRecord]:
        return [r for r in (self.get(i) for i in sorted(self.broadcasts, reverse=True)) if r][
            :limit
        ]

    def due(self, now: datetime) -> list[int]:
        return [
            b.record.id
            for b in sorted(self.broadcasts.values(), key=lambda b: b.record.scheduled_at)
            if (b.record.status is BroadcastStatus.SCHEDULED and b.record.scheduled_at <= now)
            or b.record.status is BroadcastStatus.ENQUEUING
        ]

    def progress(self, broadcast_id: int) -> Progress:
        record = self.get(broadcast_id)
        if record is None:
            raise BroadcastError(f"no broadcast {broadcast_id}")
        progress = Progress(broadcast_id, record.status.value, paused=record.paused_at is not None)
        for message in self.outbox.values():
            if message.broadcast_id != broadcast_id:
                continue
            progress.total += 1
            if message.status == "pending":
                progress.queued += 1
            elif message.status == "cancelled":
                progress.cancelled += 1
        return progress

    def _set(self, broadcast_id: int, status: BroadcastStatus, **changes: object) -> None:
        found = self.broadcasts[broadcast_id]
        found.record = replace(found.record, status=status, **changes)  # type: ignore[arg-type]

    def _family(self, broadcast_id: int) -> list[int]:
        return [broadcast_id] + [
            b.record.id for b in self.broadcasts.values() if b.record.reminder_of == broadcast_id
        ]

    def cancel(self, broadcast_id: int, now: datetime, actor: str) -> int:
        ids = self._family(broadcast_id)
        for each in ids:
            self._set(each, BroadcastStatus.CANCELLED)
        withdrawn = 0
        for key, message in self.outbox.items():
            if message.broadcast_id in ids and message.status == "pending":
                self.outbox[key] = replace(message, status="cancelled")
                withdrawn += 1
        self.audit.append((actor, "broadcast.cancel", broadcast_id))
        return withdrawn

    def pause(self, broadcast_id: int, now: datetime, actor: str) -> bool:
        return self._pause(broadcast_id, actor, paused=True)

    def resume(self, broadcast_id: int, now: datetime, actor: str) -> bool:
        return self._pause(broadcast_id, actor, paused=False)

    def _pause(self, broadcast_id: int, actor: str, *, paused: bool) -> bool:
        if self.broadcasts[broadcast_id].paused is paused:
            return False
        for each in self._family(broadcast_id):
            self.broadcasts[each].paused = paused
        self.audit.append(
            (actor, "broadcast.pause" if paused else "broadcast.resume", broadcast_id)
        )
        return True

    def start_enqueue(self, broadcast_id: int) -> bool:
        status = self.broadcasts[broadcast_id].record.status
        if status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.ENQUEUING):
            return False
        self._set(broadcast_id, BroadcastStatus.ENQUEUING)
        return True

    def finish_enqueue(
        self, broadcast_id: int, outcome: BatchOutcome, now: datetime, actor: str
    ) -> bool:
        if self.broadcasts[broadcast_id].record.status is not BroadcastStatus.ENQUEUING:
            return False
        total = sum(1 for m in self.outbox.values() if m.broadcast_id == broadcast_id)
        self._set(broadcast_id, BroadcastStatus.QUEUED, total=total, enqueued_at=now)
        return True

    def is_cancelled(self, broadcast_id: int) -> bool:
        return self.broadcasts[broadcast_id].record.status is BroadcastStatus.CANCELLED

    def enqueue_lock(self, broadcast_id: int) -> AbstractContextManager[bool]:
        return nullcontext(True)

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
        total = BatchOutcome()
        everyone = list(self._recipients(audience, rules, only))
        for start in range(0, len(everyone), size):
            if stop is not None and stop():
                break
            batch = _Batch(self, broadcast_id, everyone[start : start + size], now)
            decide(batch)
            if self.between_batches is not None:
                self.between_batches()
            total.merge(batch.write())
            if progress is not None:
                progress(total)
        return total

    def reminder_targets(self, broadcast_id: int, activity_key: str) -> list[int]:
        invited = {m.contact_id for m in self.outbox.values() if m.broadcast_id == broadcast_id}
        return sorted(
            f.participant_id
            for f in self.families.values()
            if f.contact_id in invited
            and f.state.conversation is not None
            and f.state.conversation.activity == activity_key
        )


class _Batch:
    """An EnqueueBatch over MemoryBroadcasts: decisions first, then one write."""

    def __init__(
        self, store: MemoryBroadcasts, broadcast_id: int, found: list[Recipient], now: datetime
    ) -> None:
        self.store = store
        self.broadcast_id = broadcast_id
        self.found = found
        self.now = now
        self.outcome = BatchOutcome(
            last_participant=max((r.participant_id for r in found), default=0)
        )
        self._sends: list[
            tuple[
                Recipient,
                Reply,
                datetime,
                tuple[int, ConversationState] | None,
                Template | None,
            ]
        ] = []
        self._pending: dict[int, tuple[str, ...]] = {}
        self._pending_with_message: dict[int, tuple[str, ...]] = {}
        for recipient in found:
            self.outcome.people += 1
            if recipient.reach is Reach.OPTED_OUT:
                self.outcome.opted_out += 1
            elif recipient.reach is Reach.UNREACHABLE:
                self.outcome.unreachable += 1
            elif recipient.reach is Reach.DECLINED:
                self.outcome.declined += 1

    @property
    def reachable(self) -> Iterator[tuple[Recipient, LoadedState]]:
        for recipient in self.found:
            if recipient.reach is Reach.SEND:
                family = self.store.families[recipient.participant_id]
                yield (
                    recipient,
                    LoadedState(
                        family.participant_id,
                        family.state,
                        family.conversation_id,
                        family.conversation_activity_id,
                    ),
                )

    def place(self, recipient: Recipient) -> Place | None:
        return place_of_number(recipient.address) if recipient.address else None

    def is_introduced(self, recipient: Recipient) -> bool:
        return self.store.families[recipient.participant_id].introduced

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
        self._sends.append((recipient, reply, not_before, start, template))
        if pending is not None:
            self._pending_with_message[recipient.participant_id] = pending

    def set_pending(self, recipient: Recipient, pending: tuple[str, ...]) -> None:
        self._pending[recipient.participant_id] = pending
        self.outcome.waiting += 1

    def skip(self, recipient: Recipient) -> None:
        self.outcome.skipped += 1

    def activity(self, activity_id: int) -> ActivityRow | None:
        return self.store.activities.get(activity_id)

    def write(self) -> BatchOutcome:
        store = self.store
        for recipient, reply, not_before, start, template in self._sends:
            assert recipient.contact_id is not None
            key = (self.broadcast_id, recipient.contact_id)
            if key in store.outbox:  # the dedup key: sent once, whatever the retries
                self.outcome.skipped += 1
                continue
            store.outbox[key] = QueuedMessage(
                self.broadcast_id, recipient.contact_id, reply, not_before, template=template
            )
            self.outcome.queued += 1
            family = store.families[recipient.participant_id]
            if start is not None:
                activity_id, conversation = start
                store.conversations.append((family.participant_id, activity_id, conversation))
                family.state = replace(family.state, conversation=conversation)
                family.conversation_activity_id = activity_id
            waiting = self._pending_with_message.get(recipient.participant_id)
            if waiting is not None:
                family.state = replace(family.state, pending=waiting)
        for participant_id, waiting in self._pending.items():
            family = store.families[participant_id]
            family.state = replace(family.state, pending=waiting)
        return self.outcome


def _schools(state: ParticipantState) -> tuple[str, ...]:
    return state.schools
