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
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.core.messages import Channel, InboundMessage
from storage.files import create_private, private_folder

__all__ = ["Spool"]

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, message: InboundMessage) -> Path:
        """Write `message` atomically; returns its file."""
        private_folder(self.folder)
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.json"
        data = {
            "channel": message.channel.value,
            "address": message.address,
            "text": message.text,
            "provider_id": message.provider_id,
            "received_at": message.received_at.isoformat() if message.received_at else None,
            "button": message.button,
            "locale_hint": message.locale_hint,
            "media_count": message.media_count,
        }
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

    def purge(self, channel: str, address: str) -> int:
        """Delete every parked message from `address` on `channel` (its sender was
        forgotten); how many."""
        purged = 0
        for path in self.pending():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # being replayed right now, or unreadable: left for the drain
            if data.get("channel") == channel and data.get("address") == address:
                path.unlink(missing_ok=True)
                purged += 1
        return purged

    def drain(self, handle: Callable[[InboundMessage], object], limit: int = 100) -> int:
        """Feed up to `limit` parked messages to `handle`, oldest first; stops at the first error."""
        done = 0
        for path in self.pending()[:limit]:
            data = json.loads(path.read_text(encoding="utf-8"))
            received = data.get("received_at")
            message = InboundMessage(
                channel=Channel(data["channel"]),
                address=data["address"],
                text=data["text"],
                provider_id=data.get("provider_id"),
                received_at=datetime.fromisoformat(received) if received else None,
                button=data.get("button"),
                locale_hint=data.get("locale_hint"),
                media_count=int(data.get("media_count") or 0),
            )
            handle(message)
            path.unlink()
            done += 1
        if done:
            log.info("spool.drained", extra={"count": done})
        return done
