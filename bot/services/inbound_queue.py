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
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta
from functools import partial

from bot.core.messages import Channel, InboundMessage, message_from_record
from bot.ports import Arrival, InboundQueue, Queued, QueuedKind
from bot.services.sender import RunDb

__all__ = ["Drain", "Intake", "MessageBatches", "ParkRow"]

log = logging.getLogger(__name__)

# Rows another process had claimed are taken over after this long.
LEASE = timedelta(seconds=30)
# How often an idle drainer looks for rows another process recorded.
IDLE_POLL = 1.0
MAX_ATTEMPTS = 5
# Handled rows are kept this long (a provider's redelivery collides with them), then go.
KEEP_HANDLED = timedelta(days=2)
PRUNE_EVERY = 600.0
MIN_BATCH = 8
# While webhooks are recording, the in-process engine waits this long at most before
# its next batch (looking again every HAND_OVER_POLL seconds): in one process the two
# share one interpreter lock, and a provider's answer comes before a family's reply.
HAND_OVER = 0.1
HAND_OVER_POLL = 0.005

ParkRow = Callable[[Mapping[str, object]], object]


class Intake:
    """The webhooks' side: record a row durably, then wake the drainer.

    Requests that arrive while a write is under way are recorded together in the
    next one (group commit): each still hears back only once its row is committed,
    and one commit serves them all.

    A row the database could not take goes to the spool, and so does every later
    row of its sender until the spool is replayed (`spooled` names the senders
    with rows there): a sender's rows reach the queue in the order they came.
    """

    def __init__(
        self,
        queue: InboundQueue,
        run_db: RunDb,
        park: ParkRow,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
        spooled: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self.queue = queue
        self.run_db = run_db
        self.park = park
        self.clock = clock
        self.wake = wake
        self.spooled = spooled
        self._lock = threading.Lock()
        self._behind: set[str] = set(spooled())
        self._waiting: list[tuple[Arrival, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    def spool_replayed(self) -> None:
        """The spool was replayed (some of it): a sender with nothing left there
        records its rows in the queue again."""
        with self._lock:
            self._behind = set(self.spooled())

    def _park(self, row: Mapping[str, object]) -> None:
        self.park(row)
        with self._lock:
            self._behind.add(str(row["sender"]))

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
        recorded: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((Arrival(channel, provider_id, kind, sender, payload), recorded))
        if self._writer is None or self._writer.done():
            # A task of its own: a request that goes away takes no one else's write with it.
            self._writer = asyncio.create_task(self._write_waiting())
        # Shielded: the write goes on (and the row is kept) if this request is cancelled.
        return await asyncio.shield(recorded)

    def busy(self) -> bool:
        """Whether requests are being recorded (or wait to be)."""
        return bool(self._waiting) or (self._writer is not None and not self._writer.done())

    async def _write_waiting(self) -> None:
        """Write what waits, in turns, until nothing does."""
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self._write(group)
            finally:
                for _, recorded in group:
                    if not recorded.done():  # the write itself went wrong, or was stopped
                        recorded.set_exception(RuntimeError("the inbound write stopped"))

    async def _write(self, group: list[tuple[Arrival, asyncio.Future[bool]]]) -> None:
        # Checked now, not on arrival: an earlier group may just have gone to the spool.
        with self._lock:
            behind = [(a, r) for a, r in group if a.sender in self._behind]
            group = [(a, r) for a, r in group if a.sender not in self._behind]
        for arrival, recorded in behind:  # behind its own rows in the spool, keeping its turn
            log.info("inbound.spooled_behind", extra={"channel": arrival.channel.value})
            await self._spool(arrival, recorded)
        if not group:
            return
        arrivals = [arrival for arrival, _ in group]
        try:
            fresh: list[bool] = await self.run_db(
                partial(self.queue.put_many, arrivals, self.clock())
            )
        except Exception:
            log.exception("inbound.spooled", extra={"rows": len(group)})
            for arrival, recorded in group:
                await self._spool(arrival, recorded)
            return
        if any(fresh):
            self.wake()
        for (arrival, recorded), new in zip(group, fresh, strict=True):
            if not new:
                log.info("inbound.duplicate", extra={"channel": arrival.channel.value})
            if not recorded.done():
                recorded.set_result(new)

    async def _spool(self, arrival: Arrival, recorded: asyncio.Future[bool]) -> None:
        row = {
            "channel": arrival.channel.value,
            "provider_id": arrival.provider_id,
            "kind": arrival.kind.value,
            "sender": arrival.sender,
            "payload": dict(arrival.payload),
        }
        try:
            await self.run_db(partial(self._park, row))
        except Exception as error:
            if not recorded.done():
                recorded.set_exception(error)
        else:
            if not recorded.done():
                recorded.set_result(True)

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


class MessageBatches:
    """The engine's side: message rows, many to a transaction (group commit).

    Each message runs in a savepoint of the batch's transaction, so its state,
    answers, message log and outbox rows are kept or dropped together, and the row
    is marked handled in the same commit: a process killed at any moment leaves
    each message either handled and marked, or neither. A message that fails is
    set aside to be tried again alone (after a pause that grows each time),
    parked after `max_attempts`; its sender's later messages wait for it, and
    nobody else's do. A batch ends after `max_seconds` so that, on SQLite, a
    webhook never waits long for the one writer's turn.
    """

    def __init__(
        self,
        queue: InboundQueue,
        handle: Callable[[InboundMessage], object],
        clock: Callable[[], datetime],
        *,
        limit: int = 200,
        max_seconds: float = 0.025,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.queue = queue
        self.handle = handle
        self.clock = clock
        self.limit = limit
        self.max_seconds = max_seconds
        self.max_attempts = max_attempts
        # Rows to read next time: about what the last batch got through in its time,
        # so a batch does not read (and decode) rows it will leave for the next one.
        self._size = min(MIN_BATCH, limit)

    def __call__(self) -> int:
        """Run one batch (in a database thread); how many rows it dealt with."""
        started = time.monotonic()
        done: list[int] = []
        failed: set[str] = set()
        with self.queue.batch(QueuedKind.MESSAGE, self._size, self.clock()) as batch:
            for row in batch.rows:
                if row.sender in failed:
                    continue  # its earlier message failed: this one waits its turn
                if done and time.monotonic() - started > self.max_seconds:
                    break
                try:
                    with batch.attempt():
                        self.handle(message_from_record(row.payload))
                except Exception as error:
                    failed.add(row.sender)
                    park = row.attempts + 1 >= self.max_attempts
                    log.warning(
                        "inbound.parked" if park else "inbound.failed",
                        extra={"row": row.id, "attempt": row.attempts + 1, "error": repr(error)},
                        exc_info=park,
                    )
                    batch.fail(row, f"{type(error).__name__}: {error}", park, self.clock())
                else:
                    done.append(row.id)
            batch.finish(done, self.clock())
            complete = len(done) + len(failed) == len(batch.rows)
        wanted = 2 * len(done) if complete else len(done) + 1
        self._size = max(min(wanted, self.limit), MIN_BATCH)
        if done:
            log.debug("inbound.batch", extra={"handled": len(done)})
        return len(done) + len(failed)


class Drain:
    """Runs recorded rows: message rows in batches (`batches`, in a database thread),
    and `handlers[kind](payload)` for each other kind this process handles.

    Call `wake()` after recording a row: the drainer starts on it at once rather
    than at its next look (every `IDLE_POLL` seconds, for rows other processes
    recorded). `recording()` tells whether webhooks of this process are recording
    rows: the drainer lets them go first, for at most `hand_over` seconds a batch.
    """

    def __init__(
        self,
        queue: InboundQueue,
        run_db: RunDb,
        clock: Callable[[], datetime],
        handlers: Mapping[QueuedKind, Callable[[Mapping[str, object]], Awaitable[None]]],
        *,
        batches: Callable[[], int] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        batch: int = 20,
        recording: Callable[[], bool] = lambda: False,
        hand_over: float = HAND_OVER,
    ) -> None:
        self.queue = queue
        self.recording = recording
        self.hand_over = hand_over
        self.run_db = run_db
        self.clock = clock
        self.handlers = dict(handlers)
        self.batches = batches
        self.max_attempts = max_attempts
        self.batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set (and now and then forget long-handled rows).

        Where the queue can tell (PostgreSQL), rows other processes record wake the
        drainer at once; it looks every `IDLE_POLL` seconds as well.
        """
        loop = asyncio.get_running_loop()

        def arrived() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self.wake)

        halt = threading.Event()
        watcher = threading.Thread(
            target=self.queue.watch, args=(arrived, halt), name="inbound-watch", daemon=True
        )
        watcher.start()
        try:
            await self._run(stop)
        finally:
            halt.set()

    async def _run(self, stop: asyncio.Event) -> None:
        pruned = time.monotonic()
        while not stop.is_set():
            self._wake.clear()
            if time.monotonic() - pruned > PRUNE_EVERY:
                pruned = time.monotonic()
                try:
                    await self.run_db(partial(self.queue.prune, self.clock() - KEEP_HANDLED))
                except Exception:  # tried again next time; draining goes on meanwhile
                    log.exception("inbound.prune_failed")
            await self._let_webhooks_first()
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

    async def _let_webhooks_first(self) -> None:
        """Wait while this process's webhooks are recording, up to `hand_over`: under
        a burst the engine takes its turns between theirs and catches up after."""
        until = time.monotonic() + self.hand_over
        while self.recording() and time.monotonic() < until:
            await asyncio.sleep(HAND_OVER_POLL)

    async def drain_once(self) -> int:
        """Handle what is due now, of every kind; how many rows."""
        handled = 0
        if self.batches is not None:
            handled += await self.run_db(self.batches)
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
