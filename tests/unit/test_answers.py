"""Answers as families type them, in English, Spanish, Vietnamese and Chinese."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.activity import Localized, Option, Question, QuestionType
from bot.core.answers import (
    AnswerValue,
    Reading,
    ReadingKind,
    parse_answer,
    parse_language_choice,
    parse_language_request,
    parse_option,
    parse_school,
    parse_yes_no,
    read_answer,
    says_dont_know,
)
from bot.core.state import School
from bot.core.vocabulary import vocabulary

OPTIONS = (
    Option(
        "safety",
        Localized(
            {
                "en": "School safety",
                "es": "Seguridad escolar",
                "vi": "An toàn trường học",
                "zh": "学校安全",
            }
        ),
    ),
    Option("reading", Localized({"en": "Reading", "es": "Lectura", "vi": "Đọc", "zh": "阅读"})),
    Option("buses", Localized({"en": "Buses", "es": "Autobuses", "vi": "Xe buýt", "zh": "校车"})),
    Option(
        "lunch",
        Localized({"en": "School lunch", "es": "Almuerzo", "vi": "Bữa trưa", "zh": "午餐"}),
    ),
    Option(
        "arts",
        Localized(
            {"en": "Arts and music", "es": "Arte y música", "vi": "Nghệ thuật", "zh": "艺术"}
        ),
    ),
)
PROMPT = Localized({"en": "What matters most?"})
SINGLE = Question("top", QuestionType.SINGLE_CHOICE, PROMPT, OPTIONS)
MULTIPLE = Question("picks", QuestionType.MULTIPLE_CHOICE, PROMPT, OPTIONS, max_choices=3)
RANKING = Question("rank", QuestionType.RANKING, PROMPT, OPTIONS, max_choices=3)
SCALE = Question(
    "safe",
    QuestionType.SCALE,
    PROMPT,
    scale_min_label=Localized({"en": "Not at all", "es": "Nada"}),
    scale_max_label=Localized({"en": "Very safe", "es": "Muy seguro"}),
)
WIDE_SCALE = Question("nps", QuestionType.SCALE, PROMPT, scale_min=0, scale_max=10)
YES_NO = Question("news", QuestionType.YES_NO, PROMPT)
FREE_TEXT = Question("why", QuestionType.FREE_TEXT, PROMPT)
INFO = Question("note", QuestionType.INFO, PROMPT)
EVERY_QUESTION = (SINGLE, MULTIPLE, RANKING, SCALE, WIDE_SCALE, YES_NO, FREE_TEXT, INFO)
LANGUAGES = ("en", "es", "vi", "zh")

Case = tuple[Question, str, str, AnswerValue | None]

ANSWERS: list[Case] = [
    # single choice: numbers, letters, number words, labels
    (SINGLE, "en", "2", "reading"),
    (SINGLE, "en", "#2", "reading"),
    (SINGLE, "en", "2)", "reading"),
    (SINGLE, "en", "2.", "reading"),
    (SINGLE, "en", "２", "reading"),
    (SINGLE, "en", " 2 please", "reading"),
    (SINGLE, "en", "option 2", "reading"),
    (SINGLE, "en", "2nd", "reading"),
    (SINGLE, "en", "b", "reading"),
    (SINGLE, "en", "B)", "reading"),
    (SINGLE, "en", "b.", "reading"),
    (SINGLE, "en", "(b)", "reading"),
    (SINGLE, "en", "two", "reading"),
    (SINGLE, "en", "Second", "reading"),
    (SINGLE, "en", "2️⃣", "reading"),
    (SINGLE, "en", "Reading", "reading"),
    (SINGLE, "en", "school safety", "safety"),
    (SINGLE, "en", "safety", "safety"),
    (SINGLE, "en", "saf", "safety"),
    (SINGLE, "en", "Arts and music!", "arts"),
    (SINGLE, "en", "yes 3", "buses"),
    (SINGLE, "es", "dos", "reading"),
    (SINGLE, "es", "Sí, 2", "reading"),
    (SINGLE, "es", "la 2", "reading"),
    (SINGLE, "es", "segunda", "reading"),
    (SINGLE, "es", "Lectura", "reading"),
    (SINGLE, "es", "seguridad", "safety"),
    (SINGLE, "es", "musica", "arts"),
    (SINGLE, "es", "2 gracias", "reading"),
    (SINGLE, "vi", "hai", "reading"),
    (SINGLE, "vi", "số 2", "reading"),
    (SINGLE, "vi", "thứ hai", "reading"),
    (SINGLE, "vi", "Đọc", "reading"),
    (SINGLE, "vi", "doc", "reading"),
    (SINGLE, "vi", "xe buyt", "buses"),
    (SINGLE, "vi", "Có, 2 ạ", "reading"),
    (SINGLE, "zh", "二", "reading"),
    (SINGLE, "zh", "第二", "reading"),
    (SINGLE, "zh", "2号", "reading"),
    (SINGLE, "zh", "阅读", "reading"),
    (SINGLE, "zh", "安全", "safety"),
    (SINGLE, "en", "Lectura", "reading"),
    # single choice: what is not one option
    (SINGLE, "en", "school", None),
    (SINGLE, "en", "1 3", None),
    (SINGLE, "en", "7", None),
    (SINGLE, "en", "0", None),
    (SINGLE, "en", "f", None),
    (SINGLE, "en", "zz", None),
    (SINGLE, "en", "yes", None),
    (SINGLE, "en", "sa", None),
    (SINGLE, "en", "2 or 3", None),
    (SINGLE, "en", "I think buses are too slow", None),
    (SINGLE, "en", "", None),
    (SINGLE, "en", "?!", None),
    (SINGLE, "zh", "学", None),
    # multiple choice: options in the order they are defined
    (MULTIPLE, "en", "1,3", ("safety", "buses")),
    (MULTIPLE, "en", "1 3", ("safety", "buses")),
    (MULTIPLE, "en", "3, 1", ("safety", "buses")),
    (MULTIPLE, "en", "1 and 3", ("safety", "buses")),
    (MULTIPLE, "en", "1,3,3", ("safety", "buses")),
    (MULTIPLE, "en", "a c", ("safety", "buses")),
    (MULTIPLE, "en", "a, c and e", ("safety", "buses", "arts")),
    (MULTIPLE, "en", "2", ("reading",)),
    (MULTIPLE, "en", "safety, buses", ("safety", "buses")),
    (MULTIPLE, "en", "arts and music, reading", ("reading", "arts")),
    (MULTIPLE, "en", "one and three", ("safety", "buses")),
    (MULTIPLE, "en", "１，３", ("safety", "buses")),
    (MULTIPLE, "es", "1 y 3", ("safety", "buses")),
    (MULTIPLE, "es", "1, 3 y 5", ("safety", "buses", "arts")),
    (MULTIPLE, "es", "uno y tres", ("safety", "buses")),
    (MULTIPLE, "es", "lectura y autobuses", ("reading", "buses")),
    (MULTIPLE, "vi", "1 và 3", ("safety", "buses")),
    (MULTIPLE, "vi", "một, ba", ("safety", "buses")),
    (MULTIPLE, "zh", "1和3", ("safety", "buses")),
    (MULTIPLE, "zh", "一、三", ("safety", "buses")),
    (MULTIPLE, "en", "1 2 3 4", None),
    (MULTIPLE, "en", "1 or 3", None),
    (MULTIPLE, "en", "1 and", None),
    (MULTIPLE, "en", "1 9", None),
    (MULTIPLE, "en", "and", None),
    # ranking: in the order given
    (RANKING, "en", "3,1,2", ("buses", "safety", "reading")),
    (RANKING, "en", "c a", ("buses", "safety")),
    (RANKING, "en", "3 1 3", ("buses", "safety")),
    (RANKING, "en", "buses, safety", ("buses", "safety")),
    (RANKING, "es", "3, 1 y 2", ("buses", "safety", "reading")),
    (RANKING, "zh", "三一二", ("buses", "safety", "reading")),
    (RANKING, "en", "1 2 3 4", None),
    (RANKING, "en", "", None),
    # scale
    (SCALE, "en", "4", 4),
    (SCALE, "en", "４", 4),
    (SCALE, "en", "four", 4),
    (SCALE, "en", "4/5", 4),
    (SCALE, "en", "4 / 5", 4),
    (SCALE, "en", "4 out of 5", 4),
    (SCALE, "en", "4 stars", 4),
    (SCALE, "en", "I'd say 4", 4),
    (SCALE, "en", "4!", 4),
    (SCALE, "en", "very safe", 5),
    (SCALE, "en", "Not at all", 1),
    (SCALE, "es", "cuatro", 4),
    (SCALE, "es", "4 de 5", 4),
    (SCALE, "es", "le doy un 4", 4),
    (SCALE, "es", "muy seguro", 5),
    (SCALE, "vi", "bốn", 4),
    (SCALE, "vi", "bon", 4),
    (SCALE, "vi", "4 sao", 4),
    (SCALE, "vi", "4 điểm", 4),
    (SCALE, "zh", "四", 4),
    (SCALE, "zh", "4分", 4),
    (SCALE, "en", "4️⃣", 4),
    (WIDE_SCALE, "en", "🔟", 10),
    (SCALE, "en", "45", None),
    (SCALE, "en", "4 or 5", None),
    (SCALE, "en", "4-5", None),
    (SCALE, "en", "4.5", None),
    (SCALE, "en", "6", None),
    (SCALE, "en", "0", None),
    (SCALE, "en", "4/10", None),
    (SCALE, "en", "4th", 4),
    (SCALE, "en", "great", None),
    (SCALE, "en", "my 3 kids say the buses are always late", None),
    (WIDE_SCALE, "en", "10", 10),
    (WIDE_SCALE, "en", "0", 0),
    (WIDE_SCALE, "en", "zero", 0),
    (WIDE_SCALE, "es", "diez", 10),
    (WIDE_SCALE, "vi", "mười", 10),
    (WIDE_SCALE, "zh", "十", 10),
    (WIDE_SCALE, "en", "11", None),
    # yes / no
    (YES_NO, "en", "yes", "yes"),
    (YES_NO, "en", "Y", "yes"),
    (YES_NO, "en", "Yeah!", "yes"),
    (YES_NO, "en", "ok", "yes"),
    (YES_NO, "en", "yes please", "yes"),
    (YES_NO, "en", "1", "yes"),
    (YES_NO, "en", "1)", "yes"),
    (YES_NO, "en", "👍", "yes"),
    (YES_NO, "en", "👍🏽", "yes"),
    (YES_NO, "en", "no", "no"),
    (YES_NO, "en", "Nope.", "no"),
    (YES_NO, "en", "no thanks", "no"),
    (YES_NO, "en", "2", "no"),
    (YES_NO, "en", "👎", "no"),
    (YES_NO, "es", "Sí", "yes"),
    (YES_NO, "es", "si", "yes"),
    (YES_NO, "es", "claro que sí", "yes"),
    (YES_NO, "es", "No, gracias", "no"),
    (YES_NO, "vi", "có", "yes"),
    (YES_NO, "vi", "co", "yes"),
    (YES_NO, "vi", "vâng ạ", "yes"),
    (YES_NO, "vi", "đúng rồi", "yes"),
    (YES_NO, "vi", "không", "no"),
    (YES_NO, "vi", "khong", "no"),
    (YES_NO, "vi", "ko", "no"),
    (YES_NO, "zh", "是", "yes"),
    (YES_NO, "zh", "是的", "yes"),
    (YES_NO, "zh", "对", "yes"),
    (YES_NO, "zh", "好的", "yes"),
    (YES_NO, "zh", "不", "no"),
    (YES_NO, "zh", "不是", "no"),
    (YES_NO, "zh", "不要", "no"),
    (YES_NO, "en", "sí", "yes"),
    (YES_NO, "en", "oui", "yes"),
    (YES_NO, "en", "да", "yes"),
    (YES_NO, "en", "네", "yes"),
    (YES_NO, "en", "نعم", "yes"),
    (YES_NO, "en", "haa", "yes"),
    (YES_NO, "en", "wi", "yes"),
    (YES_NO, "en", "não", "no"),
    (YES_NO, "vi", "dong y", "yes"),
    (YES_NO, "vi", "co a", "yes"),
    (YES_NO, "vi", "da vang", "yes"),
    (YES_NO, "vi", "khong a", "no"),
    (YES_NO, "vi", "khum", "no"),
    (YES_NO, "en", "yesss", "yes"),
    (YES_NO, "es", "siii", "yes"),
    (YES_NO, "en", "Nooo!", "no"),
    (YES_NO, "en", "yes no", None),
    (YES_NO, "en", "1 2", None),
    (YES_NO, "en", "3", None),
    (YES_NO, "en", "maybe", None),
    (YES_NO, "en", "I don't know", None),
    (YES_NO, "es", "no sé", None),
    (YES_NO, "zh", "是不是", None),
    (YES_NO, "en", "👍👎", None),
    (YES_NO, "en", "", None),
    # free text and info
    (FREE_TEXT, "en", "  More counselors please ", "More counselors please"),
    (FREE_TEXT, "zh", "更多辅导员", "更多辅导员"),
    (FREE_TEXT, "en", "2", "2"),
    (FREE_TEXT, "en", "", None),
    (FREE_TEXT, "en", "  ?! ", None),
    (FREE_TEXT, "en", "👍", None),
    (INFO, "en", "ok", None),
]


@pytest.mark.parametrize(
    ("question", "language", "said", "expected"),
    ANSWERS,
    ids=[f"{q.type}-{lang}-{said!r}" for q, lang, said, _ in ANSWERS],
)
def test_answer_is_read_as_typed(
    question: Question, language: str, said: str, expected: AnswerValue | None
) -> None:
    assert parse_answer(question, said, language) == expected


TRIPLE = Question(
    "join",
    QuestionType.SINGLE_CHOICE,
    PROMPT,
    (
        Option("yes", Localized({"en": "Yes", "es": "Sí", "vi": "Có", "zh": "是", "ar": "نعم"})),
        Option("no", Localized({"en": "No", "es": "No", "vi": "Không", "zh": "否", "ar": "لا"})),
        Option(
            "unsure",
            Localized(
                {"en": "Not sure", "es": "No estoy seguro", "vi": "Không chắc", "zh": "不确定"}
            ),
        ),
    ),
)
OPTIONAL_SCALE = Question("extra", QuestionType.SCALE, PROMPT, optional=True)
OPTIONAL_TEXT = Question("idea", QuestionType.FREE_TEXT, PROMPT, optional=True)


def answer(value: AnswerValue) -> Reading:
    return Reading(ReadingKind.ANSWER, value)


def which(*values: AnswerValue) -> Reading:
    return Reading(ReadingKind.WHICH, alternatives=values)


DONT_KNOW = Reading(ReadingKind.DONT_KNOW)
UNCLEAR = Reading(ReadingKind.UNCLEAR)

READINGS: list[tuple[Question, str, str, Reading]] = [
    # ordinals and positions
    (SCALE, "en", "the second one", answer(2)),
    (SCALE, "en", "2nd", answer(2)),
    (SCALE, "es", "la segunda", answer(2)),
    (SCALE, "vi", "cái thứ hai", answer(2)),
    (SCALE, "zh", "第二个", answer(2)),
    (SCALE, "ar", "الثاني", answer(2)),
    (WIDE_SCALE, "en", "the second one", which(1, 2)),
    (SINGLE, "en", "the second one", answer("reading")),
    (SINGLE, "en", "the 2nd one", answer("reading")),
    (SINGLE, "vi", "cai thu hai", answer("reading")),
    (SINGLE, "zh", "第三个", answer("buses")),
    (SCALE, "en", "that one", UNCLEAR),
    # numbers inside sentences
    (SCALE, "en", "I have 2 kids, so I would say 4", answer(4)),
    (SCALE, "en", "4, because the buses are always late", answer(4)),
    (SCALE, "en", "I think 4 is fair", answer(4)),
    (SCALE, "es", "tengo 2 hijos y le doy un 4", answer(4)),
    (SCALE, "vi", "tôi có 2 đứa con, cho 4 điểm", answer(4)),
    (SCALE, "zh", "我有两个孩子，给4分", answer(4)),
    (SCALE, "en", "my 3 kids say the buses are always late", UNCLEAR),
    (SCALE, "en", "the school needs 4 more teachers", UNCLEAR),
    (SCALE, "en", "we waited 3 days and nobody called us back about it", UNCLEAR),
    (SINGLE, "en", "I'd say 3", answer("buses")),
    (SINGLE, "en", "I have 2 kids so 3", answer("buses")),
    # ranges and alternatives: asked, never guessed
    (SCALE, "en", "4 or 5", which(4, 5)),
    (SCALE, "en", "4-5", which(4, 5)),
    (SCALE, "en", "3-5", which(3, 4, 5)),
    (SCALE, "en", "3.5", which(3, 4)),
    (SCALE, "es", "3,5", which(3, 4)),
    (SCALE, "en", "4.0", answer(4)),
    (SCALE, "en", "between 3 and 4", which(3, 4)),
    (SCALE, "es", "4 o 5", which(4, 5)),
    (SCALE, "vi", "4 hoặc 5", which(4, 5)),
    (SCALE, "zh", "4或5", which(4, 5)),
    (SCALE, "ar", "4 أو 5", which(4, 5)),
    (SCALE, "en", "4 or 5 because the buses are late", which(4, 5)),
    (SINGLE, "en", "2 or 3", which("reading", "buses")),
    (SINGLE, "en", "3 or 2", which("buses", "reading")),
    (SINGLE, "es", "1 y 2", which("safety", "reading")),
    (MULTIPLE, "en", "1 or 3", which(("safety",), ("buses",))),
    (RANKING, "en", "3 or 1", which(("buses",), ("safety",))),
    # halves, the last, and numbers that are no single value
    (SCALE, "es", "3 y medio", which(3, 4)),
    (SCALE, "vi", "3 rưỡi", which(3, 4)),
    (SCALE, "en", "3½", which(3, 4)),
    (SCALE, "en", "the last one", answer(5)),
    (SINGLE, "es", "la última", answer("arts")),
    (SINGLE, "zh", "最后一个", answer("arts")),
    (SCALE, "en", "not 5", UNCLEAR),
    (SCALE, "en", "less than 3", UNCLEAR),
    (SCALE, "es", "más de 2", UNCLEAR),
    (SINGLE, "en", "not 2", UNCLEAR),
    (SCALE, "en", "4 for my son, 2 for my daughter", which(4, 2)),
    (SCALE, "es", "cuatro de cinco", answer(4)),
    (SCALE, "es", "cuatro de diez", UNCLEAR),
    (SCALE, "en", "4pts", answer(4)),
    (SCALE, "en", "2kids", UNCLEAR),
    # emoji
    (SCALE, "en", "⭐⭐⭐⭐", answer(4)),
    (SCALE, "en", "⭐⭐⭐⭐⭐⭐", UNCLEAR),
    (YES_NO, "en", "👌", answer("yes")),
    (YES_NO, "en", "👍 no", UNCLEAR),
    (YES_NO, "en", "yes 👍", answer("yes")),
    (SCALE, "en", "4️⃣", answer(4)),
    (SINGLE, "en", "3️⃣", answer("buses")),
    (MULTIPLE, "en", "1️⃣ 3️⃣", answer(("safety", "buses"))),
    (YES_NO, "en", "👍", answer("yes")),
    (YES_NO, "en", "👎", answer("no")),
    (TRIPLE, "en", "👍", answer("yes")),
    (TRIPLE, "zh", "👎", answer("no")),
    (SCALE, "en", "👍", UNCLEAR),
    # don't know: the option that offers it, else said so
    (TRIPLE, "es", "no se", answer("unsure")),
    (TRIPLE, "vi", "không biết", answer("unsure")),
    (TRIPLE, "zh", "不知道", answer("unsure")),
    (TRIPLE, "en", "idk", answer("unsure")),
    (TRIPLE, "ar", "لا أعرف", answer("unsure")),
    (TRIPLE, "en", "maybe", answer("unsure")),
    (TRIPLE, "es", "tal vez", answer("unsure")),
    (SCALE, "es", "no sé", DONT_KNOW),
    (YES_NO, "vi", "khong biet", DONT_KNOW),
    (YES_NO, "zh", "我不知道", DONT_KNOW),
    (SINGLE, "ar", "مش عارف", DONT_KNOW),
    (OPTIONAL_SCALE, "en", "not sure", DONT_KNOW),
    (OPTIONAL_TEXT, "es", "no se", DONT_KNOW),
    (FREE_TEXT, "es", "no se", answer("no se")),
    # hedges are no answer; another language's hedge is
    (YES_NO, "en", "maybe", UNCLEAR),
    (YES_NO, "es", "tal vez", UNCLEAR),
    (YES_NO, "vi", "co the", UNCLEAR),
    (YES_NO, "en", "um", UNCLEAR),
    (YES_NO, "vi", "ừm", answer("yes")),
    # school names that two options share
    (
        Question(
            "school",
            QuestionType.SINGLE_CHOICE,
            PROMPT,
            (
                Option("lincoln-es", Localized({"en": "Lincoln Elementary"})),
                Option("lincoln-hs", Localized({"en": "Lincoln High"})),
                Option("kennedy-hs", Localized({"en": "Kennedy High"})),
            ),
        ),
        "en",
        "lincoln",
        which("lincoln-es", "lincoln-hs"),
    ),
]


@pytest.mark.parametrize(
    ("question", "language", "said", "expected"),
    READINGS,
    ids=[f"{q.key}-{lang}-{said!r}" for q, lang, said, _ in READINGS],
)
def test_a_reply_is_read_as_an_answer_dont_know_or_a_question_back(
    question: Question, language: str, said: str, expected: Reading
) -> None:
    assert read_answer(question, said, language) == expected


@pytest.mark.parametrize(
    "said",
    ["no se", "No sé.", "idk", "I don't know", "không biết ạ", "不知道", "لا أعرف", "ewan ko po"],
)
def test_dont_know_is_heard_in_every_language(said: str) -> None:
    assert says_dont_know(said)


@pytest.mark.parametrize("said", ["no", "sé", "I know", "biết", "知道", "no se puede"])
def test_dont_know_needs_the_whole_phrase(said: str) -> None:
    assert not says_dont_know(said)


def test_multiple_choice_beyond_max_choices_is_not_read() -> None:
    assert parse_answer(MULTIPLE, "1 2 3", "en") == ("safety", "reading", "buses")
    assert parse_answer(MULTIPLE, "1 2 3 4", "en") is None


def test_ranking_takes_every_option_without_max_choices() -> None:
    unbounded = Question("rank", QuestionType.RANKING, PROMPT, OPTIONS)
    assert parse_answer(unbounded, "5 4 3 2 1", "en") == (
        "arts",
        "lunch",
        "buses",
        "reading",
        "safety",
    )


def test_numbered_labels_that_disagree_with_the_menu_are_not_guessed() -> None:
    counts = tuple(Option(key, Localized({"en": key})) for key in ("0", "1", "2", "3 or more"))
    question = Question("kids", QuestionType.SINGLE_CHOICE, PROMPT, counts)
    assert parse_answer(question, "2", "en") is None
    assert parse_answer(question, "3 or more", "en") == "3 or more"


Menu = list[tuple[str, tuple[str, ...]]]

SCHOOLS: Menu = [
    ("lincoln-es", ("Lincoln Elementary", "lincoln-es")),
    ("kennedy-hs", ("Kennedy High", "kennedy-hs")),
    ("roosevelt-ms", ("Roosevelt Middle", "roosevelt-ms")),
]
TWO_LINCOLNS: Menu = [
    ("lincoln-es", ("Lincoln Elementary",)),
    ("lincoln-hs", ("Lincoln High",)),
]
ROLES: Menu = [
    ("parent", ("Parent or guardian", "Madre, padre o tutor", "Phụ huynh", "家长", "parent")),
    ("student", ("Student", "Estudiante", "Học sinh", "学生", "student")),
    ("staff", ("School staff", "Personal escolar", "Nhân viên nhà trường", "学校员工", "staff")),
]

OPTION_CASES: list[tuple[Menu, str, str, str | None]] = [
    (SCHOOLS, "en", "lincoln", "lincoln-es"),
    (SCHOOLS, "en", "Kennedy", "kennedy-hs"),
    (SCHOOLS, "en", "kennedy high school", None),
    (SCHOOLS, "en", "3", "roosevelt-ms"),
    (SCHOOLS, "en", "c", "roosevelt-ms"),
    (SCHOOLS, "en", "roosevelt-ms", "roosevelt-ms"),
    (SCHOOLS, "en", "Middle", "roosevelt-ms"),
    (TWO_LINCOLNS, "en", "Lincoln", None),
    (TWO_LINCOLNS, "en", "lincoln high", "lincoln-hs"),
    (TWO_LINCOLNS, "en", "Lincoln Elem", "lincoln-es"),
    (TWO_LINCOLNS, "en", "high", "lincoln-hs"),
    (ROLES, "en", "1", "parent"),
    (ROLES, "en", "parent", "parent"),
    (ROLES, "en", "guardian", "parent"),
    (ROLES, "es", "padre", "parent"),
    (ROLES, "es", "estudiante", "student"),
    (ROLES, "es", "uno", "parent"),
    (ROLES, "vi", "hoc sinh", "student"),
    (ROLES, "vi", "một", "parent"),
    (ROLES, "zh", "学生", "student"),
    (ROLES, "zh", "一", "parent"),
    (ROLES, "en", "teacher", None),
    (ROLES, "en", "4", None),
]


@pytest.mark.parametrize(
    ("options", "language", "said", "expected"),
    OPTION_CASES,
    ids=[f"{opts[0][0]}-{lang}-{said}" for opts, lang, said, _ in OPTION_CASES],
)
def test_onboarding_menus_are_read_by_number_or_name(
    options: Menu, language: str, said: str, expected: str | None
) -> None:
    assert parse_option(said, options, language) == expected


DISTRICT_SCHOOLS = (
    School(
        "lincoln-es",
        "Lincoln Elementary",
        names=(("es", "Escuela Primaria Lincoln"), ("zh", "林肯小学"), ("ar", "مدرسة لينكولن")),
        aliases=("林肯", "LES"),
    ),
    School("lincoln-hs", "Lincoln High School", names=(("zh", "林肯高中"),)),
    School(
        "roosevelt-ms", "Roosevelt Middle School", names=(("vi", "Trường Trung học Roosevelt"),)
    ),
)

SCHOOL_CASES = [
    ("zh", "林肯", "lincoln-es"),
    ("zh", "林肯小学", "lincoln-es"),
    ("zh", "林肯高中", "lincoln-hs"),
    ("en", "LES", "lincoln-es"),
    ("vi", "truong roosevelt", "roosevelt-ms"),
    ("vi", "Trường Roosevelt", "roosevelt-ms"),
    ("vi", "truong trung hoc roosevelt", "roosevelt-ms"),
    ("es", "escuela primaria lincoln", "lincoln-es"),
    ("es", "la escuela roosevelt", "roosevelt-ms"),
    ("ar", "مدرسة لينكولن", "lincoln-es"),
    ("en", "roosevelt school", "roosevelt-ms"),
    ("en", "Lincoln high", "lincoln-hs"),
    ("en", "3", "roosevelt-ms"),
    ("en", "lincoln", None),
    ("vi", "truong lincoln", None),
    ("en", "school", None),
    ("en", "the school", None),
    ("zh", "学校", None),
]


@pytest.mark.parametrize(
    ("language", "said", "expected"), SCHOOL_CASES, ids=[f"{c[0]}-{c[1]}" for c in SCHOOL_CASES]
)
def test_a_school_is_read_by_any_of_its_names(
    language: str, said: str, expected: str | None
) -> None:
    assert parse_school(said, DISTRICT_SCHOOLS, language) == expected


LANGUAGE_REQUESTS = [
    ("idioma espanol", "es"),
    ("IDIOMA ESPAÑOL", "es"),
    ("language: Spanish", "es"),
    ("change language to Vietnamese", "vi"),
    ("cambiar idioma a inglés", "en"),
    ("ngon ngu tieng viet", "vi"),
    ("ngôn ngữ tiếng Việt", "vi"),
    ("语言 中文", "zh"),
    ("español", None),
    ("idioma", None),
    ("language 2", None),
    ("idioma español english", None),
    ("language français", None),
]


@pytest.mark.parametrize(
    ("said", "expected"), LANGUAGE_REQUESTS, ids=[c[0] for c in LANGUAGE_REQUESTS]
)
def test_the_language_keyword_with_a_name_asks_for_it(said: str, expected: str | None) -> None:
    assert parse_language_request(said, LANGUAGES) == expected


LANGUAGE_CHOICES = [
    ("1", "en"),
    ("2", "es"),
    ("３", "vi"),
    ("4", "zh"),
    ("5", None),
    ("0", None),
    ("English", "en"),
    ("Español", "es"),
    ("espanol", "es"),
    ("Spanish", "es"),
    ("en español por favor", "es"),
    ("inglés", "en"),
    ("Tiếng Việt", "vi"),
    ("tieng viet", "vi"),
    ("Vietnamese", "vi"),
    ("中文", "zh"),
    ("Chinese", "zh"),
    ("mandarin", "zh"),
    ("英语", "en"),
    ("Français", None),
    ("english español", None),
    ("", None),
    ("hello", None),
]


@pytest.mark.parametrize(
    ("said", "expected"), LANGUAGE_CHOICES, ids=[c[0] or "empty" for c in LANGUAGE_CHOICES]
)
def test_language_menu_is_read_by_number_or_name(said: str, expected: str | None) -> None:
    assert parse_language_choice(said, LANGUAGES) == expected


YES_WORD_CASES = [
    (language, word, answer)
    for answer, table in (("yes", vocabulary().yes), ("no", vocabulary().no))
    for language, words in table.items()
    for word in words
]


@pytest.mark.parametrize(
    ("language", "word", "answer"),
    YES_WORD_CASES,
    ids=[f"{lang}-{word}" for lang, word, _ in YES_WORD_CASES],
)
def test_every_yes_and_no_word_reads_as_listed(language: str, word: str, answer: str) -> None:
    assert parse_yes_no(word, language) == answer
    assert parse_yes_no(word.upper() + "!", language) == answer


NUMBER_WORD_CASES = [
    (language, word, value)
    for language, words in vocabulary().numbers.items()
    for word, value in words.items()
]


@pytest.mark.parametrize(
    ("language", "word", "value"),
    NUMBER_WORD_CASES,
    ids=[f"{lang}-{word}" for lang, word, _ in NUMBER_WORD_CASES],
)
def test_every_number_word_rates_a_scale(language: str, word: str, value: int) -> None:
    assert parse_answer(WIDE_SCALE, word, language) == value


NAME_CASES = [(code, name) for code, names in vocabulary().names.items() for name in names]


@pytest.mark.parametrize(("code", "name"), NAME_CASES, ids=[f"{c}-{n}" for c, n in NAME_CASES])
def test_every_language_name_chooses_its_language(code: str, name: str) -> None:
    assert parse_language_choice(name, tuple(vocabulary().names)) == code


# -- properties -------------------------------------------------------------------

LABEL = st.text(alphabet=string.ascii_lowercase + " ", min_size=4, max_size=30).filter(str.strip)


@st.composite
def menus(draw: st.DrawFn) -> tuple[Option, ...]:
    labels = draw(st.lists(LABEL, min_size=2, max_size=26, unique_by=str.strip))
    return tuple(
        Option(f"k{index}", Localized({"en": label.strip()})) for index, label in enumerate(labels)
    )


@given(st.sampled_from(EVERY_QUESTION), st.text(), st.sampled_from([*LANGUAGES, "xx"]))
def test_parse_answer_never_raises(question: Question, text: str, language: str) -> None:
    parse_answer(question, text, language)


REPLY_PIECES = st.sampled_from(
    [
        "2",
        "4",
        "10",
        "-1",
        "3.5",
        "4-5",
        "or",
        "o",
        "y",
        "and",
        "kids",
        "the",
        "second",
        "one",
        "no se",
        "不知道",
        "第二个",
        "👍",
        "4️⃣",
        "?",
        ",",
        "hai",
        "đứa",
        "sí",
        "idk",
        "out of",
        "5",
    ]
)


@given(
    st.sampled_from([*EVERY_QUESTION, TRIPLE, OPTIONAL_SCALE, OPTIONAL_TEXT]),
    st.one_of(st.text(), st.lists(REPLY_PIECES, max_size=8).map(" ".join)),
    st.sampled_from([*LANGUAGES, "ar", "xx"]),
)
def test_a_reading_never_raises_and_stays_within_the_question(
    question: Question, text: str, language: str
) -> None:
    reading = read_answer(question, text, language)
    keys = {option.key for option in question.options}
    values = (reading.value,) if reading.kind is ReadingKind.ANSWER else reading.alternatives
    if reading.kind is ReadingKind.WHICH:
        assert len(set(reading.alternatives)) >= 2
    for value in values:
        match question.type:
            case QuestionType.SCALE:
                assert isinstance(value, int)
                assert question.scale_min <= value <= question.scale_max
            case QuestionType.SINGLE_CHOICE:
                assert value in keys
            case QuestionType.MULTIPLE_CHOICE | QuestionType.RANKING:
                assert isinstance(value, tuple) and set(value) <= keys
            case QuestionType.YES_NO:
                assert value in ("yes", "no")
            case _:
                assert isinstance(value, str)


@given(st.text(), st.lists(st.tuples(st.text(), st.lists(st.text(), max_size=3)), max_size=5))
def test_parse_option_never_raises(text: str, options: list[tuple[str, list[str]]]) -> None:
    parse_option(text, options, "en")


@given(st.text(), st.text(max_size=3))
def test_parse_yes_no_never_raises(text: str, language: str) -> None:
    assert parse_yes_no(text, language) in ("yes", "no", None)


@given(st.text(), st.lists(st.sampled_from(list(vocabulary().names)), max_size=5))
def test_parse_language_choice_never_raises(text: str, languages: list[str]) -> None:
    assert parse_language_choice(text, languages) in (*languages, None)
    assert parse_language_request(text, languages) in (*languages, None)


@given(st.text())
def test_parse_school_never_raises(text: str) -> None:
    assert parse_school(text, DISTRICT_SCHOOLS, "en") in (*(s.code for s in DISTRICT_SCHOOLS), None)


@given(st.data())
def test_every_option_is_picked_by_number_and_letter(data: st.DataObject) -> None:
    options = data.draw(menus())
    index = data.draw(st.integers(0, len(options) - 1))
    question = Question("q", QuestionType.SINGLE_CHOICE, PROMPT, options)
    letter = chr(ord("a") + index)
    for said in (
        str(index + 1),
        f"#{index + 1}",
        f"{index + 1})",
        letter,
        f"{letter.upper()})",
        f"{letter}.",
    ):
        assert parse_answer(question, said, "en") == options[index].key, said


@given(st.data())
def test_every_option_is_picked_by_its_label(data: st.DataObject) -> None:
    options = data.draw(menus())
    index = data.draw(st.integers(0, len(options) - 1))
    question = Question("q", QuestionType.SINGLE_CHOICE, PROMPT, options)
    label = options[index].label.get("en")
    assert parse_answer(question, label.upper(), "en") == options[index].key


def test_every_option_of_a_long_menu_joined_by_and_is_read() -> None:
    options = tuple(Option(f"k{i}", Localized({"en": f"option {i}"})) for i in range(26))
    question = Question("q", QuestionType.MULTIPLE_CHOICE, PROMPT, options)
    said = " and ".join(str(i + 1) for i in range(26))
    assert parse_answer(question, said, "en") == tuple(option.key for option in options)


@given(st.data())
def test_any_set_of_options_is_picked_in_definition_order(data: st.DataObject) -> None:
    options = data.draw(menus())
    chosen = data.draw(st.lists(st.integers(0, len(options) - 1), min_size=1, unique=True))
    separator = data.draw(st.sampled_from([",", " ", ", ", " and ", ";"]))
    question = Question("q", QuestionType.MULTIPLE_CHOICE, PROMPT, options)
    expected = tuple(options[index].key for index in sorted(chosen))
    assert parse_answer(question, separator.join(str(i + 1) for i in chosen), "en") == expected
    letters = " ".join(chr(ord("a") + i) for i in chosen)
    assert parse_answer(question, letters, "en") == expected


@given(st.data())
def test_any_ranking_keeps_the_order_given(data: st.DataObject) -> None:
    options = data.draw(menus())
    order = data.draw(st.permutations(range(len(options))))
    question = Question("q", QuestionType.RANKING, PROMPT, options)
    said = ",".join(str(index + 1) for index in order)
    assert parse_answer(question, said, "en") == tuple(options[index].key for index in order)


@given(st.data())
def test_any_number_on_a_scale_is_read(data: st.DataObject) -> None:
    low = data.draw(st.integers(-3, 5))
    high = data.draw(st.integers(low + 1, low + 10))
    value = data.draw(st.integers(low, high))
    question = Question("q", QuestionType.SCALE, PROMPT, scale_min=low, scale_max=high)
    assert parse_answer(question, str(value), "en") == value
    assert parse_answer(question, str(high + 1), "en") is None
    if value >= 0:
        assert parse_answer(question, f"{value}/{high}", "en") == value
        assert parse_answer(question, f"{value} stars", "en") == value


@given(st.integers(0, 10), st.sampled_from(LANGUAGES))
def test_number_words_rate_a_scale_in_each_language(value: int, language: str) -> None:
    words = [w for w, n in vocabulary().numbers[language].items() if n == value]
    for word in words:
        assert parse_answer(WIDE_SCALE, word, language) == value


def test_long_replies_are_read_quickly() -> None:
    many = " ".join(["1", "e", "y"] * 13)
    assert parse_answer(MULTIPLE, many, "es") is None
    assert parse_answer(SINGLE, "school " * 40, "en") is None
    assert parse_answer(SCALE, "4 " * 1000, "en") is None
