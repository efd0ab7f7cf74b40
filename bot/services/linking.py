"""One person on several channels: LINK by SMS, and Telegram `/start` deep links.

A family texts LINK and gets a Telegram link with a one-time code
(`https://t.me/<bot>?start=link-…`); opening it sends `/start link-…` from
their Telegram chat, and that chat becomes a contact of the same
participant, so their answers and language stay together. A deep link can
carry a school code instead (`?start=lincoln-es`), which fills in the
school a family would otherwise be asked for.

`LinkingService` is the service with these two messages taken care of
before the engine, each in one transaction with its message log row: LINK
(code, reply), and a `/start PAYLOAD` by applying the payload and then running
the engine on a plain `/start`, under the same provider id, so a redelivery
changes nothing and a crash leaves all of it or none.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache

from bot.core.detection import LanguageDetector
from bot.core.keywords import normalize
from bot.core.messages import Channel, InboundMessage, Reply
from bot.core.state import Program
from bot.core.texts import text
from bot.core.vocabulary import vocabulary
from bot.ports import LinkUnitOfWork, OutboxKind, Redeemed
from bot.services.inbound import DROPPED, Outcome, Service, utcnow

__all__ = [
    "CODE_PREFIX",
    "LinkingService",
    "is_link_request",
    "new_link_code",
    "start_payload",
]

log = logging.getLogger(__name__)

CODE_PREFIX = "link-"
CODE_TTL = timedelta(hours=24)
_START = re.compile(r"^/start ([A-Za-z0-9_-]{1,64})$")


def new_link_code() -> str:
    """A one-time code that fits a Telegram deep link (64 of A-Z a-z 0-9 _ -)."""
    return CODE_PREFIX + secrets.token_urlsafe(12)


def is_link_request(message: InboundMessage) -> bool:
    """LINK (or its translation), alone, by SMS."""
    return message.channel is Channel.SMS and normalize(message.text) in _link_words()


# LINK in every language the bot speaks (keywords.link in bot/languages/).
@cache
def _link_words() -> frozenset[str]:
    return frozenset(normalize(word) for words in vocabulary().link.values() for word in words)


def start_payload(message: InboundMessage) -> str | None:
    """The payload of a Telegram deep link, as the adapter passes it: `/start PAYLOAD`."""
    if message.channel is not Channel.TELEGRAM:
        return None
    match = _START.match(message.text)
    return match.group(1) if match else None


class LinkingService(Service):
    """The service, with LINK requests and deep-link payloads handled before the engine.

    `deep_link(code)` builds the Telegram link for a code, or returns None
    while Telegram is not configured.
    """

    def __init__(
        self,
        new_uow: Callable[[], LinkUnitOfWork],
        program: Program,
        detector: LanguageDetector | None = None,
        clock: Callable[[], datetime] = utcnow,
        retries: int = 5,
        *,
        deep_link: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(new_uow, program, detector, clock, retries)
        self.new_link_uow = new_uow
        self.deep_link: Callable[[str], str | None] = deep_link or (lambda code: None)

    def _handle(self, message: InboundMessage) -> Outcome:
        if is_link_request(message):
            return self._offer_link(message)
        payload = start_payload(message)
        if payload is None:
            return super()._handle(message)
        now = self.clock()
        with self.new_link_uow() as uow:
            self._apply_start(uow, message, payload, now)
            outcome = self.converse(uow, replace(message, text="/start"), now)
            if outcome.step is not None:
                uow.commit()
        return outcome

    def _say(self, message_id: str, language: str | None, **values: object) -> Reply:
        language = language or self.program.default_language
        return Reply(
            text(
                message_id,
                language,
                program=self.program.name,
                contact=self.program.contact_in(language),
                **values,
            )
        )

    def _offer_link(self, message: InboundMessage) -> Outcome:
        now = self.clock()
        with self.new_link_uow() as uow:
            sender = uow.find_sender(message.channel, message.address)
            if sender is None:
                sender = self.new_sender(uow, message, now)
                if sender is None:
                    return DROPPED
            if uow.record_inbound(sender, message, None, now) is None:
                return Outcome(duplicate=True, participant_id=sender.participant_id)
            code = new_link_code()
            url = self.deep_link(code)
            language = sender.state.language
            if url is None:
                reply = self._say("link_unavailable", language)
            else:
                expires = now + CODE_TTL
                uow.create_link_code(sender.participant_id, code, Channel.TELEGRAM, expires, now)
                reply = self._say("link_offer", language, url=url)
            uow.enqueue(
                sender.contact_id, message.channel, message.address, [reply], OutboxKind.REPLY, now
            )
            uow.commit()
        log.info("link.offered", extra={"participant_id": sender.participant_id})
        return Outcome(False, sender.participant_id, 1)

    def _apply_start(
        self, uow: LinkUnitOfWork, message: InboundMessage, payload: str, now: datetime
    ) -> None:
        """Redeem a link code or preset a school, in `uow`; the caller commits."""
        if payload.startswith(CODE_PREFIX):
            redeemed = uow.redeem_link_code(payload, message.channel, message.address, now)
            sender = uow.find_sender(message.channel, message.address)
            if sender is None:
                # Tapping a link is asking to take part: a forgotten person may come back.
                sender = uow.add_sender(message.channel, message.address, now)
            if redeemed is not Redeemed.ALREADY:
                said = "linked" if redeemed is Redeemed.LINKED else "link_invalid"
                reply = self._say(said, sender.state.language or self._hint(message))
                uow.enqueue(
                    sender.contact_id,
                    message.channel,
                    message.address,
                    [reply],
                    OutboxKind.REPLY,
                    now,
                )
            log.info("link.redeemed", extra={"result": redeemed.value})
        else:
            school = self._school(payload)
            if school is None:
                log.info("link.unknown_payload")
                return
            sender = uow.find_sender(message.channel, message.address)
            if sender is None:
                sender = uow.add_sender(message.channel, message.address, now)
            uow.preset_school(sender.participant_id, school, now)

    def _hint(self, message: InboundMessage) -> str | None:
        """The app's language, for someone who has not chosen one yet."""
        hint = (message.locale_hint or "").split("-")[0].lower()
        return hint if hint in self.program.languages else None

    def _school(self, payload: str) -> str | None:
        """A school code from a deep link: as is, with `_` for `-`, or after `sch-`."""
        wanted = payload.lower().removeprefix("sch-").replace("_", "-")
        return next((s.code for s in self.program.schools if s.code.lower() == wanted), None)
