"""Activity definitions: surveys, Let's Talk questions, feedback rounds, updates.

Built from YAML by `bot.authoring.activities`; the engine only reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bot.core.ideas import Moderation
from bot.core.messages import Template
from bot.core.whatsapp import WhatsAppTemplate, fill_template

__all__ = [
    "DEFAULT_REACTIONS",
    "Activity",
    "ActivityKind",
    "Condition",
    "Exchange",
    "Seed",
    "Localized",
    "Option",
    "Question",
    "QuestionType",
    "authored_text",
    "is_authored_text",
]


class ActivityKind(StrEnum):
    SURVEY = "survey"
    LETS_TALK = "lets_talk"
    FEEDBACK = "feedback"
    UPDATE = "update"
    EXCHANGE = "exchange"


class QuestionType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    SCALE = "scale"
    YES_NO = "yes_no"
    RANKING = "ranking"
    FREE_TEXT = "free_text"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Localized:
    """A text with one translation per language code."""

    values: Mapping[str, str]

    def get(self, language: str, fallback: str = "en") -> str:
        """The text in `language`, else in `fallback`, else in any language it has."""
        if language in self.values:
            return self.values[language]
        if fallback in self.values:
            return self.values[fallback]
        return next(iter(self.values.values()), "")

    def languages(self) -> frozenset[str]:
        return frozenset(self.values)


def is_authored_text(value: object) -> bool:
    """Whether `value` is written as a text: one string (or number), or language -> text."""
    if isinstance(value, str | int | float):
        return True
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()
    )


def authored_text(value: object, default: str) -> dict[str, str]:
    """A text as an activity file writes it, as language -> text; one string is `default`'s."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {default: str(value)}


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    label: Localized


@dataclass(frozen=True, slots=True)
class Condition:
    """Skip logic: ask a question only when an earlier answer matches.

    `any_of` matches option keys (or "yes"/"no"); `at_least`/`at_most` bound a
    scale answer. A question whose condition refers to an unanswered or skipped
    question is not asked.
    """

    question: str
    any_of: tuple[str, ...] = ()
    at_least: int | None = None
    at_most: int | None = None


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    type: QuestionType
    prompt: Localized
    options: tuple[Option, ...] = ()
    optional: bool = False
    when: Condition | None = None
    scale_min: int = 1
    scale_max: int = 5
    scale_min_label: Localized | None = None
    scale_max_label: Localized | None = None
    max_choices: int | None = None

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)


@dataclass(frozen=True, slots=True)
class Seed:
    """An idea the organizers wrote in the activity file, to start the exchange off."""

    key: str
    text: Localized


# Polis asks people to react to a handful at a time; eight fit a bus ride.
DEFAULT_REACTIONS = 8


@dataclass(frozen=True, slots=True)
class Exchange:
    """What makes an activity an idea exchange (docs/exchange.md).

    `prompt` asks for ideas; `reactions` is how many ideas each participant
    is asked to react to in one go; `opens`/`closes` are the first and last
    day (in the district's own calendar) ideas and reactions are taken.
    """

    prompt: Localized
    seeds: tuple[Seed, ...] = ()
    reactions: int = DEFAULT_REACTIONS
    moderation: Moderation = Moderation.BEFORE
    opens: date | None = None
    closes: date | None = None

    def is_open_on(self, day: date) -> bool:
        """Whether ideas and reactions are taken on `day`."""
        if self.opens is not None and day < self.opens:
            return False
        return self.closes is None or day <= self.closes


@dataclass(frozen=True, slots=True)
class Activity:
    key: str
    kind: ActivityKind
    title: Localized
    questions: tuple[Question, ...]
    version: int = 1
    intro: Localized | None = None
    closing: Localized | None = None
    start_keywords: tuple[str, ...] = ()
    school: str | None = None
    default_language: str = "en"
    extra: Mapping[str, object] = field(default_factory=dict)
    exchange: Exchange | None = None
    # Approved WhatsApp templates by language, for messages outside the 24-hour window.
    whatsapp_templates: Mapping[str, WhatsAppTemplate] = field(default_factory=dict)

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    def template_texts(self, language: str, program: str) -> dict[str, str]:
        """What each WhatsApp template variable says in `language`, for this activity."""
        values = {"program": program, "title": self.title.get(language, self.default_language)}
        reminder = self.extra.get("reminder")
        for name, text in (("intro", self.intro), ("reminder", reminder)):
            if isinstance(text, Localized):
                values[name] = text.get(language, self.default_language)
        return values

    def whatsapp_template(self, language: str, program: str) -> Template | None:
        """The approved template to send in `language` outside the 24-hour window, filled;
        None when the activity declares none in that language (or, for a language it
        has no texts in, in its default language)."""
        if language not in self.title.values:
            # Families in a language the activity lacks read its default language.
            language = self.default_language
        declared = self.whatsapp_templates.get(language)
        if declared is None:
            return None
        return fill_template(declared, self.template_texts(language, program))

    def languages(self) -> frozenset[str]:
        found: set[str] = set(self.title.languages())
        for question in self.questions:
            found |= question.prompt.languages()
        if self.exchange is not None:
            found |= self.exchange.prompt.languages()
        return frozenset(found)
