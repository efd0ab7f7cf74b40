"""Slack's webhook: events, slash commands and button taps, all through Bolt.

POST /webhooks/slack/events   signature checked (401), recorded, 200; the desk works on it
                              when the inbound queue drains it (the URL check: Bolt, at once)
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.core.messages import Channel
from bot.ports import QueuedKind
from bot.web.context import web_of
from bot.web.requests import LIMITS, BodyTooLarge, read_body, too_large
from channels import slack as slack_channel
from storage.inbound_queue import sender_key

__all__ = ["routes"]

log = logging.getLogger(__name__)


async def receive_event(request: Request) -> Response:
    web = web_of(request)
    slack, handler = web.runtime.slack, web.slack_handler
    if slack is None or handler is None:
        return Response("Slack is not configured", status_code=404)
    try:
        body = await read_body(request, LIMITS["slack"])
    except BodyTooLarge:
        return too_large("slack")
    if not slack.is_genuine(body, request.headers):
        log.warning("slack.forged")
        return JSONResponse({"error": "invalid request"}, status_code=401)
    if not slack_channel.is_readable(body, request.headers.get("content-type")):
        web.unsupported("slack.unreadable", "malformed body")
        return Response(status_code=200)
    content_type = request.headers.get("content-type") or "application/x-www-form-urlencoded"
    try:
        summary = slack_channel.describe_request(body, content_type)
    except (ValueError, RecursionError) as error:
        web.unsupported("slack.unreadable", f"malformed payload ({type(error).__name__})")
        return Response(status_code=200)
    if summary.handshake:
        # Starlette keeps the body it read, so Bolt reads the same bytes.
        return await handler.handle(request)
    # Recorded before the 200 (Slack does not send a request again once answered 2xx);
    # the desk works on it when the queue drains it.
    payload = {"body": body.decode("utf-8"), "content_type": content_type}
    sender = sender_key(Channel.SLACK, summary.user)
    await web.intake.record(Channel.SLACK, summary.dedup_id, QueuedKind.SLACK, sender, payload)
    return Response(status_code=200)


routes = [Route("/webhooks/slack/events", receive_event, methods=["POST"])]
