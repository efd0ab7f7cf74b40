"""`engage serve` and `engage worker`: the long-running processes."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr

from bot.cli.session import (
    err,
    in_thread,
    initialize,
    open_runtime,
    verbose,
)
from bot.errors import EngageError
from bot.logs import configure_logging, hide_in_logs

if TYPE_CHECKING:
    pass


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    sender: Annotated[bool, typer.Option(help="Run the outbox sender in this process.")] = True,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Serve the database `engage demo` wrote in this folder, dashboard on."
        ),
    ] = False,
    engine: Annotated[
        bool, typer.Option(help="Run the engine on the inbound queue in this process.")
    ] = True,
) -> None:
    """Serve the webhooks (and send the outbox) with uvicorn.

    Examples:
      engage serve --host 0.0.0.0 --port 8000
      engage serve --demo   (after engage demo: its answers on the dashboard)
    """
    import secrets

    import uvicorn

    from bot.bootstrap import report_send_rates
    from bot.web.app import create_app, server_options

    configure_logging(logging.DEBUG if verbose() else logging.INFO)
    runtime = open_runtime(detector=True, demo=demo)
    initialize(runtime)
    if sender:
        report_send_rates(runtime)
    if demo and runtime.settings.admin_token is None:
        # The dashboard is off without a token; the demo makes one for this run.
        token = secrets.token_urlsafe(12)
        runtime.settings.admin_token = SecretStr(token)
        hide_in_logs([token])
        err.print(
            f"Dashboard: http://{host}:{port}/ (sign in with the token {token})",
            highlight=False,
        )
    uvicorn.run(
        create_app(runtime, run_sender=sender, run_engine=engine),
        host=host,
        port=port,
        **server_options(runtime.settings),
    )


def worker(
    sender: Annotated[bool, typer.Option(help="Send the outbox in this process.")] = True,
    engine: Annotated[
        bool, typer.Option(help="Run the engine on the inbound queue in this process.")
    ] = True,
) -> None:
    """Drain the inbound queue and send the outbox (run several beside `engage serve` on
    PostgreSQL: no two ever handle one family's messages at once)."""
    from bot.bootstrap import (
        add_slack_replay,
        build_broadcasting,
        build_drain,
        build_idea_desk,
        build_inbox,
        build_outbox_sender,
        report_send_rates,
    )

    configure_logging(logging.DEBUG if verbose() else logging.INFO)
    runtime = open_runtime(detector=engine)
    if sender and not runtime.senders:
        raise EngageError("no channel is configured: set TWILIO_* (see README.md)")
    if sender:
        report_send_rates(runtime)

    async def run() -> None:
        stop = asyncio.Event()
        loops = []
        if engine:
            drain = build_drain(runtime, in_thread)
            add_slack_replay(runtime, in_thread, drain)
            loops.append(drain.run(stop))
        if not sender:
            try:
                await asyncio.gather(*loops)
            finally:
                await runtime.close()
            return
        loops.append(build_outbox_sender(runtime, in_thread).run(stop))
        # Posting Let's Talk messages to the Slack inbox is sending too.
        inbox = build_inbox(runtime, in_thread)
        if inbox is not None:
            loops.append(inbox.run(stop))
        ideas = build_idea_desk(runtime, in_thread)
        if ideas is not None:
            loops.append(ideas.run(stop))
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
