"""What the engine remembers about a participant between messages, and what one step yields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.consent import ConsentSource
from bot.core.messages import Channel, Reply
from bot.core.urgency import Assessment

__all__ = [
    "AnswerValue",
    "Awaiting",
    "ConversationState",
    "Event",
    "EventKind",
    "OnboardingStep",
    "ParticipantState",
    "Program",
    "Response",
    "ResponseStatus",
    "School",
    "Step",
]

AnswerValue = str | int | tuple[str, ...]


class OnboardingStep(StrEnum):
    LANGUAGE = "language"
    CONSENT = "consent"
    ROLE = "role"
    SCHOOL = "school"


class Awaiting(StrEnum):
    """A menu the participant was just shown outside the normal flow."""

    LANGUAGE_MENU = "language_menu"


class ResponseStatus(StrEnum):
    ANSWERED = "answered"
    SKIPPED = "skipped"
    UNPARSED = "unparsed"


class EventKind(StrEnum):
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    HELP = "help"
    LETS_TALK = "lets_talk"
    ACTIVITY_STARTED = "activity_started"
    ACTIVITY_COMPLETED = "activity_completed"
    CONSENT_GIVEN = "consent_given"
    CONSENT_DECLINED = "consent_declined"
    ONBOARDED = "onboarded"
    IDEA_SHARED = "idea_shared"
    REACTED = "reacted"


@dataclass(frozen=True, slots=True)
class School:
    """A school families say they belong to, by any of its names.

    `names` are the school's name in other languages, as (language, name),
    shown in the menu in that language; `aliases` are other names families
    use, in any script ("Lincoln", "林肯").
    """

    code: str
    name: str
    names: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()

    def name_in(self, language: str) -> str:
        """The school's name as the menu shows it in `language`."""
        return dict(self.names).get(language, self.name)

    def every_name(self) -> tuple[str, ...]:
        """Every name a family may answer with: its names, aliases and code."""
        return (self.name, *(name for _, name in self.names), *self.aliases, self.code)


@dataclass(frozen=True, slots=True)
class Program:
    """The district's settings the engine needs: who we are, languages, menus."""

    name: str
    contact: str
    languages: tuple[str, ...] = ("en", "es")
    default_language: str = "en"
    roles: tuple[str, ...] = ("parent", "student", "staff", "community")
    schools: tuple[School, ...] = ()
    onboarding: tuple[OnboardingStep, ...] = tuple(OnboardingStep)
    skippable: frozenset[OnboardingStep] = frozenset({OnboardingStep.ROLE, OnboardingStep.SCHOOL})
    max_attempts: int = 3
    # Keywords a provider already answers itself (Twilio replies to STOP and START on
    # long codes); the engine acts on them but stays silent, so nobody gets two
    # confirmations.
    provider_keywords: Mapping[Channel, frozenset[str]] = field(default_factory=dict)
    # The contact line in other languages than the default (district.yaml
    # `contact_translations`): HELP goes out in the family's language.
    contact_translations: Mapping[str, str] = field(default_factory=dict)
    # What a family who writes about someone's safety is told (district.yaml
    # `inbox.urgent`): the urgent contact per language and the emergency number.
    urgent_contact: Mapping[str, str] = field(default_factory=dict)
    emergency_number: str = "911"
    # The activity a family starts once signed up (district.yaml `first_activity`):
    # a key, "none" for no activity, or None for the newest open survey or round.
    first_activity: str | None = None

    def contact_in(self, language: str) -> str:
        """The contact line in `language`, else the district's own."""
        return self.contact_translations.get(language) or self.contact

    def urgent_contact_in(self, language: str) -> str:
        """The urgent contact in `language`, else the default language's, else the contact."""
        return (
            self.urgent_contact.get(language)
            or self.urgent_contact.get(self.default_language)
            or self.contact_in(language)
        )


@dataclass(frozen=True, slots=True)
class ConversationState:
    """Progress through one activity."""

    activity: str
    version: int
    question: str | None = None
    attempts: int = 0
    answers: Mapping[str, AnswerValue | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParticipantState:
    """Everything the engine needs to know about the sender of a message.

    `onboarding` is the next onboarding step to ask, or None once finished;
    `opted_out` is the state of the contact the message came from; `schools`
    are the schools they are linked to (their students', then any they named).
    """

    language: str | None = None
    role: str | None = None
    schools: tuple[str, ...] = ()
    consent: bool | None = None
    opted_out: bool = False
    onboarding: OnboardingStep | None = None
    onboarding_started: bool = False
    awaiting: Awaiting | None = None
    attempts: int = 0
    conversation: ConversationState | None = None
    pending: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Response:
    """An answer to record (or a skip, or text we could not understand, kept as said)."""

    activity: str
    version: int
    question: str
    value: AnswerValue | None
    text: str
    status: ResponseStatus
    language: str


@dataclass(frozen=True, slots=True)
class Event:
    """Something a step did that is stored beyond the state; `source` says how a
    consent event came about (a keyword, plain words, the consent question);
    `idea` and `vote` are a reaction's (bot.core.ideas.Vote values)."""

    kind: EventKind
    activity: str | None = None
    text: str | None = None
    source: ConsentSource | None = None
    idea: int | None = None
    vote: int | None = None
    # A Let's Talk message: how urgent it reads (bot.core.urgency), and whether it
    # only says thanks or "ok" (bot.core.routing.is_closing).
    assessment: Assessment | None = None
    is_closing: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one inbound message: new state, what to record and what to say."""

    state: ParticipantState
    responses: tuple[Response, ...] = ()
    replies: tuple[Reply, ...] = ()
    events: tuple[Event, ...] = ()
