"""Logging as one JSON object a line: an event name plus the fields passed in `extra`.

No secret reaches a log at any level. The provider clients' own request
loggers (httpx writes `POST …/bot<token>/sendMessage` at INFO, twilio the
query string of every request, python-telegram-bot and slack_sdk every call's
parameters at DEBUG) are held at WARNING even with `-v`; and every line is
written with each configured secret (`hide_in_logs`) blanked out, whatever
logger, message or traceback carried it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import quote

__all__ = ["HIDDEN", "QUIET_LOGGERS", "JsonFormatter", "configure_logging", "hide_in_logs"]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

HIDDEN = "[hidden]"
# Client libraries that log request URLs, headers or parameters.
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "hpack",
    "twilio",
    "telegram",
    "slack_sdk",
    "slack_bolt",
    "aiohttp",
    "urllib3",
)
# Shorter values are not secrets worth blanking (they would blank ordinary words).
MIN_SECRET_LENGTH = 4

_secrets: set[str] = set()


def hide_in_logs(values: Iterable[str | None]) -> None:
    """Blank each of `values` (and its URL-encoded form) out of every log line from now on."""
    for value in values:
        if value and len(value) >= MIN_SECRET_LENGTH:
            _secrets.update(
                {value, quote(value, safe=""), json.dumps(value, ensure_ascii=False)[1:-1]}
            )


def _redact(line: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in line:
            line = line.replace(secret, HIDDEN)
    return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return _redact(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send JSON lines to stderr (or `stream`); called once by the entrypoint."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
