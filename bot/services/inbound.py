"""The service layer: one inbound message, one transaction.

Load who sent it, run the pure engine, then store the new state, the answers,
the message log and the replies (as outbox rows) together, so a crash leaves
either all of it or none of it, and a redelivered message changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from bot.authoring.activities import parse_activity
from bot.core.activity import Activity
from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
from bot.core.detection import LanguageDetector
from bot.core.keys import address_digest
from bot.core.keywords import Keyword, match_keyword
from bot.core.messages import Channel, InboundMessage, Reply
from bot.core.state import EventKind, ParticipantState, Program, Step
from bot.core.step import Activities, step
from bot.core.whatsapp import same_number
from bot.errors import StoreBusy
from bot.ports import ActivityRow, OutboxKind, SenderRecord, UnitOfWork
from bot.services.exchange import ExchangeIdeas, IdeaPools, pick_seed, store_exchange_event

__all__ = ["Inbound", "Outcome", "Service", "utcnow"]

log = logging.getLogger(__name__)

# The engine's events that are consent events, and what the ledger calls them.
CONSENT_KINDS = {
    EventKind.OPTED_OUT: ConsentKind.OPT_OUT,
    EventKind.OPTED_IN: ConsentKind.OPT_IN,
    EventKind.HELP: ConsentKind.HELP,
    EventKind.CONSENT_GIVEN: ConsentKind.CONSENT_GIVEN,
    EventKind.CONSENT_DECLINED: ConsentKind.CONSENT_WITHDRAWN,
}

OPEN_ACTIVITIES_TTL = 1.0

# Text shorter than this says too little to detect a language from.
MIN_DETECTION_CHARS = 2


def utcnow() -> datetime:
    """Naive UTC, as the database stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one inbound message."""

    duplicate: bool
    participant_id: int | None = None
    replies: int = 0
    step: Step | None = None
    # From the address of someone forgotten: dropped, nothing recorded.
    dropped: bool = False


Inbound = InboundMessage
DROPPED = Outcome(duplicate=False, dropped=True)


class Service:
    """Runs inbound messages through the engine against a store.

    `new_uow` opens a fresh unit of work; `detector` may be None (no detection).
    `forgotten_key` keys the hashes of forgotten people's addresses
    (bot.core.keys): a message from one of them is dropped, unless it asks
    to start again (START, /start), rather than taken for a new person.
    """

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        program: Program,
        detector: LanguageDetector | None = None,
        clock: Callable[[], datetime] = utcnow,
        retries: int = 3,
        forgotten_key: bytes | None = None,
    ) -> None:
        self.new_uow = new_uow
        self.forgotten_key = forgotten_key
        self.program = program
        self.detector = detector
        self.clock = clock
        self.retries = retries
        self._definitions: dict[int, Activity] = {}
        self._open_rows: Sequence[ActivityRow] | None = None
        self._open_read = 0.0
        self.ideas = IdeaPools()
        # The district's time zone: an exchange opens and closes on its calendar days.
        self.timezone: tzinfo = UTC

    def handle_inbound(self, message: InboundMessage) -> Outcome:
        """Store and answer one message; retry when the database is briefly busy."""
        for attempt in range(self.retries + 1):
            try:
                return self._handle(message)
            except StoreBusy as error:
                if attempt == self.retries:
                    raise
                log.warning(
                    "inbound.retry",
                    extra={"attempt": attempt + 1, "error": str(error)},
                )
                time.sleep(0.05 * (2**attempt))
        raise AssertionError("unreachable")

    def handle_once(self, message: InboundMessage) -> Outcome:
        """Store and answer one message, one try (the inbound queue does the retrying)."""
        return self._handle(message)

    def definition(self, uow: UnitOfWork, row: ActivityRow) -> Activity:
        """The parsed activity of a stored version (versions never change, so cached)."""
        activity = self._definitions.get(row.id)
        if activity is None:
            source = row.source or self._source(uow, row.id)
            activity = parse_activity(source, f"{row.key}@v{row.version}")
            self._definitions[row.id] = activity
        return activity

    @staticmethod
    def _source(uow: UnitOfWork, activity_id: int) -> str:
        stored = uow.activity(activity_id)
        return stored.source if stored is not None else ""

    def _handle(self, message: InboundMessage) -> Outcome:
        now = self.clock()
        with self.new_uow() as uow:
            outcome = self.converse(uow, message, now)
            if outcome.step is not None:
                uow.commit()
        return outcome

    def converse(self, uow: UnitOfWork, message: InboundMessage, now: datetime) -> Outcome:
        """Record `message` and run it through the engine inside `uow`, leaving the
        commit to the caller: the outcome has a step when there is something to commit."""
        if message.blocked:
            return self._blocked(uow, message, now)
        detected = self._detect(message.text)
        sender = uow.find_sender(message.channel, message.address)
        if sender is None:
            sender = self.new_sender(uow, message, now)
            if sender is None:
                return DROPPED
        message_id = uow.record_inbound(sender, message, detected, now)
        if message_id is None:
            log.info("inbound.duplicate", extra={"channel": message.channel.value})
            return Outcome(duplicate=True, participant_id=sender.participant_id)
        if self._answers_template(uow, sender, message, now):
            # The message the template stood for (an invitation, a reminder) now goes
            # out; this answer to the template is not an answer to its question.
            log.info("inbound.window_opened", extra={"participant_id": sender.participant_id})
            return Outcome(False, sender.participant_id, step=Step(sender.state))
        ids: dict[str, int] = {}
        current = None
        activity_id = sender.conversation_activity_id
        if activity_id is not None:
            current = self._definitions.get(activity_id)
            if current is None:
                row = uow.activity(activity_id)
                current = self.definition(uow, row) if row is not None else None
            if current is not None:
                ids[current.key] = activity_id
        open_rows = self._open_activities(uow)
        open_ = [self.definition(uow, row) for row in open_rows]
        for row in open_rows:
            ids.setdefault(row.key, row.id)
        definitions = {a.key: a for a in open_}
        if current is not None:
            definitions[current.key] = current
        source = None
        if any(a.exchange is not None for a in definitions.values()):
            today = now.replace(tzinfo=UTC).astimezone(self.timezone).date()
            seed = pick_seed(sender.participant_id, message_id)
            source = ExchangeIdeas(uow, self.ideas, sender.participant_id, today, now, seed)
        activities = Activities(current, open_, source)
        result = step(sender.state, message, self.program, activities, detected)
        result = self._store_exchange(uow, sender, message, result, message_id, definitions)
        self._store(uow, sender, message, result, message_id, ids, detected, now)
        self._opt_in_on_whatsapp(uow, sender, message, result, message_id, now)
        log.info(
            "inbound.accepted",
            extra={
                "channel": message.channel.value,
                "participant_id": sender.participant_id,
                "replies": len(result.replies),
            },
        )
        return Outcome(False, sender.participant_id, len(result.replies), result)

    def _blocked(self, uow: UnitOfWork, message: InboundMessage, now: datetime) -> Outcome:
        """The person blocked the bot on this channel: logged as their message, and
        that contact (only that one) opted out in the ledger, in one transaction. A
        chat nobody knows here blocked nothing of ours: nothing is recorded."""
        sender = uow.find_sender(message.channel, message.address)
        if sender is None:
            log.info("inbound.blocked_unknown", extra={"channel": message.channel.value})
            return DROPPED
        message_id = uow.record_inbound(sender, message, None, now)
        if message_id is None:
            log.info("inbound.duplicate", extra={"channel": message.channel.value})
            return Outcome(duplicate=True, participant_id=sender.participant_id)
        change = ConsentChange(ConsentKind.OPT_OUT, ConsentSource.TELEGRAM_BLOCKED)
        uow.stop_contact(sender, change, message_id, now)
        log.info("inbound.blocked", extra={"participant_id": sender.participant_id})
        return Outcome(False, sender.participant_id, step=Step(sender.state))

    def _store_exchange(
        self,
        uow: UnitOfWork,
        sender: SenderRecord,
        message: InboundMessage,
        result: Step,
        message_id: int,
        definitions: dict[str, Activity],
    ) -> Step:
        """Store the ideas shared and reactions of this step; `result` with anything more to say."""
        extra: list[Reply] = []
        now = self.clock()
        for event in result.events:
            if event.kind in (EventKind.IDEA_SHARED, EventKind.REACTED):
                language = self._detect(event.text or "") or result.state.language
                extra.extend(
                    store_exchange_event(
                        uow,
                        self.ideas,
                        sender,
                        event,
                        definitions,
                        language or self.program.default_language,
                        message.channel,
                        message_id,
                        now,
                    )
                )
        if not extra:
            return result
        return replace(result, replies=(*result.replies, *extra))

    def new_sender(
        self, uow: UnitOfWork, message: InboundMessage, now: datetime, *, rejoins: bool = False
    ) -> SenderRecord | None:
        """A new person for an address not on file, or a new contact of the person whose
        number it is on the other phone channel (SMS, WhatsApp); None (and nothing
        recorded) when it belongs to someone forgotten, unless they ask to start again
        (or `rejoins`)."""
        if self.forgotten_key is not None and not (rejoins or self._asks_to_start(message)):
            digest = address_digest(self.forgotten_key, message.channel.value, message.address)
            if uow.is_forgotten(digest):
                log.info("inbound.forgotten_address", extra={"channel": message.channel.value})
                return None
        if message.channel is Channel.SLACK:  # only staff write from the workspace
            return uow.add_sender(
                message.channel, message.address, now, role="staff", name=message.sender_name
            )
        other = same_number(message.channel)
        known = uow.find_sender(other, message.address) if other is not None else None
        if known is not None:
            # Their number on the other channel is on file: the same person, a new contact.
            log.info("inbound.same_number", extra={"participant_id": known.participant_id})
            return uow.add_contact(known, message.channel, message.address, now)
        return uow.add_sender(message.channel, message.address, now)

    def _answers_template(
        self, uow: UnitOfWork, sender: SenderRecord, message: InboundMessage, now: datetime
    ) -> bool:
        """Whether this WhatsApp message answers a template, releasing what waited for it.

        A keyword (STOP, HELP …) or a button tap is still read by the engine.
        """
        if message.channel is not Channel.WHATSAPP:
            return False
        if not uow.resume_after_template(sender.contact_id, now):
            return False
        return (
            message.button is None and match_keyword(message.text, self.program.languages) is None
        )

    def _opt_in_on_whatsapp(
        self,
        uow: UnitOfWork,
        sender: SenderRecord,
        message: InboundMessage,
        result: Step,
        message_id: int,
        now: datetime,
    ) -> None:
        """START on WhatsApp from someone not opted out is still their WhatsApp opt-in.

        The engine sees nothing to change (they never said STOP), but WhatsApp lets
        the district write first only to people who opted in there, and a family
        known by SMS has no other way to say so.
        """
        if message.channel is not Channel.WHATSAPP or sender.state.opted_out:
            return
        if any(event.kind is EventKind.OPTED_IN for event in result.events):
            return
        found = match_keyword(message.text, self.program.languages)
        if found is not None and found.keyword is Keyword.START:
            change = ConsentChange(ConsentKind.OPT_IN, ConsentSource.KEYWORD, words=message.text)
            uow.record_consent(sender, change, message_id, now)

    def _asks_to_start(self, message: InboundMessage) -> bool:
        if message.text.strip().lower().startswith("/start"):
            return True
        found = match_keyword(message.text, self.program.languages)
        return found is not None and found.keyword is Keyword.START

    def _open_activities(self, uow: UnitOfWork) -> Sequence[ActivityRow]:
        """Open activities, read at most once a second: loading or closing one takes
        effect within a second, and a busy inbound path saves a query per message."""
        now = time.monotonic()
        if self._open_rows is None or now - self._open_read > OPEN_ACTIVITIES_TTL:
            self._open_rows = uow.open_activities()
            self._open_read = now
        return self._open_rows

    def _detect(self, text: str) -> str | None:
        if self.detector is None or len(text.strip()) < MIN_DETECTION_CHARS:
            return None
        return self.detector.detect(text)

    def _store(
        self,
        uow: UnitOfWork,
        sender: SenderRecord,
        message: InboundMessage,
        result: Step,
        message_id: int,
        activity_ids: dict[str, int],
        detected: str | None,
        now: datetime,
    ) -> None:
        before, after = sender.state, result.state
        conversation_ids: dict[str, int] = {}
        if sender.conversation_id is not None and before.conversation is not None:
            conversation_ids[before.conversation.activity] = sender.conversation_id
        completed: set[str] = set()
        kind = OutboxKind.REPLY
        for event in result.events:
            match event.kind:
                case EventKind.ACTIVITY_STARTED:
                    assert event.activity is not None
                    conversation_ids[event.activity] = uow.start_conversation(
                        sender.participant_id, activity_ids[event.activity], now
                    )
                case EventKind.ACTIVITY_COMPLETED:
                    assert event.activity is not None
                    completed.add(event.activity)
                case (
                    EventKind.OPTED_OUT
                    | EventKind.OPTED_IN
                    | EventKind.HELP
                    | EventKind.CONSENT_GIVEN
                    | EventKind.CONSENT_DECLINED
                ):
                    change = ConsentChange(
                        CONSENT_KINDS[event.kind],
                        event.source or ConsentSource.KEYWORD,
                        words=event.text,
                    )
                    uow.record_consent(sender, change, message_id, now)
                    # The opt-out confirmation, and the answer to HELP, are the messages
                    # that may still go to a contact who opted out.
                    if event.kind is EventKind.OPTED_OUT:
                        kind = OutboxKind.CONFIRMATION
                    elif event.kind is EventKind.HELP:
                        kind = OutboxKind.HELP
                case EventKind.LETS_TALK:
                    uow.add_lets_talk(
                        sender,
                        message_id,
                        event.text or "",
                        detected or after.language,
                        now,
                        event.assessment,
                        event.is_closing,
                    )
                case _:
                    pass
        if result.responses:
            uow.add_responses(
                sender,
                conversation_ids,
                activity_ids,
                result.responses,
                message_id,
                message.channel,
                detected,
                now,
            )
        for key, conversation_id in conversation_ids.items():
            unchanged = (
                key not in completed
                and before.conversation is not None
                and before.conversation == after.conversation
                and before.conversation.activity == key
            )
            if not unchanged:
                uow.save_conversation(conversation_id, after, key in completed, now)
        if _participant_changed(before, after):
            uow.save_participant(sender.participant_id, after, now)
        uow.enqueue(sender.contact_id, message.channel, message.address, result.replies, kind, now)


def _participant_changed(before: ParticipantState, after: ParticipantState) -> bool:
    return (
        before.language,
        before.role,
        before.schools,
        before.consent,
        before.onboarding,
        before.onboarding_started,
        before.awaiting,
        before.attempts,
        before.pending,
    ) != (
        after.language,
        after.role,
        after.schools,
        after.consent,
        after.onboarding,
        after.onboarding_started,
        after.awaiting,
        after.attempts,
        after.pending,
    )
