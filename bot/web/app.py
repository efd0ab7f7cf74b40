"""The ASGI application: webhooks, health, and the embedded outbox sender."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TypeVar
from urllib.parse import parse_qsl

import anyio
from anyio import to_thread
from sqlalchemy import text as sql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.authoring.activities import parse_activity
from bot.bootstrap import Runtime, build_broadcasting, quiet_hours_for
from bot.core.messages import Channel, InboundMessage
from bot.errors import UnsupportedEvent
from bot.services.inbound import utcnow
from bot.services.sender import OutboxSender
from bot.web.chat import PlannedBroadcasts, chat_channels
from bot.web.dashboard.routes import DashboardConfig, dashboard_off_routes, dashboard_routes
from channels.twilio_sms import EMPTY_TWIML
from storage.outbox import Delivery

__all__ = ["create_app"]

log = logging.getLogger(__name__)
T = TypeVar("T")

TWIML = "text/xml"


def create_app(runtime: Runtime, *, run_sender: bool = True) -> Starlette:
    """The app for `runtime`; with `run_sender`, the outbox sender runs inside it."""
    # SQLite has one writer at a time: queue our own writers in-process rather
    # than have threads spin on the file lock.
    limiter = anyio.CapacityLimiter(1) if runtime.is_sqlite else None

    async def run_db(work: Callable[[], T]) -> T:
        return await to_thread.run_sync(work, limiter=limiter)

    async def accept(message: InboundMessage) -> None:
        try:
            await run_db(lambda: runtime.service.handle_inbound(message))
        except Exception:
            # Never lose it and never answer 5xx: park it for the background loop.
            log.exception("inbound.spooled", extra={"channel": message.channel.value})
            await run_db(lambda: runtime.spool.put(message))

    async def form_pairs(request: Request) -> list[tuple[str, str]]:
        raw = await request.body()
        # Blank values are signed too, so keep them.
        return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)

    async def twilio_sms(request: Request) -> Response:
        sms = runtime.sms
        if sms is None:
            log.warning("twilio.off")
            return Response("SMS is not configured", status_code=404)
        pairs = await form_pairs(request)
        signature = request.headers.get("X-Twilio-Signature")
        if not sms.is_genuine(request.url.path, request.url.query, pairs, signature):
            log.warning("twilio.forged", extra={"path": request.url.path})
            return Response("invalid signature", status_code=403)
        try:
            message = sms.parse_inbound(pairs)
        except UnsupportedEvent as error:
            log.warning("twilio.unsupported", extra={"reason": str(error)})
            return Response(EMPTY_TWIML, media_type=TWIML)
        await accept(message)
        return Response(EMPTY_TWIML, media_type=TWIML)

    async def twilio_status(request: Request) -> Response:
        sms = runtime.sms
        if sms is None:
            return Response("SMS is not configured", status_code=404)
        pairs = await form_pairs(request)
        signature = request.headers.get("X-Twilio-Signature")
        if not sms.is_genuine(request.url.path, request.url.query, pairs, signature):
            log.warning("twilio.forged", extra={"path": request.url.path})
            return Response("invalid signature", status_code=403)
        try:
            report = sms.parse_status(pairs, request.url.query)
        except UnsupportedEvent as error:
            log.warning("twilio.unsupported", extra={"reason": str(error)})
            return Response(status_code=204)
        delivery = Delivery(Channel.SMS, report.provider_id, report.status, report.error_code)
        found = await run_db(
            lambda: runtime.outbox.record_delivery(delivery, utcnow(), report.reference)
        )
        if not found:
            log.info("twilio.status_unknown_message", extra={"status": report.status})
        return Response(status_code=204)

    async def healthz(request: Request) -> Response:
        def probe() -> bool:
            with runtime.engine.connect() as connection:
                connection.execute(sql("SELECT 1"))
            return True

        try:
            await run_db(probe)
        except Exception:
            log.exception("health.database")
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        channels = sorted(c.value for c in runtime.senders)
        return JSONResponse({"status": "ok", "channels": channels})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if run_sender:
            sender = OutboxSender(
                runtime.outbox,
                runtime.senders,
                utcnow,
                run_db=run_db,
                rates={
                    Channel.SMS: runtime.settings.sms_per_second,
                    Channel.TELEGRAM: runtime.settings.telegram_per_second,
                    Channel.SLACK: runtime.settings.slack_per_second,
                },
                quiet_hours=quiet_hours_for(runtime),
                lease=timedelta(seconds=runtime.settings.outbox_lease_seconds),
            )
            tasks.append(asyncio.create_task(sender.run(stop)))
            tasks.append(asyncio.create_task(drain_spool(stop)))
            # Enqueueing runs in short batches of its own; it must not queue
            # behind (or hold up) the webhooks' single SQLite writer slot.
            schedule = broadcasting.run_schedule(stop, to_thread.run_sync)
            tasks.append(asyncio.create_task(schedule))
        _announce(runtime)
        await chats.start(stop, background=run_sender)
        try:
            yield
        finally:
            stop.set()
            await chats.close()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runtime.close()

    async def drain_spool(stop: asyncio.Event) -> None:
        while not stop.is_set():
            if runtime.spool.pending():
                try:
                    await run_db(lambda: runtime.spool.drain(runtime.service.handle_inbound))
                except Exception:
                    log.exception("spool.drain_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=5)

    # Telegram and Slack: /webhooks/telegram, /webhooks/slack/events.
    broadcasting = build_broadcasting(runtime)
    chats = chat_channels(runtime, run_db, accept, PlannedBroadcasts(broadcasting))
    routes = [
        Route("/webhooks/twilio/sms", twilio_sms, methods=["POST"]),
        Route("/webhooks/twilio/status", twilio_status, methods=["POST"]),
        *chats.routes,
        Route("/healthz", healthz, methods=["GET"]),
        *_dashboard(runtime, run_db),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _dashboard(
    runtime: Runtime, run_db: Callable[[Callable[[], T]], Awaitable[T]]
) -> list[BaseRoute]:
    """The organizers' dashboard at `/`; off (404) without ENGAGE_ADMIN_TOKEN, never open."""
    token = runtime.settings.admin_token
    if token is None or not token.get_secret_value():
        return dashboard_off_routes()
    config = DashboardConfig(
        admin_token=token.get_secret_value(),
        timezone=runtime.district.timezone,
        program=runtime.district.program_name,
        secure_cookie=runtime.settings.public_url.startswith("https://"),
    )
    return dashboard_routes(runtime.engine, parse_activity, config, run_db, utcnow)


def _announce(runtime: Runtime) -> None:
    on = sorted(c.value for c in runtime.senders)
    off = sorted({"sms", "telegram", "slack"} - set(on))
    log.info("channels", extra={"on": on, "off": off})
