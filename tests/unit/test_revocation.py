"""Opting out in any reasonable words, in every language the bot speaks.

A request to stop counts anywhere in a message ("I want to stop getting these",
"no me manden más", "đừng nhắn nữa"); a sentence that merely holds the word
("the stop sign by the school is broken") stays a message; and a request right
after a negation ("please don't stop texting me") is not one.
"""

from __future__ import annotations

import pytest

from bot.core.consent import ConsentSource
from bot.core.messages import Channel, InboundMessage
from bot.core.revocation import find_stop_request
from bot.core.state import (
    ConversationState,
    EventKind,
    ParticipantState,
    Program,
    ResponseStatus,
)
from bot.core.step import Activities, step
from bot.core.vocabulary import spoken_languages, vocabulary
from tests.unit.test_step import SURVEY

LANGUAGES = spoken_languages()

# (language, message): requests to stop, in the words families use.
REQUESTS = [
    ("en", "I want to stop getting these"),
    ("en", "please take me off this list"),
    ("en", "Who is this? Please remove my number, thanks"),
    ("en", "we moved away, stop texting me"),
    ("en", "I do not want these texts anymore"),
    ("es", "no me manden más"),
    ("es", "Por favor ya no quiero mensajes, gracias"),
    ("es", "Mi hijo ya se graduó, quítenme de la lista por favor"),
    ("es", "dejen de escribirme"),
    ("vi", "đừng nhắn nữa"),
    ("vi", "dung nhan nua"),  # typed without accents
    ("vi", "Con tôi đã chuyển trường, làm ơn ngừng nhắn tin"),
    ("zh", "请不要再发短信给我了"),
    ("zh", "我已经搬走了，把我从名单上删除"),
    ("ar", "من فضلكم لا ترسلوا لي أي شيء"),
    ("ar", "انتقلنا، احذفوا رقمي من فضلكم"),
    ("so", "Fadlan ha ii soo dirin wax fariin ah"),
    ("so", "Carruurtaydu way baxeen, iga saar liiska"),
    ("ht", "Tanpri pa voye m mesaj ankò"),
    ("ht", "Pitit mwen an fin lekòl, retire m nan lis la"),
    ("pt", "Por favor, não me mande mais mensagens"),
    ("pt", "Mudamos de cidade, me tira da lista"),
    ("ru", "Пожалуйста, больше не пишите мне"),
    ("ru", "Мы переехали, удалите мой номер"),
    ("ko", "이제 문자 그만 보내주세요"),
    ("ko", "아이가 졸업했어요 수신 거부합니다"),
    ("fr", "Merci de ne plus m'envoyer… ne m'envoyez plus de messages svp"),
    ("fr", "Nous avons déménagé, retirez-moi de la liste"),
    ("tl", "Pakiusap, huwag na kayong mag-text"),
    ("tl", "Lumipat na kami, tanggalin ang number ko"),
]

# (language, message): sentences that hold a stop word and ask for nothing of the sort.
MESSAGES = [
    ("en", "the stop sign by the school is broken"),
    ("en", "we need to stop bullying at recess"),
    ("en", "please don't stop texting me, this is helpful"),
    ("en", "I never said stop texting me"),
    ("es", "el alto frente a la escuela está roto"),
    ("es", "para mi hijo la tarea es muy difícil"),
    ("es", "no quiero que dejen de escribirme"),
    ("vi", "xe buýt dừng quá xa trường"),
    ("vi", "đừng ngừng nhắn tin, thông tin rất hữu ích"),
    ("zh", "公交车停在离学校很远的地方"),
    ("zh", "不要停止发送，很有用"),
    ("ar", "موقف الحافلة بعيد جدا عن المدرسة"),
    ("so", "Fadlan jooji dhibaatada baska ee dugsiga"),
    ("ht", "Bis la kanpe twò lwen lekòl la"),
    ("ht", "Pa sispann voye mesaj yo, yo itil"),
    ("pt", "O ônibus para muito longe da escola"),
    ("pt", "Não quero que parem de mandar, é útil"),
    ("ru", "Знак стоп у школы сломан"),
    ("ru", "Не надо удалите мой номер"),  # "no need to delete my number", typed in haste
    ("ko", "학교 앞 정지 신호가 고장났어요"),
    ("fr", "L'arrêt de bus est trop loin de l'école"),
    ("fr", "N'arrêtez pas de m'écrire, c'est utile"),
    ("tl", "Malayo ang hintuan ng bus sa paaralan"),
]


def test_every_language_has_requests_to_stop_and_a_case_of_each_kind() -> None:
    assert set(vocabulary().stop_requests) == set(LANGUAGES)
    assert {language for language, _ in REQUESTS} == set(LANGUAGES)
    assert {language for language, _ in MESSAGES} == set(LANGUAGES)


@pytest.mark.parametrize(("language", "message"), REQUESTS, ids=[m for _, m in REQUESTS])
def test_a_request_to_stop_is_read_anywhere_in_a_message(language: str, message: str) -> None:
    found = find_stop_request(message, [language])
    assert found is not None
    assert found.language == language


@pytest.mark.parametrize(("language", "message"), MESSAGES, ids=[m for _, m in MESSAGES])
def test_a_sentence_that_holds_the_word_stays_a_message(language: str, message: str) -> None:
    assert find_stop_request(message, [language]) is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_listed_request_counts_inside_a_longer_message(language: str) -> None:
    for phrase in vocabulary().stop_requests[language]:
        found = find_stop_request(f"hello. {phrase}. 2026", [language])
        assert found is not None, phrase


def test_a_language_the_district_does_not_offer_is_not_read() -> None:
    assert find_stop_request("no me manden más", ["en", "vi"]) is None
    assert find_stop_request("please take me off this list", ["es"]) is not None  # English always


PROGRAM = Program(name="Riverside Plan", contact="555-0100", languages=("en", "es", "vi"))


def test_a_request_in_the_middle_of_a_survey_opts_out_before_any_answer() -> None:
    state = ParticipantState(
        language="es",
        consent=True,
        onboarding_started=True,
        conversation=ConversationState("priorities", 1, "why"),
    )
    inbound = InboundMessage(
        Channel.SMS, "+15550100001", "Ya no quiero mensajes, mis hijos se graduaron"
    )
    result = step(state, inbound, PROGRAM, Activities(SURVEY, (SURVEY,)))
    assert result.state.opted_out
    assert result.responses == ()
    (event,) = result.events
    assert (event.kind, event.source, event.text) == (
        EventKind.OPTED_OUT,
        ConsentSource.REQUEST,
        "Ya no quiero mensajes, mis hijos se graduaron",
    )
    assert result.replies[0].text.startswith("Ya no le mandaremos mensajes de Riverside Plan.")


def test_a_free_text_answer_that_only_holds_the_word_is_recorded() -> None:
    state = ParticipantState(
        language="en",
        consent=True,
        onboarding_started=True,
        conversation=ConversationState("priorities", 1, "why"),
    )
    inbound = InboundMessage(Channel.SMS, "+15550100001", "A stop sign by the school")
    result = step(state, inbound, PROGRAM, Activities(SURVEY, (SURVEY,)))
    assert not result.state.opted_out
    assert [r.status for r in result.responses] == [ResponseStatus.ANSWERED]


def test_a_request_from_a_new_number_sets_their_language() -> None:
    inbound = InboundMessage(Channel.SMS, "+15550100001", "đừng nhắn tin cho tôi nữa")
    result = step(ParticipantState(), inbound, PROGRAM, Activities())
    assert result.state.opted_out and result.state.language == "vi"
