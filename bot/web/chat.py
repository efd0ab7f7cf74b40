"""The Telegram and Slack half of the ASGI app: their webhooks, the Slack desk, the inbox.

Part of the composition root: app.py builds the Twilio half and calls
`chat_channels`, which may import everything, as app.py does.

    POST /webhooks/telegram       secret header checked (403), update parsed, service
    POST /webhooks/slack/events   signature checked (401), Bolt acks, the desk works after
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.bootstrap import Runtime, build_broadcasting
from bot.core.messages import Channel, InboundMessage
from bot.errors import UnsupportedEvent
from bot.services.broadcasting import Broadcasting, Plan
from bot.services.inbound import utcnow
from bot.services.inbox import Inbox
from bot.services.organizers import (
    BroadcastPreview,
    Broadcasts,
    BroadcastStatus,
    EngageCommand,
    Organizers,
    ProgressRow,
)
from bot.services.sender import RunDb
from bot.services.staff_desk import SlackDesk
from channels import slack as slack_channel
from channels import telegram as telegram_channel
from storage.inbox import SqlInbox
from storage.linking import block_contact, ensure_staff_contact
from storage.progress import activity_progress

__all__ = ["ChatChannels", "PlannedBroadcasts", "build_inbox", "chat_channels"]

log = logging.getLogger(__name__)

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class _Once:
    """Logs an unsupported payload kind at INFO the first time, at DEBUG after."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, event: str, reason: str) -> None:
        level = logging.DEBUG if reason in self.seen else logging.INFO
        self.seen.add(reason)
        log.log(level, event, extra={"reason": reason})


@dataclass
class ChatChannels:
    routes: list[Route]
    inbox: Inbox | None = None
    desk: SlackDesk | None = None
    telegram: telegram_channel.TelegramChannel | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, stop: asyncio.Event, *, background: bool) -> None:
        """Learn the Telegram bot's name; with `background`, start posting to the inbox."""
        if self.telegram is not None:
            await self.telegram.start()
        if background and self.inbox is not None:
            self.tasks.append(asyncio.create_task(self.inbox.run(stop)))

    async def close(self) -> None:
        """Let work Slack was already told about finish, then stop the loops."""
        if self.desk is not None:
            await self.desk.drain()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def build_inbox(runtime: Runtime, run_db: RunDb) -> Inbox | None:
    """The Let's Talk inbox, when Slack and SLACK_INBOX_CHANNEL are set."""
    channel = runtime.settings.slack_inbox_channel
    if runtime.slack is None or not channel:
        return None
    return Inbox(SqlInbox(runtime.engine), runtime.slack, channel, runtime.program, run_db, utcnow)


def chat_channels(
    runtime: Runtime,
    run_db: RunDb,
    accept: Callable[[InboundMessage], Awaitable[None]],
    broadcasts: Broadcasts | None = None,
) -> ChatChannels:
    """Routes and helpers for the chat channels configured in `runtime`.

    `broadcasts` serves `/engage broadcast` (by default, built from `runtime`).
    """
    once = _Once()

    async def telegram_webhook(request: Request) -> Response:
        telegram = runtime.telegram
        if telegram is None:
            return Response("Telegram is not configured", status_code=404)
        if not telegram.is_genuine(request.headers.get(TELEGRAM_SECRET_HEADER)):
            log.warning("telegram.forged")
            return Response("invalid secret token", status_code=403)
        try:
            update = telegram_channel.parse_update(json.loads(await request.body()))
        except ValueError:  # not JSON, not UTF-8: Telegram would only send it again
            once("telegram.unreadable", "malformed JSON")
            return Response(status_code=200)
        except UnsupportedEvent as error:
            once("telegram.unsupported", str(error))
            return Response(status_code=200)
        if update.tap is not None:
            telegram.answer_tap(update.tap)
        blocked = update.blocked_chat
        if blocked is not None:
            now = utcnow()
            await run_db(lambda: block_contact(runtime.engine, Channel.TELEGRAM, blocked, now))
            log.info("telegram.blocked")
        if update.message is not None:
            await accept(update.message)
        return Response(status_code=200)

    routes = [Route("/webhooks/telegram", telegram_webhook, methods=["POST"])]
    result = ChatChannels(routes=routes, telegram=runtime.telegram)
    slack = runtime.slack
    settings = runtime.settings
    if slack is not None and settings.slack_signing_secret is not None:
        inbox = build_inbox(runtime, run_db)

        async def stats() -> Sequence[ProgressRow]:
            return await run_db(lambda: activity_progress(runtime.engine))

        commands = EngageCommand(
            Organizers(
                settings.slack_organizer_ids, settings.slack_organizer_group, slack.group_members
            ),
            stats=stats,
            broadcasts=broadcasts or PlannedBroadcasts(build_broadcasting(runtime)),
            inbox=inbox.summary if inbox is not None else None,
            run=run_db,
            clock=utcnow,
            inbox_channel=settings.slack_inbox_channel,
        )

        def ensure_staff(user_id: str, name: str | None) -> bool:
            return ensure_staff_contact(runtime.engine, Channel.SLACK, user_id, name, utcnow())

        desk = SlackDesk(accept, slack, ensure_staff, run_db, commands, inbox)
        bolt = slack_channel.build_bolt_app(
            slack,
            settings.slack_signing_secret.get_secret_value(),
            desk,
            workspace=settings.slack_team_id,
            spawn=desk.spawn,
        )
        handler = AsyncSlackRequestHandler(bolt)
        result.inbox, result.desk = inbox, desk
    else:
        slack, handler = None, None

    async def slack_events(request: Request) -> Response:
        if slack is None or handler is None:
            return Response("Slack is not configured", status_code=404)
        body = await request.body()
        if not slack.is_genuine(body, request.headers):
            log.warning("slack.forged")
            return JSONResponse({"error": "invalid request"}, status_code=401)
        if not slack_channel.is_readable(body, request.headers.get("content-type")):
            once("slack.unreadable", "malformed body")
            return Response(status_code=200)
        # Starlette keeps the body it read, so Bolt reads the same bytes.
        return await handler.handle(request)

    routes.append(Route("/webhooks/slack/events", slack_events, methods=["POST"]))
    return result


class PlannedBroadcasts:
    """bot.services.broadcasting.Broadcasting as the /engage command uses it: plan, then confirm."""

    def __init__(self, broadcasting: Broadcasting) -> None:
        self.broadcasting = broadcasting

    def preview(self, activity: str, to: str) -> BroadcastPreview:
        return _preview(self.broadcasting.plan(activity, to))

    def confirm(self, activity: str, to: str, actor: str) -> BroadcastPreview:
        # Planned again: the numbers the organizer confirmed may have moved since.
        plan = self.broadcasting.plan(activity, to)
        return _preview(plan, self.broadcasting.confirm(plan, actor))

    def recent(self, activity: str | None, limit: int = 5) -> list[BroadcastStatus]:
        found = []
        for record in self.broadcasting.latest(50):
            if activity is not None and record.activity_key != activity:
                continue
            progress = self.broadcasting.status(record.id)
            found.append(
                BroadcastStatus(
                    broadcast_id=record.id,
                    activity=record.activity_key or "",
                    audience=str(record.audience),
                    status=record.status.value,
                    queued=progress.queued + progress.sending,
                    sent=progress.sent,
                    delivered=progress.delivered,
                    failed=progress.failed + progress.undelivered,
                    opted_out=progress.opted_out,
                )
            )
            if len(found) == limit:
                break
        return found


def _preview(plan: Plan, broadcast_id: int | None = None) -> BroadcastPreview:
    counts = plan.counts
    return BroadcastPreview(
        activity=plan.activity_key,
        title=plan.title,
        audience=str(plan.audience),
        reachable=counts.reachable,
        people=counts.people,
        opted_out=counts.opted_out,
        unreachable=counts.unreachable,
        by_channel=dict(counts.by_channel),
        finishes_at=plan.estimate.finishes_at,
        warnings=plan.warnings,
        broadcast_id=broadcast_id,
    )
