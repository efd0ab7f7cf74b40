"""Moderators decide on ideas and translators translate them; authors hear when theirs is live.

Used by `engage ideas moderate` and the Slack moderation channel alike, so
both follow the same rules (bot.core.moderation.may_decide): a seed is
changed in its activity file, an edit carries a note, a rejected idea is
never shown again (the conversation checks every idea live before showing
it). An author is told once, in their language, on the channel their idea
came from, when it first goes live.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.ideas import IdeaStatus
from bot.core.messages import Reply
from bot.core.moderation import (
    Decision,
    IdeaCard,
    TranslationTask,
    may_decide,
    statuses_shown,
    translation_order,
)
from bot.core.texts import text
from bot.errors import EngageError
from bot.ports import ModerationUnitOfWork, OutboxKind

__all__ = ["IdeaModeration", "Moderated"]

STATUS_OF = {
    Decision.APPROVE: IdeaStatus.APPROVED,
    Decision.EDIT: IdeaStatus.APPROVED,
    Decision.REJECT: IdeaStatus.REJECTED,
}


@dataclass(frozen=True, slots=True)
class Moderated:
    """The idea after the decision, and whether its author was told just now."""

    card: IdeaCard
    author_told: bool


class IdeaModeration:
    """Decisions and translations on ideas, each in its own transaction."""

    def __init__(
        self,
        new_uow: Callable[[], ModerationUnitOfWork],
        clock: Callable[[], datetime],
        default_language: str = "en",
    ) -> None:
        self.new_uow = new_uow
        self.clock = clock
        self.default_language = default_language

    def waiting(self, activity: str | None, *, pending_only: bool = True) -> list[IdeaCard]:
        """The ideas waiting for a decision, and those live without one (moderation: after);
        or every idea. Oldest first."""
        with self.new_uow() as uow:
            cards = uow.cards(activity, statuses_shown(False))
        return [card for card in cards if card.awaits_review or not pending_only]

    def decide(
        self,
        card: IdeaCard,
        decision: Decision,
        actor: str,
        *,
        edit: str | None = None,
        note: str | None = None,
        translations: dict[str, str] | None = None,
    ) -> Moderated:
        """Take the decision (with a translation or two, if given), and tell the author."""
        problem = may_decide(card, decision, edit, note)
        if problem is not None:
            raise EngageError(problem)
        now = self.clock()
        status = STATUS_OF[decision]
        told = False
        with self.new_uow() as uow:
            words = edit.strip() if decision is Decision.EDIT and edit else None
            uow.decide(card.id, status, words, note.strip() if note else None, actor, now)
            for language, translated in (translations or {}).items():
                if translated.strip() and language != card.language:
                    uow.translate(card.id, language, translated.strip(), actor, now)
            after = uow.card_by_id(card.id)
            assert after is not None
            if status is IdeaStatus.APPROVED:
                told = self._tell_author(uow, after, now)
            uow.audit(
                actor,
                f"idea.{decision.value}",
                {"activity": card.activity, "idea": card.number, "note": note or ""},
                now,
            )
            uow.commit()
        return Moderated(after, told)

    def translate(self, card: IdeaCard, language: str, words: str, actor: str) -> IdeaCard:
        """Set the idea's text in `language`."""
        if language == card.language:
            raise EngageError(f"idea {card.number} is written in '{language}'; edit it instead")
        if not words.strip():
            raise EngageError("the translation is empty")
        now = self.clock()
        with self.new_uow() as uow:
            uow.translate(card.id, language, words.strip(), actor, now)
            uow.audit(
                actor,
                "idea.translate",
                {"activity": card.activity, "idea": card.number, "language": language},
                now,
            )
            after = uow.card_by_id(card.id)
            uow.commit()
        assert after is not None
        return after

    def find(self, activity: str, number: int) -> IdeaCard:
        with self.new_uow() as uow:
            card = uow.card(activity, number)
        if card is None:
            raise EngageError(f"{activity} has no idea {number}")
        return card

    def find_by_id(self, idea_id: int) -> IdeaCard | None:
        with self.new_uow() as uow:
            return uow.card_by_id(idea_id)

    def translation_work(self, activity: str, languages: Sequence[str]) -> list[TranslationTask]:
        """The approved ideas still missing a language, least-heard languages' ideas first."""
        with self.new_uow() as uow:
            cards = uow.cards(activity, (IdeaStatus.APPROVED,))
            stored = uow.heard(activity)
        # People who never chose a language read the district's default.
        heard: dict[str, int] = {}
        for language, count in stored.items():
            key = language or self.default_language
            heard[key] = heard.get(key, 0) + count
        return translation_order(cards, languages, heard)

    def _tell_author(self, uow: ModerationUnitOfWork, card: IdeaCard, now: datetime) -> bool:
        address = uow.claim_author_notice(card.id, now)
        if address is None:
            return False
        language = address.language or self.default_language
        words = card.text_in(language) or card.text
        reply = Reply(text("idea_live", language, idea=words))
        uow.enqueue(
            address.contact_id, address.channel, address.address, [reply], OutboxKind.REPLY, now
        )
        return True
