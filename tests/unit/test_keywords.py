"""Keywords as families send them, and the sentences that must not trigger them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.keywords import Keyword, KeywordMatch, match_keyword, normalize, split_words
from bot.core.vocabulary import vocabulary

EN_ES_VI_ZH = ("en", "es", "vi", "zh")
EVERY_LANGUAGE = tuple(vocabulary().stop)
KEYWORD_TABLES = {
    Keyword.STOP: vocabulary().stop,
    Keyword.START: vocabulary().start,
    Keyword.HELP: vocabulary().help,
    Keyword.LANGUAGE: vocabulary().language,
    Keyword.SKIP: vocabulary().skip,
}
EVERY_KEYWORD_PHRASE = sorted(
    {
        phrase
        for table in KEYWORD_TABLES.values()
        for phrases in table.values()
        for phrase in phrases
    }
)

MATCHES = [
    ("STOP", Keyword.STOP, "en"),
    ("Stop!", Keyword.STOP, "en"),
    ("  stop.", Keyword.STOP, "en"),
    ("ＳＴＯＰ", Keyword.STOP, "en"),
    ("STOP PLEASE", Keyword.STOP, "en"),
    ("please stop", Keyword.STOP, "en"),
    ("Stop it now, thanks", Keyword.STOP, "en"),
    ("stop texting me", Keyword.STOP, "en"),
    ("Don’t text me!!", Keyword.STOP, "en"),
    ("remove me from this list", Keyword.STOP, "en"),
    ("STOPALL", Keyword.STOP, "en"),
    ("stop all", Keyword.STOP, "en"),
    ("UNSUBSCRIBE", Keyword.STOP, "en"),
    ("cancel", Keyword.STOP, "en"),
    ("End", Keyword.STOP, "en"),
    ("QUIT", Keyword.STOP, "en"),
    ("opt-out", Keyword.STOP, "en"),
    ("stop stop STOP", Keyword.STOP, "en"),
    ("Stop 🛑", Keyword.STOP, "en"),
    ("PARAR", Keyword.STOP, "es"),
    ("Parar por favor", Keyword.STOP, "es"),
    ("alto", Keyword.STOP, "es"),
    ("Ya basta", Keyword.STOP, "es"),
    ("No me escriban más", Keyword.STOP, "es"),
    ("no me escriban mas por favor", Keyword.STOP, "es"),
    ("DỪNG", Keyword.STOP, "vi"),
    ("dung", Keyword.STOP, "vi"),
    ("Dừng lại ạ", Keyword.STOP, "vi"),
    ("ngung", Keyword.STOP, "vi"),
    ("Hủy", Keyword.STOP, "vi"),
    ("huỷ", Keyword.STOP, "vi"),
    ("huy dang ky", Keyword.STOP, "vi"),
    ("停止", Keyword.STOP, "zh"),
    ("请停止", Keyword.STOP, "zh"),
    ("停止吧", Keyword.STOP, "zh"),
    ("退订", Keyword.STOP, "zh"),
    ("取消", Keyword.STOP, "zh"),
    ("不要再发了", Keyword.STOP, "zh"),
    ("START", Keyword.START, "en"),
    ("unstop", Keyword.START, "en"),
    ("Comenzar", Keyword.START, "es"),
    ("INICIAR", Keyword.START, "es"),
    ("bắt đầu", Keyword.START, "vi"),
    ("bat dau", Keyword.START, "vi"),
    ("开始", Keyword.START, "zh"),
    ("HELP", Keyword.HELP, "en"),
    ("help me please", Keyword.HELP, "en"),
    ("info", Keyword.HELP, "en"),
    ("Ayuda", Keyword.HELP, "es"),
    ("giúp", Keyword.HELP, "vi"),
    ("giup", Keyword.HELP, "vi"),
    ("帮助", Keyword.HELP, "zh"),
    ("LANGUAGE", Keyword.LANGUAGE, "en"),
    ("IDIOMA", Keyword.LANGUAGE, "es"),
    ("ngôn ngữ", Keyword.LANGUAGE, "vi"),
    ("ngon ngu", Keyword.LANGUAGE, "vi"),
    ("语言", Keyword.LANGUAGE, "zh"),
    ("SKIP", Keyword.SKIP, "en"),
    ("pass", Keyword.SKIP, "en"),
    ("saltar", Keyword.SKIP, "es"),
    ("omitir", Keyword.SKIP, "es"),
    ("bỏ qua", Keyword.SKIP, "vi"),
    ("bo qua", Keyword.SKIP, "vi"),
    ("跳过", Keyword.SKIP, "zh"),
]


# Typed without accents or a keyboard for the script's marks, stretched, or casual.
CASUAL = [
    ("dung lai", Keyword.STOP, "vi"),
    ("dung lai di", Keyword.STOP, "vi"),
    ("dung nhan tin", Keyword.STOP, "vi"),
    ("khong nhan tin nua", Keyword.STOP, "vi"),
    ("tro giup", Keyword.HELP, "vi"),
    ("ngon ngu", Keyword.LANGUAGE, "vi"),
    ("doi ngon ngu", Keyword.LANGUAGE, "vi"),
    ("bo qua", Keyword.SKIP, "vi"),
    ("no mas", Keyword.STOP, "es"),
    ("no me escriban mas", Keyword.STOP, "es"),
    ("sacame de la lista", Keyword.STOP, "es"),
    ("ayudame", Keyword.HELP, "es"),
    ("informacion", Keyword.HELP, "es"),
    ("nao quero mais mensagens", Keyword.STOP, "pt"),
    ("proxima", Keyword.SKIP, "pt"),
    ("arreter", Keyword.STOP, "fr"),
    ("desabonner", Keyword.STOP, "fr"),
    ("demarrer", Keyword.START, "fr"),
    ("kòmanse", Keyword.START, "ht"),
    ("komanse", Keyword.START, "ht"),
    ("rete", Keyword.STOP, "ht"),
    ("tigil na po", Keyword.STOP, "tl"),
    ("otpiska", Keyword.STOP, "ru"),
    ("отписаться пожалуйста", Keyword.STOP, "ru"),
    ("중지요", Keyword.STOP, "ko"),
    ("وقف", Keyword.STOP, "ar"),
    ("الغاء الاشتراك", Keyword.STOP, "ar"),
    ("مساعده", Keyword.HELP, "ar"),
    ("iga jooji", Keyword.STOP, "so"),
    ("請停止", Keyword.STOP, "zh"),
    ("TD", Keyword.STOP, "zh"),
    ("stooop", Keyword.STOP, "en"),
    ("STOPPP!!!", Keyword.STOP, "en"),
    ("heeelp", Keyword.HELP, "en"),
]


@pytest.mark.parametrize(("said", "keyword", "language"), CASUAL, ids=[c[0] for c in CASUAL])
def test_keyword_typed_casually_is_recognised(said: str, keyword: Keyword, language: str) -> None:
    assert match_keyword(said, EVERY_LANGUAGE) == KeywordMatch(keyword, language)


@pytest.mark.parametrize(("said", "keyword", "language"), MATCHES, ids=[m[0] for m in MATCHES])
def test_keyword_is_recognised_in_its_language(said: str, keyword: Keyword, language: str) -> None:
    assert match_keyword(said, EN_ES_VI_ZH) == KeywordMatch(keyword, language)


NOT_KEYWORDS = [
    "We need to stop bullying",
    "the bus stops too early",
    "end of the day pickup is chaos",
    "Please help my son with reading",
    "NO",
    "yes",
    "Sí",
    "2",
    "stopped",
    "stop bullying",
    "cancel my appointment",
    "the end",
    "đúng",
    "Đúng rồi",
    "停车场太小",
    "ok lang",
    "",
    "   ",
    "🛑",
]


@pytest.mark.parametrize("said", NOT_KEYWORDS, ids=[repr(s) for s in NOT_KEYWORDS])
def test_words_inside_an_answer_are_not_keywords(said: str) -> None:
    assert match_keyword(said, EN_ES_VI_ZH) is None


LANGUAGE_RULES = [
    ("dung", ("en", "es"), None),
    ("PARAR", ("en", "es"), KeywordMatch(Keyword.STOP, "es")),
    ("PARAR", ("en", "es", "pt"), KeywordMatch(Keyword.STOP, None)),
    ("PARAR", ("en",), None),
    ("STOP", (), KeywordMatch(Keyword.STOP, "en")),
    ("STOP", ("es", "vi"), KeywordMatch(Keyword.STOP, "en")),
    ("Parar por favor", ("en",), None),
    ("stop parar", ("en", "es"), KeywordMatch(Keyword.STOP, None)),
    ("Stop por favor", ("en", "es"), KeywordMatch(Keyword.STOP, "en")),
    ("stop help", EN_ES_VI_ZH, None),
]


@pytest.mark.parametrize(
    ("said", "languages", "expected"),
    LANGUAGE_RULES,
    ids=[f"{said}-{'+'.join(langs) or 'none'}" for said, langs, _ in LANGUAGE_RULES],
)
def test_only_configured_languages_and_english_count(
    said: str, languages: tuple[str, ...], expected: KeywordMatch | None
) -> None:
    assert match_keyword(said, languages) == expected


NORMALIZED = [
    ("  ¡Sí, GRACIAS! ", "si, gracias"),
    ("ＳＴＯＰ", "stop"),
    ("DỪNG", "dung"),
    ("Đúng", "dung"),
    ("１２３", "123"),
    ("٣", "3"),
    ("  many   spaces\there ", "many spaces here"),
    ("中文", "中文"),
    ("한국어", "한국어"),
    ("が", "が"),
    ("👍", ""),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZED, ids=[n[0] for n in NORMALIZED])
def test_normalize_folds_case_accents_and_width(text: str, expected: str) -> None:
    assert normalize(text) == expected


SPLITS = [
    ("Sí, 2", ("sí", "2")),
    ("b)", ("b",)),
    ("#2", ("2",)),
    ("1,3", ("1", "3")),
    ("don't", ("dont",)),
    ("请停止", ("请", "停", "止")),
    ("-2", ("-2",)),
    ("4-5", ("4", "5")),
    ("stop 👍!!", ("stop",)),
    ("4️⃣", ("4",)),
    ("1️⃣ 3️⃣", ("1", "3")),
    ("🔟", ("10",)),
]


@pytest.mark.parametrize(("text", "expected"), SPLITS, ids=[s[0] for s in SPLITS])
def test_split_words_keeps_words_and_drops_punctuation(
    text: str, expected: tuple[str, ...]
) -> None:
    assert split_words(text) == expected


@pytest.mark.parametrize("keyword", list(Keyword), ids=str)
def test_every_listed_phrase_is_its_keyword(keyword: Keyword) -> None:
    for language, phrases in KEYWORD_TABLES[keyword].items():
        for phrase in phrases:
            found = match_keyword(phrase, (language,))
            assert found is not None and found.keyword is keyword, (language, phrase)


def test_no_answer_word_is_a_keyword() -> None:
    # Keywords are checked before answers, so a keyword here would swallow an answer.
    tables = (
        vocabulary().yes,
        vocabulary().no,
        vocabulary().dont_know,
        vocabulary().maybe,
        vocabulary().or_words,
        vocabulary().filler,
        {lang: tuple(words) for lang, words in vocabulary().numbers.items()},
        {lang: tuple(words) for lang, words in vocabulary().ordinals.items()},
    )
    clashes = [
        (language, word)
        for table in tables
        for language, words in table.items()
        for word in words
        if match_keyword(word, EVERY_LANGUAGE) is not None
    ]
    assert clashes == []


@given(st.text())
def test_match_keyword_never_raises(text: str) -> None:
    match_keyword(text, EVERY_LANGUAGE)


@given(st.text())
def test_normalize_and_split_words_never_raise(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)
    split_words(text)


@given(
    st.sampled_from(vocabulary().stop["en"] + vocabulary().stop["es"]),
    st.lists(st.sampled_from(["please", "por favor", "now", "thanks", "pls", "ya"]), max_size=2),
    st.sampled_from(["", "!", ".", "!!!", " 🙏"]),
    st.booleans(),
)
def test_a_stop_phrase_with_fillers_and_punctuation_is_stop(
    phrase: str, fillers: list[str], punctuation: str, shout: bool
) -> None:
    said = " ".join([phrase, *fillers]) + punctuation
    found = match_keyword(said.upper() if shout else said, ("en", "es"))
    assert found is not None and found.keyword is Keyword.STOP


@given(st.sampled_from(EVERY_KEYWORD_PHRASE))
def test_a_keyword_inside_a_sentence_is_not_a_keyword(phrase: str) -> None:
    assert match_keyword(f"we need to {phrase} bullying at school", EVERY_LANGUAGE) is None
