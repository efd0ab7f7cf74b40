"""Urgent Let's Talk messages, per language: what reaches the urgent channel at once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.inbox_words import (
    Concern,
    InboxWordsError,
    inbox_languages,
    inbox_words,
    parse_inbox_words,
)
from bot.core.phrases import PhraseMatcher
from bot.core.urgency import Urgency, assess
from bot.core.vocabulary import spoken_languages

URGENT, POSSIBLE, NONE = Urgency.URGENT, Urgency.POSSIBLE, Urgency.NONE
B, A, S, V, M, C = (
    Concern.BULLYING,
    Concern.ABUSE,
    Concern.SELF_HARM,
    Concern.VIOLENCE,
    Concern.MEDICAL,
    Concern.CALL_NOW,
)

# (language, message, urgency, a concern it must name)
CASES = [
    ("en", "my boy is getting bullied at lunch every day", URGENT, B),
    ("en", "the coach touched her in a way that is not ok, she is scared", URGENT, A),
    ("en", "my daughter says she wants to kill herself", URGENT, S),
    ("en", "a kid said he would bring a gun on monday", URGENT, V),
    ("en", "my son had a seizure in the cafeteria", URGENT, M),
    ("en", "please call me right now", URGENT, C),
    ("en", "bullying is a problem in middle schools", POSSIBLE, B),
    ("en", "We need an anti-bullying club", NONE, None),
    ("en", "please call me when you have a chance", NONE, None),
    ("en", "My son was bullied last year but it stopped", POSSIBLE, B),
    ("es", "mi hijo sufre acoso en el recreo… por favor llámenme", URGENT, B),
    ("es", "mi hijo sufre acoso en el recreo por favor llamenme", URGENT, B),
    ("es", "a mi nina la tocaron de forma inapropiada", URGENT, A),
    ("es", "mi hija dice que se quiere matar", URGENT, S),
    ("es", "un muchacho trajo un cuchillo a la escuela", URGENT, V),
    ("es", "mi hijo no puede respirar", URGENT, M),
    ("es", "llámenme ahora por favor es urgente", URGENT, C),
    ("es", "hay mucho acoso en esa escuela", POSSIBLE, B),
    ("es", "gracias por el programa contra el acoso", NONE, None),
    ("vi", "con tôi bị bắt nạt ở trường", URGENT, B),
    ("vi", "con toi bi bat nat o truong", URGENT, B),
    ("vi", "con gái tôi nói muốn tự tử", URGENT, S),
    ("vi", "có người mang súng vào trường", URGENT, V),
    ("vi", "con trai tôi bị co giật", URGENT, M),
    ("vi", "xin gọi cho tôi ngay", URGENT, C),
    ("vi", "cho các cháu đi dã ngoại nhiều hơn", NONE, None),
    ("vi", "Cần có chương trình chống bắt nạt", NONE, None),
    ("zh", "我女儿在学校被欺负", URGENT, B),
    ("zh", "我兒子被霸凌了", URGENT, B),
    ("zh", "我儿子说他想自杀", URGENT, S),
    ("zh", "有学生带刀来学校", URGENT, V),
    ("zh", "我孩子晕倒了", URGENT, M),
    ("zh", "请马上给我打电话", URGENT, C),
    ("zh", "学校应该有反霸凌项目", NONE, None),
    ("ar", "ابني يتعرض للتنمر في المدرسة", URGENT, B),
    ("ar", "وابنتي تتعرض للتنمر كل يوم", URGENT, B),
    ("ar", "ابنتي قالت إنها تريد أن تقتل نفسها", URGENT, S),
    ("ar", "طالب أحضر مسدسا إلى المدرسة", URGENT, V),
    ("ar", "ابني لا يستطيع التنفس", URGENT, M),
    ("ar", "أرجو الاتصال بي الآن", URGENT, C),
    ("ar", "نحتاج برنامجا لمكافحة التنمر", NONE, None),
    ("fr", "mon fils est harcelé à l'école", URGENT, B),
    ("fr", "ma fille veut se suicider", URGENT, S),
    ("fr", "il faut un programme contre le harcèlement", NONE, None),
    ("pt", "meu filho sofre bullying na escola", URGENT, B),
    ("pt", "minha filha quer se matar", URGENT, S),
    ("pt", "precisamos de um programa contra o bullying", NONE, None),
    ("ru", "моего сына травят в школе", URGENT, B),
    ("ru", "дочь хочет покончить с собой", URGENT, S),
    ("ru", "нужна программа против травли", NONE, None),
    ("ko", "우리 아들이 학교에서 괴롭힘을 당하고 있어요", URGENT, B),
    ("ko", "딸이 자살하고 싶대요", URGENT, S),
    ("ko", "학교폭력 예방 프로그램이 필요해요", NONE, None),
    ("ht", "pitit mwen ap sibi entimidasyon lekòl la", URGENT, B),
    ("ht", "pitit fi mwen di li vle touye tèt li", URGENT, S),
    ("ht", "nou bezwen yon pwogram kont entimidasyon", NONE, None),
    ("so", "wiilkayga waxaa lagu bahdilaa dugsiga", URGENT, B),
    ("so", "gabadhayda waxay rabtaa inay is disho", URGENT, S),
    ("so", "waxaan u baahanahay barnaamij ka dhan ah bahdilaadda", NONE, None),
    ("tl", "binu-bully ang anak ko sa paaralan", URGENT, B),
    ("tl", "gusto nang magpakamatay ng anak ko", URGENT, S),
    ("tl", "kailangan ng programa laban sa bullying", NONE, None),
]


@pytest.mark.parametrize(
    ("language", "message", "urgency", "concern"),
    CASES,
    ids=[f"{case[0]}-{case[1][:32]}" for case in CASES],
)
def test_a_message_reads_as_urgent_in_its_own_language(
    language: str, message: str, urgency: Urgency, concern: Concern | None
) -> None:
    found = assess(message, [language])
    assert found.urgency is urgency, found
    if concern is not None:
        assert concern in found.concerns
        assert found.phrases


def test_english_phrases_count_in_a_district_that_does_not_list_english() -> None:
    assert assess("please call me right now", ["es"]).is_urgent


def test_a_language_the_district_does_not_use_is_not_read() -> None:
    assert assess("моего сына травят в школе", ["en", "es"]).urgency is NONE


def test_a_message_without_words_is_not_urgent() -> None:
    assert assess("👍", ["en"]).urgency is NONE
    assert assess("", ["en"]).urgency is NONE


def test_every_language_the_bot_speaks_has_urgent_phrases_for_every_concern() -> None:
    assert set(spoken_languages()) <= set(inbox_languages())
    for code in spoken_languages():
        words = inbox_words(code)
        assert words is not None
        missing = [c for c in Concern if c not in words.urgent]
        assert not missing, f"inbox/{code}.toml: urgent: add {', '.join(missing)}"
        assert words.person and words.pressing and words.closing, code


@given(st.text(max_size=300))
def test_no_message_makes_the_assessment_raise(message: str) -> None:
    assess(message, spoken_languages())


# -- the phrase matcher --------------------------------------------------------


def test_a_wildcard_finds_every_ending() -> None:
    matcher = PhraseMatcher([("bulli*", 1)])
    assert [h.value for h in matcher.find("they bullied him, the bullies")] == [1, 1]
    assert matcher.find("a bulletin") == []


def test_a_reply_may_leave_accents_out_but_not_add_them() -> None:
    matcher = PhraseMatcher([("đá", "kick"), ("niño", "child")])
    assert [h.value for h in matcher.find("no da con toi")] == ["kick"]
    assert matcher.find("di dã ngoại") == []
    assert [h.value for h in matcher.find("mi NINO")] == ["child"]


def test_an_arabic_prefix_is_read_off_the_word() -> None:
    matcher = PhraseMatcher([("ابني", "son")], prefixes=["و", "ل"])
    assert [h.value for h in matcher.find("وابني ولابني")] == ["son", "son"]


def test_arabic_spelling_variants_are_read_as_one() -> None:
    matcher = PhraseMatcher([("مشاجرة", "fight")])
    assert matcher.find("مشاجره") and matcher.find("مُشاجَرة")


def test_chinese_phrases_are_found_inside_a_sentence() -> None:
    matcher = PhraseMatcher([("被欺负", "bullied")])
    hits = matcher.find("我儿子每天被欺负了")
    assert [(h.start, h.end) for h in hits] == [(5, 8)]


# -- the data files ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("urgent = 3", "xx.toml: urgent: must be a table"),
        ("[urgent]\nfights = ['x']", "xx.toml: urgent.fights: unknown field"),
        ("[urgent]\nabuse = 'x'", "xx.toml: urgent.abuse: must be a list of phrases"),
        ("[concern]\nabuse = ['a*']", "xx.toml: concern.abuse: 'a*': give at least 3 letters"),
        ("closing = ['!!']", "xx.toml: closing: '!!' has no word in it"),
        ("colour = []", "xx.toml: colour: unknown field"),
        ("[context\n", "xx.toml: not valid TOML"),
    ],
)
def test_a_broken_inbox_file_names_the_field(source: str, problem: str) -> None:
    with pytest.raises(InboxWordsError, match="^" + problem.replace("*", r"\*")):
        parse_inbox_words("xx", source, "xx.toml")


def test_a_korean_wildcard_may_follow_one_syllable() -> None:
    words = parse_inbox_words("xx", "[context]\nperson = ['딸*']", "xx.toml")
    assert words.person == ("딸*",)
