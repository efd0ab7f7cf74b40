"""Telegram's webhook.

POST /webhooks/telegram   secret header checked (403), update parsed, handed to the service
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.errors import UnsupportedEvent
from bot.web.context import web_of
from bot.web.requests import LIMITS, BodyTooLarge, read_body, too_large
from channels import telegram as telegram_channel

__all__ = ["routes"]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def receive_update(request: Request) -> Response:
    web = web_of(request)
    telegram = web.runtime.telegram
    if telegram is None:
        return Response("Telegram is not configured", status_code=404)
    if not telegram.is_genuine(request.headers.get(SECRET_HEADER)):
        log.warning("telegram.forged")
        return Response("invalid secret token", status_code=403)
    try:
        body = await read_body(request, LIMITS["telegram"])
    except BodyTooLarge:
        return too_large("telegram")
    try:
        update = telegram_channel.parse_update(json.loads(body))
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested absurdly deep
        # Telegram would only send it again: answer 200 and log it.
        web.unsupported("telegram.unreadable", "malformed JSON")
        return Response(status_code=200)
    except UnsupportedEvent as error:
        web.unsupported("telegram.unsupported", str(error))
        return Response(status_code=200)
    if update.tap is not None:
        telegram.answer_tap(update.tap)
    if update.message is not None:
        await web.accept(update.message)
    return Response(status_code=200)


routes = [Route("/webhooks/telegram", receive_update, methods=["POST"])]
