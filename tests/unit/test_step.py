"""The conversation engine, driven message by message as a family would."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.activity import (
    Activity,
    ActivityKind,
    Condition,
    Localized,
    Option,
    Question,
    QuestionType,
)
from bot.core.messages import Attachment, Channel, InboundMessage
from bot.core.state import (
    ConversationState,
    EventKind,
    OnboardingStep,
    ParticipantState,
    Program,
    ResponseStatus,
    School,
    Step,
)
from bot.core.step import Activities, invite, step


def L(en: str, es: str | None = None) -> Localized:
    return Localized({"en": en, **({"es": es} if es else {})})


SURVEY = Activity(
    key="priorities",
    kind=ActivityKind.SURVEY,
    title=L("Family priorities", "Prioridades"),
    start_keywords=("PLAN",),
    intro=L("Five quick questions about our schools.", "Cinco preguntas rápidas."),
    closing=L("Thanks, that's all!", "¡Gracias, es todo!"),
    questions=(
        Question(
            "top",
            QuestionType.SINGLE_CHOICE,
            L("What matters most?", "¿Qué importa más?"),
            options=(
                Option("safety", L("Safety", "Seguridad")),
                Option("reading", L("Reading", "Lectura")),
                Option("buses", L("Buses", "Autobuses")),
            ),
        ),
        Question("safe", QuestionType.SCALE, L("How safe is school?", "¿Qué tan segura?")),
        Question(
            "why",
            QuestionType.FREE_TEXT,
            L("What would help?", "¿Qué ayudaría?"),
            optional=True,
            when=Condition("safe", at_most=2),
        ),
        Question("info", QuestionType.INFO, L("Almost done.", "Casi terminamos.")),
        Question(
            "news", QuestionType.YES_NO, L("Do you get news in your language?", "¿Recibe noticias?")
        ),
    ),
)
LETS_TALK = Activity(
    key="belonging",
    kind=ActivityKind.LETS_TALK,
    title=L("Belonging"),
    questions=(Question("q", QuestionType.FREE_TEXT, L("What helps you belong?")),),
)
PROGRAM = Program(
    name="Riverside Plan",
    contact="555-0100",
    languages=("en", "es", "vi"),
    schools=(School("lincoln-es", "Lincoln Elementary"), School("kennedy-hs", "Kennedy High")),
    provider_keywords={Channel.SMS: frozenset({"STOP", "HELP", "START"})},
)
ONBOARDED = ParticipantState(language="en", consent=True, onboarding_started=True)


def sms(body: str, button: str | None = None) -> InboundMessage:
    return InboundMessage(Channel.SIMULATOR, "+15550100001", body, button=button)


def run(
    state: ParticipantState, *bodies: str, program: Program = PROGRAM
) -> tuple[ParticipantState, list[Step]]:
    steps = []
    for body in bodies:
        current = SURVEY if state.conversation is not None else None
        result = step(state, sms(body), program, Activities(current, (SURVEY,)))
        steps.append(result)
        state = result.state
    return state, steps


def texts(result: Step) -> list[str]:
    return [reply.text for reply in result.replies]


def test_a_new_sender_is_welcomed_with_the_language_menu() -> None:
    state, [first] = run(ParticipantState(), "Hi")
    assert state.onboarding is OnboardingStep.LANGUAGE
    assert texts(first)[0].startswith("Hi! This is Riverside Plan.")
    assert [c.label for c in first.replies[0].choices] == ["English", "Español", "Tiếng Việt"]


def test_onboarding_in_spanish_then_the_survey_starts() -> None:
    state, steps = run(ParticipantState(), "Hola", "2", "sí", "1", "lincoln")
    assert (state.language, state.consent, state.role, state.schools) == (
        "es",
        True,
        "parent",
        ("lincoln-es",),
    )
    assert state.onboarding is None
    last = steps[-1]
    assert EventKind.ACTIVITY_STARTED in [e.kind for e in last.events]
    assert texts(last)[-2] == "Cinco preguntas rápidas."
    assert texts(last)[-1].startswith("¿Qué importa más?")
    assert state.conversation == ConversationState("priorities", 1, "top")


def test_a_start_keyword_on_first_contact_waits_for_onboarding() -> None:
    state, steps = run(ParticipantState(), "PLAN", "1", "yes", "SKIP", "SKIP")
    assert state.conversation is not None and state.conversation.question == "top"
    assert state.role is None and state.schools == ()


def test_declining_consent_stores_nothing_further() -> None:
    state, [*_, last] = run(ParticipantState(), "hi", "1", "no")
    assert state.consent is False
    assert EventKind.CONSENT_DECLINED in [e.kind for e in last.events]
    assert "will not save" in texts(last)[0]


def test_the_whole_survey_with_skip_logic() -> None:
    state, steps = run(ONBOARDED, "PLAN", "b", "2", "More counselors please", "yes")
    answers = [(r.question, r.value, r.status) for s in steps for r in s.responses]
    assert answers == [
        ("top", "reading", ResponseStatus.ANSWERED),
        ("safe", 2, ResponseStatus.ANSWERED),
        ("why", "More counselors please", ResponseStatus.ANSWERED),
        ("news", "yes", ResponseStatus.ANSWERED),
    ]
    assert state.conversation is None
    assert "Almost done." in texts(steps[3])
    assert texts(steps[-1]) == ["Thanks, that's all!"]


def test_a_condition_that_does_not_hold_skips_the_question() -> None:
    state, steps = run(ONBOARDED, "PLAN", "1", "5")
    assert state.conversation is not None and state.conversation.question == "news"


@pytest.mark.parametrize(
    ("said", "expected"),
    [("2", "reading"), ("B)", "reading"), ("lectura", "reading"), ("Buses", "buses")],
    ids=["number", "letter", "label-in-spanish", "label"],
)
def test_what_people_type_parses(said: str, expected: str) -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    state, [result] = run(at_top, said)
    assert result.responses[0].value == expected


def test_unclear_answers_are_reprompted_then_kept_and_skipped() -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    state, steps = run(at_top, "7", "zz", "9")
    reprompt = "Sorry, I didn't understand. Reply with a number from 1 to 3, for example 2."
    assert texts(steps[0]) == [reprompt]
    assert texts(steps[1]) == [reprompt]
    assert [(r.value, r.text, r.status) for r in steps[2].responses] == [
        (None, "9", ResponseStatus.UNPARSED)
    ]
    assert state.conversation is not None and state.conversation.question == "safe"


def test_skip_only_skips_optional_questions() -> None:
    at_why = replace(
        ONBOARDED,
        conversation=ConversationState(
            "priorities", 1, "why", answers={"top": "safety", "safe": 1}
        ),
    )
    _, [skipped] = run(at_why, "SKIP")
    assert [(r.status, r.text) for r in skipped.responses] == [(ResponseStatus.SKIPPED, "")]
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    _, [refused] = run(at_top, "skip")
    assert refused.responses == ()
    assert texts(refused) == [
        "No problem, but this question needs an answer. "
        "Reply with a number from 1 to 3, for example 2."
    ]


AT_SAFE = replace(
    ONBOARDED, conversation=ConversationState("priorities", 1, "safe", answers={"top": "safety"})
)


@pytest.mark.parametrize(
    ("said", "value"),
    [
        ("I have 2 kids, so I would say 4", 4),
        ("the second one", 2),
        ("4️⃣", 4),
        ("4 because the buses are always late", 4),
    ],
)
def test_a_rating_inside_a_sentence_is_recorded_not_filed(said: str, value: int) -> None:
    _, [result] = run(AT_SAFE, said)
    assert [(r.value, r.text, r.status) for r in result.responses] == [
        (value, said, ResponseStatus.ANSWERED)
    ]
    assert EventKind.LETS_TALK not in [e.kind for e in result.events]


@pytest.mark.parametrize("said", ["4 or 5", "4-5", "3.5", "between 4 and 5"])
def test_two_ratings_are_asked_about_once_never_guessed(said: str) -> None:
    state, (asked, answered) = run(AT_SAFE, said, "4")
    assert asked.responses == ()
    assert len(asked.replies) == 1
    assert texts(asked)[0].startswith("Which one do you mean: ")
    assert "Please reply with just one." in texts(asked)[0]
    assert [(r.question, r.value) for r in answered.responses] == [("safe", 4)]


def test_the_choices_asked_about_are_named_as_the_family_named_them() -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    _, [asked] = run(at_top, "2 or 3")
    assert texts(asked) == ["Which one do you mean: 2 / 3? Please reply with just one."]


def test_dont_know_skips_an_optional_question_and_keeps_the_words() -> None:
    at_why = replace(
        ONBOARDED,
        language="es",
        conversation=ConversationState(
            "priorities", 1, "why", answers={"top": "safety", "safe": 1}
        ),
    )
    state, [result] = run(at_why, "no se")
    assert [(r.question, r.value, r.text, r.status) for r in result.responses] == [
        ("why", None, "no se", ResponseStatus.SKIPPED)
    ]
    assert state.conversation is not None and state.conversation.question == "news"


@pytest.mark.parametrize("said", ["I don't know", "no sé", "khong biet", "不知道", "idk"])
def test_dont_know_to_a_required_question_asks_kindly_with_an_example(said: str) -> None:
    state, [result] = run(AT_SAFE, said)
    assert result.responses == ()
    assert texts(result) == [
        "No problem, but this question needs an answer. "
        "Reply with one number from 1 to 5, for example 4."
    ]
    assert state.conversation is not None and state.conversation.attempts == 1


def test_a_reprompt_is_one_message_in_the_family_language() -> None:
    _, [result] = run(replace(AT_SAFE, language="es"), "mucho")
    assert texts(result) == ["Perdón, no entendí. Responda un número del 1 al 5, p. ej. 4."]


def test_stop_opts_out_with_one_confirmation_and_then_silence() -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    state, (stopped, ignored) = run(at_top, "Stop please", "2")
    assert state.opted_out
    assert [e.kind for e in stopped.events] == [EventKind.OPTED_OUT]
    assert len(stopped.replies) == 1 and "unsubscribed" in stopped.replies[0].text
    assert ignored.replies == () and ignored.responses == ()


def test_spanish_stop_is_confirmed_in_spanish() -> None:
    state, [stopped] = run(replace(ONBOARDED, language=None), "PARAR")
    assert state.opted_out and state.language == "es"
    assert texts(stopped) == [
        "Ya no le mandaremos mensajes de Riverside Plan. Mande START para volver."
    ]


def test_keywords_the_provider_answers_are_acted_on_silently() -> None:
    program = PROGRAM
    inbound = InboundMessage(Channel.SMS, "+15550100001", "STOP")
    result = step(ONBOARDED, inbound, program, Activities())
    assert result.state.opted_out and result.replies == ()


def test_start_after_stop_resumes_the_question() -> None:
    at_top = replace(
        ONBOARDED, opted_out=True, conversation=ConversationState("priorities", 1, "top")
    )
    state, [started] = run(at_top, "START")
    assert not state.opted_out
    assert texts(started)[0].startswith("Welcome back")
    assert texts(started)[1].startswith("What matters most?")


def test_help_names_the_program_contact_and_how_to_stop() -> None:
    _, [helped] = run(ONBOARDED, "help")
    assert texts(helped) == [
        "Riverside Plan. Questions? 555-0100. Text STOP to stop, LANGUAGE to change language. "
        "Msg&data rates may apply."
    ]


def test_a_language_the_district_stopped_using_falls_back_to_its_default() -> None:
    # Chosen while the district offered Somali; the district file lists it no more.
    somali = replace(ONBOARDED, language="so")
    _, [helped] = run(somali, "help")
    assert texts(helped)[0].startswith("Riverside Plan. Questions? 555-0100.")
    _, [spanish] = run(somali, "help", program=replace(PROGRAM, default_language="es"))
    assert texts(spanish)[0].startswith("Riverside Plan. ¿Preguntas? 555-0100.")


def test_each_configured_language_gets_its_own_help() -> None:
    every = replace(
        PROGRAM, languages=("en", "es", "vi", "zh", "ar", "so", "ht", "pt", "ru", "ko", "fr", "tl")
    )
    answers = {
        language: texts(run(replace(ONBOARDED, language=language), "help", program=every)[1][0])[0]
        for language in every.languages
    }
    assert len(set(answers.values())) == len(every.languages)
    assert all("Riverside Plan" in answer and "555-0100" in answer for answer in answers.values())


def test_language_keyword_switches_and_re_asks() -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    state, (menu, chosen) = run(at_top, "IDIOMA", "2")
    assert [c.key for c in menu.replies[0].choices] == ["en", "es", "vi"]
    assert state.language == "es"
    assert texts(chosen)[1].startswith("¿Qué importa más?")


@pytest.mark.parametrize(
    "said", ["idioma espanol", "IDIOMA ESPAÑOL", "language: Spanish", "cambiar idioma a español"]
)
def test_the_language_keyword_with_a_name_switches_at_once(said: str) -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    state, [switched] = run(at_top, said)
    assert state.language == "es"
    assert switched.responses == ()
    assert texts(switched)[1].startswith("¿Qué importa más?")


def test_a_language_name_alone_is_an_answer_not_a_switch() -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    state, _ = run(at_top, "español")
    assert state.language == "en"


SCRIPTS = replace(
    PROGRAM,
    languages=("en", "es", "vi", "zh"),
    schools=(
        School(
            "lincoln-es",
            "Lincoln Elementary",
            names=(("zh", "林肯小学"), ("vi", "Trường Tiểu học Lincoln")),
            aliases=("林肯",),
        ),
        School("kennedy-hs", "Kennedy High", names=(("zh", "肯尼迪高中"),)),
    ),
)
AT_SCHOOL = replace(
    ONBOARDED, consent=True, role="parent", onboarding=OnboardingStep.SCHOOL, language="zh"
)


@pytest.mark.parametrize(
    ("language", "said", "school"),
    [
        ("zh", "林肯", "lincoln-es"),
        ("zh", "肯尼迪高中", "kennedy-hs"),
        ("vi", "truong lincoln", "lincoln-es"),
        ("vi", "Trường Tiểu học Lincoln", "lincoln-es"),
        ("es", "la escuela Kennedy", "kennedy-hs"),
        ("en", "lincoln school", "lincoln-es"),
    ],
)
def test_a_school_is_known_by_its_name_in_any_script(language: str, said: str, school: str) -> None:
    state, _ = run(replace(AT_SCHOOL, language=language), said, program=SCRIPTS)
    assert state.schools == (school,)


def test_the_school_menu_shows_each_school_in_the_family_language() -> None:
    at_role = replace(AT_SCHOOL, role=None, onboarding=OnboardingStep.ROLE)
    _, [asked] = run(at_role, "1", program=SCRIPTS)
    assert [c.label for c in asked.replies[-1].choices] == ["林肯小学", "肯尼迪高中"]


def test_an_unsolicited_message_is_lets_talk() -> None:
    state, [result] = run(ONBOARDED, "The pickup line at Lincoln is dangerous")
    assert [(e.kind, e.text) for e in result.events] == [
        (EventKind.LETS_TALK, "The pickup line at Lincoln is dangerous")
    ]
    assert texts(result)[0].startswith("Thank you for your message.")


URGENT_DESK = replace(
    PROGRAM,
    urgent_contact={"en": "the safety line, 555-0199", "es": "la línea de seguridad, 555-0199"},
    emergency_number="911",
)


def test_an_urgent_message_tells_the_family_whom_to_reach_now_in_their_language() -> None:
    in_spanish = replace(ONBOARDED, language="es")
    body = "Mi hijo sufre acoso en el recreo, por favor llámenme"
    _, [result] = run(in_spanish, body, program=URGENT_DESK)
    [event] = result.events
    assert event.kind is EventKind.LETS_TALK and event.assessment is not None
    assert event.assessment.is_urgent
    [ack] = texts(result)
    assert "la línea de seguridad, 555-0199" in ack and "911" in ack
    assert ack.startswith("Vimos que su mensaje es urgente")


def test_an_urgent_message_falls_back_to_the_district_contact() -> None:
    in_vietnamese = replace(ONBOARDED, language="vi")
    _, [result] = run(in_vietnamese, "con tôi bị bắt nạt ở trường, gọi cho tôi ngay")
    [ack] = texts(result)
    assert "555-0100" in ack and "911" in ack and "khẩn cấp" in ack


def test_an_urgent_first_message_is_answered_before_onboarding() -> None:
    state, [result] = run(
        ParticipantState(), "my son is being bullied at school and I am scared", program=URGENT_DESK
    )
    assert [e.kind for e in result.events] == [EventKind.LETS_TALK]
    assert "the safety line, 555-0199" in texts(result)[0]
    assert state.onboarding is OnboardingStep.LANGUAGE


def test_a_message_that_might_be_about_safety_gets_the_usual_thanks() -> None:
    _, [result] = run(ONBOARDED, "What is the school doing about bullying this year?")
    [event] = result.events
    assert event.assessment is not None and not event.assessment.is_urgent
    assert texts(result)[0].startswith("Thank you for your message.")


@pytest.mark.parametrize("body", ["gracias", "ok", "👍", "Thanks!", "cảm ơn cô", "ok 👍🏽"])
def test_a_thank_you_closes_the_loop_without_an_answer(body: str) -> None:
    _, [result] = run(ONBOARDED, body)
    assert [(e.kind, e.text, e.is_closing) for e in result.events] == [
        (EventKind.LETS_TALK, body, True)
    ]
    assert texts(result) == []


def test_a_thank_you_while_a_question_waits_is_no_failed_try() -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    state, [result] = run(at_top, "gracias")
    assert [e.is_closing for e in result.events] == [True]
    assert texts(result) == []
    assert state.conversation is not None and state.conversation.attempts == 0


def test_thanks_with_more_to_say_is_a_message() -> None:
    _, [result] = run(ONBOARDED, "thanks, but the bus is still late")
    assert [e.is_closing for e in result.events] == [False]
    assert texts(result)[0].startswith("Thank you for your message.")


def test_a_comment_during_a_choice_question_is_kept_without_a_strike() -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    state, [result] = run(at_top, "who do I call about the bus")
    assert [e.kind for e in result.events] == [EventKind.LETS_TALK]
    assert state.conversation is not None and state.conversation.attempts == 0


def test_a_late_button_tap_lands_on_its_own_question() -> None:
    at_safe = replace(
        ONBOARDED,
        conversation=ConversationState("priorities", 1, "safe", answers={"top": "safety"}),
    )
    result = step(
        at_safe, sms("", button="q:priorities:top:buses"), PROGRAM, Activities(SURVEY, (SURVEY,))
    )
    assert [(r.question, r.value) for r in result.responses] == [("top", "buses")]
    assert result.state.conversation is not None and result.state.conversation.question == "safe"


def test_a_button_for_a_closed_activity_gets_a_polite_answer() -> None:
    result = step(ONBOARDED, sms("", button="q:old-survey:q1:yes"), PROGRAM, Activities())
    assert texts(result) == ["That question is closed now. Thank you!"]


def test_an_invitation_waits_for_the_current_activity() -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("belonging", 1, "q"))
    queued = invite(at_top, SURVEY, PROGRAM, LETS_TALK)
    assert queued.state.pending == ("priorities",) and queued.replies == ()
    finished = step(
        queued.state, sms("More clubs after school"), PROGRAM, Activities(LETS_TALK, (SURVEY,))
    )
    assert finished.state.conversation is not None
    assert finished.state.conversation.activity == "priorities"


def test_an_empty_message_with_a_photo_asks_for_words() -> None:
    inbound = InboundMessage(Channel.SMS, "+15550100001", "", media_count=1)
    result = step(ONBOARDED, inbound, PROGRAM, Activities())
    assert texts(result) == ["Thank you! We can only read text messages. Please reply in words."]


def test_a_voice_note_gets_an_answer_and_reaches_staff_as_lets_talk() -> None:
    note = Attachment("audio/ogg", "https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1")
    inbound = InboundMessage(
        Channel.WHATSAPP, "+15550100001", "", media_count=1, attachments=(note,)
    )
    result = step(ONBOARDED, inbound, PROGRAM, Activities())
    assert texts(result) == ["Thank you! We can only read text messages. Please reply in words."]
    assert [(e.kind, e.text) for e in result.events] == [(EventKind.LETS_TALK, f"🎤 {note.url}")]


def test_a_photo_alone_is_not_a_lets_talk_message() -> None:
    photo = Attachment("image/jpeg", "https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME2")
    inbound = InboundMessage(
        Channel.WHATSAPP, "+15550100001", "", media_count=1, attachments=(photo,)
    )
    assert step(ONBOARDED, inbound, PROGRAM, Activities()).events == ()


def tap(state: ParticipantState, payload: str) -> Step:
    current = SURVEY if state.conversation is not None else None
    return step(state, sms("", button=payload), PROGRAM, Activities(current, (SURVEY,)))


def test_start_as_a_first_message_is_a_hello() -> None:
    inbound = InboundMessage(Channel.TELEGRAM, "555000111", "/start", locale_hint="es")
    result = step(ParticipantState(), inbound, PROGRAM, Activities(None, (SURVEY,)))
    assert result.state.onboarding is OnboardingStep.LANGUAGE
    assert texts(result)[0].startswith("¡Hola! Le escribe Riverside Plan.")


def test_onboarding_by_buttons_alone_reaches_the_survey() -> None:
    state = step(ParticipantState(), sms("hi"), PROGRAM, Activities(None, (SURVEY,))).state
    for payload in ("language:es", "onboard:consent:yes", "onboard:role:staff"):
        state = tap(state, payload).state
    last = tap(state, "onboard:school:kennedy-hs")
    assert (last.state.language, last.state.consent, last.state.role, last.state.schools) == (
        "es",
        True,
        "staff",
        ("kennedy-hs",),
    )
    assert texts(last)[-1].startswith("¿Qué importa más?")


def test_a_language_button_outside_onboarding_switches_and_re_asks() -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    result = tap(at_top, "language:es")
    assert result.state.language == "es"
    assert texts(result)[0] == "De acuerdo, le escribiremos en español."
    assert texts(result)[1].startswith("¿Qué importa más?")


@pytest.mark.parametrize(
    "payload",
    ["onboard:consent:yes", "onboard:role:parent", "onboard:school:nowhere", "language:xx", "x:y"],
    ids=[
        "consent-after-onboarding",
        "role-after-onboarding",
        "unknown-school",
        "bad-language",
        "junk",
    ],
)
def test_a_stale_or_unknown_menu_button_changes_nothing(payload: str) -> None:
    at_top = replace(ONBOARDED, conversation=ConversationState("priorities", 1, "top"))
    result = tap(at_top, payload)
    assert result.state == at_top and result.responses == ()
    assert texts(result) == ["That question is closed now. Thank you!"]


def test_help_answers_a_contact_who_opted_out_and_records_it() -> None:
    stopped = replace(ONBOARDED, opted_out=True)
    inbound = InboundMessage(Channel.SMS, "+15550100001", "HELP")
    # Twilio answers HELP too, but without the program or a contact: we always answer.
    result = step(stopped, inbound, PROGRAM, Activities())
    assert result.state.opted_out
    assert texts(result)[0].startswith("Riverside Plan. Questions? 555-0100. Text STOP to stop")
    assert [e.kind for e in result.events] == [EventKind.HELP]


def test_help_carries_the_contact_line_in_the_familys_language() -> None:
    program = replace(
        PROGRAM,
        contact="Call 555-0100",
        contact_translations={"es": "Llame al 555-0100", "vi": "Gọi 555-0100"},
    )
    answers = {
        language: texts(run(replace(ONBOARDED, language=language), "help", program=program)[1][0])
        for language in ("en", "es", "vi")
    }
    assert "Questions? Call 555-0100." in answers["en"][0]
    assert "¿Preguntas? Llame al 555-0100." in answers["es"][0]
    assert "Gọi 555-0100" in answers["vi"][0] and "Call" not in answers["vi"][0]


# -- which activity, after signing up and in the middle of one -------------------------

NEWER_SURVEY = replace(SURVEY, key="buses-2027", title=L("Buses"), start_keywords=("BUS",))


def _sign_up(program: Program, *open_activities: Activity) -> Step:
    state = ParticipantState(language="en", consent=True, onboarding_started=True)
    state = replace(state, onboarding=OnboardingStep.SCHOOL)
    return step(state, sms("lincoln"), program, Activities(None, open_activities))


def test_after_signing_up_a_family_starts_the_newest_open_survey_by_default() -> None:
    result = _sign_up(PROGRAM, NEWER_SURVEY, SURVEY)
    assert result.state.conversation is not None
    assert result.state.conversation.activity == "buses-2027"


def test_the_district_chooses_the_activity_a_family_starts_after_signing_up() -> None:
    chosen = replace(PROGRAM, first_activity="priorities")
    result = _sign_up(chosen, NEWER_SURVEY, SURVEY)
    assert result.state.conversation is not None
    assert result.state.conversation.activity == "priorities"
    nothing = _sign_up(replace(PROGRAM, first_activity="none"), NEWER_SURVEY, SURVEY)
    assert nothing.state.conversation is None
    closed = _sign_up(replace(PROGRAM, first_activity="closed-one"), NEWER_SURVEY, SURVEY)
    assert closed.state.conversation is not None
    assert closed.state.conversation.activity == "buses-2027"


def test_another_activitys_keyword_mid_survey_queues_it_next_and_says_so() -> None:
    state, [started] = run(ONBOARDED, "PLAN")
    assert state.conversation is not None and state.conversation.question == "top"

    result = step(state, sms("bus"), PROGRAM, Activities(SURVEY, (SURVEY, NEWER_SURVEY)))

    assert result.state.pending == ("buses-2027",)
    assert result.state.conversation == state.conversation
    assert texts(result)[0] == 'OK! "Buses" comes next, right after this one.'
    assert texts(result)[1].startswith("What matters most?")
    assert result.responses == ()


def test_the_keyword_of_the_activity_they_are_in_asks_where_they_were() -> None:
    state, [started] = run(ONBOARDED, "PLAN")
    assert state.conversation is not None and state.conversation.question == "top"

    result = step(state, sms("plan"), PROGRAM, Activities(SURVEY, (SURVEY, NEWER_SURVEY)))

    assert result.state == state
    [again] = texts(result)
    assert again.startswith("What matters most?")
    assert result.responses == ()
