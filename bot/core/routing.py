"""Who answers a Let's Talk message, and where: the district's routing rules.

Pure. The rules come from the district file (`inbox:` in district.yaml):
teams with a Slack channel, an owner (a person or a user group) and a lead;
rules tried in order, each naming a school, a topic (keywords per language)
or a language, all of which must hold; and a default team for the rest.
An urgent message goes to the urgent channel, to the person on call, and
keeps the team its rules give (so its lead and the figures still know it).

Owners and leads are Slack ids: `U…`/`W…` for a person, `S…` for a user group.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from bot.core.inbox_words import inbox_words
from bot.core.phrases import PhraseMatcher, message_words
from bot.core.urgency import ALWAYS_READ

__all__ = [
    "ACKNOWLEDGING_SYMBOLS",
    "Route",
    "Routing",
    "RoutingRule",
    "Team",
    "Topic",
    "UrgentDesk",
    "is_closing",
    "is_group",
    "mention",
]

# A reply of only these (any skin tone) says "got it".
ACKNOWLEDGING_SYMBOLS = frozenset(
    "\N{THUMBS UP SIGN}\N{PERSON WITH FOLDED HANDS}\N{OK HAND SIGN}\N{HEAVY BLACK HEART}"
    "\N{WHITE HEAVY CHECK MARK}\N{HEAVY CHECK MARK}\N{SMILING FACE WITH SMILING EYES}"
    "\N{SLIGHTLY SMILING FACE}\N{HANDSHAKE}\N{HUGGING FACE}"
    "\N{SMILING FACE WITH HEART-SHAPED EYES}\N{CLAPPING HANDS SIGN}"
)
# What may come with them: skin tones, the emoji variation selector, joiners, punctuation.
_DECORATION = frozenset("\ufe0f\u200d!.?,¡¿ ") | frozenset(map(chr, range(0x1F3FB, 0x1F400)))


def is_group(slack_id: str) -> bool:
    """Whether an owner is a Slack user group (its id starts with S)."""
    return slack_id.startswith("S")


def mention(slack_id: str) -> str:
    """How a Slack message names a person (`<@U…>`) or a user group (`<!subteam^S…>`)."""
    return f"<!subteam^{slack_id}>" if is_group(slack_id) else f"<@{slack_id}>"


@dataclass(frozen=True, slots=True)
class Team:
    """Staff who answer a share of the messages, in their own Slack channel."""

    name: str
    channel: str
    owner: str | None = None
    lead: str | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    """A subject families write about, found by its keywords in any configured language."""

    name: str
    keywords: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """Messages that match every condition given go to `team` (and `owner`, when given)."""

    team: str
    schools: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    owner: str | None = None

    def matches(self, school: str | None, language: str | None, topics: Collection[str]) -> bool:
        if self.schools and school not in self.schools:
            return False
        if self.languages and language not in self.languages:
            return False
        return not self.topics or bool(self.topics.intersection(topics))


@dataclass(frozen=True, slots=True)
class UrgentDesk:
    """Where urgent messages go, and what the family is told in their language.

    `contact` maps a language to the district's urgent contact in it; the
    default language's is used for the others.
    """

    channel: str
    on_call: str
    contact: Mapping[str, str]
    emergency_number: str = "911"

    def contact_in(self, language: str, default_language: str) -> str:
        return (
            self.contact.get(language)
            or self.contact.get(default_language)
            or next(iter(self.contact.values()), "")
        )


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes: its team, the channel it is posted in and who owns it."""

    team: str
    channel: str
    owner: str | None
    lead: str | None = None
    topics: tuple[str, ...] = ()
    urgent: bool = False


@dataclass(frozen=True)
class Routing:
    """The district's teams and rules; `route` decides one message."""

    teams: Mapping[str, Team]
    default_team: str
    rules: Sequence[RoutingRule] = ()
    topics: Sequence[Topic] = ()
    urgent: UrgentDesk | None = None
    languages: tuple[str, ...] = field(default=("en",))

    def __post_init__(self) -> None:
        known = set(self.teams)
        wanted = {self.default_team, *(rule.team for rule in self.rules)}
        if wanted - known:
            raise ValueError(f"routing names unknown teams: {', '.join(sorted(wanted - known))}")
        topics = {topic.name for topic in self.topics}
        unknown = {t for rule in self.rules for t in rule.topics} - topics
        if unknown:
            raise ValueError(f"routing names unknown topics: {', '.join(sorted(unknown))}")

    @cached_property
    def _topic_matcher(self) -> PhraseMatcher[str]:
        read = {ALWAYS_READ, *self.languages}
        prefixes = [p for code in read if (w := inbox_words(code)) for p in w.prefixes]
        return PhraseMatcher(
            (
                (phrase, topic.name)
                for topic in self.topics
                for language, phrases in topic.keywords.items()
                if language in read
                for phrase in phrases
            ),
            prefixes,
        )

    def topics_of(self, text: str) -> tuple[str, ...]:
        """The topics whose keywords `text` uses, in the order the district lists them."""
        found = {hit.value for hit in self._topic_matcher.find(text)}
        return tuple(topic.name for topic in self.topics if topic.name in found)

    def route(
        self, text: str, school: str | None, language: str | None, urgent: bool = False
    ) -> Route:
        """The first rule that matches decides the team; urgent messages go to the on-call desk."""
        topics = self.topics_of(text)
        rule = next((r for r in self.rules if r.matches(school, language, topics)), None)
        team = self.teams[rule.team if rule is not None else self.default_team]
        owner = (rule.owner if rule is not None else None) or team.owner
        if urgent and self.urgent is not None:
            return Route(
                team.name, self.urgent.channel, self.urgent.on_call, team.lead, topics, True
            )
        return Route(team.name, team.channel, owner, team.lead, topics, urgent)


def is_closing(text: str, languages: Collection[str]) -> bool:
    """Whether a message only says thanks or "got it": "gracias", "ok 👍", "cảm ơn cô".

    Every word must be a closing phrase of one of `languages` (or English);
    a message without words closes only with an acknowledging symbol.
    """
    words = message_words(text)
    if not words:
        symbols = {char for char in text if char not in _DECORATION}
        return bool(symbols) and symbols <= ACKNOWLEDGING_SYMBOLS
    covered: set[int] = set()
    for hit in _closing_matcher(frozenset({ALWAYS_READ, *languages})).hits(words):
        covered.update(range(hit.start, hit.end))
    return len(covered) == len(words)


@lru_cache(maxsize=16)
def _closing_matcher(languages: frozenset[str]) -> PhraseMatcher[bool]:
    return PhraseMatcher(
        (phrase, True)
        for code in sorted(languages)
        if (words := inbox_words(code)) is not None
        for phrase in words.closing
    )
