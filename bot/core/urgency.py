"""Whether a Let's Talk message is about someone's safety, and must reach a person now.

The phrases are data: `bot/languages/inbox/<code>.toml` per language (its
README says how to write them). A message is read against the phrases of
every language the district uses, and English, whatever language it is in:
families mix languages.

    URGENT    a phrase that says it alone ("being bullied", "quiere matarse",
              "gọi cho tôi ngay"), or a word of concern ("bully", "pelea")
              with a word naming who is at risk ("my son") or that it is
              pressing ("right now"). A call request needs it pressing; a
              word that puts it in the past ("last year") leaves a named
              child at risk no more.
    POSSIBLE  a word of concern alone (a call request alone is none):
              routed as usual, marked for staff.
    NONE      nothing of the kind.

Phrases listed under `ignore` ("anti-bullying", "fire drill", "not an
emergency") are read as nothing. The assessment never drops a message:
whatever it says, the message is stored and shown to staff.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from bot.core.inbox_words import Concern, inbox_words
from bot.core.phrases import PhraseMatcher, message_words

__all__ = ["Assessment", "Concern", "Urgency", "assess"]

# Phrases of every configured language count, and always English's.
ALWAYS_READ = "en"


class Urgency(StrEnum):
    URGENT = "urgent"
    POSSIBLE = "possible"
    NONE = "none"


class _Kind(StrEnum):
    URGENT = "urgent"
    CONCERN = "concern"
    PERSON = "person"
    PRESSING = "pressing"
    SETTLED = "settled"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class Assessment:
    """How urgent a message reads, about what, and the listed phrases that said so."""

    urgency: Urgency
    concerns: tuple[Concern, ...] = ()
    phrases: tuple[str, ...] = ()

    @property
    def is_urgent(self) -> bool:
        return self.urgency is Urgency.URGENT


NOT_URGENT = Assessment(Urgency.NONE)


def assess(text: str, languages: Collection[str]) -> Assessment:
    """How urgent `text` is, read with the phrases of `languages` (and English)."""
    words = message_words(text)
    if not words:
        return NOT_URGENT
    hits = _matcher(frozenset({ALWAYS_READ, *languages})).hits(words)
    ignored = {
        position
        for hit in hits
        if hit.value[0] is _Kind.IGNORE
        for position in range(hit.start, hit.end)
    }
    kept = [hit for hit in hits if not ignored.intersection(range(hit.start, hit.end))]
    kinds = {hit.value[0] for hit in kept}
    pressing = _Kind.PRESSING in kinds
    # "My son was bullied last year" names a child, but says it is over.
    at_risk = (_Kind.PERSON in kinds and _Kind.SETTLED not in kinds) or pressing
    urgent: dict[Concern, list[str]] = {}
    possible: dict[Concern, list[str]] = {}
    for hit in kept:
        kind, concern = hit.value
        if concern is None:
            continue
        if kind is _Kind.URGENT or (
            kind is _Kind.CONCERN and (pressing if concern is Concern.CALL_NOW else at_risk)
        ):
            urgent.setdefault(concern, []).append(hit.phrase)
        elif kind is _Kind.CONCERN and concern is not Concern.CALL_NOW:
            # Asking for a call is no concern in itself; only pressing makes it urgent.
            possible.setdefault(concern, []).append(hit.phrase)
    if urgent:
        context = [h.phrase for h in kept if h.value[0] in (_Kind.PERSON, _Kind.PRESSING)]
        return _assessment(Urgency.URGENT, urgent, context)
    if possible:
        return _assessment(Urgency.POSSIBLE, possible, [])
    return NOT_URGENT


def _assessment(
    urgency: Urgency, found: dict[Concern, list[str]], context: list[str]
) -> Assessment:
    concerns = tuple(concern for concern in Concern if concern in found)
    phrases = [phrase for concern in concerns for phrase in found[concern]]
    phrases += context
    return Assessment(urgency, concerns, tuple(dict.fromkeys(phrases)))


_Value = tuple[_Kind, Concern | None]


@lru_cache(maxsize=16)
def _matcher(languages: frozenset[str]) -> PhraseMatcher[_Value]:
    entries: list[tuple[str, _Value]] = []
    prefixes: list[str] = []
    for code in sorted(languages):
        words = inbox_words(code)
        if words is None:
            continue
        prefixes.extend(words.prefixes)
        for concern, phrases in words.urgent.items():
            entries += [(phrase, (_Kind.URGENT, concern)) for phrase in phrases]
        for concern, phrases in words.concern.items():
            entries += [(phrase, (_Kind.CONCERN, concern)) for phrase in phrases]
        entries += [(phrase, (_Kind.PERSON, None)) for phrase in words.person]
        entries += [(phrase, (_Kind.PRESSING, None)) for phrase in words.pressing]
        entries += [(phrase, (_Kind.SETTLED, None)) for phrase in words.settled]
        entries += [(phrase, (_Kind.IGNORE, None)) for phrase in words.ignore]
    return PhraseMatcher(entries, prefixes)
