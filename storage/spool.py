"""A folder of inbound messages the database could not take in time.

When the database stays locked past every retry, the webhook still answers 200
(a 5xx would make the provider hold back later messages) and parks the message
here; the server's background loop feeds it back through the service later.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bot.core.messages import InboundMessage, message_from_record, message_to_record
from bot.files.private import create_private, private_folder

__all__ = ["Spool"]

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, message: InboundMessage) -> Path:
        """Write `message` atomically; returns its file."""
        return self._write(message_to_record(message))

    def put_queued(self, row: Mapping[str, Any]) -> Path:
        """Park a row for the inbound queue (storage.inbound_queue: channel, provider_id,
        kind, sender, payload) that the database could not take; returns its file."""
        return self._write({"queued": dict(row)})

    def _write(self, data: Mapping[str, Any]) -> Path:
        private_folder(self.folder)
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.json"
        temporary = self.folder / f".{name}.tmp"
        create_private(temporary, replace=True).write_text(
            json.dumps(data, ensure_ascii=False), encoding="utf-8"
        )
        os.replace(temporary, self.folder / name)
        return self.folder / name

    def pending(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("[0-9]*.json"))

    def queued_senders(self) -> set[str]:
        """The senders (storage.inbound_queue.sender_key) with rows parked here."""
        senders = set()
        for path in self.pending():
            try:
                queued = json.loads(path.read_text(encoding="utf-8")).get("queued")
            except (OSError, ValueError):
                continue  # replayed meanwhile
            if isinstance(queued, dict):
                senders.add(str(queued.get("sender")))
        return senders

    def purge(self, channel: str, address: str) -> int:
        """Delete every parked message from `address` on `channel` (its sender was
        forgotten); how many."""
        purged = 0
        for path in self.pending():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # being replayed right now, or unreadable: left for the drain
            queued = data.get("queued")
            if isinstance(queued, dict):
                mine = queued.get("sender") == f"{channel}:{address}"
            else:
                mine = data.get("channel") == channel and data.get("address") == address
            if mine:
                path.unlink(missing_ok=True)
                purged += 1
        return purged

    def drain(
        self,
        handle: Callable[[InboundMessage], object],
        limit: int = 100,
        handle_queued: Callable[[Mapping[str, Any]], object] | None = None,
    ) -> int:
        """Feed up to `limit` parked messages to `handle` (rows for the inbound queue to
        `handle_queued`), oldest first; stops at the first error."""
        done = 0
        for path in self.pending()[:limit]:
            data = json.loads(path.read_text(encoding="utf-8"))
            queued = data.get("queued")
            if isinstance(queued, dict):
                if handle_queued is None:
                    continue
                handle_queued(queued)
            else:
                handle(message_from_record(data))
            path.unlink()
            done += 1
        if done:
            log.info("spool.drained", extra={"count": done})
        return done
