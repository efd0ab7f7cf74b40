"""The conversation engine: one inbound message in, the new state and what to say out.

Pure: no I/O, the clock and every definition are arguments. Order of concerns
for each message: keywords and requests to stop (any time, any configured
language), a pending language menu, onboarding, the current activity's question, and finally Let's
Talk for anything unsolicited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from bot.core.activity import Activity, ActivityKind, Condition, Question, QuestionType
from bot.core.answers import (
    ReadingKind,
    parse_language_choice,
    parse_language_request,
    parse_option,
    parse_school,
    parse_yes_no,
    read_answer,
)
from bot.core.consent import ConsentSource
from bot.core.ideas import IdeaSource, OfferedIdea, Vote
from bot.core.keywords import Keyword, match_keyword, normalize
from bot.core.messages import Channel, Choice, InboundMessage, Reply
from bot.core.prompts import ask_which, question_reply, reprompt
from bot.core.revocation import find_stop_request
from bot.core.routing import is_closing
from bot.core.state import (
    AnswerValue,
    Awaiting,
    ConversationState,
    Event,
    EventKind,
    OnboardingStep,
    ParticipantState,
    Program,
    Response,
    ResponseStatus,
    Step,
)
from bot.core.texts import language_name, text
from bot.core.urgency import assess

__all__ = ["Activities", "invite", "onboarding_prompts", "school_heading", "step"]

# district.yaml `first_activity: none`: a family who signs up starts nothing by itself.
NO_FIRST_ACTIVITY = "none"

# Free text this long that is not an answer is a message to the district, not a typo.
LETS_TALK_MIN_WORDS = 4


@dataclass(frozen=True, slots=True)
class Activities:
    """The activity definitions a step may need.

    `current` is the definition of the participant's conversation, if any (the
    version it started on); `open` are the activities a family can start now,
    newest first; `ideas` answers what an idea exchange needs to know while
    it runs (None where nobody can react: an invitation, the simulator's
    first line).
    """

    current: Activity | None = None
    open: Sequence[Activity] = ()
    ideas: IdeaSource | None = None

    def find(self, key: str) -> Activity | None:
        if self.current is not None and self.current.key == key:
            return self.current
        return next((a for a in self.open if a.key == key), None)


class _Turn:
    """Collects what one step says, records and emits, then freezes it into a Step."""

    def __init__(self, state: ParticipantState, program: Program, channel: Channel) -> None:
        self.state = state
        self.program = program
        self.channel = channel
        self.replies: list[Reply] = []
        self.responses: list[Response] = []
        self.events: list[Event] = []

    @property
    def language(self) -> str:
        # A language the district has since stopped using falls back to its default.
        chosen = self.state.language
        return chosen if chosen in self.program.languages else self.program.default_language

    def say(self, message_id: str, choices: tuple[Choice, ...] = (), **values: object) -> None:
        self.replies.append(_said(self.program, self.language, message_id, choices, **values))

    def done(self) -> Step:
        return Step(self.state, tuple(self.responses), tuple(self.replies), tuple(self.events))


def step(
    state: ParticipantState,
    inbound: InboundMessage,
    program: Program,
    activities: Activities,
    detected_language: str | None = None,
) -> Step:
    """Run one inbound message through the engine.

    `detected_language` is the language the service detected in the text, if it
    was confident; it only fills a language not chosen yet.
    """
    if state.language is None:
        hint = detected_language or _configured(inbound.locale_hint, program)
        if hint is not None:
            state = replace(state, language=hint)
    turn = _Turn(state, program, inbound.channel)
    body = inbound.text.strip()

    keyword = match_keyword(body, program.languages) if body else None
    if (
        keyword is not None
        and turn.state.language is None
        and keyword.language in program.languages
    ):
        turn.state = replace(turn.state, language=keyword.language)
    silent = _is_provider_keyword(body, inbound.channel, program)
    # Plain words that ask to stop count anywhere in a message, before any survey logic.
    request = find_stop_request(body, program.languages) if body and keyword is None else None
    if request is not None and turn.state.language is None:
        if request.language in program.languages:
            turn.state = replace(turn.state, language=request.language)

    if (keyword is not None and keyword.keyword is Keyword.STOP) or request is not None:
        source = ConsentSource.REQUEST if request is not None else ConsentSource.KEYWORD
        turn.state = replace(turn.state, opted_out=True, awaiting=None)
        turn.events.append(Event(EventKind.OPTED_OUT, text=body, source=source))
        if not silent:
            turn.say("opted_out")
        return turn.done()
    if keyword is not None and keyword.keyword is Keyword.HELP:
        # HELP always answers, also to a contact who opted out (who may be asking how
        # to come back): the program, a contact and how to stop, in their language.
        turn.events.append(Event(EventKind.HELP, text=body, source=ConsentSource.KEYWORD))
        turn.say("help")
        return turn.done()
    if turn.state.opted_out:
        if keyword is not None and keyword.keyword is Keyword.START:
            turn.state = replace(turn.state, opted_out=False)
            turn.events.append(Event(EventKind.OPTED_IN, text=body, source=ConsentSource.KEYWORD))
            if not silent:
                turn.say("opted_in")
            _resume(turn, activities)
        # Anything else from an opted-out contact is stored, never answered.
        return turn.done()
    if keyword is not None:
        match keyword.keyword:
            case Keyword.START:
                if not turn.state.onboarding_started:
                    # START as a first message (Telegram's /start) is a hello, not a return.
                    _onboard(turn, "", activities, skip=False)
                    return turn.done()
                if not silent:
                    turn.say("opted_in")
                _resume(turn, activities)
                return turn.done()
            case Keyword.LANGUAGE:
                turn.state = replace(turn.state, awaiting=Awaiting.LANGUAGE_MENU)
                turn.say("language_menu", _language_choices(program))
                return turn.done()
            case _:
                pass  # SKIP is an answer to the current question

    requested = _language_request(turn, body) if keyword is None else None
    if requested is not None:
        turn.state = replace(turn.state, language=requested, awaiting=None)
        turn.say("language_set")
        _resume(turn, activities)
        return turn.done()

    if turn.state.awaiting is Awaiting.LANGUAGE_MENU:
        turn.state = replace(turn.state, awaiting=None)
        chosen = parse_language_choice(body, program.languages)
        if chosen is not None:
            turn.state = replace(turn.state, language=chosen)
            turn.say("language_set")
            _resume(turn, activities)
            return turn.done()

    if inbound.button is not None and not inbound.button.startswith("q:"):
        _menu_button(turn, inbound.button, activities)
        return turn.done()

    if not body and inbound.button is None:
        if inbound.media_count:
            turn.say("media_only")
            # A voice note is someone speaking to the district: staff hear it.
            for voice in (a for a in inbound.attachments if a.is_audio):
                turn.events.append(Event(EventKind.LETS_TALK, text=f"🎤 {voice.url}"))
        else:
            _resume(turn, activities)
        return turn.done()

    if not _is_onboarded(turn.state, program):
        _onboard(
            turn, body, activities, skip=keyword is not None and keyword.keyword is Keyword.SKIP
        )
        return turn.done()

    if inbound.button is not None and _answer_button(turn, inbound.button, activities):
        return turn.done()

    conversation = turn.state.conversation
    current = activities.current
    if (
        conversation is not None
        and current is not None
        and current.exchange is not None
        and conversation.question is not None
    ):
        _exchange_reply(turn, activities, current, body, _is_skip(keyword))
        return turn.done()
    if conversation is not None and current is not None and conversation.question is not None:
        question = current.question(conversation.question)
        if question is not None:
            if _queue_by_keyword(turn, body, current, question, activities):
                return turn.done()
            skip = keyword is not None and keyword.keyword is Keyword.SKIP
            _answer(turn, activities, current, question, body, skip)
            return turn.done()

    started = _start_by_keyword(turn, body, activities)
    if not started:
        _lets_talk(turn, body)
    return turn.done()


def invite(
    state: ParticipantState, activity: Activity, program: Program, current: Activity | None
) -> Step:
    """Invite a participant to `activity`: start it now, or queue it behind the current one."""
    turn = _Turn(state, program, Channel.SMS)
    if state.opted_out or state.consent is False:
        return turn.done()
    busy = state.conversation is not None or not _is_onboarded(state, program)
    if busy:
        if activity.key not in state.pending:
            turn.state = replace(state, pending=(*state.pending, activity.key))
        return turn.done()
    _start(turn, activity)
    return turn.done()


# -- onboarding ---------------------------------------------------------------


def _is_onboarded(state: ParticipantState, program: Program) -> bool:
    return state.onboarding_started and state.onboarding is None


def _onboard(turn: _Turn, body: str, activities: Activities, *, skip: bool) -> None:
    program = turn.program
    if not turn.state.onboarding_started:
        # First contact: remember what they asked for, keep what they said, ask step one.
        wanted = _activity_for_keyword(body, activities)
        if wanted is not None:
            turn.state = replace(turn.state, pending=(wanted.key, *turn.state.pending))
        elif _is_message(body):
            assessment = assess(body, program.languages)
            turn.events.append(Event(EventKind.LETS_TALK, text=body, assessment=assessment))
            if assessment.is_urgent:
                # Someone's safety does not wait for onboarding.
                _say_urgent(turn)
        first = program.onboarding[0] if program.onboarding else None
        turn.state = replace(turn.state, onboarding_started=True, onboarding=first, attempts=0)
        if first is None:
            _finish_onboarding(turn, activities)
        else:
            _ask_onboarding(turn, first, welcome=True)
        return

    current = turn.state.onboarding
    assert current is not None
    value: str | None = None
    understood = True
    match current:
        case OnboardingStep.LANGUAGE:
            value = parse_language_choice(body, program.languages)
            understood = value is not None
            if understood:
                turn.state = replace(turn.state, language=value)
        case OnboardingStep.CONSENT:
            value = parse_yes_no(body, turn.language)
            understood = value is not None
            if value == "yes":
                turn.state = replace(turn.state, consent=True)
                turn.events.append(
                    Event(EventKind.CONSENT_GIVEN, text=body, source=ConsentSource.ONBOARDING)
                )
            elif value == "no":
                turn.state = replace(turn.state, consent=False, attempts=0)
                turn.events.append(
                    Event(EventKind.CONSENT_DECLINED, text=body, source=ConsentSource.ONBOARDING)
                )
                turn.say("consent_declined")
                return
        case OnboardingStep.ROLE:
            value = parse_option(body, _role_options(program), turn.language)
            understood = value is not None or (skip and current in program.skippable)
            if value is not None:
                turn.state = replace(turn.state, role=value)
        case OnboardingStep.SCHOOL:
            value = parse_school(body, program.schools, turn.language)
            understood = value is not None or (skip and current in program.skippable)
            if value is not None:
                if value not in turn.state.schools:
                    turn.state = replace(turn.state, schools=(*turn.state.schools, value))

    if not understood:
        attempts = turn.state.attempts + 1
        if attempts < program.max_attempts or not _may_pass(current, program):
            turn.state = replace(turn.state, attempts=attempts)
            turn.say("not_understood")
            _ask_onboarding(turn, current, welcome=False)
            return
        if current is OnboardingStep.LANGUAGE:
            turn.state = replace(turn.state, language=turn.language)
    _advance_onboarding(turn, current, activities)


def _may_pass(current: OnboardingStep, program: Program) -> bool:
    """After too many tries: a skippable step passes, and so does language (default kept)."""
    return current in program.skippable or current is OnboardingStep.LANGUAGE


def _advance_onboarding(turn: _Turn, current: OnboardingStep, activities: Activities) -> None:
    steps = turn.program.onboarding
    later = steps[steps.index(current) + 1 :] if current in steps else ()
    following = next((s for s in later if _needs(turn, s)), None)
    turn.state = replace(turn.state, onboarding=following, attempts=0)
    if following is None:
        _finish_onboarding(turn, activities)
    else:
        _ask_onboarding(turn, following, welcome=False)


def _needs(turn: _Turn, onboarding_step: OnboardingStep) -> bool:
    """Steps with nothing to choose from are not asked."""
    match onboarding_step:
        case OnboardingStep.LANGUAGE:
            return len(turn.program.languages) > 1
        case OnboardingStep.SCHOOL:
            return bool(turn.program.schools) and not turn.state.schools
        case OnboardingStep.ROLE:
            return bool(turn.program.roles) and turn.state.role is None
        case _:
            return turn.state.consent is not True


def _ask_onboarding(turn: _Turn, onboarding_step: OnboardingStep, *, welcome: bool) -> None:
    if not _needs(turn, onboarding_step):
        _advance_onboarding(turn, onboarding_step, Activities())
        return
    _, reply = _onboarding_prompt(turn.program, onboarding_step, turn.language, welcome=welcome)
    turn.replies.append(reply)


def onboarding_prompts(program: Program, language: str) -> dict[str, Reply]:
    """The onboarding texts as the engine sends them in `language`, by message id: each
    with its menu (languages, yes and no, roles, schools) and, if skippable, its skip hint."""
    prompts = {}
    for onboarding_step in OnboardingStep:
        welcomes = (True, False) if onboarding_step is OnboardingStep.LANGUAGE else (False,)
        for welcome in welcomes:
            message_id, reply = _onboarding_prompt(
                program, onboarding_step, language, welcome=welcome
            )
            prompts[message_id] = reply
    return prompts


_MAY_SKIP = frozenset({OnboardingStep.ROLE, OnboardingStep.SCHOOL})


def _onboarding_prompt(
    program: Program, onboarding_step: OnboardingStep, language: str, *, welcome: bool
) -> tuple[str, Reply]:
    choices: tuple[Choice, ...]
    match onboarding_step:
        case OnboardingStep.LANGUAGE:
            message_id = "welcome" if welcome else "language_menu"
            choices = _language_choices(program)
        case OnboardingStep.CONSENT:
            message_id = "consent"
            choices = tuple(
                Choice(k, text(k, language), f"onboard:consent:{k}") for k in ("yes", "no")
            )
        case OnboardingStep.ROLE:
            message_id = "ask_role"
            choices = tuple(
                Choice(role, text(f"role_{role}", language), f"onboard:role:{role}")
                for role in program.roles
            )
        case OnboardingStep.SCHOOL:
            message_id, choices = "ask_school_by_name", ()
            if len(program.schools) <= 9:
                message_id = "ask_school"
                choices = tuple(
                    Choice(s.code, s.name_in(language), f"onboard:school:{s.code}")
                    for s in program.schools
                )
    reply = _said(program, language, message_id, choices)
    # Language and consent are never skipped: they have no hint.
    if onboarding_step in program.skippable and onboarding_step in _MAY_SKIP:
        reply = _with_skip_hint(reply, language)
    return message_id, reply


def _said(
    program: Program,
    language: str,
    message_id: str,
    choices: tuple[Choice, ...] = (),
    **values: object,
) -> Reply:
    values.setdefault("program", program.name)
    values.setdefault("contact", program.contact_in(language))
    return Reply(text(message_id, language, **values), choices)


def _with_skip_hint(reply: Reply, language: str) -> Reply:
    return Reply(f"{reply.text} {text('hint_skip', language)}", reply.choices)


def _finish_onboarding(turn: _Turn, activities: Activities) -> None:
    if turn.state.consent is None and OnboardingStep.CONSENT not in turn.program.onboarding:
        turn.state = replace(turn.state, consent=True)
    turn.events.append(Event(EventKind.ONBOARDED))
    turn.say("onboarded")
    _start_next(turn, activities, fallback=True)


# -- activities ---------------------------------------------------------------


def _start(turn: _Turn, activity: Activity, activities: Activities | None = None) -> None:
    if activity.exchange is not None and not _is_open(activity, activities):
        turn.state = replace(
            turn.state, pending=tuple(k for k in turn.state.pending if k != activity.key)
        )
        turn.say("exchange_closed")
        return
    if activity.exchange is not None and not _is_their_school(activity, turn.state):
        turn.state = replace(
            turn.state, pending=tuple(k for k in turn.state.pending if k != activity.key)
        )
        school = next(
            (s.name_in(turn.language) for s in turn.program.schools if s.code == activity.school),
            activity.school,
        )
        turn.say("exchange_other_school", school=school)
        return
    turn.state = replace(
        turn.state,
        conversation=ConversationState(activity.key, activity.version),
        pending=tuple(k for k in turn.state.pending if k != activity.key),
    )
    turn.events.append(Event(EventKind.ACTIVITY_STARTED, activity=activity.key))
    if activity.school is not None:
        # A family with children at two schools gets both rounds: say whose this is.
        turn.replies.append(Reply(school_heading(turn.program, activity.school, turn.language)))
    if activity.intro is not None:
        turn.replies.append(Reply(activity.intro.get(turn.language, activity.default_language)))
    if activity.exchange is not None:
        _ask_for_idea(turn, activity)
        return
    _advance(turn, activity, None, activities or Activities(current=activity))


def school_heading(program: Program, school: str, language: str) -> str:
    """The line that opens a school's own round or update: which school it is for."""
    found = next((s for s in program.schools if s.code == school), None)
    name = found.name_in(language) if found is not None else school
    return text("round_for_school", language, school=name)


def _start_next(turn: _Turn, activities: Activities, *, fallback: bool) -> None:
    """Start the first pending invitation; after onboarding, else the newest open survey."""
    for key in turn.state.pending:
        activity = activities.find(key)
        if activity is not None:
            _start(turn, activity, activities)
            return
    turn.state = replace(turn.state, pending=())
    if fallback:
        default = _first_activity(turn, activities)
        if default is not None:
            _start(turn, default, activities)


def _first_activity(turn: _Turn, activities: Activities) -> Activity | None:
    """What a family signed up without an invitation starts: the district's choice
    (`first_activity`) while it is open to them, else the newest open survey or round."""
    chosen = turn.program.first_activity
    if chosen == NO_FIRST_ACTIVITY:
        return None
    if chosen is not None:
        named = next((a for a in activities.open if a.key == chosen), None)
        if named is not None and (named.school is None or named.school in turn.state.schools):
            return named
    return next((a for a in activities.open if _suits(a, turn.state)), None)


def _suits(activity: Activity, state: ParticipantState) -> bool:
    if activity.kind not in (ActivityKind.SURVEY, ActivityKind.FEEDBACK):
        return False
    return activity.school is None or activity.school in state.schools


def _advance(turn: _Turn, activity: Activity, after: str | None, activities: Activities) -> None:
    """Ask the next question whose condition holds; info texts are sent on the way."""
    conversation = turn.state.conversation
    assert conversation is not None
    keys = [q.key for q in activity.questions]
    start = keys.index(after) + 1 if after in keys else 0
    for question in activity.questions[start:]:
        if question.when is not None and not _holds(question.when, conversation.answers):
            continue
        reply = question_reply(activity, question, turn.language)
        turn.replies.append(reply)
        if question.type is QuestionType.INFO:
            continue
        turn.state = replace(
            turn.state, conversation=replace(conversation, question=question.key, attempts=0)
        )
        return
    _complete(turn, activity, activities)


def _complete(turn: _Turn, activity: Activity, activities: Activities) -> None:
    if activity.closing is not None:
        turn.replies.append(Reply(activity.closing.get(turn.language, activity.default_language)))
    else:
        turn.say("completed")
    turn.events.append(Event(EventKind.ACTIVITY_COMPLETED, activity=activity.key))
    turn.state = replace(turn.state, conversation=None)
    # The next invitation was waiting for this one to end.
    _start_next(turn, activities, fallback=False)


def _holds(condition: Condition, answers: Mapping[str, AnswerValue | None]) -> bool:
    answer = answers.get(condition.question)
    if answer is None:
        return False
    if condition.any_of:
        given = set(answer) if isinstance(answer, tuple) else {str(answer)}
        if not given & set(condition.any_of):
            return False
    if condition.at_least is not None or condition.at_most is not None:
        if not isinstance(answer, int):
            return False
        if condition.at_least is not None and answer < condition.at_least:
            return False
        if condition.at_most is not None and answer > condition.at_most:
            return False
    return True


def _answer(
    turn: _Turn,
    activities: Activities,
    activity: Activity,
    question: Question,
    body: str,
    skip: bool,
) -> None:
    if skip:
        if question.optional:
            # The word they used to skip is no answer; the message log keeps it.
            _record(turn, activity, question, None, "", ResponseStatus.SKIPPED)
            _advance(turn, activity, question.key, activities)
        else:
            _ask_again(turn, activities, activity, question, body, "needs_answer")
        return
    reading = read_answer(question, body, turn.language)
    match reading.kind:
        case ReadingKind.ANSWER:
            assert reading.value is not None
            _record(turn, activity, question, reading.value, body, ResponseStatus.ANSWERED)
        case ReadingKind.DONT_KNOW if question.optional:
            # "No sé" to an optional question passes it, and keeps what they said.
            _record(turn, activity, question, None, body, ResponseStatus.SKIPPED)
        case ReadingKind.DONT_KNOW:
            _ask_again(turn, activities, activity, question, body, "needs_answer")
            return
        case ReadingKind.WHICH:
            # "4 or 5": never guessed; asked once, naming what they said.
            which = ask_which(question, reading.alternatives, turn.language)
            _ask_again(turn, activities, activity, question, body, which)
            return
        case _ if question.type is not QuestionType.FREE_TEXT and is_closing(
            body, turn.program.languages
        ):
            # "gracias" to a staff reply while a question waits: no failed try, no re-ask.
            _lets_talk(turn, body)
            return
        case _ if _is_message(body) and question.type is not QuestionType.FREE_TEXT:
            # Not an answer but something they want the district to hear: keep it,
            # thank them, and ask the question again without counting a failed try.
            _lets_talk(turn, body)
            turn.replies.append(question_reply(activity, question, turn.language))
            return
        case _:
            _ask_again(turn, activities, activity, question, body, "not_understood")
            return
    _advance(turn, activity, question.key, activities)


def _ask_again(
    turn: _Turn,
    activities: Activities,
    activity: Activity,
    question: Question,
    body: str,
    prompt: str | Reply,
) -> None:
    """Ask again in one short message (`prompt`: its opening text's id, or the whole reply).

    After `max_attempts` tries, keep what they said, mark it, and move on: never
    an endless loop.
    """
    conversation = turn.state.conversation
    assert conversation is not None
    attempts = conversation.attempts + 1
    if attempts < turn.program.max_attempts:
        turn.state = replace(turn.state, conversation=replace(conversation, attempts=attempts))
        if isinstance(prompt, Reply):
            turn.replies.append(prompt)
        else:
            turn.replies.append(reprompt(activity, question, turn.language, prompt))
        return
    _record(turn, activity, question, None, body, ResponseStatus.UNPARSED)
    turn.say("moving_on")
    _advance(turn, activity, question.key, activities)


def _record(
    turn: _Turn,
    activity: Activity,
    question: Question,
    value: AnswerValue | None,
    body: str,
    status: ResponseStatus,
) -> None:
    conversation = turn.state.conversation
    assert conversation is not None
    turn.responses.append(
        Response(activity.key, activity.version, question.key, value, body, status, turn.language)
    )
    answers = {**conversation.answers, question.key: value}
    turn.state = replace(turn.state, conversation=replace(conversation, answers=answers))


def _button_value(question: Question, option_key: str) -> AnswerValue | None:
    match question.type:
        case QuestionType.SCALE:
            number = int(option_key) if option_key.lstrip("-").isdigit() else None
            if number is not None and question.scale_min <= number <= question.scale_max:
                return number
            return None
        case QuestionType.YES_NO:
            return option_key if option_key in ("yes", "no") else None
        case QuestionType.SINGLE_CHOICE:
            return option_key if question.option(option_key) is not None else None
        case QuestionType.MULTIPLE_CHOICE | QuestionType.RANKING:
            return (option_key,) if question.option(option_key) is not None else None
        case _:
            return None


def _answer_button(turn: _Turn, payload: str, activities: Activities) -> bool:
    """A tapped button names its question, so a late tap lands where it belongs."""
    parts = payload.split(":")
    if len(parts) != 4 or parts[0] != "q":
        return False
    _, activity_key, question_key, option_key = parts
    conversation = turn.state.conversation
    activity = activities.current
    if activity is not None and activity.exchange is not None and activity.key == activity_key:
        _reaction_button(turn, activities, activity, question_key, option_key)
        return True
    question = activity.question(question_key) if activity is not None else None
    value = _button_value(question, option_key) if question is not None else None
    if (
        conversation is None
        or activity is None
        or activity.key != activity_key
        or question is None
        or value is None
    ):
        turn.say("button_closed")
        return True
    _record(turn, activity, question, value, option_key, ResponseStatus.ANSWERED)
    if conversation.question == question.key:
        _advance(turn, activity, question.key, activities)
    # A tap on an earlier question updates that answer; we stay where we are.
    return True


def _menu_button(turn: _Turn, payload: str, activities: Activities) -> None:
    """A tapped menu button: `language:<code>` or `onboard:<step>:<key>`.

    Read as the menu number it stands for, so a tap takes the same path as a
    typed reply; a tap on a menu that is no longer showing changes nothing.
    """
    program, state = turn.program, turn.state
    kind, _, rest = payload.partition(":")
    asking = state.onboarding if state.onboarding_started else None
    if kind == "language" and rest in program.languages:
        if asking is OnboardingStep.LANGUAGE:
            _onboard(turn, str(program.languages.index(rest) + 1), activities, skip=False)
            return
        turn.state = replace(state, language=rest, awaiting=None)
        turn.say("language_set")
        _resume(turn, activities)
        return
    step_name, _, key = rest.partition(":")
    menus: dict[str, tuple[str, ...]] = {
        OnboardingStep.CONSENT: ("yes", "no"),
        OnboardingStep.ROLE: program.roles,
        OnboardingStep.SCHOOL: tuple(s.code for s in program.schools),
    }
    keys = menus.get(step_name, ())
    if kind == "onboard" and asking is not None and asking == step_name and key in keys:
        _onboard(turn, str(keys.index(key) + 1), activities, skip=False)
        return
    turn.say("button_closed")


def _resume(turn: _Turn, activities: Activities) -> None:
    """Put the participant back where they were: the onboarding step or the current question."""
    state = turn.state
    if state.onboarding_started and state.onboarding is not None:
        _ask_onboarding(turn, state.onboarding, welcome=False)
        return
    conversation = state.conversation
    current = activities.current
    if conversation is None or current is None or conversation.question is None:
        return
    if current.exchange is not None:
        _exchange_resume(turn, activities, current)
        return
    question = current.question(conversation.question)
    if question is not None:
        turn.replies.append(question_reply(current, question, turn.language))


def _language_request(turn: _Turn, body: str) -> str | None:
    """The language "idioma español" asks for; the language step of onboarding reads its own."""
    state = turn.state
    if not body or not state.onboarding_started or state.onboarding is OnboardingStep.LANGUAGE:
        return None
    return parse_language_request(body, turn.program.languages)


def _activity_for_keyword(body: str, activities: Activities) -> Activity | None:
    said = normalize(body)
    if not said:
        return None
    for activity in activities.open:
        if any(normalize(word) == said for word in activity.start_keywords):
            return activity
    return None


def _queue_by_keyword(
    turn: _Turn, body: str, current: Activity, question: Question, activities: Activities
) -> bool:
    """Another activity's start keyword in the middle of a question: that activity comes
    next (one conversation at a time); say so, and ask the question they are on again.
    This activity's own keyword: they are in it already, so the question again."""
    wanted = _activity_for_keyword(body, activities)
    if wanted is None:
        return False
    if wanted.key == current.key:
        turn.replies.append(question_reply(current, question, turn.language))
        return True
    others = tuple(k for k in turn.state.pending if k != wanted.key)
    turn.state = replace(turn.state, pending=(wanted.key, *others))
    title = wanted.title.get(turn.language, wanted.default_language)
    turn.say("activity_next", title=title)
    turn.replies.append(question_reply(current, question, turn.language))
    return True


def _start_by_keyword(turn: _Turn, body: str, activities: Activities) -> bool:
    activity = _activity_for_keyword(body, activities)
    if activity is None:
        return False
    if turn.state.conversation is not None:
        if activity.key not in turn.state.pending:
            turn.state = replace(turn.state, pending=(*turn.state.pending, activity.key))
        return True
    _start(turn, activity, activities)
    return True


# -- idea exchanges (docs/exchange.md) -----------------------------------------
#
# The conversation's place is `ConversationState.question`: SHARING while it
# waits for the participant's idea, `idea-<id>` while it waits for a reaction
# to that idea; `answers[REACTED]` counts the reactions given in this round.

SHARING = "share"
REACTED = "reacted"
IDEA_PREFIX = "idea-"
# An idea says something: three words, or six letters in a script without spaces.
MIN_IDEA_WORDS = 3
MIN_IDEA_CHARS = 6
REACTIONS: tuple[tuple[str, Vote], ...] = (
    ("agree", Vote.AGREE),
    ("disagree", Vote.DISAGREE),
    ("pass", Vote.PASS),
)
# Where a reply is read as plain text: the choices go in one short line, not three.
PLAIN_TEXT_CHANNELS = frozenset({Channel.SMS, Channel.SIMULATOR})


def _is_skip(keyword: object) -> bool:
    return getattr(keyword, "keyword", None) is Keyword.SKIP


def _is_open(activity: Activity, activities: Activities | None) -> bool:
    source = activities.ideas if activities is not None else None
    exchange = activity.exchange
    return exchange is None or source is None or exchange.is_open_on(source.today)


def _is_their_school(activity: Activity, state: ParticipantState) -> bool:
    """A school's exchange takes its own people, and anyone whose school is not known."""
    return activity.school is None or not state.schools or activity.school in state.schools


def _today(activities: Activities) -> date | None:
    return activities.ideas.today if activities.ideas is not None else None


def _ask_for_idea(turn: _Turn, activity: Activity) -> None:
    exchange = activity.exchange
    assert exchange is not None and turn.state.conversation is not None
    turn.state = replace(
        turn.state, conversation=replace(turn.state.conversation, question=SHARING, attempts=0)
    )
    prompt = exchange.prompt.get(turn.language, activity.default_language)
    turn.replies.append(Reply(f"{prompt}\n{text('idea_share_hint', turn.language)}"))


def _is_idea(body: str) -> bool:
    words = body.split()
    if len(words) >= MIN_IDEA_WORDS:
        return True
    spaced = any(char.isspace() for char in body) or all(ord(char) < 0x2E80 for char in body)
    return not spaced and sum(char.isalpha() for char in body) >= MIN_IDEA_CHARS


def _exchange_reply(
    turn: _Turn, activities: Activities, activity: Activity, body: str, skip: bool
) -> None:
    conversation = turn.state.conversation
    assert conversation is not None and conversation.question is not None
    if not _is_open(activity, activities):
        turn.say("exchange_closed")
        _end_exchange(turn, activity, activities, closing=False)
        return
    if conversation.question == SHARING:
        if skip:
            _offer_idea(turn, activities, activity)
        elif _is_idea(body):
            _share_idea(turn, activity, body)
            _offer_idea(turn, activities, activity)
        else:
            _exchange_again(turn, activities, activity, "idea_too_short")
        return
    idea = _shown_idea(conversation.question)
    vote = Vote.PASS if skip else _read_reaction(body, turn.language)
    if idea is not None and vote is not None:
        _react(turn, activity, idea, vote)
        _offer_idea(turn, activities, activity, exclude={idea})
    elif _is_idea(body) and _is_message(body):
        # Polis takes a new idea at any time; the idea on screen is asked again.
        _share_idea(turn, activity, body)
        _exchange_resume(turn, activities, activity)
    else:
        _exchange_again(turn, activities, activity, "not_understood")


def _exchange_again(
    turn: _Turn, activities: Activities, activity: Activity, message_id: str
) -> None:
    """Ask again; after `max_attempts`, move on without recording anything they did not say."""
    conversation = turn.state.conversation
    assert conversation is not None
    attempts = conversation.attempts + 1
    if attempts < turn.program.max_attempts:
        turn.state = replace(turn.state, conversation=replace(conversation, attempts=attempts))
        turn.say(message_id)
        if conversation.question != SHARING:
            _exchange_resume(turn, activities, activity)
        return
    turn.say("moving_on")
    shown = _shown_idea(conversation.question)
    _offer_idea(turn, activities, activity, exclude={shown} if shown is not None else set())


def _shown_idea(question: str | None) -> int | None:
    if question is None or not question.startswith(IDEA_PREFIX):
        return None
    number = question.removeprefix(IDEA_PREFIX)
    return int(number) if number.isdigit() else None


def _read_reaction(body: str, language: str) -> Vote | None:
    labels = [
        (key, (text(f"reaction_{key}", language), text(f"reaction_{key}", "en"), key))
        for key, _ in REACTIONS
    ]
    picked = parse_option(body, labels, language)
    if picked is not None:
        return dict(REACTIONS)[picked]
    said = parse_yes_no(body, language)
    return {"yes": Vote.AGREE, "no": Vote.DISAGREE}.get(said) if said is not None else None


def _share_idea(turn: _Turn, activity: Activity, body: str) -> None:
    turn.events.append(Event(EventKind.IDEA_SHARED, activity=activity.key, text=body))
    turn.say("idea_received")


def _react(turn: _Turn, activity: Activity, idea: int, vote: Vote) -> None:
    conversation = turn.state.conversation
    assert conversation is not None
    turn.events.append(Event(EventKind.REACTED, activity=activity.key, idea=idea, vote=int(vote)))
    reacted = _reacted(conversation) + 1
    answers = {**conversation.answers, REACTED: reacted}
    turn.state = replace(turn.state, conversation=replace(conversation, answers=answers))


def _reacted(conversation: ConversationState) -> int:
    count = conversation.answers.get(REACTED)
    return count if isinstance(count, int) else 0


def _offer_idea(
    turn: _Turn,
    activities: Activities,
    activity: Activity,
    exclude: set[int] | None = None,
) -> None:
    """Show the next idea, or end the round: enough reactions, or no idea left for them."""
    exchange, conversation = activity.exchange, turn.state.conversation
    assert exchange is not None and conversation is not None
    reacted = _reacted(conversation)
    source = activities.ideas
    offered = None
    if reacted < exchange.reactions and source is not None:
        offered = source.next_idea(activity.key, turn.language, exclude or set())
    if offered is None:
        if reacted == 0:
            turn.say("ideas_none_left")
        _end_exchange(turn, activity, activities, closing=True)
        return
    _show_idea(turn, activity, offered, reacted)


def _show_idea(turn: _Turn, activity: Activity, offered: OfferedIdea, reacted: int) -> None:
    exchange, conversation = activity.exchange, turn.state.conversation
    assert exchange is not None and conversation is not None
    total = min(exchange.reactions, reacted + offered.remaining)
    values: dict[str, object] = {"number": reacted + 1, "total": total, "idea": offered.text}
    if turn.channel in PLAIN_TEXT_CHANNELS:
        turn.say("idea_offer_sms", (), **values)
    else:
        choices = tuple(
            Choice(
                key,
                text(f"reaction_{key}", turn.language),
                f"q:{activity.key}:{IDEA_PREFIX}{offered.id}:{key}",
            )
            for key, _ in REACTIONS
        )
        turn.say("idea_offer", choices, **values)
    question = f"{IDEA_PREFIX}{offered.id}"
    # Asking the same idea again keeps the count of tries.
    attempts = conversation.attempts if conversation.question == question else 0
    turn.state = replace(
        turn.state, conversation=replace(conversation, question=question, attempts=attempts)
    )


def _exchange_resume(turn: _Turn, activities: Activities, activity: Activity) -> None:
    """Ask again what the conversation waits for: an idea, or a reaction to the one shown."""
    conversation = turn.state.conversation
    assert conversation is not None
    shown = _shown_idea(conversation.question)
    if shown is None:
        _ask_for_idea(turn, activity)
        return
    source = activities.ideas
    words = source.idea_text(activity.key, shown, turn.language) if source is not None else None
    if words is None:
        # No longer shown (rejected since) or not in their language: the next one instead.
        _offer_idea(turn, activities, activity, exclude={shown})
        return
    remaining = 1
    if source is not None:
        following = source.next_idea(activity.key, turn.language, {shown})
        remaining += following.remaining if following is not None else 0
    _show_idea(turn, activity, OfferedIdea(shown, words, remaining), _reacted(conversation))


def _reaction_button(
    turn: _Turn, activities: Activities, activity: Activity, question_key: str, vote_key: str
) -> None:
    """A tapped agree / disagree / pass; on an earlier idea it changes that reaction."""
    conversation = turn.state.conversation
    idea = _shown_idea(question_key)
    vote = dict(REACTIONS).get(vote_key)
    if (
        conversation is None
        or conversation.activity != activity.key
        or idea is None
        or vote is None
    ):
        turn.say("button_closed")
        return
    if not _is_open(activity, activities):
        turn.say("exchange_closed")
        _end_exchange(turn, activity, activities, closing=False)
        return
    if conversation.question != question_key:
        turn.events.append(
            Event(EventKind.REACTED, activity=activity.key, idea=idea, vote=int(vote))
        )
        return
    _react(turn, activity, idea, vote)
    _offer_idea(turn, activities, activity, exclude={idea})


def _end_exchange(
    turn: _Turn, activity: Activity, activities: Activities, *, closing: bool
) -> None:
    if closing:
        if activity.closing is not None:
            turn.replies.append(
                Reply(activity.closing.get(turn.language, activity.default_language))
            )
        else:
            turn.say("completed")
    turn.events.append(Event(EventKind.ACTIVITY_COMPLETED, activity=activity.key))
    turn.state = replace(turn.state, conversation=None)
    _start_next(turn, activities, fallback=False)


def _lets_talk(turn: _Turn, body: str) -> None:
    if not body:
        return
    if is_closing(body, turn.program.languages):
        # "gracias", "ok", 👍: it closes the loop; the inbox decides which thread it ends.
        turn.events.append(Event(EventKind.LETS_TALK, text=body, is_closing=True))
        return
    assessment = assess(body, turn.program.languages)
    turn.events.append(Event(EventKind.LETS_TALK, text=body, assessment=assessment))
    if assessment.is_urgent:
        _say_urgent(turn)
    else:
        turn.say("lets_talk_ack")


def _say_urgent(turn: _Turn) -> None:
    """The acknowledgement of an urgent message: who to reach now, and the emergency number."""
    turn.say(
        "lets_talk_urgent",
        urgent_contact=turn.program.urgent_contact_in(turn.language),
        emergency=turn.program.emergency_number,
    )


def _is_message(body: str) -> bool:
    return len(body.split()) >= LETS_TALK_MIN_WORDS


def _is_provider_keyword(body: str, channel: Channel, program: Program) -> bool:
    words = program.provider_keywords.get(channel)
    return bool(words) and body.strip().upper() in words  # type: ignore[operator]


def _configured(language: str | None, program: Program) -> str | None:
    if not language:
        return None
    code = language.split("-")[0].split("_")[0].lower()
    return code if code in program.languages else None


def _language_choices(program: Program) -> tuple[Choice, ...]:
    return tuple(
        Choice(code, language_name(code), f"language:{code}") for code in program.languages
    )


def _role_options(program: Program) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (role, tuple(text(f"role_{role}", lang) for lang in (*program.languages, "en")) + (role,))
        for role in program.roles
    ]
