"""What the routes share, built once by `create_app` and kept on `app.state`.

Routes are module-level functions (one module per provider in bot/web/webhooks/);
each finds the runtime and the inbound gate here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request

from bot.bootstrap import Runtime
from bot.core.messages import InboundMessage, message_to_record, within_limits
from bot.ports import QueuedKind
from bot.services.inbound_queue import Drain, Intake
from storage.inbound_queue import sender_key

if TYPE_CHECKING:
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

    from bot.services.staff_desk import SlackDesk

__all__ = ["UnsupportedLog", "Web", "web_of"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class UnsupportedLog:
    """Logs an unsupported payload kind at INFO the first time, at DEBUG after."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, event: str, reason: str) -> None:
        level = logging.DEBUG if reason in self.seen else logging.INFO
        self.seen.add(reason)
        log.log(level, event, extra={"reason": reason})


@dataclass
class Web:
    """The runtime, how to reach the database from the event loop, and the chat wiring."""

    runtime: Runtime
    run_db: Callable[[Callable[[], Any]], Awaitable[Any]]
    unsupported: UnsupportedLog
    intake: Intake
    drain: Drain
    slack_handler: AsyncSlackRequestHandler | None = None
    desk: SlackDesk | None = None

    async def accept(self, message: InboundMessage) -> None:
        """Record an inbound message for the engine, in one short transaction (or, if the
        database cannot take it in time, in the spool); the engine drains it after.

        Never loses it and never answers 5xx.
        """
        message = within_limits(message)
        sender = sender_key(message.channel, message.address)
        await self.intake.record(
            message.channel,
            message.provider_id,
            QueuedKind.MESSAGE,
            sender,
            message_to_record(message),
        )


def web_of(request: Request) -> Web:
    """The app's shared state, as `create_app` left it."""
    web: Web = request.app.state.web
    return web
