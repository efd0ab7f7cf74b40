"""Slack's webhook: events, slash commands and button taps, all through Bolt.

POST /webhooks/slack/events   signature checked (401), Bolt acks, the desk works after
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.web.context import web_of
from bot.web.requests import LIMITS, BodyTooLarge, read_body, too_large
from channels import slack as slack_channel

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
    # Starlette keeps the body it read, so Bolt reads the same bytes.
    try:
        return await handler.handle(request)
    except (TypeError, KeyError, AttributeError, ValueError, IndexError) as error:
        # A genuine request in a shape Bolt cannot read: Slack would only retry a 500.
        web.unsupported("slack.unreadable", f"malformed payload ({type(error).__name__})")
        return Response(status_code=200)


routes = [Route("/webhooks/slack/events", receive_event, methods=["POST"])]
