"""An idea exchange as a conversation: share an idea, then react to others' one at a time."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date

import pytest

from bot.core.activity import Activity, ActivityKind, Exchange, Localized
from bot.core.ideas import OfferedIdea, Vote
from bot.core.messages import Channel, InboundMessage
from bot.core.state import ConversationState, EventKind, ParticipantState, Program, Step
from bot.core.step import Activities, invite, step

PROGRAM = Program(name="Plan 2030", contact="555-0100", languages=("en", "es"))
EXCHANGE = Activity(
    key="belonging",
    kind=ActivityKind.EXCHANGE,
    title=Localized({"en": "Ideas"}),
    questions=(),
    start_keywords=("IDEAS",),
    closing=Localized({"en": "Thanks for your ideas!", "es": "¡Gracias por sus ideas!"}),
    exchange=Exchange(
        prompt=Localized({"en": "What one change would help?", "es": "¿Qué cambio ayudaría?"}),
        reactions=3,
        opens=date(2026, 3, 2),
        closes=date(2026, 3, 27),
    ),
)
ONBOARDED = ParticipantState(language="en", consent=True, onboarding_started=True)


@dataclass
class Ideas:
    """The ideas the service would offer: approved, by language; `seen` as stored."""

    texts: dict[int, dict[str, str]]
    seen: set[int] = field(default_factory=set)
    today: date = date(2026, 3, 10)

    def next_idea(
        self, activity: str, language: str, exclude: Collection[int]
    ) -> OfferedIdea | None:
        left = [
            i
            for i, texts in sorted(self.texts.items())
            if language in texts and i not in self.seen and i not in exclude
        ]
        return OfferedIdea(left[0], self.texts[left[0]][language], len(left)) if left else None

    def idea_text(self, activity: str, idea: int, language: str) -> str | None:
        return self.texts.get(idea, {}).get(language)


class Chat:
    """One participant texting; what they reacted to is `seen` at once, as stored."""

    def __init__(self, ideas: Ideas, channel: Channel = Channel.SMS) -> None:
        self.ideas = ideas
        self.channel = channel
        self.state = ONBOARDED

    def send(self, text: str = "", button: str | None = None) -> Step:
        current = EXCHANGE if self.state.conversation is not None else None
        result = step(
            self.state,
            InboundMessage(self.channel, "+15550100", text, button=button),
            PROGRAM,
            Activities(current, (EXCHANGE,), self.ideas),
        )
        self.state = result.state
        for event in result.events:
            if event.kind is EventKind.REACTED and event.idea is not None:
                self.ideas.seen.add(event.idea)
        return result


def _texts(result: Step) -> list[str]:
    return [reply.text for reply in result.replies]


def _events(result: Step) -> list[tuple[EventKind, int | None, int | None]]:
    return [(e.kind, e.idea, e.vote) for e in result.events]


IDEAS = {
    1: {"en": "More bilingual family nights.", "es": "Más noches familiares bilingües."},
    2: {"en": "Clubs at lunch."},
    3: {"en": "A mentor for every new student.", "es": "Un mentor para cada estudiante."},
    4: {"vi": "Thêm giờ đọc sách."},
}


def test_the_exchange_asks_for_an_idea_then_offers_others_one_at_a_time_by_sms() -> None:
    chat = Chat(Ideas(dict(IDEAS)))
    assert _texts(chat.send("IDEAS")) == [
        "What one change would help?\n"
        "Reply with your idea in a few words, or SKIP to see other people's ideas."
    ]
    shared = chat.send("A quiet room to read at lunch")
    assert [(e.kind, e.text) for e in shared.events] == [
        (EventKind.IDEA_SHARED, "A quiet room to read at lunch")
    ]
    assert _texts(shared) == [
        "Thank you for your idea! We will text you when others can react to it.",
        'Idea 1 of 3: "More bilingual family nights." Reply 1 agree, 2 disagree, 3 pass',
    ]
    assert shared.replies[1].choices == ()
    agreed = chat.send("1")
    assert _events(agreed) == [(EventKind.REACTED, 1, Vote.AGREE)]
    assert _texts(agreed) == ['Idea 2 of 3: "Clubs at lunch." Reply 1 agree, 2 disagree, 3 pass']
    assert _events(chat.send("2")) == [(EventKind.REACTED, 2, Vote.DISAGREE)]
    last = chat.send("3")
    assert _events(last) == [
        (EventKind.REACTED, 3, Vote.PASS),
        (EventKind.ACTIVITY_COMPLETED, None, None),
    ]
    assert _texts(last) == ["Thanks for your ideas!"]
    assert last.state.conversation is None


def test_only_ideas_in_their_language_are_offered_and_the_count_never_promises_more() -> None:
    chat = Chat(Ideas(dict(IDEAS)))
    chat.state = replace(ONBOARDED, language="es")
    chat.send("IDEAS")
    first = chat.send("SALTAR")
    assert _texts(first) == [
        'Idea 1 de 2: "Más noches familiares bilingües." '
        "Responda 1 de acuerdo, 2 en desacuerdo, 3 paso"
    ]
    assert _events(chat.send("de acuerdo")) == [(EventKind.REACTED, 1, Vote.AGREE)]
    last = chat.send("paso")
    assert _events(last)[0] == (EventKind.REACTED, 3, Vote.PASS)
    assert _texts(last) == ["¡Gracias por sus ideas!"]


def test_with_nothing_left_to_react_to_the_round_ends_kindly() -> None:
    chat = Chat(Ideas({}))
    chat.send("IDEAS")
    result = chat.send("SKIP")
    assert _texts(result) == [
        "There are no more ideas for you to react to right now.",
        "Thanks for your ideas!",
    ]
    assert result.state.conversation is None


def test_buttons_carry_the_idea_and_a_late_tap_changes_that_reaction_only() -> None:
    chat = Chat(Ideas(dict(IDEAS)), Channel.TELEGRAM)
    chat.send("IDEAS")
    offered = chat.send("SKIP")
    assert _texts(offered) == ['Idea 1 of 3: "More bilingual family nights."']
    assert [(c.label, c.payload) for c in offered.replies[0].choices] == [
        ("Agree", "q:belonging:idea-1:agree"),
        ("Disagree", "q:belonging:idea-1:disagree"),
        ("Pass", "q:belonging:idea-1:pass"),
    ]
    tapped = chat.send(button="q:belonging:idea-1:agree")
    assert _events(tapped) == [(EventKind.REACTED, 1, Vote.AGREE)]
    assert _texts(tapped) == ['Idea 2 of 3: "Clubs at lunch."']
    late = chat.send(button="q:belonging:idea-1:disagree")
    assert _events(late) == [(EventKind.REACTED, 1, Vote.DISAGREE)]
    assert late.replies == ()
    assert late.state.conversation == tapped.state.conversation


def test_a_reply_that_is_no_reaction_is_asked_again_then_moved_past_recording_nothing() -> None:
    chat = Chat(Ideas(dict(IDEAS)))
    chat.send("IDEAS")
    chat.send("SKIP")
    again = chat.send("hmm")
    assert _events(again) == []
    assert _texts(again)[1].startswith('Idea 1 of 3: "More bilingual')
    chat.send("what")
    moved = chat.send("eh")
    assert _events(moved) == []
    assert _texts(moved)[0] == "Let's move on to the next question."
    assert _texts(moved)[1].startswith('Idea 1 of 2: "Clubs at lunch."')


def test_a_new_idea_while_reacting_is_taken_and_the_same_idea_asked_again() -> None:
    chat = Chat(Ideas(dict(IDEAS)))
    chat.send("IDEAS")
    chat.send("SKIP")
    result = chat.send("Please add a walking school bus on Fridays")
    assert [e.kind for e in result.events] == [EventKind.IDEA_SHARED]
    assert _texts(result)[1].startswith('Idea 1 of 3: "More bilingual')


def test_a_short_reply_to_the_prompt_is_not_taken_for_an_idea() -> None:
    chat = Chat(Ideas(dict(IDEAS)))
    chat.send("IDEAS")
    result = chat.send("ok")
    assert result.events == ()
    assert _texts(result) == [
        "Please write your idea in a few words, or reply SKIP to see other people's ideas."
    ]


@pytest.mark.parametrize("today", [date(2026, 3, 1), date(2026, 3, 28)], ids=["early", "late"])
def test_outside_its_dates_the_exchange_takes_nothing(today: date) -> None:
    chat = Chat(Ideas(dict(IDEAS), today=today))
    result = chat.send("IDEAS")
    assert _texts(result) == ["This idea exchange is not open right now. Thank you!"]
    assert result.state.conversation is None
    chat.state = replace(ONBOARDED, conversation=ConversationState("belonging", 1, "share"))
    late = chat.send("A quiet room to read at lunch")
    assert [e.kind for e in late.events] == [EventKind.ACTIVITY_COMPLETED]


def test_an_invitation_asks_for_an_idea_without_looking_at_ideas() -> None:
    result = invite(ONBOARDED, EXCHANGE, PROGRAM, None)
    assert result.state.conversation == ConversationState("belonging", 1, "share")
    assert _texts(result)[0].startswith("What one change would help?")


def test_a_language_switch_shows_the_same_idea_in_the_new_language() -> None:
    chat = Chat(Ideas(dict(IDEAS)))
    chat.send("IDEAS")
    chat.send("SKIP")
    result = chat.send("idioma español")
    assert _texts(result)[-1].startswith('Idea 1 de 2: "Más noches')


def test_a_school_exchange_takes_its_own_school_and_people_whose_school_is_unknown() -> None:
    from bot.core.state import School

    program = replace(
        PROGRAM, schools=(School("lincoln-es", "Lincoln"), School("adams-ms", "Adams"))
    )
    lincoln = replace(EXCHANGE, school="lincoln-es")

    def start(state: ParticipantState) -> Step:
        inbound = InboundMessage(Channel.SMS, "+15550100", "IDEAS")
        return step(state, inbound, program, Activities(None, (lincoln,), Ideas({})))

    other = start(replace(ONBOARDED, schools=("adams-ms",)))
    assert _texts(other) == ["This idea exchange is for the Lincoln community. Thank you!"]
    assert other.state.conversation is None
    assert start(replace(ONBOARDED, schools=("adams-ms", "lincoln-es"))).state.conversation
    assert start(ONBOARDED).state.conversation is not None
