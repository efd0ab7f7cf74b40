"""An idea exchange while it runs: which idea a participant sees next, and storing what they
shared and how they reacted, inside the inbound message's transaction.

The pool of weighed ideas (bot.core.ideas.build_pool) is kept per process and
rebuilt at most once every `POOL_SECONDS`, so a reaction costs one indexed
query (the ideas this participant may not see again) and a few bisections.
The idea drawn is checked live in the same transaction, so an idea rejected
a moment ago is never shown, whatever the pool still holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from zlib import crc32

from bot.core.activity import Activity
from bot.core.ideas import IdeaPool, Moderation, OfferedIdea, Vote, build_pool, pick_next_idea
from bot.core.messages import Channel, Reply
from bot.core.moderation import NameIndex, flag_idea
from bot.core.state import Event, EventKind
from bot.core.texts import text
from bot.ports import ExchangeUnitOfWork, SenderRecord

__all__ = ["ExchangeIdeas", "IdeaPools", "store_exchange_event"]

POOL_SECONDS = 2.0
NAMES_SECONDS = 300.0
# An idea drawn that turned out not to be live is set aside and another drawn, this often.
REDRAWS = 3


class IdeaPools:
    """Each exchange's weighed ideas, and the roster's names, kept for a few seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pools: dict[str, tuple[float, IdeaPool]] = {}
        self._names: tuple[float, NameIndex] | None = None

    def pool(self, uow: ExchangeUnitOfWork, activity_key: str, now: datetime) -> IdeaPool:
        """The exchange's pool, rebuilt when older than `POOL_SECONDS`."""
        kept = self._pools.get(activity_key)
        if kept is None or self._clock() - kept[0] > POOL_SECONDS:
            kept = (self._clock(), build_pool(activity_key, uow.idea_tallies(activity_key), now))
            self._pools[activity_key] = kept
        return kept[1]

    def forget(self, activity_key: str) -> None:
        """Weigh the exchange again at the next pick (an idea in it changed status)."""
        self._pools.pop(activity_key, None)

    def names(self, uow: ExchangeUnitOfWork) -> NameIndex:
        """The roster's students' and staff members' names, read at most every few minutes."""
        if self._names is None or self._clock() - self._names[0] > NAMES_SECONDS:
            self._names = (self._clock(), NameIndex(uow.roster_names()))
        return self._names[1]


class ExchangeIdeas:
    """The conversation's IdeaSource (bot.core.ideas) for one participant's one message."""

    def __init__(
        self,
        uow: ExchangeUnitOfWork,
        pools: IdeaPools,
        participant_id: int,
        today: date,
        now: datetime,
        seed: int,
    ) -> None:
        self._uow = uow
        self._pools = pools
        self._participant = participant_id
        self._today = today
        self._now = now
        self._seed = seed
        self._seen: dict[str, set[int]] = {}

    @property
    def today(self) -> date:
        return self._today

    def _seen_in(self, activity: str) -> set[int]:
        if activity not in self._seen:
            self._seen[activity] = self._uow.ideas_seen(self._participant, activity)
        return self._seen[activity]

    def next_idea(
        self, activity: str, language: str, exclude: Collection[int]
    ) -> OfferedIdea | None:
        pool = self._pools.pool(self._uow, activity, self._now)
        seen = self._seen_in(activity) | set(exclude)
        for attempt in range(REDRAWS):
            idea = pick_next_idea(pool, language, seen, self._seed + attempt)
            if idea is None:
                return None
            if self._uow.is_idea_live(idea):
                words = pool.text(idea, language) or ""
                remaining = sum(1 for i in pool.available(language) if i not in seen)
                return OfferedIdea(idea, words, remaining)
            seen.add(idea)
            self._pools.forget(activity)
            pool = self._pools.pool(self._uow, activity, self._now)
        return None

    def idea_text(self, activity: str, idea: int, language: str) -> str | None:
        if not self._uow.is_idea_live(idea):
            return None
        return self._pools.pool(self._uow, activity, self._now).text(idea, language)


def pick_seed(participant_id: int, message_id: int) -> int:
    """The same message draws the same idea, whichever process handles it."""
    return crc32(f"{participant_id}:{message_id}".encode())


def store_exchange_event(
    uow: ExchangeUnitOfWork,
    pools: IdeaPools,
    sender: SenderRecord,
    event: Event,
    definitions: Mapping[str, Activity],
    language: str,
    channel: Channel,
    message_id: int,
    now: datetime,
) -> tuple[Reply, ...]:
    """Store an idea shared or a reaction; what else to tell the participant (their idea is
    live at once, where the exchange is moderated after the fact and nothing was flagged)."""
    activity = definitions.get(event.activity or "")
    if activity is None or activity.exchange is None:
        return ()
    if event.kind is EventKind.REACTED and event.idea is not None and event.vote is not None:
        uow.add_reaction(
            sender, activity.key, event.idea, Vote(event.vote), channel, message_id, now
        )
        return ()
    if event.kind is not EventKind.IDEA_SHARED or not event.text:
        return ()
    idea = event.text.strip()
    flags = [str(flag) for flag in flag_idea(idea, pools.names(uow))]
    live = activity.exchange.moderation is Moderation.AFTER and not flags
    uow.add_idea(sender, activity.key, idea, language, flags, live, message_id, now)
    if not live:
        return ()
    pools.forget(activity.key)
    return (Reply(text("idea_live", language, idea=idea)),)
