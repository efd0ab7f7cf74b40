"""The Let's Talk inbox: every Let's Talk message becomes a thread staff answer in Slack.

The inbound transaction only stores the message (a `lets_talk` row); this
loop posts new rows to the inbox channel afterwards, so a family's message
never waits on Slack. A staff reply in a thread goes back to the family on
their own channel through the outbox (unless it starts with `note:` or `//`,
a note among staff); "Resolved" closes the thread, and the time to the first
staff reply is kept per thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from bot.core.detection import LanguageDetector
from bot.core.inbox_report import InboxReport, inbox_report
from bot.core.messages import Choice
from bot.core.promise import ReplyPromise
from bot.core.routing import Route, Routing, mention
from bot.core.staff import (
    CLOSED_BY_FAMILY,
    ClaimOutcome,
    InboxItem,
    InboxSummary,
    ReplyOutcome,
    StaffReply,
    Translation,
    needs_translation,
)
from bot.core.state import Program
from bot.core.texts import language_name, text
from bot.errors import ProviderError
from bot.ports import InboxPoster, InboxStore
from bot.services.sender import RunDb

__all__ = ["Inbox"]

log = logging.getLogger(__name__)

BATCH = 20
# Thread replies staff keep to themselves.
INTERNAL_PREFIXES = ("note:", "//")
LEASE = timedelta(minutes=2)
NUDGE_EVERY = timedelta(minutes=1)
# Shorter replies say too little to tell their language.
MIN_DETECTION_CHARS = 12
ALREADY_TRANSLATED = "That reply was already translated and sent; this one was not sent."
# Button payloads on the question asked before a held reply goes out.
SEND = "lets_talk:send:"
KEEP = "lets_talk:note:"
RELEASED: Mapping[ReplyOutcome, str] = {
    ReplyOutcome.QUEUED: ":white_check_mark: Sent to the family.",
    ReplyOutcome.INTERNAL: ":memo: Kept as a note among staff.",
    ReplyOutcome.TRANSLATING: (
        ":hourglass_flowing_sand: Sent to the translators: it goes to the family once translated."
    ),
    ReplyOutcome.OPTED_OUT: ":no_entry: Not sent: this person has opted out.",
    ReplyOutcome.UNREACHABLE: ":warning: Not sent: they can no longer be reached.",
}
NOTES: Mapping[ReplyOutcome, str] = {
    ReplyOutcome.OPTED_OUT: (
        ":no_entry: Not sent: this person has opted out on the channel they wrote from."
    ),
    ReplyOutcome.UNREACHABLE: (
        ":warning: Not sent: their number or chat can no longer be reached."
    ),
}


class Inbox:
    """Posts Let's Talk items where `routing` sends them and handles what staff do in threads.

    A new thread goes to its team's channel with its owner named, or, when
    urgent, to the urgent channel with the person on call named; `promise`
    sets when it is due. A follow-up goes to its person's open thread.
    """

    def __init__(
        self,
        store: InboxStore,
        poster: InboxPoster,
        routing: Routing,
        promise: ReplyPromise,
        program: Program,
        run_db: RunDb,
        clock: Callable[[], datetime],
        translators: str | None = None,
        detector: LanguageDetector | None = None,
    ) -> None:
        self.store = store
        self.poster = poster
        self.translators = translators
        self.detector = detector
        self.routing = routing
        self.promise = promise
        self.program = program
        self.run_db = run_db
        self.clock = clock
        self._schools = {school.code: school.name for school in program.schools}

    @property
    def channel(self) -> str:
        """The default team's channel."""
        return self.routing.teams[self.routing.default_team].channel

    async def post_pending(self) -> int:
        """Post one batch of new items; returns how many were posted."""
        now = self.clock()
        items = await self.run_db(lambda: self.store.claim_unposted(now, BATCH, LEASE))
        posted = 0
        for item in items:
            route: Route | None = None
            if item.is_closing and item.thread_ts is None:
                # "gracias" with no open thread: not a new ticket.
                await self.run_db(partial(self.store.set_aside, item.id, now))
                log.info("inbox.closing_set_aside", extra={"item_id": item.id})
                continue
            if item.thread_ts is not None and item.thread_channel is not None:
                channel, routed = item.thread_channel, item
            else:
                route = self.routing.route(item.text, item.school, item.language, item.is_urgent)
                channel = route.channel
                routed = replace(
                    item,
                    team=route.team,
                    owner=route.owner,
                    topics=route.topics,
                    due_at=self.promise.due_at(item.created_at),
                )
            try:
                ts = await self.poster.post_inbox_item(
                    channel, routed, self._schools.get(item.school or "")
                )
            except ProviderError as error:
                # The lease runs out and the next round tries again.
                log.warning("inbox.post_failed", extra={"item_id": item.id, "code": error.code})
                if not error.transient:
                    break
                continue
            remind_at = self.promise.remind_at(item.created_at) if route is not None else None
            await self.run_db(
                partial(
                    self.store.mark_posted, item.id, channel, ts, route, routed.due_at, remind_at
                )
            )
            posted += 1
            if item.is_closing:
                await self._close_if_answered(channel, ts)
            log.info(
                "inbox.posted",
                extra={
                    "item_id": item.id,
                    "follow_up": route is None,
                    "team": routed.team,
                    "urgency": item.urgency.value,
                },
            )
        return posted

    async def _close_if_answered(self, channel: str, ts: str) -> None:
        """A thank-you after a staff reply closes the loop: the thread is resolved."""
        root = await self.run_db(partial(self.store.thread, channel, ts))
        if root is not None and root.first_response_at is not None:
            await self.resolve(root.id, CLOSED_BY_FAMILY)

    async def nudge(self) -> int:
        """Remind owners of threads soon due, and tell team leads of those past due.

        Each thread is reminded once and escalated once; returns how many notes were posted.
        """
        now = self.clock()
        reminders = await self.run_db(partial(self.store.due_reminders, now))
        escalations = await self.run_db(partial(self.store.due_escalations, now))
        posted = 0
        for item in reminders:
            who = item.claimed_by or item.owner
            due = self._local(item.due_at) if item.due_at else "soon"
            note = (
                f":alarm_clock: {mention(who) + ' ' if who else ''}This family is waiting "
                f"for a first answer; the reply promise runs out {due}."
            )
            posted += await self._note(item, note, "inbox.reminded")
        for item in escalations:
            team = self.routing.teams.get(item.team or "")
            lead = team.lead if team is not None else None
            owner = item.claimed_by or item.owner
            note = (
                f":rotating_light: {mention(lead) + ' ' if lead else ''}This thread has "
                f"waited past the reply promise ({_hours(self.promise.within)} of business "
                "time) without an answer." + (f" Owner: {mention(owner)}." if owner else "")
            )
            posted += await self._note(item, note, "inbox.escalated")
        return posted

    async def _note(self, item: InboxItem, note: str, event: str) -> int:
        if item.thread_ts is None:
            return 0
        try:
            await self.poster.post_note(item.thread_channel or self.channel, note, item.thread_ts)
        except ProviderError as error:
            log.warning("inbox.note_failed", extra={"item_id": item.id, "code": error.code})
            return 0
        log.info(event, extra={"item_id": item.id, "team": item.team})
        return 1

    def _local(self, moment: datetime) -> str:
        zone = self.promise.hours.zone
        local = moment.replace(tzinfo=UTC).astimezone(zone)
        return local.strftime("%a %b %d, %H:%M ") + (local.tzname() or "")

    def report(self) -> InboxReport:
        """Open threads by age, owner and school; the promise kept per school and language."""
        return inbox_report(self.store.roots(), self.promise, self.clock())

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Keep posting (and nudging, every NUDGE_EVERY) until `stop` is set."""
        next_nudge = self.clock()
        while not stop.is_set():
            try:
                posted = await self.post_pending()
                if self.translators is not None:
                    posted += await self.post_translation_requests()
                if self.clock() >= next_nudge:
                    next_nudge = self.clock() + NUDGE_EVERY
                    posted += await self.nudge()
            except Exception:  # the loop must outlive one bad round; leases expire
                log.exception("inbox.round_failed")
                posted = 0
            if posted == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle)
                except TimeoutError:
                    pass

    def _compose(self, language: str | None, staff_text: str) -> str:
        return text(
            "staff_reply",
            language or self.program.default_language,
            program=self.program.name,
            message=staff_text,
        )

    async def reply(self, reply: StaffReply) -> ReplyOutcome:
        """Deliver a staff reply in an inbox thread to the participant, once.

        A reply that starts with `note:` or `//` stays among staff. The first
        staff member to reply claims the thread; anyone else is asked first.
        """
        if reply.text.lstrip().lower().startswith(INTERNAL_PREFIXES):
            return ReplyOutcome.INTERNAL
        if self.translators is not None and reply.thread_channel == self.translators:
            return await self._translated(reply)
        translate = await self._translation_for(reply)
        now = self.clock()
        outcome = await self.run_db(
            lambda: self.store.add_staff_reply(reply, self._compose, now, translate)
        )
        log.info("inbox.reply", extra={"outcome": outcome.value})
        if outcome is ReplyOutcome.HELD:
            await self._ask_before_sending(reply)
            return outcome
        if outcome is ReplyOutcome.TRANSLATING and translate is not None:
            await self._post(
                reply.thread_channel,
                f":hourglass_flowing_sand: Waiting for a translation into "
                f"{_language(translate.language)}: it goes to the family once a translator "
                f"answers in <#{translate.queue_channel}>.",
                reply.thread_ts,
            )
            return outcome
        if outcome is ReplyOutcome.QUEUED:
            item = await self.run_db(
                partial(self.store.thread, reply.thread_channel, reply.thread_ts)
            )
            if item is not None:
                await self._refresh(item)
        note = NOTES.get(outcome)
        if note is not None:
            try:
                await self.poster.post_note(reply.thread_channel, note, reply.thread_ts)
            except ProviderError as error:
                log.warning("inbox.note_failed", extra={"code": error.code})
        return outcome

    async def _translation_for(self, reply: StaffReply) -> Translation | None:
        """Whether a reply must wait for a translator: staff may write in the family's language."""
        if self.translators is None:
            return None
        item = await self.run_db(partial(self.store.thread, reply.thread_channel, reply.thread_ts))
        if item is None:
            return None
        return await self._translation_needed(item, reply.text)

    async def _translation_needed(self, item: InboxItem, said: str) -> Translation | None:
        if self.translators is None or item.language is None:
            return None
        written = None
        if self.detector is not None and len(said.strip()) >= MIN_DETECTION_CHARS:
            written = await self.run_db(partial(self.detector.detect, said))
        if not needs_translation(item.language, written, self.program.default_language):
            return None
        return Translation(item.language, self.translators, written)

    async def post_translation_requests(self) -> int:
        """Post replies waiting for a translation to the translators' channel."""
        now = self.clock()
        requests = await self.run_db(lambda: self.store.translation_requests(now, BATCH, LEASE))
        posted = 0
        for request in requests:
            ask = (
                f":speech_balloon: Please translate into *{_language(request.language)}* "
                f"this reply by <@{request.author}> to {request.pseudonym}, and answer in "
                "this thread with the translation: your answer is sent to the family as "
                f"you write it.\n>>> {request.text}"
            )
            try:
                ts = await self.poster.post_message(request.queue_channel, ask)
            except ProviderError as error:
                # The lease runs out and the next round tries again.
                log.warning("inbox.translation_post_failed", extra={"code": error.code})
                if not error.transient:
                    break
                continue
            await self.run_db(partial(self.store.mark_translation_posted, request.reply_id, ts))
            posted += 1
        return posted

    async def _translated(self, reply: StaffReply) -> ReplyOutcome:
        """A translator answered: the family gets the translation, the thread sees the delay."""
        now = self.clock()
        outcome, request = await self.run_db(
            lambda: self.store.add_translation(reply, self._compose, now)
        )
        log.info("inbox.translation", extra={"outcome": outcome.value})
        if request is None:
            return outcome
        if outcome is ReplyOutcome.QUEUED:
            delay = _span(now - request.written_at)
            if request.thread_channel and request.thread_ts:
                await self._post(
                    request.thread_channel,
                    f":white_check_mark: Sent in {_language(request.language)}, translated by "
                    f"<@{reply.author}>, {delay} after it was written:\n>>> {reply.text}",
                    request.thread_ts,
                )
            await self._post(reply.thread_channel, ":white_check_mark: Sent.", reply.thread_ts)
        elif outcome is ReplyOutcome.DUPLICATE:
            try:
                await self.poster.post_ephemeral(
                    reply.thread_channel, reply.author, ALREADY_TRANSLATED, reply.thread_ts
                )
            except ProviderError as error:
                log.warning("inbox.tell_failed", extra={"code": error.code})
        elif (note := NOTES.get(outcome)) is not None:
            await self._post(reply.thread_channel, note, reply.thread_ts)
        return outcome

    async def _post(self, channel: str, note: str, thread_ts: str | None) -> None:
        try:
            await self.poster.post_note(channel, note, thread_ts)
        except ProviderError as error:
            log.warning("inbox.note_failed", extra={"code": error.code})

    async def _ask_before_sending(self, reply: StaffReply) -> None:
        item = await self.run_db(partial(self.store.thread, reply.thread_channel, reply.thread_ts))
        holder = item.claimed_by if item is not None else None
        who = f"<@{holder}>" if holder else "Someone else"
        ask = (
            f"{who} has claimed this thread, so your reply was not sent yet: "
            "the family should get one answer. Send it anyway, or keep it as a note?"
        )
        choices = (
            Choice("send", "Send it anyway", f"{SEND}{reply.provider_id}"),
            Choice("note", "Keep as a note", f"{KEEP}{reply.provider_id}"),
        )
        try:
            await self.poster.post_ephemeral(
                reply.thread_channel, reply.author, ask, reply.thread_ts, choices
            )
        except ProviderError as error:
            log.warning("inbox.ask_failed", extra={"code": error.code})

    async def release(self, provider_id: str, user: str, send: bool) -> str:
        """A held reply's author decided: send it after all, or keep it as a note."""
        translate = None
        if send and self.translators is not None:
            held = await self.run_db(partial(self.store.held_reply, provider_id))
            if held is not None:
                translate = await self._translation_needed(*held)
        now = self.clock()
        outcome = await self.run_db(
            lambda: self.store.release_held(provider_id, user, send, self._compose, now, translate)
        )
        log.info("inbox.release", extra={"outcome": outcome.value})
        return RELEASED.get(outcome, "Nothing to do: that reply was already handled.")

    async def claim(self, item_id: int, user: str) -> ClaimOutcome:
        """Claim a thread: its post shows who holds it; a thread held by someone else stays so."""
        now = self.clock()
        outcome, item = await self.run_db(lambda: self.store.claim(item_id, user, now))
        log.info("inbox.claim", extra={"item_id": item_id, "outcome": outcome.value})
        if item is None or item.thread_ts is None or item.thread_channel is None:
            return outcome
        if outcome is ClaimOutcome.CLAIMED:
            await self._refresh(item)
        elif outcome is ClaimOutcome.HELD:
            await self._tell(
                item,
                user,
                f"<@{item.claimed_by}> has claimed this thread; use Reassign to take it over.",
            )
        return outcome

    async def reassign(self, item_id: int, to: str, by: str) -> ClaimOutcome:
        """Hand a thread to someone else; they are named in the thread so they hear of it."""
        now = self.clock()
        outcome, item = await self.run_db(lambda: self.store.reassign(item_id, to, by, now))
        log.info("inbox.reassign", extra={"item_id": item_id, "outcome": outcome.value})
        if outcome is ClaimOutcome.CLAIMED and item is not None and item.thread_ts is not None:
            await self._refresh(item)
            try:
                await self.poster.post_note(
                    item.thread_channel or self.channel,
                    f"<@{by}> handed this thread to <@{to}>.",
                    item.thread_ts,
                )
            except ProviderError as error:
                log.warning("inbox.note_failed", extra={"code": error.code})
        return outcome

    async def _tell(self, item: InboxItem, user: str, message: str) -> None:
        try:
            await self.poster.post_ephemeral(
                item.thread_channel or self.channel, user, message, item.thread_ts
            )
        except ProviderError as error:
            log.warning("inbox.tell_failed", extra={"code": error.code})

    async def _refresh(self, item: InboxItem) -> None:
        """Show a thread's first post as it stands now (claimed, resolved)."""
        if item.thread_ts is None:
            return
        try:
            await self.poster.update_inbox_item(
                item.thread_channel or self.channel,
                item.thread_ts,
                item,
                self._schools.get(item.school or ""),
            )
        except ProviderError as error:
            log.warning("inbox.update_failed", extra={"item_id": item.id, "code": error.code})

    async def resolve(self, item_id: int, user: str) -> InboxItem | None:
        """Close a thread and show it as resolved in Slack."""
        now = self.clock()
        item = await self.run_db(lambda: self.store.resolve(item_id, user, now))
        if item is not None:
            await self._refresh(item)
        return item

    async def summary(self) -> InboxSummary:
        """How the inbox stands, with the reply promise kept so far."""
        now = self.clock()
        summary = await self.run_db(lambda: self.store.summary(now))
        report = await self.run_db(self.report)
        return replace(
            summary,
            within_promise=report.overall.kept,
            promise_decided=report.overall.decided,
            overdue=report.overdue(),
        )


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hours"


def _language(code: str) -> str:
    return f"{language_name(code)} ({code})"


def _span(span: timedelta) -> str:
    minutes = max(int(span.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} days {hours % 24} h"
