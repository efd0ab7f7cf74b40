"""Why a channel is paused, in plain words an organizer can act on.

A provider that refuses our credentials or our sender refuses every message
alike; the outbox pauses that channel and keeps its messages queued
(bot.services.sender). `broadcast status`, `/healthz` and the dashboard say
why with `explain`.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.messages import Channel

__all__ = ["WHAT_HAPPENS", "explain", "explains"]

_TWILIO_CREDENTIALS = (
    "Twilio refused our credentials: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."
)
_TWILIO: Mapping[str, str] = {
    "20003": _TWILIO_CREDENTIALS,
    "401": _TWILIO_CREDENTIALS,
    "21606": (
        "Twilio says TWILIO_FROM_NUMBER is not an SMS-capable number of this account "
        "(or the Messaging Service has none)."
    ),
    "21608": (
        "The Twilio account is a trial account: it may text only numbers verified in "
        "the console. Upgrade the account."
    ),
    "30032": "The toll-free number is not verified yet; carriers refuse its messages.",
    "30034": "The number is not registered for A2P 10DLC; carriers refuse its messages.",
}
_PLAIN: Mapping[Channel, Mapping[str, str]] = {
    Channel.SMS: _TWILIO,
    Channel.WHATSAPP: {
        **_TWILIO,
        "63007": "Twilio has no WhatsApp sender for TWILIO_WHATSAPP_FROM.",
        "63112": "Meta has disabled the WhatsApp Business account.",
    },
    Channel.TELEGRAM: {
        "401": (
            "Telegram refused TELEGRAM_BOT_TOKEN (revoked or mistyped); "
            "@BotFather gives the current one."
        ),
    },
    Channel.SLACK: {
        "invalid_auth": "Slack refused SLACK_BOT_TOKEN: check it, or reinstall the app.",
        "not_authed": "Slack got no token: set SLACK_BOT_TOKEN.",
        "token_revoked": "The Slack token was revoked: reinstall the app, set the new token.",
        "account_inactive": "The Slack app's account is deactivated: reinstall the app.",
        "missing_scope": "The Slack app lacks a permission it needs: reinstall it with its scopes.",
    },
}
_PROVIDER = {
    Channel.SMS: "Twilio",
    Channel.WHATSAPP: "Twilio (WhatsApp)",
    Channel.TELEGRAM: "Telegram",
    Channel.SLACK: "Slack",
}

# What the outbox does meanwhile, said once after the reason.
WHAT_HAPPENS = (
    "Nothing is sent on this channel and its messages wait in the queue; they go once a "
    "restarted engage serve or worker (or the check every few minutes) gets through."
)


def explains(channel: Channel, code: str | None) -> bool:
    """Whether `code` is one of the configuration problems `explain` knows for `channel`."""
    return (code or "") in _PLAIN.get(channel, {})


def explain(channel: Channel, code: str | None) -> str:
    """Why the provider refused our configuration, and what to change."""
    plain = _PLAIN.get(channel, {}).get(code or "")
    if plain is not None:
        return f"{plain} ({code})"
    provider = _PROVIDER.get(channel, channel.value)
    return f"{provider} refused our configuration ({code or 'no code'}): check its settings."
