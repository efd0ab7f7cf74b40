"""Why a message did not go, in words an organizer understands.

The outbox records the provider's error code (Twilio's numbers, Telegram's
HTTP status, our own `DeliveryFailure` names). The dashboard groups failed
and retrying messages by code and says each one plainly, with what to do.
A configuration problem (our account, token or sender) is said by
bot.core.setup_problems, as the paused-channel banner says it.
"""

from __future__ import annotations

from bot.core.messages import Channel
from bot.core.setup_problems import explain, explains

__all__ = ["plain_error"]

_TWILIO = {
    "21211": "Not a valid phone number: check it in the roster.",
    "21614": "This number cannot receive texts (a landline?): reach the family another way.",
    "21610": "The family replied STOP to our number earlier; the carrier will not deliver.",
    "21408": "Texting this country is not turned on in Twilio.",
    "21612": "Twilio cannot send from our number to this one.",
    "21617": "The message is longer than a text can carry: shorten it.",
    "30003": "The phone was off or out of reach; it is tried again.",
    "30004": "The family's carrier or phone blocks our messages.",
    "30005": "The number does not exist or is no longer in service: update the roster.",
    "30006": "A landline or a number that cannot receive texts: reach the family another way.",
    "30007": "The carrier filtered the message as spam: register the number (A2P 10DLC) "
    "or change the wording.",
    "30008": "The carrier gave no reason; it is tried again.",
    "63016": "WhatsApp: more than 24 hours since the family last wrote, so only an "
    "approved template may be sent.",
    "429": "The provider asked us to slow down; messages are tried again.",
    "20429": "The provider asked us to slow down; messages are tried again.",
}
_TELEGRAM = {
    "403": "The family blocked the bot or never started it; nothing more goes to them there.",
    "400": "Telegram does not know this chat (deleted or never started).",
    "429": "Telegram asked us to slow down; messages are tried again.",
    "network": "Telegram could not be reached; messages are tried again.",
}
_FAILURES = {
    "opted_out": "The family opted out on this channel.",
    "invalid_address": "Not a valid address: check it in the roster.",
    "unreachable": "The number cannot be reached: update the roster.",
    "blocked": "The family's carrier or phone blocks our messages.",
    "rejected": "The provider refused the message.",
    "outside_window": "WhatsApp: more than 24 hours since the family last wrote, so only an "
    "approved template may be sent.",
}


def plain_error(channel: Channel | str, code: str | None) -> str:
    """What `code` on `channel` means, in one or two plain sentences."""
    try:
        kind = Channel(channel)
    except ValueError:
        kind = None
    if not code:
        return "The provider gave no reason."
    table = _TELEGRAM if kind is Channel.TELEGRAM else _TWILIO
    if code in table:
        return table[code]
    if code in _FAILURES:
        return _FAILURES[code]
    if kind is not None and explains(kind, code):
        return explain(kind, code)
    return f"The provider refused the message (code {code})."
