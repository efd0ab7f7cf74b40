"""Broadcasts for organizers: plan, preview the numbers, confirm, enqueue; reminders.

    plan = broadcasting.plan("family-priorities-2026", "role=parent,school=lincoln-es")
    print(plan.counts.reachable, plan.estimate.finishes_at)   # shown before confirming
    broadcast_id = broadcasting.confirm(plan, actor="cli")
    broadcasting.enqueue(broadcast_id)                       # or let the scheduler do it

An activity broadcast is an invitation that goes through the engine's
`invite()`: a participant who is free gets the activity's intro and first
question, exactly as the engine would say it, in their language; one in the
middle of another activity gets it queued behind that one (one active
conversation per person). A progress update with no question is a plain
message. Reminders are scheduled broadcasts that re-ask the open question
to those the invitation reached who have not finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.activity import Activity, ActivityKind, Localized
from bot.core.audience import (
    ANY_ACTIVITY,
    Audience,
    AudienceCounts,
    AudienceError,
    AudienceRules,
    Group,
    Recipient,
)
from bot.core.broadcasts import (
    BatchOutcome,
    BroadcastError,
    BroadcastKind,
    BroadcastRecord,
    BroadcastStatus,
    Progress,
)
from bot.core.disclosure import introduce, lint
from bot.core.messages import Channel, Reply, Template
from bot.core.prompts import question_reply
from bot.core.quiet_hours import QuietHours
from bot.core.render import as_plain_text
from bot.core.segments import SegmentCount, count_segments
from bot.core.state import ParticipantState, Program, Step
from bot.core.step import invite, school_heading
from bot.core.texts import text as system_text
from bot.errors import ActivityError, EngageError
from bot.ports import BroadcastStorage, EnqueueBatch

__all__ = [
    "BroadcastPolicy",
    "Broadcasting",
    "Estimate",
    "Plan",
    "combine",
    "parse_delay",
    "parse_when",
]

log = logging.getLogger(__name__)

Parse = Callable[[str, str], Activity]
# The (school, language, role) groups under-represented in an activity (None: in every answer).
Flagged = Callable[[str | None], Sequence[Group]]
# (id of a reply, language) -> the reply, and it opened as a first contact in that language.
Opened = dict[tuple[int, str], tuple[Reply, Reply]]

# A time this far in the past is a typo, not "now".
PAST_TOLERANCE = timedelta(minutes=1)
# What "no rate limit" means in an estimate.
UNLIMITED_RATE = 50.0
# A first invitation over this many SMS segments is named in the preview.
PREVIEW_SEGMENTS_WARNED = 3
# How often serve and worker look for broadcasts whose time has come.
SCHEDULE_EVERY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class BroadcastPolicy:
    """Sending limits and defaults, from settings."""

    rates: Mapping[Channel, float]
    quiet_hours: QuietHours | None = None
    reminders: int = 1
    max_reminders: int = 3
    reminder_delay: timedelta = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Estimate:
    """How long sending takes at the configured rates, quiet hours included."""

    seconds: float
    starts_at: datetime
    finishes_at: datetime
    deferred: bool  # the start waits for quiet hours to end


@dataclass(frozen=True, slots=True)
class Plan:
    """A broadcast as the organizer is about to confirm it."""

    kind: BroadcastKind
    activity_key: str
    activity_id: int
    title: str
    audience: Audience
    scheduled_at: datetime
    counts: AudienceCounts
    estimate: Estimate
    reminders: tuple[datetime, ...] = ()
    message: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # What a first contact costs by SMS in each language (the longest message sent).
    costs: Mapping[str, SegmentCount] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "activity": self.activity_key,
            "kind": self.kind.value,
            "audience": str(self.audience),
            "people": self.counts.people,
            "reachable": self.counts.reachable,
            "shared": self.counts.shared,
            "opted_out": self.counts.opted_out,
            "unreachable": self.counts.unreachable,
            "declined": self.counts.declined,
            "by_channel": dict(self.counts.by_channel),
            "estimate_s": round(self.estimate.seconds),
        }


def combine(replies: Sequence[Reply]) -> Reply:
    """The replies of one step as one message: texts in order, the last one's choices.

    One message, not several: separate SMS can arrive out of order, and the
    question must come after its introduction.
    """
    texts = [r.text for r in replies if r.text]
    choices = next((r.choices for r in reversed(replies) if r.choices), ())
    return Reply("\n\n".join(texts), choices)


def parse_delay(text: str) -> timedelta:
    """`3d`, `36h`, `90m` or `2w` as a timedelta; raises EngageError otherwise."""
    cleaned = text.strip().lower()
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    if len(cleaned) >= 2 and cleaned[-1] in units and cleaned[:-1].isdigit():
        delay = timedelta(**{units[cleaned[-1]]: int(cleaned[:-1])})
        if delay > timedelta(0):
            return delay
    raise EngageError(f"delay {text!r}: write a number and m, h, d or w, like 3d")


def parse_when(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """`--at` as naive UTC: ISO date-time in the district's time zone, or `+2h`/`+1d`.

    Raises EngageError for anything unreadable or in the past.
    """
    cleaned = text.strip()
    if cleaned.startswith("+"):
        return now + parse_delay(cleaned[1:])
    try:
        moment = datetime.fromisoformat(cleaned.replace(" ", "T", 1))
    except ValueError:
        raise EngageError(
            f"--at {text!r}: write a local date and time like 2026-09-14T18:00, or +2h"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    if utc < now - PAST_TOLERANCE:
        raise EngageError(f"--at {text!r} is in the past; leave --at out to send now")
    return max(utc, now)


class Broadcasting:
    """The organizer's broadcasts, against a store of them (the `BroadcastStorage` port).

    `parse` turns a stored activity's YAML into its definition; `rules` say
    which languages, roles and channels filters may name; `flagged` gives the
    groups the representation check flags for an activity (None: over every
    answer), for the `under-represented` audience.
    """

    def __init__(
        self,
        store: BroadcastStorage,
        program: Program,
        rules: AudienceRules,
        policy: BroadcastPolicy,
        parse: Parse,
        clock: Callable[[], datetime],
        flagged: Flagged | None = None,
    ) -> None:
        self.store = store
        self.program = program
        self.rules = rules
        self.policy = policy
        self.parse = parse
        self.clock = clock
        self.flagged = flagged
        self._definitions: dict[int, Activity] = {}

    # -- planning ------------------------------------------------------------------

    def plan(
        self,
        activity_key: str,
        to: str,
        *,
        at: datetime | None = None,
        reminders: int | None = None,
        reminder_delay: timedelta | None = None,
    ) -> Plan:
        """Check everything and count the audience; nothing is written.

        Raises BroadcastError (or AudienceError) for an unknown, closed or
        invalid activity, a bad filter, a time in the past, or nobody to send to.
        """
        now = self.clock()
        if at is not None and at < now - PAST_TOLERANCE:
            raise BroadcastError("the time to send is in the past; leave it out to send now")
        scheduled_at = max(at or now, now)
        if not self.rules.channels:
            raise BroadcastError(
                "no channel is configured here, so nobody can be reached: set TWILIO_* "
                "(or TELEGRAM_*, SLACK_*) as the workers have them"
            )
        activity_id, activity = self._activity(activity_key)
        audience = self._within_school(self.resolve(to), activity)
        counts = self.store.count(audience, self.rules)
        kind = _kind(activity)
        if counts.reachable == 0:
            raise BroadcastError(
                f"nobody to send to: {counts.people} match {audience}, of whom "
                f"{counts.opted_out} opted out, {counts.unreachable} are unreachable and "
                f"{counts.declined} declined"
            )
        wanted = self.policy.reminders if reminders is None else reminders
        # Progress updates (with a pulse question too) get reminders only when asked.
        if kind is not BroadcastKind.ACTIVITY or activity.kind is ActivityKind.UPDATE:
            wanted = 0 if reminders is None else reminders
        if wanted and kind is not BroadcastKind.ACTIVITY:
            raise BroadcastError("reminders go with activities that ask something")
        if wanted > self.policy.max_reminders:
            raise BroadcastError(
                f"at most {self.policy.max_reminders} reminders (ENGAGE_REMINDERS_MAX)"
            )
        if wanted < 0:
            raise BroadcastError("--reminders cannot be negative")
        delay = reminder_delay or self.policy.reminder_delay
        estimate = self.estimate(counts, scheduled_at)
        planned_reminders = self._reminder_times(estimate.starts_at, delay, wanted)
        warnings = self._warnings(activity, counts, estimate)
        message = {}
        if kind is BroadcastKind.UPDATE:
            message = {lang: self._update_text(activity, lang) for lang in self.program.languages}
        costs: dict[str, SegmentCount] = {}
        if Channel.SMS in self.rules.channels:
            for language, sms in self._first_texts(activity, kind, message).items():
                costs[language] = count_segments(sms)
                warnings.extend(
                    lint(
                        sms,
                        language,
                        program=self.program.name,
                        first_contact=True,
                        segments_over=PREVIEW_SEGMENTS_WARNED,
                    )
                )
        return Plan(
            kind=kind,
            activity_key=activity.key,
            activity_id=activity_id,
            title=activity.title.get(activity.default_language),
            audience=audience,
            scheduled_at=scheduled_at,
            counts=counts,
            estimate=estimate,
            reminders=planned_reminders,
            message=message,
            warnings=tuple(warnings),
            costs=costs,
        )

    def _first_texts(
        self, activity: Activity, kind: BroadcastKind, message: Mapping[str, str]
    ) -> dict[str, str]:
        """Per language, the SMS a family who never heard from us would get."""
        texts = {}
        for language in self.program.languages:
            if kind is BroadcastKind.UPDATE:
                reply = Reply(message[language])
            else:
                fresh = ParticipantState(language=language, consent=True, onboarding_started=True)
                result = invite(fresh, activity, self.program, None)
                if not result.replies:
                    continue
                reply = combine(result.replies)
            first = introduce(reply, self.program.name, language)
            texts[language] = as_plain_text(first.text, first.choices)
        return texts

    def _reminder_times(
        self, first_send: datetime, delay: timedelta, wanted: int
    ) -> tuple[datetime, ...]:
        """`delay` apart counted from the first send, each moved out of quiet hours."""
        times: list[datetime] = []
        previous = first_send
        quiet = self.policy.quiet_hours
        for _ in range(wanted):
            moment = previous + delay
            if quiet is not None:
                moment = quiet.next_allowed(moment)
            times.append(moment)
            previous = moment
        return tuple(times)

    def estimate(self, counts: AudienceCounts, start: datetime) -> Estimate:
        """Time to send `counts` from `start`: channels in parallel, SMS paused at night."""
        longest = 0.0
        finish = start
        deferred = False
        for channel_name, number in counts.by_channel.items():
            channel = Channel(channel_name)
            rate = self.policy.rates.get(channel) or UNLIMITED_RATE
            seconds = number / rate
            longest = max(longest, seconds)
            quiet = self.policy.quiet_hours
            if channel is Channel.SMS and quiet is not None:
                deferred = deferred or quiet.is_quiet(start)
                end = quiet.finish_time(start, seconds)
            else:
                end = start + timedelta(seconds=seconds)
            finish = max(finish, end)
        starts = start
        if deferred and self.policy.quiet_hours is not None:
            starts = self.policy.quiet_hours.next_allowed(start)
        return Estimate(longest, starts, finish, deferred)

    def confirm(self, plan: Plan, actor: str, request_key: str | None = None) -> int:
        """Create the broadcast (and its reminders) as planned; its id.

        The audience is counted again when it is enqueued; the plan's numbers
        are what the organizer saw. With `request_key` (a confirmation's nonce),
        confirming again returns the broadcast the first confirmation created.
        """
        ids = self.store.create(
            request_key=request_key,
            kind=plan.kind,
            audience=plan.audience,
            scheduled_at=plan.scheduled_at,
            now=self.clock(),
            actor=actor,
            activity_id=plan.activity_id,
            message=plan.message,
            reminders=plan.reminders,
            detail=plan.summary(),
        )
        log.info(
            "broadcast.created",
            extra={
                "broadcast_id": ids[0],
                "kind": plan.kind.value,
                "reachable": plan.counts.reachable,
            },
        )
        return ids[0]

    def confirmed(self, request_key: str) -> int | None:
        """The broadcast a confirmation (its nonce) created, if any."""
        return self.store.by_request(request_key)

    def save_segment(self, name: str, to: str, actor: str) -> tuple[bool, Audience]:
        """Save a filter under `name` for `segment=NAME`; (is new, the stored audience)."""
        audience = self.resolve(to)
        created = self.store.save_segment(name.strip().lower(), audience, self.clock(), actor)
        return created, audience

    def preview(self, to: str) -> AudienceCounts:
        """The numbers of an audience, without an activity (`/engage stats`, `segment save`)."""
        return self.store.count(self.resolve(to), self.rules)

    def resolve(self, to: str) -> Audience:
        """A filter, checked, with `under-represented` turned into the groups flagged now.

        `under-represented=ACTIVITY` reaches the people of every group the
        representation check flags for ACTIVITY who have not answered it;
        alone, the groups flagged over every answer. Raises AudienceError when
        no group is flagged.
        """
        audience = self.store.resolve_audience(to, self.rules)
        if not audience.under_represented:
            return audience
        if self.flagged is None:
            raise AudienceError("the representation check is not available here")
        groups: list[Group] = []
        not_answered = list(audience.not_answered)
        for key in audience.under_represented:
            activity = None if key == ANY_ACTIVITY else key
            found = list(self.flagged(activity))
            if not found:
                where = f"in {activity}" if activity else "in any answers so far"
                raise AudienceError(f"no group is under-represented {where}")
            groups += [g for g in found if g not in groups]
            if activity is not None and activity not in not_answered:
                not_answered.append(activity)
        if audience.groups:
            groups = [g for g in groups if g in audience.groups]
            if not groups:
                raise AudienceError("none of the groups named with group= is under-represented")
        return replace(
            audience,
            groups=tuple(groups),
            not_answered=tuple(not_answered),
            under_represented=(),
        )

    # -- running -------------------------------------------------------------------

    async def run_schedule(
        self,
        stop: asyncio.Event,
        run_db: Callable[[Callable[[], list[int]]], Awaitable[list[int]]],
        every: float = SCHEDULE_EVERY_SECONDS,
    ) -> None:
        """Enqueue due broadcasts every `every` seconds until `stop` is set (serve and worker)."""
        while not stop.is_set():
            try:
                await run_db(self.run_due)
            except EngageError as error:
                log.error("broadcast.schedule_error", extra={"error": str(error)})
            except Exception:  # the loop must outlive one bad broadcast; it is retried
                log.exception("broadcast.schedule_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)

    def run_due(self, actor: str = "scheduler") -> list[int]:
        """Enqueue every broadcast whose time has come (and resume interrupted ones).

        One broadcast that fails is logged and left `enqueuing` to be resumed
        next time; it never holds up the broadcasts due after it.
        """
        done = []
        for broadcast_id in self.store.due(self.clock()):
            try:
                outcome = self.enqueue(broadcast_id, actor=actor)
            except EngageError as error:
                log.error(
                    "broadcast.enqueue_error",
                    extra={"broadcast_id": broadcast_id, "error": str(error)},
                )
                continue
            except Exception:  # resumed on the next round; the others go ahead
                log.exception("broadcast.enqueue_failed", extra={"broadcast_id": broadcast_id})
                continue
            if outcome is not None:
                done.append(broadcast_id)
        return done

    def enqueue(
        self,
        broadcast_id: int,
        *,
        actor: str = "scheduler",
        progress: Callable[[BatchOutcome], None] | None = None,
        batch_size: int = 1000,
    ) -> BatchOutcome | None:
        """Write the broadcast's outbox rows now; None when another process is doing it,
        or it is cancelled or already queued. Safe to run again after a crash."""
        record = self.store.get(broadcast_id)
        if record is None:
            raise BroadcastError(f"no broadcast {broadcast_id}")
        with self.store.enqueue_lock(broadcast_id) as held:
            if not held or not self.store.start_enqueue(broadcast_id):
                return None
            try:
                decide, only = self._decider(record)
            except (ActivityError, BroadcastError) as error:
                # It cannot be sent as it is; stop it rather than retry forever.
                self.store.cancel(broadcast_id, self.clock(), actor)
                log.error(
                    "broadcast.unsendable",
                    extra={"broadcast_id": broadcast_id, "error": str(error)},
                )
                raise BroadcastError(f"broadcast {broadcast_id} cancelled: {error}") from error
            outcome = self.store.enqueue(
                broadcast_id,
                Audience() if only is not None else record.audience,
                self.rules,
                self.clock(),
                decide,
                size=batch_size,
                only=only,
                progress=progress,
                stop=lambda: self.store.is_cancelled(broadcast_id),
            )
            finished = self.store.finish_enqueue(broadcast_id, outcome, self.clock(), actor)
        log.info(
            "broadcast.enqueued",
            extra={"broadcast_id": broadcast_id, "finished": finished, **outcome.as_dict()},
        )
        return outcome

    def status(self, broadcast_id: int) -> Progress:
        return self.store.progress(broadcast_id)

    def latest(self, limit: int = 20) -> list[BroadcastRecord]:
        return self.store.latest(limit)

    def record(self, broadcast_id: int) -> BroadcastRecord | None:
        return self.store.get(broadcast_id)

    def cancel(self, broadcast_id: int, actor: str) -> int:
        """Cancel a broadcast and its reminders; how many unsent messages were withdrawn.

        Messages a worker has claimed but not begun to send are withdrawn too, on
        every worker: each checks just before its provider call.
        """
        record = self._record(broadcast_id)
        if record.status is BroadcastStatus.CANCELLED:
            raise BroadcastError(f"broadcast {broadcast_id} is already cancelled")
        return self.store.cancel(broadcast_id, self.clock(), actor)

    def pause(self, broadcast_id: int, actor: str) -> Progress:
        """Hold a broadcast (and its reminders): no worker sends any of it until resumed."""
        record = self._record(broadcast_id)
        if record.status is BroadcastStatus.CANCELLED:
            raise BroadcastError(
                f"broadcast {broadcast_id} is cancelled; there is nothing to pause"
            )
        if not self.store.pause(broadcast_id, self.clock(), actor):
            raise BroadcastError(
                f"broadcast {broadcast_id} is already paused; resume it with "
                f"engage broadcast resume {broadcast_id}"
            )
        log.info("broadcast.paused", extra={"broadcast_id": broadcast_id})
        return self.status(broadcast_id)

    def resume(self, broadcast_id: int, actor: str) -> Progress:
        """Let a paused broadcast (and its reminders) go on from where it stopped."""
        record = self._record(broadcast_id)
        if record.status is BroadcastStatus.CANCELLED:
            raise BroadcastError(f"broadcast {broadcast_id} is cancelled; it cannot resume")
        if not self.store.resume(broadcast_id, self.clock(), actor):
            raise BroadcastError(f"broadcast {broadcast_id} is not paused")
        log.info("broadcast.resumed", extra={"broadcast_id": broadcast_id})
        return self.status(broadcast_id)

    def _record(self, broadcast_id: int) -> BroadcastRecord:
        record = self.store.get(broadcast_id)
        if record is None:
            raise BroadcastError(f"no broadcast {broadcast_id}: see engage broadcast status")
        return record

    # -- deciding per recipient ----------------------------------------------------------

    def _decider(
        self, record: BroadcastRecord
    ) -> tuple[Callable[[EnqueueBatch], None], list[int] | None]:
        if record.activity_id is None:
            raise BroadcastError("it names no activity")
        activity = self._definition(record.activity_id)
        match record.kind:
            case BroadcastKind.ACTIVITY:
                return self._invitations(record.activity_id, activity), None
            case BroadcastKind.UPDATE | BroadcastKind.MESSAGE:
                return self._messages(record, activity), None
            case BroadcastKind.REMINDER:
                assert record.reminder_of is not None
                targets = self.store.reminder_targets(record.reminder_of, activity.key)
                return self._reminders(activity), targets
        raise BroadcastError(f"unknown broadcast kind {record.kind}")

    def _not_before(self, recipient: Recipient, batch: EnqueueBatch) -> datetime:
        """When the message may go: SMS waits out quiet hours in the family's own zone."""
        quiet = self.policy.quiet_hours
        if recipient.channel is Channel.SMS and quiet is not None:
            return quiet.next_allowed_at(batch.now, batch.place(recipient))
        return batch.now

    def _invitations(self, activity_id: int, activity: Activity) -> Callable[[EnqueueBatch], None]:
        # invite() is pure, and most people are in one of a few states (language,
        # role, school, no conversation): each state is run through it once.
        invited: dict[ParticipantState, tuple[Step, Reply]] = {}
        # The store hands people in one state the same object: found by identity first
        # (hashing a state hashes every field). Each entry holds its state, so no other
        # object takes that id while it is here.
        by_identity: dict[int, tuple[ParticipantState, tuple[Step, Reply]]] = {}
        opened: Opened = {}

        def invitation(state: ParticipantState, current: Activity | None) -> tuple[Step, Reply]:
            if state.conversation is not None:  # not hashable, and rarer
                result = invite(state, activity, self.program, current)
                return result, combine(result.replies)
            known = by_identity.get(id(state))
            if known is not None:
                return known[1]
            found = invited.get(state)
            if found is None:
                result = invite(state, activity, self.program, None)
                found = invited[state] = (result, combine(result.replies))
            by_identity[id(state)] = (state, found)
            return found

        def decide(batch: EnqueueBatch) -> None:
            for recipient, loaded in batch.reachable:
                state = loaded.state
                conversation = state.conversation
                if conversation is not None and conversation.activity == activity.key:
                    batch.skip(recipient)  # already taking it
                    continue
                if activity.key in state.pending:
                    batch.skip(recipient)  # already waiting for it
                    continue
                current = (
                    self._definition(loaded.conversation_activity_id, batch)
                    if loaded.conversation_activity_id is not None
                    else None
                )
                result, reply = invitation(state, current)
                if result.replies:
                    started = result.state.conversation
                    start = (activity_id, started) if started is not None else None
                    pending = (
                        result.state.pending if result.state.pending != state.pending else None
                    )
                    batch.send(
                        recipient,
                        self._first_contact(batch, recipient, result.state.language, reply, opened),
                        self._not_before(recipient, batch),
                        start=start,
                        pending=pending,
                        template=self._template(recipient, activity, state.language),
                    )
                elif result.state.pending != state.pending:
                    batch.set_pending(recipient, result.state.pending)
                else:
                    batch.skip(recipient)

        return decide

    def _messages(
        self, record: BroadcastRecord, activity: Activity
    ) -> Callable[[EnqueueBatch], None]:
        opened: Opened = {}

        def decide(batch: EnqueueBatch) -> None:
            for recipient, loaded in batch.reachable:
                language = loaded.state.language or self.program.default_language
                body = record.message.get(language) or self._update_text(activity, language)
                reply = self._first_contact(batch, recipient, language, Reply(body), opened)
                batch.send(
                    recipient,
                    reply,
                    self._not_before(recipient, batch),
                    template=self._template(recipient, activity, language),
                )

        return decide

    def _first_contact(
        self,
        batch: EnqueueBatch,
        recipient: Recipient,
        language: str | None,
        reply: Reply,
        opened: Opened,
    ) -> Reply:
        """`reply`, opened by who we are and how to stop if the contact never heard from us.

        `opened` keeps each reply so opened, per language, for the rest of the enqueue
        (a broadcast sends a few replies to many). It is keyed by the reply's identity,
        and holds the reply, so no other object can take its id while it is there.
        """
        if batch.is_introduced(recipient):
            return reply
        key = (id(reply), language or self.program.default_language)
        found = opened.get(key)
        if found is None:
            found = opened[key] = (reply, introduce(reply, self.program.name, key[1]))
        return found[1]

    def _reminders(self, activity: Activity) -> Callable[[EnqueueBatch], None]:
        def decide(batch: EnqueueBatch) -> None:
            for recipient, loaded in batch.reachable:
                conversation = loaded.state.conversation
                if (
                    conversation is None
                    or conversation.activity != activity.key
                    or conversation.question is None
                    or loaded.conversation_activity_id is None
                ):
                    batch.skip(recipient)
                    continue
                definition = self._definition(loaded.conversation_activity_id, batch)
                question = definition.question(conversation.question)
                if question is None:
                    batch.skip(recipient)
                    continue
                language = loaded.state.language or self.program.default_language
                prefix = self._reminder_prefix(definition, language)
                ask = question_reply(definition, question, language)
                batch.send(
                    recipient,
                    combine([Reply(prefix), ask]),
                    self._not_before(recipient, batch),
                    template=self._template(recipient, definition, language),
                )

        return decide

    def _template(
        self, recipient: Recipient, activity: Activity, language: str | None
    ) -> Template | None:
        """WhatsApp: the activity's template that stands in for the message outside the
        24-hour window (the sender decides at send time whether it is needed)."""
        if recipient.channel is not Channel.WHATSAPP:
            return None
        return activity.whatsapp_template(
            language or self.program.default_language, self.program.name
        )

    def _reminder_prefix(self, activity: Activity, language: str) -> str:
        own = activity.extra.get("reminder")
        if isinstance(own, Localized):
            return own.get(language, activity.default_language)
        title = activity.title.get(language, activity.default_language)
        return system_text("reminder", language, program=self.program.name, title=title)

    def _update_text(self, activity: Activity, language: str) -> str:
        parts = [
            text.get(language, activity.default_language)
            for text in (activity.intro, activity.closing)
            if text is not None
        ]
        body = "\n\n".join(p for p in parts if p) or activity.title.get(
            language, activity.default_language
        )
        if activity.school is None:
            return body
        return f"{school_heading(self.program, activity.school, language)}\n\n{body}"

    # -- activities ----------------------------------------------------------------

    def _activity(self, key: str) -> tuple[int, Activity]:
        row = self.store.latest_activity(key)
        if row is None:
            raise BroadcastError(f"no activity named {key!r}: see engage activity list")
        if not row.is_open:
            raise BroadcastError(f"activity {key!r} is closed; load or open it before broadcasting")
        try:
            return row.id, self._definition(row.id)
        except ActivityError as error:
            raise BroadcastError(
                f"activity {key!r} v{row.version} does not validate, so it cannot be sent:\n{error}"
            ) from error

    def _definition(self, activity_id: int, batch: EnqueueBatch | None = None) -> Activity:
        """The parsed definition of a stored version; inside an enqueue, read in `batch`'s
        transaction (SQLite has one writer: a second connection would wait for the batch)."""
        found = self._definitions.get(activity_id)
        if found is not None:
            return found
        row = batch.activity(activity_id) if batch is not None else self.store.activity(activity_id)
        if row is None:
            raise BroadcastError(f"activity version {activity_id} is missing")
        definition = self.parse(row.source, f"{row.key}@v{row.version}")
        self._definitions[activity_id] = definition
        return definition

    def _within_school(self, audience: Audience, activity: Activity) -> Audience:
        """A school's own round reaches that school's people only."""
        if activity.school is None:
            return audience
        if audience.schools and activity.school not in audience.schools:
            raise AudienceError(
                f"activity {activity.key!r} belongs to school {activity.school!r}; "
                f"the filter names {', '.join(audience.schools)}"
            )
        return replace(audience, schools=(activity.school,), segments=())

    def _warnings(
        self, activity: Activity, counts: AudienceCounts, estimate: Estimate
    ) -> list[str]:
        warnings = []
        have = activity.languages()
        for language, number in sorted(counts.by_language.items()):
            if language not in have:
                warnings.append(
                    f"{number} people read {language}, which {activity.key!r} lacks: they get "
                    f"{activity.default_language}"
                )
        quiet = self.policy.quiet_hours
        crosses = quiet is not None and (
            estimate.deferred or quiet.next_quiet(estimate.starts_at) < estimate.finishes_at
        )
        if counts.by_channel.get(Channel.SMS.value) and quiet is not None and crosses:
            warnings.append(
                f"SMS waits during quiet hours ({quiet.start:%H:%M}-{quiet.end:%H:%M} "
                f"in each family's time zone; {quiet.zone.key} where unknown)"
            )
        return warnings


def _kind(activity: Activity) -> BroadcastKind:
    if activity.kind is ActivityKind.UPDATE and not activity.questions:
        return BroadcastKind.UPDATE
    return BroadcastKind.ACTIVITY
