"""The outbox sender: claim due rows, clear each just before sending, record, retry.

Nobody who said STOP gets anything more: a row is cleared for sending by one
conditional statement (`Outbox.begin_sending`) immediately before its provider
call, which checks the contact's opt-out and the broadcast's cancellation and
pause as committed at that moment. Rows that reach that point together share
the statement (`Clearance`), so a busy worker pays one write per group, not per
message.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from bot.core.messages import Channel, OutboundMessage
from bot.core.places import Place, place_of_number
from bot.core.quiet_hours import QuietHours
from bot.core.render import with_direction
from bot.core.setup_problems import explain
from bot.core.whatsapp import TEMPLATE_ANSWER_WAIT, WindowSend, how_to_send
from bot.errors import DeliveryFailure, ProviderError
from bot.ports import (
    ChannelPause,
    ChannelPauses,
    ChannelSender,
    Outbox,
    OutboxKind,
    OutboxRow,
    SentLookup,
)

__all__ = ["Clearance", "OutboxSender", "RateLimiter", "RunDb"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class RunDb(Protocol):
    """Runs a blocking database call from async code (in a worker thread in the server)."""

    def __call__(self, work: Callable[[], T], /) -> Awaitable[T]: ...


# With backoff capped at a minute, ten tries span a few minutes of provider trouble;
# a longer outage pauses the whole channel instead (BREAKER_FAILURES).
MAX_ATTEMPTS = 10
MAX_BACKOFF_SECONDS = 60.0
# Consecutive transient failures on a channel that pause it, so a provider answering
# 500 is probed now and then instead of being hit with the whole backlog.
BREAKER_FAILURES = 3
# A send must start this long before its row's lease ends (the Twilio client times
# out after 15 s), so a row is never sent by a worker that no longer holds it.
SEND_MARGIN = timedelta(seconds=20)
# Sends are recorded in batches: at most this many, or this often.
RECORD_BATCH = 200
RECORD_EVERY = timedelta(seconds=1)
# A channel paused because the provider refused our configuration is tried again with
# one message this often (a restart with new credentials tries at once).
PROBE_EVERY = timedelta(minutes=5)
# How often a worker reads which channels are paused (another worker may have paused one).
PAUSES_READ_EVERY = timedelta(seconds=1)


class RateLimiter:
    """A token bucket: at most `per_second` sends a second, with a burst of one second's worth."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.tokens = max(per_second, 1.0)
        self.capacity = self.tokens
        self.updated = asyncio.get_running_loop().time() if _has_loop() else 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.per_second <= 0:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            while True:
                now = loop.time()
                self.tokens = min(
                    self.capacity, self.tokens + (now - self.updated) * self.per_second
                )
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.per_second)


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def backoff(attempts: int, retry_after: float | None) -> float:
    """Seconds before the next try: what the provider asked for, else 1, 2, 4 … 60 with jitter."""
    if retry_after is not None:
        return float(retry_after)
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(attempts - 1, 0)) * random.uniform(0.8, 1.2)


async def _inline(work: Callable[[], T]) -> T:
    return work()


class Clearance:
    """Clears claimed rows for sending, each just before its provider call.

    Rows that ask in the same turn of the event loop, or while the previous
    statement runs, are cleared by one statement together; none waits for more
    than the one statement before its own. `before()` may hand over other
    database work that is due (recording sends), done in the same thread call
    first, so the sender's writes never wait on each other's locks.
    """

    def __init__(
        self,
        outbox: Outbox,
        run_db: RunDb,
        clock: Callable[[], datetime],
        before: Callable[[], Callable[[], object] | None] = lambda: None,
    ) -> None:
        self.outbox = outbox
        self.run_db = run_db
        self.clock = clock
        self.before = before
        self._waiting: list[tuple[OutboxRow, asyncio.Future[bool]]] = []
        self._flushing: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self._flushing is not None and not self._flushing.done()

    async def clear(self, row: OutboxRow) -> bool:
        """Whether `row` may be sent now (it is then marked in flight)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # the rows ready in this turn join the first statement
        while self._waiting:
            batch, self._waiting = self._waiting, []
            rows = [row for row, _ in batch]
            first = self.before()

            def clear(
                rows: list[OutboxRow] = rows, first: Callable[[], object] | None = first
            ) -> set[int]:
                if first is not None:
                    first()
                return self.outbox.begin_sending(rows, self.clock())

            try:
                cleared = await self.run_db(clear)
            except Exception as error:  # each waiting send fails with it; leases expire
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for row, future in batch:
                if not future.done():
                    future.set_result(row.id in cleared)


class OutboxSender:
    """Sends what the outbox holds through the channels that are configured.

    `run_db` runs a blocking database call (in a worker thread in the server);
    `rates` caps sends per second per channel (0 or missing: no cap);
    `quiet_hours`, if set, holds SMS broadcasts (not replies) until morning in
    each family's own time zone (their number's; the district's if unknown).

    Exactly-once: a row is sent only while this worker holds its lease (with
    SEND_MARGIN to spare), and a row tried before (`attempts > 1`: a worker died
    after sending, or a time-out) is first looked up at the provider when the
    channel can (`SentLookup`), and recorded instead of sent again if found.
    """

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[Channel, ChannelSender],
        clock: Callable[[], datetime],
        *,
        run_db: RunDb | None = None,
        rates: Mapping[Channel, float] | None = None,
        # Claims are O(backlog) on SQLite (a sort of the due rows); 500 a claim keeps
        # that cost small per message. Rate-limited channels claim less (_claim_limit).
        batch: int = 500,
        concurrency: int = 32,
        lease: timedelta = timedelta(minutes=2),
        quiet_hours: QuietHours | None = None,
        pauses: ChannelPauses | None = None,
        credentials: Mapping[Channel, str] | None = None,
        probe_every: timedelta = PROBE_EVERY,
    ) -> None:
        self.outbox = outbox
        self.channels = dict(channels)
        self.clock = clock
        self.run_db: RunDb = run_db or _inline
        self.rates = dict(rates or {})
        self.batch = batch
        self.concurrency = concurrency
        self.lease = lease
        self.quiet_hours = quiet_hours
        self.margin = min(SEND_MARGIN, lease / 4)
        self._limiters: dict[Channel, RateLimiter] = {}
        self._sent: list[tuple[OutboxRow, str]] = []
        self._recorded_at = datetime.min
        self._failures: dict[Channel, int] = {}
        self._paused_until: dict[Channel, datetime] = {}
        self._adopted: set[str] = set()
        self._clearance = Clearance(outbox, self.run_db, clock, self._recording_due)
        self.pauses = pauses
        self.credentials = dict(credentials or {})
        self.probe_every = probe_every
        # Channels the provider refused our configuration for (these credentials).
        self._setup: dict[Channel, ChannelPause] = {}
        # Channels paused under any configuration: a message sent here ends those pauses.
        self._recorded_pauses: set[Channel] = set()
        self._pauses_read = datetime.min

    async def run_once(self, only: Channel | None = None) -> int:
        """Send one batch of due messages (of `only` that channel); how many rows were handled."""
        channels = [c for c in self.channels if only is None or c is only]
        if not channels:
            return 0
        now = self.clock()
        await self._read_pauses(now)
        rows: list[OutboxRow] = []
        for channel in channels:
            if self._paused(channel, now):
                continue
            # A channel whose configuration failed is tried with one message at a time.
            limit = 1 if channel in self._setup else self._claim_limit(channel)
            rows += await self.run_db(
                lambda c=channel, n=limit: self.outbox.claim_due(now, n, self.lease, [c])  # type: ignore[misc]
            )
        if not rows:
            return 0
        rows = await self._hold_for_quiet_hours(rows, now)
        if not rows:
            return 1  # held rows went back to the queue; there may be more due
        deadline = now + self.lease - self.margin
        gate = asyncio.Semaphore(self.concurrency)
        # Families are sent to side by side; one family's messages go one after the
        # other, in the order they were written (a greeting before its question).
        families: dict[tuple[Channel, str], list[OutboxRow]] = defaultdict(list)
        for row in sorted(rows, key=lambda row: row.id):
            families[(row.channel, row.address)].append(row)

        async def in_order(family: list[OutboxRow]) -> None:
            for row in family:
                async with gate:
                    await self._send(row, deadline)

        try:
            await asyncio.gather(*(in_order(family) for family in families.values()))
        finally:
            await self._record()
        return len(rows)

    async def run(self, stop: asyncio.Event, idle: float = 0.25) -> None:
        """Keep sending until `stop` is set; sleeps `idle` seconds when nothing is due.

        Each channel runs its own loop, so a slow one (SMS at 1/s) never holds up the others.
        """
        await asyncio.gather(*(self._run_channel(c, stop, idle) for c in self.channels))

    async def _run_channel(self, channel: Channel, stop: asyncio.Event, idle: float) -> None:
        while not stop.is_set():
            try:
                handled = await self.run_once(channel)
            except Exception:  # the loop must outlive one bad batch; the rows' leases expire
                log.exception("outbox.batch_failed", extra={"channel": channel.value})
                handled = 0
            if handled == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle)
                except TimeoutError:
                    pass

    async def _send(self, row: OutboxRow, deadline: datetime) -> None:
        channel = self.channels[row.channel]
        held_until = self._held_until(row)
        if held_until is not None:
            # Quiet hours began, or the channel is paused: back to the queue, no attempt spent.
            await self.run_db(lambda: self.outbox.release([row], held_until))
            return
        limiter = self._limiter(row.channel)
        if limiter is not None:
            await limiter.acquire()
        if self.clock() >= deadline:
            # Too close to the end of our lease: another worker may take the row over.
            await self.run_db(lambda: self.outbox.release([row], self.clock()))
            return
        if not await self._clearance.clear(row):
            # A STOP, a cancel or a pause came after the claim: not one message more.
            log.info("outbox.withdrawn", extra={"outbox_id": row.id, "channel": row.channel.value})
            return
        if row.channel is Channel.WHATSAPP:
            how = how_to_send(
                row.last_inbound_at,
                self.clock(),
                has_template=row.template is not None,
                template_sent=row.template_sent,
            )
            if how is not WindowSend.FREE_FORM:
                await self._outside_window(channel, row, how)
                return
        message = with_direction(
            OutboundMessage(
                row.channel, row.address, row.reply.text, row.reply.choices, reference=str(row.id)
            )
        )
        try:
            provider_id = None
            if row.attempts > 1 and isinstance(channel, SentLookup):
                provider_id = await self._already_sent(channel, row, message)
            if provider_id is None:
                provider_id = await channel.send(message)
        except ProviderError as error:
            if (
                error.failure is DeliveryFailure.OUTSIDE_WINDOW
                and row.template is not None
                and not row.template_sent
            ):
                # WhatsApp counted the window closed before we did: the template instead.
                await self._outside_window(channel, row, WindowSend.TEMPLATE)
                return
            await self._failed(row, error)
            return
        self._failures[row.channel] = 0
        if row.channel in self._setup or row.channel in self._recorded_pauses:
            await self._lift_pause(row.channel)
        self._sent.append((row, provider_id))
        log.debug("outbox.sent", extra={"outbox_id": row.id, "channel": row.channel.value})
        if self._is_record_due() and not self._clearance.busy:
            await self._record()  # else the clearance under way records them first

    async def _outside_window(
        self, channel: ChannelSender, row: OutboxRow, how: WindowSend
    ) -> None:
        """WhatsApp, more than 24 hours after the family last wrote: the template, or nothing."""
        now = self.clock()
        if how is WindowSend.TEMPLATE:
            template = OutboundMessage(row.channel, row.address, row.text, template=row.template)
            try:
                provider_id = await channel.send(template)
            except ProviderError as error:
                await self._failed(row, error)
                return
            until = now + TEMPLATE_ANSWER_WAIT
            await self.run_db(lambda: self.outbox.await_answer(row, provider_id, now, until))
            log.info("outbox.template_sent", extra={"outbox_id": row.id})
            return
        if how is WindowSend.UNANSWERED:
            reason = (
                "the family did not answer the WhatsApp template within "
                f"{TEMPLATE_ANSWER_WAIT.days} days"
            )
        else:
            reason = (
                "WhatsApp allows only an approved template more than 24 hours after the "
                "family last wrote, and the activity has none in their language "
                "(whatsapp_templates in docs/activities.md)"
            )
        await self.run_db(
            lambda: self.outbox.mark_failed(
                row, reason, "window", DeliveryFailure.OUTSIDE_WINDOW, now
            )
        )
        log.warning("outbox.outside_window", extra={"outbox_id": row.id, "why": how.value})

    def _is_record_due(self) -> bool:
        return bool(self._sent) and (
            len(self._sent) >= RECORD_BATCH or self.clock() - self._recorded_at >= RECORD_EVERY
        )

    def _recording_due(self) -> Callable[[], object] | None:
        """The recording of sends, if due, for the clearance to run before its statement."""
        if not self._is_record_due():
            return None
        sent, self._sent = self._sent, []
        self._recorded_at = now = self.clock()
        return lambda: self.outbox.mark_sent_many(sent, now)

    async def _record(self) -> None:
        """Mark what was sent, many rows in one transaction."""
        sent, self._sent = self._sent, []
        self._recorded_at = self.clock()
        if sent:
            now = self.clock()
            await self.run_db(lambda: self.outbox.mark_sent_many(sent, now))
            log.info("outbox.recorded", extra={"sent": len(sent)})

    async def _already_sent(
        self, channel: SentLookup, row: OutboxRow, message: OutboundMessage
    ) -> str | None:
        """The provider id of an earlier attempt of this row that did go out, if any."""
        found = await channel.find_sent(message)
        if not found:
            return None
        known = await self.run_db(lambda: self.outbox.known_provider_ids(row.channel, found))
        for provider_id in found:
            if provider_id not in known and provider_id not in self._adopted:
                self._adopted.add(provider_id)
                log.info(
                    "outbox.recovered", extra={"outbox_id": row.id, "channel": row.channel.value}
                )
                return provider_id
        return None

    def _held_until(self, row: OutboxRow) -> datetime | None:
        now = self.clock()
        paused = self._paused_until.get(row.channel)
        if paused is not None and paused > now:
            return paused
        setup = self._setup.get(row.channel)
        if setup is not None and setup.probe_after > now:
            return now  # back to the queue for a worker whose configuration works
        return self._quiet_until(row, now)

    def _quiet_until(self, row: OutboxRow, now: datetime) -> datetime | None:
        """When a broadcast SMS may go, if the family's quiet hours hold it now."""
        quiet = self.quiet_hours
        if quiet is not None and row.kind is OutboxKind.BROADCAST and row.channel is Channel.SMS:
            place = Place.parse(row.place) if row.place else None
            allowed = quiet.next_allowed_at(now, place or place_of_number(row.address))
            if allowed > now:
                return allowed
        return None

    def _paused(self, channel: Channel, now: datetime) -> bool:
        paused = self._paused_until.get(channel)
        setup = self._setup.get(channel)
        return (paused is not None and paused > now) or (
            setup is not None and setup.probe_after > now
        )

    async def _read_pauses(self, now: datetime) -> None:
        """Learn which channels are paused for our configuration (maybe by another worker)."""
        if self.pauses is None or now - self._pauses_read < PAUSES_READ_EVERY:
            return
        self._pauses_read = now
        pauses = self.pauses
        found = await self.run_db(pauses.pauses)
        self._recorded_pauses = {p.channel for p in found}
        self._setup = {
            p.channel: p for p in found if p.credentials == self.credentials.get(p.channel, "")
        }

    async def _pause_for_setup(self, row: OutboxRow, error: ProviderError, now: datetime) -> None:
        """The provider refused our configuration: pause the channel, keep the message."""
        probe = now + self.probe_every
        credentials = self.credentials.get(row.channel, "")
        self._setup[row.channel] = ChannelPause(row.channel, credentials, error.code, now, probe)
        self._recorded_pauses.add(row.channel)
        pauses = self.pauses
        if pauses is not None:
            await self.run_db(
                lambda: pauses.pause(row.channel, credentials, error.code, now, probe)
            )
        await self.run_db(lambda: self.outbox.release([row], now))
        log.error(
            "outbox.channel_misconfigured",
            extra={
                "channel": row.channel.value,
                "code": error.code,
                "reason": explain(row.channel, error.code),
            },
        )

    async def _lift_pause(self, channel: Channel) -> None:
        self._setup.pop(channel, None)
        self._recorded_pauses.discard(channel)
        pauses = self.pauses
        if pauses is not None:
            await self.run_db(lambda: pauses.lift(channel))
        log.info("outbox.channel_resumed", extra={"channel": channel.value})

    async def _hold_for_quiet_hours(self, rows: list[OutboxRow], now: datetime) -> list[OutboxRow]:
        """Send back, unsent and without spending an attempt, each claimed broadcast SMS whose
        family is in its quiet hours, until their morning; the rows that may go now."""
        held: dict[datetime, list[OutboxRow]] = defaultdict(list)
        free = []
        for row in rows:
            until = self._quiet_until(row, now)
            if until is None:
                free.append(row)
            else:
                held[until].append(row)
        for until, waiting in held.items():
            await self.run_db(lambda w=waiting, u=until: self.outbox.release(w, u))  # type: ignore[misc]
        if held:
            log.info("outbox.quiet_hours", extra={"deferred": sum(map(len, held.values()))})
        return free

    def _claim_limit(self, channel: Channel) -> int:
        rate = self.rates.get(channel, 0)
        if rate <= 0:
            return self.batch
        # No more than can go out in half the lease at this rate: a row left waiting
        # in the rate limiter past its lease would be taken over by another worker.
        window = (self.lease - self.margin).total_seconds() / 2
        return max(1, min(self.batch, int(rate * window)))

    async def _failed(self, row: OutboxRow, error: ProviderError) -> None:
        now = self.clock()
        if error.failure is DeliveryFailure.CONFIGURATION:
            # Our credentials or sender, not this message: every other message would fail
            # alike. Nothing is marked failed; the channel waits until it works.
            await self._pause_for_setup(row, error, now)
            return
        if error.transient:
            failures = self._failures.get(row.channel, 0) + 1
            self._failures[row.channel] = failures
            if error.retry_after is not None or failures >= BREAKER_FAILURES:
                pause = backoff(max(failures - BREAKER_FAILURES + 1, 1), error.retry_after)
                until = now + timedelta(seconds=pause)
                self._paused_until[row.channel] = until
                log.warning(
                    "outbox.channel_paused",
                    extra={"channel": row.channel.value, "pause_s": round(pause, 1)},
                )
                if failures >= BREAKER_FAILURES:
                    # The provider is down, not this message: wait for it without
                    # spending the row's attempts, so an outage defers and never drops.
                    await self.run_db(lambda: self.outbox.release([row], until))
                    return
        if error.transient and row.attempts < MAX_ATTEMPTS:
            wait = backoff(row.attempts, error.retry_after)
            later = now + timedelta(seconds=wait)
            await self.run_db(lambda: self.outbox.mark_retry(row, later, str(error), error.code))
            log.warning(
                "outbox.retry",
                extra={"outbox_id": row.id, "code": error.code, "wait_s": round(wait, 1)},
            )
            return
        await self.run_db(
            lambda: self.outbox.mark_failed(row, str(error), error.code, error.failure, now)
        )
        log.warning(
            "outbox.failed",
            extra={"outbox_id": row.id, "code": error.code, "failure": str(error.failure)},
        )

    def _limiter(self, channel: Channel) -> RateLimiter | None:
        rate = self.rates.get(channel, 0)
        if rate <= 0:
            return None
        limiter = self._limiters.get(channel)
        if limiter is None:
            limiter = self._limiters[channel] = RateLimiter(rate)
        return limiter
