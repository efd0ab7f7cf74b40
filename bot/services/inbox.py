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
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from bot.core.promise import ReplyPromise
from bot.core.routing import Route, Routing
from bot.core.staff import CLOSED_BY_FAMILY, InboxItem, InboxSummary, ReplyOutcome, StaffReply
from bot.core.state import Program
from bot.core.texts import text
from bot.errors import ProviderError
from bot.services.sender import RunDb

__all__ = ["Inbox", "InboxPoster", "InboxStore"]

log = logging.getLogger(__name__)

BATCH = 20
# Thread replies staff keep to themselves.
INTERNAL_PREFIXES = ("note:", "//")
LEASE = timedelta(minutes=2)
NOTES: Mapping[ReplyOutcome, str] = {
    ReplyOutcome.OPTED_OUT: (
        ":no_entry: Not sent: this person has opted out on the channel they wrote from."
    ),
    ReplyOutcome.UNREACHABLE: (
        ":warning: Not sent: their number or chat can no longer be reached."
    ),
}


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

    def thread(self, channel: str, ts: str) -> InboxItem | None: ...

    def set_aside(self, item_id: int, now: datetime) -> None: ...

    def add_staff_reply(
        self, reply: StaffReply, compose: Callable[[str | None], str], now: datetime
    ) -> ReplyOutcome: ...

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
    ) -> None:
        self.store = store
        self.poster = poster
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

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Keep posting until `stop` is set."""
        while not stop.is_set():
            try:
                posted = await self.post_pending()
            except Exception:  # the loop must outlive one bad round; leases expire
                log.exception("inbox.round_failed")
                posted = 0
            if posted == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle)
                except TimeoutError:
                    pass

    async def reply(self, reply: StaffReply) -> ReplyOutcome:
        """Deliver a staff reply in an inbox thread to the participant, once.

        A reply that starts with `note:` or `//` stays among staff.
        """
        if reply.text.lstrip().lower().startswith(INTERNAL_PREFIXES):
            return ReplyOutcome.INTERNAL
        now = self.clock()

        def compose(language: str | None) -> str:
            return text(
                "staff_reply",
                language or self.program.default_language,
                program=self.program.name,
                message=reply.text,
            )

        outcome = await self.run_db(lambda: self.store.add_staff_reply(reply, compose, now))
        log.info("inbox.reply", extra={"outcome": outcome.value})
        note = NOTES.get(outcome)
        if note is not None:
            try:
                await self.poster.post_note(reply.thread_channel, note, reply.thread_ts)
            except ProviderError as error:
                log.warning("inbox.note_failed", extra={"code": error.code})
        return outcome

    async def resolve(self, item_id: int, user: str) -> InboxItem | None:
        """Close a thread and show it as resolved in Slack."""
        now = self.clock()
        item = await self.run_db(lambda: self.store.resolve(item_id, user, now))
        if item is None or item.thread_ts is None:
            return item
        try:
            await self.poster.update_inbox_item(
                item.thread_channel or self.channel,
                item.thread_ts,
                item,
                self._schools.get(item.school or ""),
            )
        except ProviderError as error:
            log.warning("inbox.update_failed", extra={"item_id": item_id, "code": error.code})
        return item

    async def summary(self) -> InboxSummary:
        now = self.clock()
        return await self.run_db(lambda: self.store.summary(now))
