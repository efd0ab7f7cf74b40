"""The idea exchange's pure rules: what an idea and a reaction are, and which idea comes next.

Which idea a participant is shown next (docs/exchange.md) follows Polis's
comment routing, with recency added:

    weight   = novelty × recency × openness
    novelty  = 1 + 8 · 2^(−n / 5)          n: reactions the idea has had so far
    recency  = 1 + 2^(−age / 24 h)         age: time since the idea went live
    openness = 0.25 + split                split in [0, 1], below

`split` says how far the idea is from settled. Before opinion groups are
known it is the controversy 4·p·(1 − p), with p = (agree + 1) / (agree +
disagree + 2): 1 for an idea nobody has judged or one that divides people
evenly, near 0 for one everybody agrees (or disagrees) with. Once the
analysis has found groups, it is the larger of that and the spread between
the groups' agreement (highest group's p minus lowest group's), so an idea
that one group loves and another rejects stays in front.

So a fresh idea weighs up to 9 × 2 × 1.25 = 22.5 and a settled old one 1 ×
1 × 0.25 = 0.25. The next idea is drawn at random, with probability
proportional to its weight, among the approved ideas that have a text in the
participant's language, that they did not write and have not reacted to. A
weighted draw rather than the heaviest idea, so a thousand people texting
at once do not all get the same one.

Everything here is pure: the clock and the random seed are arguments.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import IntEnum, StrEnum
from itertools import accumulate
from typing import Protocol

__all__ = [
    "IdeaPool",
    "IdeaSource",
    "OfferedIdea",
    "IdeaStatus",
    "IdeaTally",
    "Moderation",
    "Vote",
    "build_pool",
    "controversy",
    "next_idea_chances",
    "openness",
    "pick_next_idea",
    "priority",
]

# Polis: a new comment is 9 times as likely to be shown, halving every 5 votes.
NOVELTY_BOOST = 8.0
NOVELTY_HALF_VOTES = 5.0
RECENCY_HALF_LIFE = timedelta(hours=24)
# An idea everyone has settled is still shown, a quarter as often as an open one.
SETTLED_FLOOR = 0.25
# Draws that may land on an idea the participant cannot have before every idea is weighed.
REJECTED_DRAWS = 24


class Vote(IntEnum):
    """A reaction, valued as Polis exports it."""

    AGREE = 1
    PASS = 0
    DISAGREE = -1


class IdeaStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Moderation(StrEnum):
    """When a participant's idea may be shown to others.

    BEFORE: only once staff approve it. AFTER: at once unless flagged (a
    phone number, an email address, a name), and staff may reject it later.
    """

    BEFORE = "before"
    AFTER = "after"


@dataclass(frozen=True, slots=True)
class OfferedIdea:
    """The idea to show a participant next, in their language.

    `remaining` counts the ideas still there for them, this one included, so
    "Idea 3 of 8" never promises more than there are.
    """

    id: int
    text: str
    remaining: int


class IdeaSource(Protocol):
    """What the conversation asks about an exchange's ideas while it runs (the service answers).

    `today` is the date in the district's calendar, for an exchange's open and
    close dates; `next_idea` picks by `pick_next_idea` among the ideas the
    participant did not write or react to, leaving out `exclude` as well (the
    ones this very message reacted to, not stored yet).
    """

    @property
    def today(self) -> date: ...

    def next_idea(
        self, activity: str, language: str, exclude: Collection[int]
    ) -> OfferedIdea | None: ...

    def idea_text(self, activity: str, idea: int, language: str) -> str | None:
        """The approved idea in `language`, or None (rejected since, or not in it)."""
        ...


@dataclass(frozen=True, slots=True)
class IdeaTally:
    """An approved idea as the selection rule sees it.

    `texts` maps language to text (the original and every translation);
    `group_split` is the spread between opinion groups' agreement once an
    analysis has found groups, else None.
    """

    id: int
    texts: Mapping[str, str]
    agree: int
    disagree: int
    passed: int
    live_since: datetime
    group_split: float | None = None

    @property
    def reactions(self) -> int:
        return self.agree + self.disagree + self.passed


def controversy(agree: int, disagree: int) -> float:
    """4·p·(1 − p) with p the Laplace-smoothed share of agree among agree and disagree."""
    share = (agree + 1) / (agree + disagree + 2)
    return 4.0 * share * (1.0 - share)


def openness(agree: int, disagree: int, group_split: float | None) -> float:
    """How far from settled an idea is, in [0, 1] (see the module docstring)."""
    split = controversy(agree, disagree)
    if group_split is not None:
        split = max(split, min(max(group_split, 0.0), 1.0))
    return split


def priority(reactions: int, age: timedelta, split: float) -> float:
    """The weight of an idea: few reactions, newer and less settled weigh more."""
    novelty = 1.0 + NOVELTY_BOOST * math.pow(2.0, -max(reactions, 0) / NOVELTY_HALF_VOTES)
    hours = max(age, timedelta(0)) / RECENCY_HALF_LIFE
    recency = 1.0 + math.pow(2.0, -hours)
    return novelty * recency * (SETTLED_FLOOR + min(max(split, 0.0), 1.0))


@dataclass(frozen=True, slots=True)
class _Draw:
    """The ideas of one language in a fixed order, with their running total weights."""

    ids: tuple[int, ...]
    weights: tuple[float, ...]
    totals: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class IdeaPool:
    """The approved ideas of one exchange, weighed once at `built_at`, ready to draw from.

    Built by `build_pool` from the tallies; the service rebuilds it every few
    seconds, so a draw costs a few bisections rather than weighing every idea.
    """

    activity: str
    built_at: datetime
    texts: Mapping[int, Mapping[str, str]]
    weights: Mapping[int, float]
    _draws: Mapping[str, _Draw] = field(repr=False)

    def available(self, language: str) -> tuple[int, ...]:
        """The ideas that have a text in `language`."""
        draw = self._draws.get(language)
        return draw.ids if draw is not None else ()

    def text(self, idea_id: int, language: str) -> str | None:
        """The idea in `language`, or None when it has no such text (or is not in the pool)."""
        return self.texts.get(idea_id, {}).get(language)


def build_pool(activity: str, tallies: Iterable[IdeaTally], now: datetime) -> IdeaPool:
    """Weigh every approved idea of an exchange at `now`."""
    texts: dict[int, Mapping[str, str]] = {}
    weights: dict[int, float] = {}
    by_language: dict[str, list[int]] = {}
    for tally in sorted(tallies, key=lambda t: t.id):
        split = openness(tally.agree, tally.disagree, tally.group_split)
        weights[tally.id] = priority(tally.reactions, now - tally.live_since, split)
        texts[tally.id] = dict(tally.texts)
        for language, text in tally.texts.items():
            if text.strip():
                by_language.setdefault(language, []).append(tally.id)
    draws = {}
    for language, ids in by_language.items():
        language_weights = tuple(weights[i] for i in ids)
        draws[language] = _Draw(tuple(ids), language_weights, tuple(accumulate(language_weights)))
    return IdeaPool(activity, now, texts, weights, draws)


def next_idea_chances(pool: IdeaPool, language: str, excluded: Collection[int]) -> dict[int, float]:
    """The probability of each idea being the next one shown (they add up to 1, or it is empty)."""
    draw = pool._draws.get(language)
    if draw is None:
        return {}
    eligible = {i: w for i, w in zip(draw.ids, draw.weights, strict=True) if i not in excluded}
    total = math.fsum(eligible.values())
    return {i: w / total for i, w in eligible.items()} if total > 0 else {}


def pick_next_idea(
    pool: IdeaPool, language: str, excluded: Collection[int], seed: int
) -> int | None:
    """The idea to show next in `language`, or None when none is left for this participant.

    `excluded` are the ideas they wrote or reacted to. The draw is random with
    the chances of `next_idea_chances`, and the same for the same `seed`.
    """
    draw = pool._draws.get(language)
    if draw is None or not draw.ids:
        return None
    chance = random.Random(seed)
    total = draw.totals[-1]
    # Most people have seen a handful of ideas: draw from all and redraw on one of theirs.
    if len(excluded) * 2 < len(draw.ids):
        for _ in range(REJECTED_DRAWS):
            index = bisect_right(draw.totals, chance.random() * total)
            idea = draw.ids[min(index, len(draw.ids) - 1)]
            if idea not in excluded:
                return idea
    eligible = [(i, w) for i, w in zip(draw.ids, draw.weights, strict=True) if i not in excluded]
    if not eligible:
        return None
    point = chance.random() * math.fsum(w for _, w in eligible)
    running = 0.0
    for idea, weight in eligible:
        running += weight
        if point < running:
            return idea
    return eligible[-1][0]
