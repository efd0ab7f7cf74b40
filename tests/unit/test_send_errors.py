"""A failed send is said in plain words, with what to do; never as a bare code."""

from __future__ import annotations

import pytest

from bot.core.messages import Channel
from bot.core.send_errors import plain_error

CASES = [
    (Channel.SMS, "30005", "does not exist or is no longer in service"),
    (Channel.SMS, "21610", "replied STOP"),
    (Channel.SMS, "30007", "filtered the message as spam"),
    (Channel.WHATSAPP, "63016", "24 hours"),
    (Channel.TELEGRAM, "403", "blocked the bot"),
    (Channel.SMS, "unreachable", "cannot be reached"),
    (Channel.SMS, "20003", "TWILIO_ACCOUNT_SID"),  # our configuration, as the banner says it
    (Channel.SMS, "99999", "refused the message (code 99999)"),
    (Channel.SMS, None, "gave no reason"),
    ("carrier-pigeon", "30005", "does not exist"),
]


@pytest.mark.parametrize(("channel", "code", "words"), CASES, ids=[str(c[1]) for c in CASES])
def test_each_code_is_said_plainly(channel: Channel | str, code: str | None, words: str) -> None:
    assert words in plain_error(channel, code)
