"""The outbox sender: claim due rows, re-check them, send, record, retry with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from bot.core.messages import Channel, OutboundMessage
from bot.errors import ProviderError
from bot.ports import ChannelSender, Outbox, OutboxRow

__all__ = ["OutboxSender", "RateLimiter", "RunDb"]

log = logging.getLogger(__name__)
T = TypeVar("T")



class RunDb(Protocol):
    """Runs a blocking database call from async code (in a worker thread in the server)."""

    def __call__(self, work: Callable[[], T], /) -> Awaitable[T]: ...


MAX_ATTEMPTS = 6
MAX_BACKOFF_SECONDS = 60.0


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


class OutboxSender:
    """Sends what the outbox holds through the channels that are configured.

    `run_db` runs a blocking database call (in a worker thread in the server);
    `rates` caps sends per second per channel (0 or missing: no cap).
    """

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[Channel, ChannelSender],
        clock: Callable[[], datetime],
        *,
        run_db: RunDb | None = None,
        rates: Mapping[Channel, float] | None = None,
        batch: int = 100,
        concurrency: int = 16,
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        self.outbox = outbox
        self.channels = dict(channels)
        self.clock = clock
        self.run_db: RunDb = run_db or _inline
        self.rates = dict(rates or {})
        self.batch = batch
        self.concurrency = concurrency
        self.lease = lease
        self._limiters: dict[Channel, RateLimiter] = {}

    async def run_once(self) -> int:
        """Send one batch of due messages; returns how many rows were handled."""
        if not self.channels:
            return 0
        now = self.clock()
        rows = await self.run_db(
            lambda: self.outbox.claim_due(now, self.batch, self.lease, list(self.channels))
        )
        if not rows:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row: OutboxRow) -> None:
            async with gate:
                await self._send(row)

        await asyncio.gather(*(one(row) for row in rows))
        return len(rows)

    async def run(self, stop: asyncio.Event, idle: float = 0.25) -> None:
        """Keep sending until `stop` is set; sleeps `idle` seconds when nothing is due."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # the loop must outlive one bad batch; the rows' leases expire
                log.exception("outbox.batch_failed")
                handled = 0
            if handled == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle)
                except TimeoutError:
                    pass

    async def _send(self, row: OutboxRow) -> None:
        channel = self.channels[row.channel]
        limiter = self._limiter(row.channel)
        if limiter is not None:
            await limiter.acquire()
        message = OutboundMessage(
            row.channel, row.address, row.reply.text, row.reply.choices, reference=str(row.id)
        )
        try:
            provider_id = await channel.send(message)
        except ProviderError as error:
            await self._failed(row, error)
            return
        sent_at = self.clock()
        await self.run_db(lambda: self.outbox.mark_sent(row, provider_id, sent_at))
        log.info("outbox.sent", extra={"outbox_id": row.id, "channel": row.channel.value})

    async def _failed(self, row: OutboxRow, error: ProviderError) -> None:
        now = self.clock()
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
