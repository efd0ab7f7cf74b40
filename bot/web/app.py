"""The ASGI application: webhooks, health, the dashboard, and the embedded background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from sqlalchemy import text as sql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.authoring.activities import parse_activity
from bot.authoring.inbox_config import promise_for
from bot.bootstrap import (
    Runtime,
    build_broadcasting,
    build_dashboard_ports,
    build_drain,
    build_outbox_sender,
    build_slack_desk,
    database_runner,
    intake_runner,
)
from bot.core.setup_problems import WHAT_HAPPENS, explain
from bot.ports import QueuedKind
from bot.services.inbound import utcnow
from bot.services.inbound_queue import Intake
from bot.services.organizers import PlannedBroadcasts
from bot.settings import Settings
from bot.web.context import UnsupportedLog, Web, web_of
from bot.web.dashboard.routes import (
    Dashboard,
    DashboardConfig,
    dashboard_off_routes,
    dashboard_routes,
)
from bot.web.webhooks import slack, telegram, twilio
from storage.channel_pauses import SqlChannelPauses

__all__ = ["create_app", "server_options"]

log = logging.getLogger(__name__)


def create_app(runtime: Runtime, *, run_sender: bool = True, run_engine: bool = True) -> Starlette:
    """The app for `runtime`; with `run_sender`, the outbox sender and the other loops run
    inside; with `run_engine`, the drainer of the inbound queue."""
    run_db = database_runner(runtime)
    drain = build_drain(runtime, run_db)
    intake = Intake(
        runtime.queue,
        intake_runner(runtime),
        runtime.spool.put_queued,
        utcnow,
        drain.wake,
        runtime.spool.queued_senders,
    )
    drain.recording = intake.busy
    web = Web(runtime, run_db, UnsupportedLog(), intake, drain)
    broadcasting = build_broadcasting(runtime)
    slack_wiring = build_slack_desk(runtime, run_db, web.accept, PlannedBroadcasts(broadcasting))
    if slack_wiring is not None:
        web.slack_handler, web.desk = slack_wiring.handler, slack_wiring.desk
        drain.handlers[QueuedKind.SLACK] = slack_wiring.replay

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        # What the webhooks parked while the database was busy goes on into the queue.
        tasks.append(asyncio.create_task(_drain_spool(web, stop)))
        if run_engine:
            if runtime.is_sqlite:
                # One server per SQLite file: claims left by a killed one are nobody's.
                await run_db(runtime.queue.release_claims)
            tasks.append(asyncio.create_task(drain.run(stop)))
        if run_sender:
            sender = build_outbox_sender(runtime, run_db)
            tasks.append(asyncio.create_task(sender.run(stop)))
            # Enqueueing runs in short batches of its own; it must not queue
            # behind (or hold up) the webhooks' single SQLite writer slot.
            tasks.append(asyncio.create_task(broadcasting.run_schedule(stop, to_thread.run_sync)))
            if slack_wiring is not None and slack_wiring.inbox is not None:
                tasks.append(asyncio.create_task(slack_wiring.inbox.run(stop)))
            if slack_wiring is not None and slack_wiring.ideas is not None:
                tasks.append(asyncio.create_task(slack_wiring.ideas.run(stop)))
        _announce(runtime)
        if runtime.telegram is not None:
            await runtime.telegram.start()
        try:
            yield
        finally:
            stop.set()
            if web.desk is not None:
                # Let work Slack was already told about finish.
                await web.desk.drain()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runtime.close()

    routes: list[BaseRoute] = [
        *twilio.routes,
        *telegram.routes,
        *slack.routes,
        Route("/healthz", healthz, methods=["GET"]),
    ]
    dashboard = _dashboard(web)
    routes += dashboard_routes() if dashboard is not None else dashboard_off_routes()
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.web = web
    app.state.dashboard = dashboard
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the app (`engage serve`).

    X-Forwarded-For is believed only from the proxies ENGAGE_FORWARDED_ALLOW_IPS
    names: uvicorn's default trusts loopback, which would let anyone there choose
    the address dashboard sign-ins are counted against. Each webhook logs its own
    event line; uvicorn's access line would repeat it.
    """
    proxies = settings.forwarded_allow_ips.strip()
    return {
        "log_config": None,
        "access_log": False,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
    }


async def healthz(request: Request) -> Response:
    web = web_of(request)
    engine = web.runtime.engine

    def probe() -> bool:
        with engine.connect() as connection:
            connection.execute(sql("SELECT 1"))
        return True

    try:
        await web.run_db(probe)
    except Exception:
        log.exception("health.database")
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    channels = sorted(c.value for c in web.runtime.senders)
    pauses = await web.run_db(SqlChannelPauses(engine).pauses)
    depth = await web.run_db(lambda: web.runtime.queue.depth(utcnow()))
    # How far behind the engine is: a deep queue still gets every webhook answered at once.
    inbound = {
        "queued": depth.pending,
        "oldest_seconds": round(depth.oldest_seconds, 1)
        if depth.oldest_seconds is not None
        else None,
        "parked": depth.parked,
    }
    if not pauses:
        return JSONResponse({"status": "ok", "channels": channels, "inbound": inbound})
    # Still 200: the webhooks work and nothing is lost; the channel waits for a fix.
    paused = {
        pause.channel.value: {
            "since": pause.since.isoformat(timespec="seconds") + "Z",
            "code": pause.code,
            "reason": explain(pause.channel, pause.code),
        }
        for pause in pauses
    }
    return JSONResponse(
        {
            "status": "degraded",
            "channels": channels,
            "inbound": inbound,
            "paused": paused,
            "meanwhile": WHAT_HAPPENS,
        }
    )


async def _drain_spool(web: Web, stop: asyncio.Event) -> None:
    """Replay messages parked while the database was locked."""
    runtime = web.runtime
    while not stop.is_set():
        if runtime.spool.pending():
            try:
                await web.run_db(
                    lambda: runtime.spool.drain(
                        runtime.service.handle_inbound, handle_queued=web.intake.replay_parked
                    )
                )
                web.drain.wake()
            except Exception:
                log.exception("spool.drain_failed")
            await web.run_db(web.intake.spool_replayed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=5)


def _dashboard(web: Web) -> Dashboard | None:
    """The organizers' dashboard at `/`; None (off: 404) without ENGAGE_ADMIN_TOKEN, never
    open."""
    runtime = web.runtime
    token = runtime.settings.admin_token
    if token is None or not token.get_secret_value():
        return None
    if not runtime.settings.public_url.startswith("https://"):
        # The token and the session cookie would cross the network in the clear.
        log.warning(
            "dashboard.insecure_public_url",
            extra={"hint": "ENGAGE_ADMIN_TOKEN is set but ENGAGE_PUBLIC_URL is not https"},
        )
    config = DashboardConfig(
        admin_token=token.get_secret_value(),
        timezone=runtime.district.timezone,
        program=runtime.district.program_name,
        secure_cookie=runtime.settings.public_url.startswith("https://"),
        promise=promise_for(runtime.district.inbox, runtime.district.timezone),
        threshold=runtime.settings.suppression_threshold,
    )
    store, sessions = build_dashboard_ports(runtime)
    return Dashboard(store, sessions, parse_activity, config, web.run_db, utcnow)


def _announce(runtime: Runtime) -> None:
    on = sorted(c.value for c in runtime.senders)
    off = sorted({"sms", "whatsapp", "telegram", "slack"} - set(on))
    log.info("channels", extra={"on": on, "off": off})
