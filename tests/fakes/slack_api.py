"""A fake Slack Web API on loopback, for the real slack_sdk client (and Bolt's respond()).

Serve `FakeSlackApi().app` with tests.fakes.server.serve and set
SLACK_API_BASE_URL to `base + "/api/"`. Methods route on the last path
segment, the query string is ignored, JSON and form bodies are both read
(CHANNELS.md 4), and query parameters count as arguments
too. `response_url` posts go to `/respond/<anything>`. Every call
is recorded; `fail_next(method, kind, times)` scripts "429", "500" or a
Slack error code such as "channel_not_found".
"""

from __future__ import annotations

import asyncio
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

BOT_TOKEN = "xoxb-0001-fake-token-for-tests"
USERS: dict[str, dict[str, Any]] = {
    "U0STAFF": {
        "id": "U0STAFF",
        "team_id": "T0001",
        "name": "maria",
        "real_name": "María López",
        "tz": "America/Chicago",
        "tz_offset": -18000,
        "locale": "es-LA",
        "is_bot": False,
        "profile": {"real_name": "María López", "email": "mlopez@district.example.org"},
    },
    "U0ORGANIZER": {
        "id": "U0ORGANIZER",
        "team_id": "T0001",
        "name": "dana",
        "real_name": "Dana Brooks",
        "tz": "America/Chicago",
        "tz_offset": -18000,
        "locale": "en-US",
        "is_bot": False,
        "profile": {"real_name": "Dana Brooks", "email": "dbrooks@district.example.org"},
    },
}


@dataclass
class Call:
    method: str
    fields: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class FakeSlackApi:
    token: str = BOT_TOKEN
    groups: dict[str, list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    # Seconds each Web API call takes (a slow Slack), for tests that need work under way.
    delay: float = 0.0
    _failures: dict[str, list[str]] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(200))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["POST", "GET"]),
                Route("/respond/{path:path}", self._respond, methods=["POST"]),
            ]
        )

    def fail_next(self, method: str, kind: str, times: int = 1) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend([kind] * times)

    def called(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c.fields for c in self.calls if c.method == method]

    async def _fields(self, request: Request) -> dict[str, Any]:
        raw = (await request.body()).decode()
        # slack_sdk sends some methods' arguments in the query string (conversations.open).
        fields: dict[str, Any] = dict(request.query_params)
        if request.headers.get("content-type", "").startswith("application/json"):
            return {**fields, **json.loads(raw or "{}")}
        for key, value in parse_qsl(raw, keep_blank_values=True):
            try:
                fields[key] = json.loads(value) if value[:1] in "[{" else value
            except json.JSONDecodeError:
                fields[key] = value
        return fields

    def _record(self, method: str, fields: dict[str, Any], request: Request) -> str | None:
        with self._lock:
            self.calls.append(Call(method, fields, dict(request.headers), time.monotonic()))
            pending = self._failures.get(method)
            return pending.pop(0) if pending else None

    async def _respond(self, request: Request) -> Response:
        self._record("response_url", await self._fields(request), request)
        return PlainTextResponse("ok")

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        fields = await self._fields(request)
        failure = self._record(method, fields, request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        if failure == "429":
            return JSONResponse(
                {"ok": False, "error": "ratelimited"}, status_code=429, headers={"Retry-After": "1"}
            )
        if failure in ("500", "503"):
            return PlainTextResponse("upstream trouble", status_code=int(failure))
        if failure is not None:
            return JSONResponse({"ok": False, "error": failure})
        return JSONResponse({"ok": True, **self._result(method, fields)})

    def _result(self, method: str, fields: dict[str, Any]) -> dict[str, Any]:
        match method:
            case "auth.test":
                return {
                    "url": "https://district.slack.com/",
                    "team": "District",
                    "user": "engagebot",
                    "team_id": "T0001",
                    "user_id": "U0BOT",
                    "bot_id": "B0BOT",
                }
            case "chat.postMessage" | "chat.update" | "chat.postEphemeral":
                with self._lock:
                    ts = fields.get("ts") or f"1726500000.{next(self._ts):06d}"
                message = {"type": "message", "text": fields.get("text", ""), "ts": ts}
                return {"channel": fields.get("channel"), "ts": ts, "message": message}
            case "conversations.open":
                user = str(fields.get("users", "U0"))
                return {"channel": {"id": "D" + user[1:]}}
            case "users.info":
                user = str(fields.get("user"))
                return {"user": USERS.get(user, {"id": user, "name": user.lower()})}
            case "usergroups.users.list":
                return {"users": self.groups.get(str(fields.get("usergroup")), [])}
            case _:
                return {}
