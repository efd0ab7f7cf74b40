"""Log lines are JSON, and no configured secret survives in one, whoever logged it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import HIDDEN, QUIET_LOGGERS, configure_logging, hide_in_logs

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in QUIET_LOGGERS}
    buffer = io.StringIO()
    configure_logging(logging.DEBUG, stream=buffer)
    hide_in_logs([TOKEN, None, "abc"])
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


def lines(log: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.getvalue().splitlines()]


def test_a_secret_is_blanked_in_the_message_the_fields_and_the_traceback(
    log: io.StringIO,
) -> None:
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage")
    except RuntimeError:
        logging.getLogger("some.library").exception(
            "failed %s", f"/bot{TOKEN}/x", extra={"url": f"/bot{TOKEN.replace(':', '%3A')}/x"}
        )

    [entry] = lines(log)
    assert TOKEN not in log.getvalue()
    assert entry["event"] == f"failed /bot{HIDDEN}/x"
    assert entry["url"] == f"/bot{HIDDEN}/x"
    assert HIDDEN in str(entry["traceback"])


def test_short_values_are_not_taken_for_secrets(log: io.StringIO) -> None:
    logging.getLogger("bot").info("abc and abcdef")

    assert lines(log)[0]["event"] == "abc and abcdef"


@pytest.mark.parametrize("name", ["httpx", "twilio.http_client", "telegram.ext", "slack_sdk"])
def test_client_request_loggers_stay_quiet_even_at_debug(log: io.StringIO, name: str) -> None:
    logging.getLogger(name).info("HTTP Request: POST https://example.org/bot…/sendMessage")
    logging.getLogger(name).warning("rate limited")

    assert [e["event"] for e in lines(log)] == ["rate limited"]
