"""Twilio's webhooks: inbound SMS and delivery reports.

POST /webhooks/twilio/sms      signature checked (403), message handed to the service
POST /webhooks/twilio/status   signature checked (403), delivery recorded
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.errors import UnsupportedEvent
from bot.services.inbound import utcnow
from bot.web.context import web_of
from bot.web.requests import LIMITS, BodyTooLarge, read_form_pairs, too_large
from channels.twilio_sms import EMPTY_TWIML, TwilioSms
from storage.outbox import Delivery

__all__ = ["routes"]

log = logging.getLogger(__name__)

TWIML = "text/xml"


async def receive_sms(request: Request) -> Response:
    web = web_of(request)
    sms = web.runtime.sms
    if sms is None:
        log.warning("twilio.off")
        return Response("SMS is not configured", status_code=404)
    try:
        pairs = await read_form_pairs(request, LIMITS["twilio"])
    except BodyTooLarge:
        return too_large("twilio.sms")
    if not _is_genuine(sms, request, pairs):
        return Response("invalid signature", status_code=403)
    try:
        message = sms.parse_inbound(pairs)
    except UnsupportedEvent as error:
        log.warning("twilio.unsupported", extra={"reason": str(error)})
        return Response(EMPTY_TWIML, media_type=TWIML)
    await web.accept(message)
    return Response(EMPTY_TWIML, media_type=TWIML)


async def receive_status(request: Request) -> Response:
    web = web_of(request)
    sms = web.runtime.sms
    if sms is None:
        return Response("SMS is not configured", status_code=404)
    try:
        pairs = await read_form_pairs(request, LIMITS["twilio"])
    except BodyTooLarge:
        return too_large("twilio.status")
    if not _is_genuine(sms, request, pairs):
        return Response("invalid signature", status_code=403)
    try:
        report = sms.parse_status(pairs, request.url.query)
    except UnsupportedEvent as error:
        log.warning("twilio.unsupported", extra={"reason": str(error)})
        return Response(status_code=204)
    delivery = Delivery(report.channel, report.provider_id, report.status, report.error_code)
    outbox = web.runtime.outbox
    found = await web.run_db(lambda: outbox.record_delivery(delivery, utcnow(), report.reference))
    if not found:
        log.info("twilio.status_unknown_message", extra={"status": report.status})
    return Response(status_code=204)


def _is_genuine(sms: TwilioSms, request: Request, pairs: list[tuple[str, str]]) -> bool:
    signature = request.headers.get("X-Twilio-Signature")
    if sms.is_genuine(request.url.path, request.url.query, pairs, signature):
        return True
    log.warning("twilio.forged", extra={"path": request.url.path})
    return False


routes = [
    Route("/webhooks/twilio/sms", receive_sms, methods=["POST"]),
    Route("/webhooks/twilio/status", receive_status, methods=["POST"]),
]
