"""`engage serve` and `engage worker`: the long-running processes."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.session import (
    in_thread,
    initialize,
    open_runtime,
    verbose,
)
from bot.errors import EngageError
from bot.logs import configure_logging

if TYPE_CHECKING:
    pass


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    sender: Annotated[bool, typer.Option(help="Run the outbox sender in this process.")] = True,
) -> None:
    """Serve the webhooks (and send the outbox) with uvicorn.

    Example: engage serve --host 0.0.0.0 --port 8000
    """
    import uvicorn

    from bot.web.app import create_app

    configure_logging(logging.DEBUG if verbose() else logging.INFO)
    runtime = open_runtime(detector=True)
    initialize(runtime)
    # Each webhook logs its own event line; uvicorn's access line would repeat it.
    uvicorn.run(
        create_app(runtime, run_sender=sender),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )


def worker() -> None:
    """Send the outbox only (run several beside `engage serve --no-sender` on PostgreSQL)."""
    from bot.bootstrap import build_broadcasting, quiet_hours_for
    from bot.core.messages import Channel
    from bot.services.inbound import utcnow
    from bot.services.sender import OutboxSender
    from bot.web.chat import build_inbox

    configure_logging(logging.DEBUG if verbose() else logging.INFO)
    runtime = open_runtime()
    if not runtime.senders:
        raise EngageError("no channel is configured: set TWILIO_* (see README.md)")

    async def run() -> None:
        stop = asyncio.Event()
        outbox_sender = OutboxSender(
            runtime.outbox,
            runtime.senders,
            utcnow,
            run_db=in_thread,
            rates={
                Channel.SMS: runtime.settings.sms_per_second,
                Channel.TELEGRAM: runtime.settings.telegram_per_second,
                Channel.SLACK: runtime.settings.slack_per_second,
            },
            quiet_hours=quiet_hours_for(runtime),
            lease=timedelta(seconds=runtime.settings.outbox_lease_seconds),
        )
        # Posting Let's Talk messages to the Slack inbox is sending too.
        inbox = build_inbox(runtime, in_thread)
        loops = [outbox_sender.run(stop)] + ([inbox.run(stop)] if inbox is not None else [])
        # Scheduled broadcasts, reminders, and broadcasts a crash interrupted.
        loops.append(build_broadcasting(runtime).run_schedule(stop, in_thread))
        try:
            await asyncio.gather(*loops)
        finally:
            await runtime.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
