"""Acknowledge in one write, handle after: recording inbound rows and draining them.

A webhook verifies a request and `Intake.record`s it: one short transaction
(or, when the database cannot take it in time, a file in the spool), then the
provider gets its 2xx. `Drain` runs the recorded rows afterwards, in arrival
order per sender; a row that fails is tried again, and after `max_attempts`
parked with its error for an operator, without holding up anybody else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from functools import partial

from bot.core.messages import Channel
from bot.ports import InboundQueue, Queued, QueuedKind
from bot.services.sender import RunDb

__all__ = ["Drain", "Intake", "ParkRow"]

log = logging.getLogger(__name__)

# Rows another process had claimed are taken over after this long.
LEASE = timedelta(seconds=30)
# How often an idle drainer looks for rows another process recorded.
IDLE_POLL = 1.0
MAX_ATTEMPTS = 5

ParkRow = Callable[[Mapping[str, object]], object]


class Intake:
    """The webhooks' side: record a row durably, then wake the drainer."""

    def __init__(
        self,
        queue: InboundQueue,
        run_db: RunDb,
        park: ParkRow,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.queue = queue
        self.run_db = run_db
        self.park = park
        self.clock = clock
        self.wake = wake

    async def record(
        self,
        channel: Channel,
        provider_id: str | None,
        kind: QueuedKind,
        sender: str,
        payload: Mapping[str, object],
    ) -> bool:
        """Record one row; False for a redelivery. Never raises for a busy or broken
        database: the row goes to the spool, replayed into the queue later."""
        now = self.clock()
        try:
            fresh: bool = await self.run_db(
                lambda: self.queue.put(channel, provider_id, kind, sender, payload, now)
            )
        except Exception:
            log.exception("inbound.spooled", extra={"channel": channel.value})
            row = {
                "channel": channel.value,
                "provider_id": provider_id,
                "kind": kind.value,
                "sender": sender,
                "payload": dict(payload),
            }
            await self.run_db(lambda: self.park(row))
            return True
        if fresh:
            self.wake()
        else:
            log.info("inbound.duplicate", extra={"channel": channel.value})
        return fresh

    def replay_parked(self, row: Mapping[str, object]) -> None:
        """Put a row the spool kept into the queue (runs in a database thread)."""
        self.queue.put(
            Channel(str(row["channel"])),
            row.get("provider_id"),  # type: ignore[arg-type]
            QueuedKind(str(row["kind"])),
            str(row["sender"]),
            row.get("payload") or {},  # type: ignore[arg-type]
            self.clock(),
        )


class Drain:
    """Runs recorded rows: `handlers[kind](payload)` for each kind this process handles.

    Call `wake()` after recording a row: the drainer starts on it at once rather
    than at its next look (every `IDLE_POLL` seconds, for rows other processes
    recorded).
    """

    def __init__(
        self,
        queue: InboundQueue,
        run_db: RunDb,
        clock: Callable[[], datetime],
        handlers: Mapping[QueuedKind, Callable[[Mapping[str, object]], Awaitable[None]]],
        *,
        max_attempts: int = MAX_ATTEMPTS,
        batch: int = 20,
    ) -> None:
        self.queue = queue
        self.run_db = run_db
        self.clock = clock
        self.handlers = dict(handlers)
        self.max_attempts = max_attempts
        self.batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()
            try:
                done = await self.drain_once()
            except Exception:
                log.exception("inbound.drain_failed")
                done = 0
            if done:
                continue
            waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(waits, timeout=IDLE_POLL, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()

    async def drain_once(self) -> int:
        """Handle what is due now, of every kind; how many rows."""
        handled = 0
        for kind, handle in self.handlers.items():
            rows: list[Queued] = await self.run_db(
                partial(self.queue.claim, kind, self.batch, self.clock(), LEASE)
            )
            done: list[int] = []
            failed: set[str] = set()
            for row in rows:
                if row.sender in failed:
                    continue  # its earlier row failed: this one waits its turn
                try:
                    await handle(row.payload)
                except Exception as error:
                    failed.add(row.sender)
                    await self._failed(row, error)
                else:
                    done.append(row.id)
            if done:
                await self.run_db(partial(self.queue.finish, done, self.clock()))
            handled += len(rows)
        return handled

    async def _failed(self, row: Queued, error: Exception) -> None:
        park = row.attempts + 1 >= self.max_attempts
        event = "inbound.parked" if park else "inbound.failed"
        log.exception(event, extra={"row": row.id, "kind": row.kind.value})
        reason = f"{type(error).__name__}: {error}"
        await self.run_db(lambda: self.queue.fail(row, reason, park, self.clock()))
