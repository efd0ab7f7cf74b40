"""A fake Telegram Bot API on loopback, for the real python-telegram-bot client.

Serve `FakeTelegramApi().app` with tests.fakes.server.serve and point the bot
at `base + "/bot"` (TELEGRAM_API_BASE_URL=base). Every call is recorded with
its form fields; `fail_next(method, kind, times)` scripts the answers of
CHANNELS.md 2.3 ("429", "403", "400", "500").
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"
BOT = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "District Bot",
    "username": "district_test_bot",
}
FAILURES: dict[str, tuple[int, dict[str, Any] | str]] = {
    "429": (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    ),
    "403": (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    ),
    "400": (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
    "500": (500, "<html>Internal Server Error</html>"),
}


@dataclass
class Call:
    method: str
    fields: dict[str, Any]
    at: float


@dataclass
class FakeTelegramApi:
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    _failures: dict[str, list[str]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/bot{token}/{method}", self._handle, methods=["POST", "GET"])]
        )

    def fail_next(self, method: str, kind: str, times: int = 1) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend([kind] * times)

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        with self._lock:
            return [c.fields for c in self.calls if c.method == method]

    async def _handle(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404
            )
        method = request.path_params["method"]
        raw = (await request.body()).decode()
        if request.headers.get("content-type", "").startswith("application/json"):
            fields = json.loads(raw or "{}")
        else:
            fields = {}
            for key, value in parse_qsl(raw, keep_blank_values=True):
                # PTB sends nested objects as JSON strings.
                try:
                    fields[key] = json.loads(value) if value[:1] in "[{" else value
                except json.JSONDecodeError:
                    fields[key] = value
        with self._lock:
            self.calls.append(Call(method, fields, time.monotonic()))
            pending = self._failures.get(method)
            failure = pending.pop(0) if pending else None
        if failure is not None:
            status, body = FAILURES[failure]
            if isinstance(body, str):
                return PlainTextResponse(body, status_code=status)
            return JSONResponse(body, status_code=status)
        return JSONResponse({"ok": True, "result": self._result(method, fields)})

    def _result(self, method: str, fields: dict[str, Any]) -> Any:
        match method:
            case "getMe":
                return BOT
            case "sendMessage" | "editMessageReplyMarkup" | "editMessageText":
                chat_id = int(fields.get("chat_id", 0))
                message: dict[str, Any] = {
                    "message_id": int(fields.get("message_id") or next(self._ids)),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "from": BOT,
                    "text": fields.get("text", ""),
                }
                if isinstance(fields.get("reply_markup"), dict):
                    message["reply_markup"] = fields["reply_markup"]
                return message
            case "getWebhookInfo":
                return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
            case _:
                return True
