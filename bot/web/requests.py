"""Reading request bodies the way providers send them, and never more than they would.

Every route reads its body through `read_body` with its provider's limit
(`LIMITS`): a request whose Content-Length says it is bigger is refused at
once, and one without (chunked) is read only up to the limit. Either answers
413 before any of it is parsed, so nobody can make the server read and parse a
100 MB body on the event loop before its signature is even checked.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["LIMITS", "BodyTooLarge", "read_body", "read_form_pairs", "too_large"]

log = logging.getLogger(__name__)

KB = 1024
# What each sender can legitimately post, with room to spare.
LIMITS = {
    "twilio": 64 * KB,  # an SMS is at most 1,600 characters, a delivery report less
    "telegram": 1024 * KB,  # a message is at most 4,096 characters
    "slack": 1024 * KB,  # a message is at most 40,000 characters, a payload more
    "dashboard": 16 * KB,  # a sign-in or a follow-up form
}


class BodyTooLarge(Exception):
    """A request body over the route's limit (answer 413)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The body, at most `limit` bytes; raises BodyTooLarge, having read no more than that.

    The body is kept on the request, so a library that reads it again (Slack's
    Bolt) gets the same bytes.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or int(declared) > limit:
            raise BodyTooLarge(declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(str(size))
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette's own cache of the body, which `request.body()` returns
    return body


async def read_form_pairs(request: Request, limit: int) -> list[tuple[str, str]]:
    """A form-encoded body as ordered pairs, blank values kept (Twilio signs them too)."""
    raw = await read_body(request, limit)
    return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)


def too_large(route: str) -> Response:
    """The answer to a body over the limit."""
    log.warning("request.too_large", extra={"route": route})
    return Response("request body too large", status_code=413)
