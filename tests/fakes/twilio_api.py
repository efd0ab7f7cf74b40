"""A fake Twilio REST API on loopback, for the real `twilio` client (CHANNELS.md 1.6, 4).

    with run_fake_twilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        sms = TwilioSms(..., api_base_url=fake.url)
        fake.fail_next(2, 429, 20429, "Too Many Requests")

`POST /2010-04-01/Accounts/{sid}/Messages.json` checks Basic auth (401/20003
otherwise) and the form, records the request, and answers 201 with a new `SM`
sid, unless a scripted failure or stall is due. A message may name a
`ContentSid` instead of a `Body`: a template registered with `approve_template`
or content made through `POST /v1/Content` (listed by `GET /v1/Content`); its
body is rendered into the recorded message's `Body`. To a `whatsapp:` number
whose 24-hour window is not open (`open_window`), anything but an approved
template is accepted and then fails with 63016 in its status callbacks, as
WhatsApp does. With `deliver_callbacks` set it
then posts `sent` and `delivered` to the StatusCallback URL, signed over that
URL as Twilio would (the public URL) and sent to `callback_target` when given
(the same path and query on the host where the app really listens).
Usable from sync and async tests: the server runs in its own thread.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from tests.fakes.server import serve

__all__ = ["Callback", "FakeTwilio", "RecordedRequest", "run_fake_twilio"]

MESSAGES_PATH = "/2010-04-01/Accounts/{sid}/Messages.json"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    form: dict[str, str]  # a repeated name keeps its last value


@dataclass(frozen=True)
class Callback:
    """A status callback the fake posted: `url` is the one signed, `target` the one posted to."""

    url: str
    target: str
    params: dict[str, str]
    status_code: int | None  # None: the target did not answer


@dataclass(frozen=True)
class _Script:
    status: int | None = None  # None: answer normally, after `stall` seconds
    code: int | None = None  # None: an HTML body, as from a failing proxy
    message: str = ""
    retry_after: float | None = None
    stall: float = 0.0


class FakeTwilio:
    """What the fake received and will answer. Lists are snapshots, safe from any thread."""

    def __init__(
        self, account_sid: str, auth_token: str, callback_target: str | None = None
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.url = ""  # the API root, set once serving: pass it as `api_base_url`
        self.deliver_callbacks = False
        self.callback_target = callback_target
        self.callback_delay = 0.05  # seconds before each callback, as Twilio takes a moment
        self._requests: list[RecordedRequest] = []
        self._messages: list[dict[str, str]] = []
        self._callbacks: list[Callback] = []
        self._script: list[_Script] = []
        self._changed = threading.Condition()
        # Content sid -> {"friendly_name", "types", "template": bool}.
        self.contents: dict[str, dict[str, Any]] = {}
        self.open_windows: set[str] = set()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._changed:
            return list(self._requests)

    @property
    def messages(self) -> list[dict[str, str]]:
        """Accepted messages: their form fields (`To`, `From`, `Body`, `StatusCallback` …)
        and the `sid` they were given."""
        with self._changed:
            return list(self._messages)

    @property
    def callbacks(self) -> list[Callback]:
        with self._changed:
            return list(self._callbacks)

    def bodies_to(self, number: str) -> list[str]:
        return [m["Body"] for m in self.messages if m.get("To") == number]

    def fail_next(
        self,
        count: int,
        status: int,
        code: int | None = None,
        message: str = "error",
        *,
        retry_after: float | None = None,
    ) -> None:
        """The next `count` valid sends fail with HTTP `status` and Twilio error `code`
        (an HTML body when `code` is None), with a `Retry-After` header if given."""
        with self._changed:
            self._script.extend([_Script(status, code, message, retry_after)] * count)

    def approve_template(self, body: str) -> str:
        """A WhatsApp template with `{{1}}`-style placeholders, approved; returns its sid."""
        sid = "HX" + secrets.token_hex(16)
        with self._changed:
            self.contents[sid] = {
                "friendly_name": f"template-{sid}",
                "types": {"twilio/text": {"body": body}},
                "template": True,
            }
        return sid

    def open_window(self, number: str) -> None:
        """The person at `whatsapp:` `number` wrote to us within the last 24 hours."""
        with self._changed:
            self.open_windows.add(number)

    def stall_next(self, count: int, seconds: float) -> None:
        """The next `count` valid sends are answered only after `seconds`."""
        with self._changed:
            self._script.extend([_Script(stall=seconds)] * count)

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[Callback]:
        """Block until `count` callbacks were posted; raises AssertionError after `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._callbacks) >= count, timeout):
                raise AssertionError(f"{len(self._callbacks)} of {count} callbacks posted")
            return list(self._callbacks)

    def _record(self, request: RecordedRequest) -> _Script | None:
        with self._changed:
            self._requests.append(request)
            return self._script.pop(0) if self._script else None

    def _accept(self, message: dict[str, str]) -> None:
        with self._changed:
            self._messages.append(message)

    def _called_back(self, callback: Callback) -> None:
        with self._changed:
            self._callbacks.append(callback)
            self._changed.notify_all()


def _error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


def _form_problem(fake: FakeTwilio, form: dict[str, str]) -> tuple[int, str] | None:
    if not form.get("To"):
        return 21604, "A 'To' phone number is required."
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return 21603, "A 'From' phone number is required."
    content = form.get("ContentSid")
    if content is not None and content not in fake.contents:
        return 21655, "The ContentSid is Invalid."
    if not form.get("Body") and not form.get("MediaUrl") and content is None:
        return 21602, "Message body is required."
    sender = form.get("From")
    if sender and form["To"].startswith("whatsapp:") != sender.startswith("whatsapp:"):
        return 21910, "Invalid From and To pair. From and To should be of the same channel."
    return None


def _content_body(fake: FakeTwilio, form: dict[str, str]) -> str:
    """What the person sees of a content message: its body, placeholders filled."""
    types = fake.contents[form["ContentSid"]]["types"]
    body: str = next(iter(types.values()))["body"]
    variables = json.loads(form.get("ContentVariables") or "{}")
    for name, value in variables.items():
        body = body.replace("{{" + name + "}}", value)
    return body


def _outside_window(fake: FakeTwilio, form: dict[str, str]) -> bool:
    """A free-form WhatsApp message to someone whose 24-hour window is closed."""
    to = form["To"]
    if not to.startswith("whatsapp:") or to.removeprefix("whatsapp:") in fake.open_windows:
        return False
    content = fake.contents.get(form.get("ContentSid", ""))
    return content is None or not content["template"]


def _created(fake: FakeTwilio, sid: str, form: dict[str, str]) -> dict[str, Any]:
    via_service = "MessagingServiceSid" in form
    return {
        "sid": sid,
        "account_sid": fake.account_sid,
        "messaging_service_sid": form.get("MessagingServiceSid"),
        # A Messaging Service picks the sender later.
        "from": None if via_service else form["From"],
        "to": form["To"],
        "body": form.get("Body", ""),
        "status": "accepted" if via_service else "queued",
        "direction": "outbound-api",
        "num_segments": "0" if via_service else "1",
        "num_media": "0",
        "error_code": None,
        "error_message": None,
        "price": None,
        "api_version": "2010-04-01",
        "date_created": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
        "uri": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json",
    }


async def _post_callbacks(
    fake: FakeTwilio, form: dict[str, str], sid: str, failed: str | None = None
) -> None:
    """`sent`, then `delivered` (or `failed` with error code `failed`), signed over the
    StatusCallback URL as given."""
    url = form["StatusCallback"]
    target = url
    if fake.callback_target:
        parts = urlsplit(url)
        target = fake.callback_target.rstrip("/") + parts.path
        target += f"?{parts.query}" if parts.query else ""
    validator = RequestValidator(fake.auth_token)
    async with httpx.AsyncClient(timeout=5) as client:
        for status in ("sent", "delivered") if failed is None else ("failed",):
            await asyncio.sleep(fake.callback_delay)
            params = {
                "MessageSid": sid,
                "MessageStatus": status,
                "SmsSid": sid,
                "SmsStatus": status,
                "AccountSid": fake.account_sid,
                "To": form["To"],
                "ApiVersion": "2010-04-01",
            }
            if failed is not None:
                params["ErrorCode"] = failed
            for name in ("From", "MessagingServiceSid"):
                if form.get(name):
                    params[name] = form[name]
            headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
            try:
                response = await client.post(target, data=params, headers=headers)
                answered: int | None = response.status_code
            except httpx.HTTPError:
                answered = None
            fake._called_back(Callback(url, target, params, answered))


def _app(fake: FakeTwilio) -> Starlette:
    credentials = f"{fake.account_sid}:{fake.auth_token}".encode()
    expected_auth = "Basic " + base64.b64encode(credentials).decode()

    async def create_message(request: Request) -> Response:
        raw = (await request.body()).decode()
        form = dict(parse_qsl(raw, keep_blank_values=True))
        script = fake._record(
            RecordedRequest(request.method, request.url.path, dict(request.headers), form)
        )
        if (
            request.headers.get("authorization") != expected_auth
            or request.path_params["sid"] != fake.account_sid
        ):
            return _error(401, 20003, "Authenticate")
        problem = _form_problem(fake, form)
        if problem is not None:
            return _error(400, *problem)
        if script is not None and script.stall:
            await asyncio.sleep(script.stall)
        if script is not None and script.status is not None:
            headers = {}
            if script.retry_after is not None:
                headers["Retry-After"] = f"{script.retry_after:g}"
            if script.code is None:
                html = "<html><body><h1>Internal Server Error</h1></body></html>"
                return Response(html, script.status, headers, media_type="text/html")
            response = _error(script.status, script.code, script.message)
            response.headers.update(headers)
            return response
        sid = "SM" + secrets.token_hex(16)
        if "ContentSid" in form:
            form = {**form, "Body": _content_body(fake, form)}
        fake._accept({**form, "sid": sid})
        callbacks = None
        failed = "63016" if _outside_window(fake, form) else None
        if (fake.deliver_callbacks or failed) and form.get("StatusCallback"):
            callbacks = BackgroundTask(_post_callbacks, fake, form, sid, failed)
        return JSONResponse(_created(fake, sid, form), status_code=201, background=callbacks)

    async def list_messages(request: Request) -> Response:
        """`GET …/Messages.json?To=…&From=…`: accepted messages, newest first, as Twilio lists."""
        recorded = RecordedRequest(request.method, request.url.path, dict(request.headers), {})
        with fake._changed:
            fake._requests.append(recorded)  # a lookup, not a send: no script is used up
        if request.headers.get("authorization") != expected_auth:
            return _error(401, 20003, "Authenticate")
        to, sender = request.query_params.get("To"), request.query_params.get("From")
        found = [
            _created(fake, m["sid"], m)
            for m in reversed(fake.messages)
            if (to is None or m.get("To") == to) and (sender is None or m.get("From") == sender)
        ]
        size = int(request.query_params.get("PageSize", "50"))
        path = request.url.path
        return JSONResponse(
            {
                "messages": found[:size],
                "first_page_uri": f"{path}?PageSize={size}&Page=0",
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": size,
                "start": 0,
                "end": max(min(len(found), size) - 1, 0),
                "uri": f"{path}?PageSize={size}&Page=0",
            }
        )

    async def create_content(request: Request) -> Response:
        """`POST /v1/Content` (JSON): interactive content, usable at once within the window."""
        payload = json.loads(await request.body())
        fake._record(RecordedRequest(request.method, request.url.path, dict(request.headers), {}))
        if request.headers.get("authorization") != expected_auth:
            return _error(401, 20003, "Authenticate")
        sid = "HX" + secrets.token_hex(16)
        with fake._changed:
            fake.contents[sid] = {
                "friendly_name": payload["friendly_name"],
                "types": payload["types"],
                "template": False,
            }
        return JSONResponse(_content(fake, sid), status_code=201)

    async def list_contents(request: Request) -> Response:
        if request.headers.get("authorization") != expected_auth:
            return _error(401, 20003, "Authenticate")
        with fake._changed:
            found = [_content(fake, sid) for sid in fake.contents]
        url = str(request.url)
        meta = {"page": 0, "page_size": len(found), "first_page_url": url, "url": url}
        meta.update({"previous_page_url": None, "next_page_url": None, "key": "contents"})
        return JSONResponse({"contents": found, "meta": meta})

    return Starlette(
        routes=[
            Route(MESSAGES_PATH, create_message, methods=["POST"]),
            Route(MESSAGES_PATH, list_messages, methods=["GET"]),
            Route("/v1/Content", create_content, methods=["POST"]),
            Route("/v1/Content", list_contents, methods=["GET"]),
        ]
    )


def _content(fake: FakeTwilio, sid: str) -> dict[str, Any]:
    content = fake.contents[sid]
    return {
        "sid": sid,
        "account_sid": fake.account_sid,
        "friendly_name": content["friendly_name"],
        "language": "en",
        "variables": {},
        "types": content["types"],
        "url": f"https://content.twilio.com/v1/Content/{sid}",
        "links": {},
    }


@contextmanager
def run_fake_twilio(
    account_sid: str, auth_token: str, *, callback_target: str | None = None
) -> Iterator[FakeTwilio]:
    """Serve a fake Twilio API on 127.0.0.1 (a free port) until the block ends."""
    fake = FakeTwilio(account_sid, auth_token, callback_target)
    with serve(_app(fake)) as url:
        fake.url = url
        yield fake
