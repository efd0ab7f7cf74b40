"""Twilio SMS and WhatsApp: check webhook signatures, parse inbound messages and status
callbacks, send.

WhatsApp comes through the same webhooks and client, with `whatsapp:` before
the numbers: addresses are stored in E.164 and the prefix added back when
sending. Outside WhatsApp's 24-hour window a message goes out as a template
(`content_sid` and `content_variables` of Twilio's Content API); a question's
options become quick-reply buttons or a list, made once through the Content
API and reused.

The webhooks (CHANNELS.md 1.1-1.3) are form posts signed over the public URL
Twilio was configured with; sending goes through the real `twilio` client on
aiohttp (`AsyncTwilioHttpClient`). Nothing here decides anything: a STOP is
passed on as text for the engine, and a refused send becomes a `ProviderError`
for the outbox to retry or record.

Send failures (CHANNELS.md 1.4, 1.6), as the outbox sees them:

ProviderError
├ transient      429/20429, HTTP 5xx, 30003, 30008, timeouts, connection errors
└ permanent      .failure says why
  ├ OPTED_OUT        21610
  ├ INVALID_ADDRESS  21211, 21614, 63003, 63024
  ├ UNREACHABLE      30005, 30006
  ├ BLOCKED          30004
  ├ CONFIGURATION    20003 (401), 21606, 21608, 30032, 30034, 63007, 63027, 63028, 63051, 63112
  │                  (our account, token or sender: the outbox pauses the channel)
  ├ OUTSIDE_WINDOW   63016 (WhatsApp: a template is needed)
  └ REJECTED         21408, 21612 (this destination), 21617, 30007, 63005, 63013, 63021,
                     63030, 63032, 63049 and any other 4xx
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

import aiohttp
import phonenumbers
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from bot.core.messages import Attachment, Channel, Choice, InboundMessage, OutboundMessage
from bot.core.render import as_plain_text
from bot.core.whatsapp import Interactive, interactive_kind
from bot.errors import ConfigError, DeliveryFailure, ProviderError, UnsupportedEvent

__all__ = [
    "EMPTY_TWIML",
    "ERRORS",
    "MAX_BODY",
    "DeliveryReport",
    "TwilioSms",
    "as_provider_error",
    "mask_address",
]

log = logging.getLogger(__name__)

EMPTY_TWIML: Final = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
WHATSAPP: Final = "whatsapp:"
# Twilio's limit for one message body, in characters.
MAX_BODY: Final = 1600
# Twilio codes -> (transient, failure). HTTP statuses decide the codes not listed.
ERRORS: Final[Mapping[int, tuple[bool, DeliveryFailure | None]]] = {
    20003: (False, DeliveryFailure.CONFIGURATION),
    20429: (True, None),
    21211: (False, DeliveryFailure.INVALID_ADDRESS),
    # Texting this destination's region is not enabled, or it is not routable from
    # our number: that message fails, the rest go.
    21408: (False, DeliveryFailure.REJECTED),
    # The From number is not one of this account's SMS-capable numbers.
    21606: (False, DeliveryFailure.CONFIGURATION),
    # A trial account may text only verified numbers.
    21608: (False, DeliveryFailure.CONFIGURATION),
    21610: (False, DeliveryFailure.OPTED_OUT),
    21612: (False, DeliveryFailure.REJECTED),
    21614: (False, DeliveryFailure.INVALID_ADDRESS),
    21617: (False, DeliveryFailure.REJECTED),
    30003: (True, None),
    30004: (False, DeliveryFailure.BLOCKED),
    30005: (False, DeliveryFailure.UNREACHABLE),
    30006: (False, DeliveryFailure.UNREACHABLE),
    # A carrier's spam filter: the same text would be filtered again.
    30007: (False, DeliveryFailure.REJECTED),
    30008: (True, None),
    30032: (False, DeliveryFailure.CONFIGURATION),
    30034: (False, DeliveryFailure.CONFIGURATION),
    # WhatsApp (Twilio's 63xxx codes).
    63003: (False, DeliveryFailure.INVALID_ADDRESS),
    63005: (False, DeliveryFailure.REJECTED),
    63007: (False, DeliveryFailure.CONFIGURATION),
    63013: (False, DeliveryFailure.REJECTED),
    63016: (False, DeliveryFailure.OUTSIDE_WINDOW),
    63018: (True, None),
    63021: (False, DeliveryFailure.REJECTED),
    63024: (False, DeliveryFailure.INVALID_ADDRESS),
    63027: (False, DeliveryFailure.CONFIGURATION),
    63028: (False, DeliveryFailure.CONFIGURATION),
    63030: (False, DeliveryFailure.REJECTED),
    # The person is in one of WhatsApp's experiments; nothing to do but not retry.
    63032: (False, DeliveryFailure.REJECTED),
    # Meta chose not to deliver a marketing message; the same text would fare the same.
    63049: (False, DeliveryFailure.REJECTED),
    63051: (False, DeliveryFailure.CONFIGURATION),
    63112: (False, DeliveryFailure.CONFIGURATION),
}
_STATUSES: Final[Mapping[int, tuple[bool, DeliveryFailure | None]]] = {
    401: (False, DeliveryFailure.CONFIGURATION),
    429: (True, None),
}
SEND_TIMEOUT_SECONDS: Final = 15.0

# Runs of digits as in a phone number, so provider error texts can be stored and logged.
_PHONE_LIKE = re.compile(r"\+?\d[\d ().-]{5,}\d")
_LETTERS = re.compile(r"[^\W\d_]")
_NANP = re.compile(r"\+1[2-9][0-9]{9}")
# Set by the aiohttp trace of the request the current task made; Twilio's
# exceptions carry no headers.
_retry_after: ContextVar[float | None] = ContextVar("twilio_retry_after", default=None)

Params = Sequence[tuple[str, str]] | Mapping[str, str]


def mask_address(address: str) -> str:
    """An address fit for INFO logs: `***23` for `+17735550123` (keeps the last 2 characters)."""
    address = address.strip()
    return "***" + address[-2:] if len(address) > 2 else "***"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """One status callback: where a sent message got to.

    `reference` is the outbox reference given to `send`, read back from the
    callback URL's `ref` parameter.
    """

    provider_id: str
    status: str
    error_code: str | None
    reference: str | None
    channel: Channel = Channel.SMS


class _Form(dict[str, list[str]]):
    """Form values by name, each name with all its values, as `RequestValidator` reads a
    multi-dict (through `getlist`)."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def _pairs(params: Params) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, Mapping) else list(params)


def _values(params: Params) -> dict[str, str]:
    """The first value of each name; Twilio repeats none of the fields we read."""
    values: dict[str, str] = {}
    for name, value in _pairs(params):
        values.setdefault(name, value)
    return values


def _first(values: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = values.get(name, "").strip()
        if value:
            return value
    return None


def _address(raw: str) -> str:
    """E.164 when it reads as a phone number; short codes and names (`VERIZON`) as given."""
    raw = raw.strip()
    if _NANP.fullmatch(raw):  # already E.164, as Twilio sends North American numbers
        return raw
    # phonenumbers reads letters as keypad digits (1-800-FLOWERS); a sender name is no number.
    if not raw.startswith("+") or _LETTERS.search(raw):
        return raw
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(number):
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _clean_text(body: str) -> str:
    """Without control characters but newlines and tabs, at most `MAX_BODY` characters."""
    # A lone CR is a line break on some handsets; dropping it would join two words.
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(char for char in body if char in "\n\t" or unicodedata.category(char) != "Cc")
    return kept[:MAX_BODY]


def _media_count(raw: str | None) -> int:
    try:
        count = int(raw or "0")
    except ValueError:
        return 0
    return max(count, 0)


def _attachments(values: Mapping[str, str], count: int) -> tuple[Attachment, ...]:
    found = []
    for index in range(min(count, 10)):
        url = _first(values, f"MediaUrl{index}")
        if url is not None:
            kind = values.get(f"MediaContentType{index}", "").strip() or "application/octet-stream"
            found.append(Attachment(kind, url))
    return tuple(found)


def _location(values: Mapping[str, str]) -> str:
    """A shared WhatsApp location as one line: its label and address, then the coordinates."""
    latitude, longitude = _first(values, "Latitude"), _first(values, "Longitude")
    if latitude is None or longitude is None:
        return ""
    place = ", ".join(v for v in (_first(values, "Label"), _first(values, "Address")) if v)
    return f"📍 {place} ({latitude}, {longitude})" if place else f"📍 {latitude}, {longitude}"


def _scrub(text: str) -> str:
    return _PHONE_LIKE.sub(lambda match: mask_address(match.group()), text)


def as_provider_error(error: TwilioRestException | TwilioServiceException) -> ProviderError:
    """The outbox's view of a refused send: the `ERRORS` row for the Twilio code, else by HTTP
    status (5xx transient, other 4xx rejected)."""
    status = int(error.status)
    try:
        code = int(error.code)
    except (TypeError, ValueError):
        code = status
    if code in ERRORS:
        transient, failure = ERRORS[code]
    elif status in _STATUSES:
        transient, failure = _STATUSES[status]
    elif status >= 500:
        transient, failure = True, None
    else:
        transient, failure = False, DeliveryFailure.REJECTED
    detail = error.msg if isinstance(error, TwilioRestException) else error.detail or error.title
    return ProviderError(
        _scrub(f"twilio {code} (HTTP {status}): {detail}"),
        transient=transient,
        code=str(code),
        failure=failure,
        retry_after=_retry_after.get() if transient else None,
    )


def _seconds(header: str | None) -> float | None:
    try:
        seconds = float(header) if header is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


async def _remember_retry_after(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestEndParams,
) -> None:
    _retry_after.set(_seconds(params.response.headers.get("Retry-After")))


class _JsonHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The async client as the library ships it, but sending JSON bodies as JSON.

    twilio 9's async client hands every body to aiohttp as form data, so the
    Content API (which takes JSON) receives nothing useful; the sync client
    does this same switch on the Content-Type header.
    """

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> Any:
        if data is not None and headers and headers.get("Content-Type") == "application/json":
            data = json.dumps(data, ensure_ascii=False).encode()
        return await super().request(method, url, params, data, headers, **options)


class _Types:
    """One interactive type for the Content API, serialized without the types left empty
    (the library's own class sends every other type as null)."""

    def __init__(self, kind: Interactive, text: str, choices: Sequence[Choice]) -> None:
        self.kind, self.text, self.choices = kind, text, choices

    def to_dict(self) -> dict[str, Any]:
        if self.kind is Interactive.QUICK_REPLY:
            actions = [{"title": c.label, "id": c.payload} for c in self.choices]
            return {"twilio/quick-reply": {"body": self.text, "actions": actions}}
        items = [{"item": c.label, "id": c.payload, "description": ""} for c in self.choices]
        # The list's button shows no words, so it needs no translation.
        button = f"☰ 1–{len(self.choices)}"
        return {"twilio/list-picker": {"body": self.text, "button": button, "items": items}}


class TwilioSms:
    """The SMS channel: verifies and parses Twilio's webhooks and sends through Twilio.

    `public_url` is the base URL Twilio is configured with (`https://bot.example.org`):
    Twilio signs that, not the URL a proxy forwards to. `api_base_url` points the
    real client at another API root (a fake: `http://127.0.0.1:9001`). Sends go from
    the Messaging Service when one is given, else from `from_number`. The HTTP
    session opens on the first send in the running event loop; `close()` closes it.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str | None,
        messaging_service_sid: str | None,
        public_url: str,
        api_base_url: str | None = None,
        status_callback_path: str = "/webhooks/twilio/status",
        *,
        whatsapp_from: str | None = None,
        timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        if not account_sid or not auth_token:
            raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are both required")
        if not from_number and not messaging_service_sid and not whatsapp_from:
            raise ConfigError(
                "TWILIO_FROM_NUMBER, TWILIO_MESSAGING_SERVICE_SID or TWILIO_WHATSAPP_FROM is required"
            )
        if not public_url.startswith(("https://", "http://")):
            raise ConfigError(f"ENGAGE_PUBLIC_URL must be an http(s) URL, not {public_url!r}")
        self.account_sid = account_sid
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.whatsapp_from = whatsapp_from.removeprefix(WHATSAPP) if whatsapp_from else None
        self.public_url = public_url.rstrip("/")
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self.status_callback_path = status_callback_path
        self.timeout = timeout
        self._auth_token = auth_token
        self._validator = RequestValidator(auth_token)
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Any = None
        # Content sids of the interactive messages made so far, by fingerprint.
        self._contents: dict[str, str] | None = None
        self._contents_lock = asyncio.Lock()

    # -- webhooks --------------------------------------------------------------

    def is_genuine(self, path: str, query: str, params: Params, signature: str | None) -> bool:
        """Whether `X-Twilio-Signature` signs this request for our public URL.

        Pass every form pair, blank ones included (`parse_qsl(body,
        keep_blank_values=True)`): Twilio signs `FromZip=` too. A mapping holds one
        value per name, so a form that repeats names must come as pairs.
        """
        if not signature:
            return False
        form = _Form()
        for name, value in _pairs(params):
            form.setdefault(name, []).append(value)
        url = self.public_url + path + ("?" + query if query else "")
        if "bodySHA256" not in query:
            # Nearly every request is signed for the URL as we have it: one HMAC, where
            # `validate` works out two (the URL with its port and without).
            expected = self._validator.compute_signature(url, form)
            if hmac.compare_digest(expected.encode(), signature.encode()):
                return True
        return bool(self._validator.validate(url, form, signature))

    def parse_inbound(self, params: Params) -> InboundMessage:
        """The inbound SMS or WhatsApp message in a webhook's form; raises UnsupportedEvent
        without a sender or message sid.

        A WhatsApp button tap carries our payload in `ButtonPayload` (a list pick in
        `ListId`) and its title in `ButtonText`; a shared location becomes a line of text.
        """
        values = _values(params)
        sender = _first(values, "From")
        # Old payloads name the sid SmsMessageSid/SmsSid only.
        sid = _first(values, "MessageSid", "SmsMessageSid", "SmsSid")
        missing = [name for name, value in (("From", sender), ("MessageSid", sid)) if not value]
        if sender is None or sid is None:
            raise UnsupportedEvent(f"twilio inbound without {' and '.join(missing)}")
        channel = Channel.WHATSAPP if sender.lower().startswith(WHATSAPP) else Channel.SMS
        text = values.get("Body", "")
        button = None
        if channel is Channel.WHATSAPP:
            sender = sender[len(WHATSAPP) :]
            button = _first(values, "ButtonPayload", "ListId")
            text = text or values.get("ButtonText", "")
            text = text or _location(values)
        count = _media_count(values.get("NumMedia"))
        return InboundMessage(
            channel=channel,
            address=_address(sender),
            text=_clean_text(text),
            provider_id=sid,
            received_at=None,
            button=button,
            media_count=count,
            attachments=_attachments(values, count),
        )

    def parse_status(self, params: Params, query: str) -> DeliveryReport:
        """The delivery report in a status callback; `query` is its URL's query string."""
        values = _values(params)
        sid = _first(values, "MessageSid")
        status = _first(values, "MessageStatus")
        if sid is None or status is None:
            missing = [n for n, v in (("MessageSid", sid), ("MessageStatus", status)) if not v]
            raise UnsupportedEvent(f"twilio status callback without {' and '.join(missing)}")
        references = parse_qs(query).get("ref")
        to = values.get("To", "").lower()
        return DeliveryReport(
            provider_id=sid,
            status=status,
            error_code=_first(values, "ErrorCode"),
            reference=references[0] if references else None,
            channel=Channel.WHATSAPP if to.startswith(WHATSAPP) else Channel.SMS,
        )

    # -- sending ---------------------------------------------------------------

    def render(self, message: OutboundMessage) -> str:
        """The body to send: the text, then one numbered line per choice."""
        return as_plain_text(message.text, message.choices)

    def status_callback_url(self, reference: str) -> str:
        """Where Twilio reports on a message; `ref` carries the outbox reference back."""
        url = self.public_url + self.status_callback_path
        return f"{url}?{urlencode({'ref': reference})}" if reference else url

    def _twilio(self) -> Any:
        if self._client is None:
            # aiohttp wants a running loop for its session, so it opens on the first send.
            trace = aiohttp.TraceConfig()
            trace.on_request_end.append(_remember_retry_after)
            # twilio logs each request's URL at INFO, and a GET's query can hold a phone
            # number; quiet unless the entrypoint chose a level for this logger.
            http_log = logging.getLogger(f"{__name__}.http")
            if http_log.level == logging.NOTSET:
                http_log.setLevel(logging.WARNING)
            self._http = _JsonHttpClient(logger=http_log, trace_configs=[trace])
            client = Client(self.account_sid, self._auth_token, http_client=self._http)
            # TWILIO_REGION/TWILIO_EDGE in the environment would rewrite the API host
            # (127.0.0.1 became 127.us1.0.1); configuration comes from Settings only.
            client.region = None
            client.edge = None
            if self.api_base_url:
                client.api.base_url = self.api_base_url
                client.content.base_url = self.api_base_url
            self._client = client
        return self._client

    async def send(self, message: OutboundMessage) -> str:
        """Send one SMS or WhatsApp message; returns its Twilio sid or raises ProviderError.

        A timeout is reported as transient, though Twilio may have accepted the
        message: the outbox decides whether to try again.
        """
        client = self._twilio()
        whatsapp = message.channel is Channel.WHATSAPP
        _retry_after.set(None)
        try:
            # The async client ignores its own timeout setting, so bound the call here.
            async with asyncio.timeout(self.timeout):
                content = await self._content(message) if whatsapp else {}
                created = await client.messages.create_async(
                    to=WHATSAPP + message.address if whatsapp else message.address,
                    status_callback=self.status_callback_url(message.reference),
                    **self._sender(whatsapp),
                    **(content or {"body": self.render(message)}),
                )
        except (TwilioRestException, TwilioServiceException) as error:
            raise as_provider_error(error) from error
        except TimeoutError as error:
            raise ProviderError("twilio: timed out", transient=True, code="timeout") from error
        except aiohttp.ClientError as error:
            raise ProviderError(
                f"twilio: {type(error).__name__}", transient=True, code="network"
            ) from error
        sid = created.sid
        if not isinstance(sid, str) or not sid:
            raise ProviderError("twilio: created a message without a sid", transient=False)
        log.debug(
            "twilio.sent",
            extra={"to": mask_address(message.address), "sid": sid, "ref": message.reference},
        )
        return sid

    def _sender(self, whatsapp: bool) -> dict[str, str]:
        if self.messaging_service_sid:
            return {"messaging_service_sid": self.messaging_service_sid}
        if whatsapp:
            if not self.whatsapp_from:
                raise ProviderError(
                    "twilio: no WhatsApp sender (set TWILIO_WHATSAPP_FROM)",
                    transient=False,
                    failure=DeliveryFailure.CONFIGURATION,
                )
            return {"from_": WHATSAPP + self.whatsapp_from}
        return {"from_": self.from_number or ""}

    async def _content(self, message: OutboundMessage) -> dict[str, str]:
        """WhatsApp: the template, or the buttons or list of a question; empty for plain text."""
        if message.template is not None:
            variables = {str(n): v for n, v in enumerate(message.template.variables, start=1)}
            return {
                "content_sid": message.template.content_sid,
                "content_variables": json.dumps(variables, ensure_ascii=False),
            }
        kind = interactive_kind(message.choices)
        if kind is None:
            return {}
        return {"content_sid": await self._interactive(message.text, message.choices, kind)}

    async def _interactive(self, text: str, choices: Sequence[Choice], kind: Interactive) -> str:
        """The content sid of buttons (or a list) for this text and these choices.

        Made once through the Content API and named by a fingerprint of what it
        holds, so a restarted process finds the ones it made before.
        """
        name = (
            "engage-"
            + hashlib.sha256(
                json.dumps([kind, text, [(c.label, c.payload) for c in choices]]).encode()
            ).hexdigest()[:40]
        )
        async with self._contents_lock:
            if self._contents is None:
                found = await self._twilio().content.v1.contents.list_async(page_size=500)
                self._contents = {
                    c.friendly_name: c.sid
                    for c in found
                    if isinstance(c.friendly_name, str) and c.friendly_name.startswith("engage-")
                }
            sid = self._contents.get(name)
            if sid is None:
                created = await self._twilio().content.v1.contents.create_async(
                    ContentList.ContentCreateRequest(
                        {
                            "friendly_name": name,
                            "variables": {},
                            "types": _Types(kind, text, choices),
                        }
                    )
                )
                sid = self._contents[name] = created.sid
        return sid

    async def find_sent(self, message: OutboundMessage) -> list[str]:
        """Sids of messages Twilio already has to `message.address` with this body.

        Twilio takes no idempotency key, so before sending a row again whose
        earlier attempt may have gone out (a worker killed mid-send, a timeout),
        the outbox asks here. Raises ProviderError (transient) when Twilio cannot say.
        """
        client = self._twilio()
        whatsapp = message.channel is Channel.WHATSAPP
        if whatsapp and message.template is not None:
            # A template's text is Twilio's, not ours: there is nothing to compare.
            return []
        # WhatsApp buttons carry the question's text as their body.
        body = message.text if whatsapp and interactive_kind(message.choices) else None
        body = body or self.render(message)
        sender = {} if self.messaging_service_sid else self._sender(whatsapp)
        try:
            async with asyncio.timeout(self.timeout):
                found = await client.messages.list_async(
                    to=WHATSAPP + message.address if whatsapp else message.address,
                    limit=50,
                    page_size=50,
                    **sender,
                )
        except (TwilioRestException, TwilioServiceException) as error:
            failed = as_provider_error(error)
            raise ProviderError(str(failed), transient=True, code=failed.code) from error
        except TimeoutError as error:
            raise ProviderError(
                "twilio: lookup timed out", transient=True, code="timeout"
            ) from error
        except aiohttp.ClientError as error:
            raise ProviderError(
                f"twilio: {type(error).__name__}", transient=True, code="network"
            ) from error
        return [m.sid for m in found if m.body == body and isinstance(m.sid, str)]

    async def close(self) -> None:
        """Close the HTTP session; a later send opens a new one."""
        if self._http is not None:
            await self._http.close()
        self._http = None
        self._client = None
