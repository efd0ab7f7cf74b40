"""Opting out in plain words: a request to stop, anywhere in a message, in any language.

A keyword (STOP, PARAR, DỪNG) counts only as the whole message; a request
("I want to stop getting these", "please take me off this list", "no me
manden más", "đừng nhắn nữa") counts wherever it stands, even at the end of a
long message, because a family who asks to be taken off the list must be, in
whatever words. Only phrases that ask for exactly that are requests
(`keywords.stop_requests` in each language file): "the stop sign by the
school is broken" holds the word and asks for nothing, so it stays a message.

A request right after a negation ("please don't stop texting me", "no quiero
que dejen de escribirme": `keywords.stop_negations`, within NEGATION_REACH
words before it) is not one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cache, lru_cache

from bot.core.keywords import ALWAYS_COUNTED, Phrasebook, split_words
from bot.core.vocabulary import vocabulary

__all__ = ["NEGATION_REACH", "StopRequest", "find_stop_request"]

# How many words may stand between a negation and the request it turns around:
# "please don't stop texting me", "I never [said to] stop texting me". Kept short on
# purpose: a request read as none leaves a family texted against their will, while
# one read wrongly costs them a START.
NEGATION_REACH = 2


@dataclass(frozen=True, slots=True)
class StopRequest:
    """A request to stop found in a message, and the language it was written in."""

    phrase: str
    language: str


def find_stop_request(text: str, languages: Collection[str]) -> StopRequest | None:
    """The first request to stop in `text`, in one of `languages` or English, or None."""
    return _find_stop_request(text, frozenset(languages))


@lru_cache(maxsize=8192)  # the same short replies come again and again
def _find_stop_request(text: str, languages: frozenset[str]) -> StopRequest | None:
    words = split_words(text)
    if not words:
        return None
    counted = frozenset({ALWAYS_COUNTED, *languages})
    requests, negations = _request_book(), _negation_book()
    negated_until: dict[int, set[str]] = {}  # end of a negation -> its languages
    for start in range(len(words)):
        for end, found in negations.starting_at(words, start):
            negated_until.setdefault(end, set()).update(x for x in found if x in counted)
    for start in range(len(words)):
        for end, found in requests.starting_at(words, start):
            for language in found:
                if language not in counted:
                    continue
                reach = range(max(0, start - NEGATION_REACH), start + 1)
                if any(language in negated_until.get(e, ()) for e in reach):
                    continue
                return StopRequest(" ".join(words[start:end]), language)
    return None


@cache
def _request_book() -> Phrasebook[str]:
    return Phrasebook(
        (phrase, language)
        for language, phrases in vocabulary().stop_requests.items()
        for phrase in phrases
    )


@cache
def _negation_book() -> Phrasebook[str]:
    return Phrasebook(
        (phrase, language)
        for language, phrases in vocabulary().stop_negations.items()
        for phrase in phrases
    )
