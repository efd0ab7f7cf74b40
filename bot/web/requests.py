"""Reading request bodies the way providers send them."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

__all__ = ["read_form_pairs"]


async def read_form_pairs(request: Request) -> list[tuple[str, str]]:
    """A form-encoded body as ordered pairs, blank values kept (Twilio signs them too)."""
    raw = await request.body()
    return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
