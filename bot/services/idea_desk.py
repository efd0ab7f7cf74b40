"""The Slack moderation channel: each idea waiting for a moderator becomes a card with a
translation field per language, an edit and a note, and Approve / Reject buttons; so does
each idea that went live without one (moderation: after), to keep or take down.

The inbound transaction only stores the idea; this loop posts new ones
afterwards (leased, so two servers never post one twice), as the Let's Talk
inbox does. A tap decides through the same service as `engage ideas
moderate`, then the card shows the decision in place of its buttons, so
nobody decides twice; a refused decision (an edit without a note) is
answered in the card's thread and the card stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial

from bot.core.moderation import Decision, IdeaCard, IdeaTap
from bot.errors import EngageError, ProviderError
from bot.ports import IdeaCards, ModerationUnitOfWork
from bot.services.moderation import IdeaModeration
from bot.services.sender import RunDb

__all__ = ["IdeaDesk"]

log = logging.getLogger(__name__)

BATCH = 20
LEASE = timedelta(minutes=2)
VERBS = {
    Decision.APPROVE: ":white_check_mark: Approved",
    Decision.EDIT: ":pencil2: Edited and approved",
    Decision.REJECT: ":no_entry_sign: Rejected",
}


class IdeaDesk:
    """Posts waiting ideas to `channel` and takes moderators' decisions from their cards."""

    def __init__(
        self,
        moderation: IdeaModeration,
        new_uow: Callable[[], ModerationUnitOfWork],
        cards: IdeaCards,
        channel: str,
        languages: Sequence[str],
        run_db: RunDb,
        clock: Callable[[], datetime],
    ) -> None:
        self.moderation = moderation
        self.new_uow = new_uow
        self.cards = cards
        self.channel = channel
        self.languages = tuple(languages)
        self.run_db = run_db
        self.clock = clock

    def _claim(self, now: datetime) -> list[IdeaCard]:
        with self.new_uow() as uow:
            found = uow.claim_unposted(now, BATCH, LEASE)
            uow.commit()
        return found

    def _mark(self, idea_id: int, ts: str) -> None:
        with self.new_uow() as uow:
            uow.mark_posted(idea_id, self.channel, ts)
            uow.commit()

    async def post_pending(self) -> int:
        """Post one batch of waiting ideas; how many were posted."""
        now = self.clock()
        waiting = await self.run_db(partial(self._claim, now))
        posted = 0
        for card in waiting:
            try:
                ts = await self.cards.post_idea_card(self.channel, card, self.languages)
            except ProviderError as error:
                # The lease runs out and the next round tries again.
                log.warning("ideas.post_failed", extra={"idea_id": card.id, "code": error.code})
                if not error.transient:
                    break
                continue
            await self.run_db(partial(self._mark, card.id, ts))
            posted += 1
            log.info("ideas.posted", extra={"idea_id": card.id, "flags": len(card.flags)})
        return posted

    async def moderate(self, tap: IdeaTap) -> None:
        """Decide as the card says, then show the decision on it."""
        card = await self.run_db(partial(self.moderation.find_by_id, tap.idea_id))
        if card is None:
            return
        if not card.awaits_review:
            # Decided already (another moderator, or the CLI): show it, change nothing.
            await self.cards.update_idea_card(
                tap.channel, tap.ts, card, self.languages, f"Already {card.status}."
            )
            return
        decide = partial(
            self.moderation.decide,
            card,
            tap.decision,
            f"slack:{tap.user}",
            edit=tap.edit,
            note=tap.note,
            translations=dict(tap.translations),
        )
        try:
            result = await self.run_db(decide)
        except EngageError as error:
            await self.cards.post_note(tap.channel, f":warning: {error}", thread_ts=tap.ts)
            return
        told = "; its author was told" if result.author_told else ""
        line = f"{VERBS[tap.decision]} by <@{tap.user}>{told}."
        await self.cards.update_idea_card(tap.channel, tap.ts, result.card, self.languages, line)

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Keep posting until `stop` is set."""
        while not stop.is_set():
            try:
                posted = await self.post_pending()
            except Exception:  # the loop must outlive one bad round; leases expire
                log.exception("ideas.round_failed")
                posted = 0
            if posted == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle)
                except TimeoutError:
                    pass
