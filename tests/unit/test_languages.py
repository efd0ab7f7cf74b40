"""Every language the bot speaks is complete: its words (bot/languages/*.toml) and its
system texts (bot/languages/*.po), and the two agree with each other."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from babel import Locale

from bot.core.answers import parse_language_choice, parse_yes_no
from bot.core.keywords import Keyword, keyword_words, match_keyword, normalize
from bot.core.segments import count_segments
from bot.core.texts import (
    catalog_problems,
    check_catalog,
    language_name,
    placeholders,
    text,
)
from bot.core.vocabulary import (
    VocabularyError,
    language_pack,
    parse_language_pack,
    spoken_languages,
    vocabulary,
)

LANGUAGES = spoken_languages()
FOLDER = Path(__file__).parents[2] / "bot" / "languages"
# The languages a US district asks for most; the bot must speak every one of them.
DISTRICT_LANGUAGES = ("en", "es", "zh", "vi", "ar", "so", "ht", "pt", "ru", "ko", "fr", "tl")
KEYWORD_TABLES = ("stop", "start", "help", "language", "skip")


def test_the_bot_speaks_every_language_districts_ask_for() -> None:
    assert set(DISTRICT_LANGUAGES) <= set(LANGUAGES)
    assert LANGUAGES[0] == "en"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_system_text_is_translated(language: str) -> None:
    assert catalog_problems([language]) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_its_keywords_and_answers(language: str) -> None:
    pack = language_pack(language)
    assert pack is not None
    missing = [
        name
        for name in (*KEYWORD_TABLES, "link", "yes", "no", "and", "choice", "polite")
        if not pack.words[name]
    ]
    assert missing == []
    assert set(range(11)) <= set(pack.numbers.values())
    assert set(range(1, 6)) <= set(pack.ordinals.values())


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_language_is_known_by_its_own_name_and_its_english_one(language: str) -> None:
    names = {normalize(name) for name in vocabulary().names[language]}
    assert normalize(language_name(language)) in names
    assert normalize(Locale("en").languages[language]) in names


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_language_name_in_the_menu_chooses_it(language: str) -> None:
    assert parse_language_choice(language_name(language), LANGUAGES) == language


# Where a text tells the family what to reply, the word must be one the bot understands:
# a word in capitals (YES, PARAR, ДА), or a quoted one where the script has no capitals ("停止").
WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
QUOTED = re.compile(r'"([^"{}]+)"|「([^」]+)」')
NOT_REPLIES = {"SMS", "LINK"}
TELLING = (
    "first_contact",
    "consent",
    "consent_declined",
    "help",
    "hint_yes_no",
    "hint_skip",
    "idea_share_hint",
    "idea_too_short",
    "opted_out",
    "opted_in",
)


def _capitalized_runs(template: str) -> list[str]:
    runs: list[list[str]] = []
    last_end = -1
    for match in WORD.finditer(template):
        # Only the letters that have case: "START를" and "请回复START" ask for START.
        word = "".join(char for char in match.group() if char.lower() != char.upper())
        if not (word.isupper() and len(word) > 1):
            last_end = -1
            continue
        if runs and last_end >= 0 and not template[last_end : match.start()].strip():
            runs[-1].append(word)
        else:
            runs.append([word])
        last_end = match.end()
    return [" ".join(run) for run in runs if " ".join(run) not in NOT_REPLIES]


def _told_replies() -> list[tuple[str, str, str]]:
    found = []
    for language in LANGUAGES:
        for message_id in TELLING:
            template = text(message_id, language)
            words = _capitalized_runs(template)
            words += [a or b for a, b in QUOTED.findall(template)]
            found.extend((language, message_id, word) for word in words)
    return found


def test_texts_that_ask_for_a_reply_name_the_word() -> None:
    asked = {(language, message_id) for language, message_id, _ in _told_replies()}
    assert {(language, "consent") for language in LANGUAGES} <= asked
    assert {(language, "hint_yes_no") for language in LANGUAGES} <= asked


@pytest.mark.parametrize(("language", "message_id", "word"), _told_replies(), ids=lambda v: str(v))
def test_a_reply_a_text_asks_for_is_understood(language: str, message_id: str, word: str) -> None:
    understood = match_keyword(word, [language]) is not None or parse_yes_no(word, language)
    assert understood, f"{language}.po {message_id}: the bot does not understand {word!r}"


# As written, accents kept: a reply may drop accents, so "dung" is DỪNG, but "đúng" is yes.
def _spelled(word: str) -> str:
    return unicodedata.normalize("NFC", word).casefold()


def test_no_word_is_a_keyword_in_one_language_and_an_answer_in_another() -> None:
    answers: dict[str, set[str]] = {}
    for table in (vocabulary().yes, vocabulary().no, vocabulary().dont_know, vocabulary().maybe):
        for language, words in table.items():
            for word in words:
                answers.setdefault(_spelled(word), set()).add(language)
    clashes = [
        (keyword.value, language, word, sorted(answers[_spelled(word)]))
        for keyword, table in keyword_words().items()
        if keyword is not Keyword.SKIP
        for language, words in table.items()
        for word in words
        if _spelled(word) in answers
    ]
    assert clashes == []


def test_no_word_means_yes_in_one_language_and_no_in_the_same_one() -> None:
    clashes = [
        (language, word)
        for language, words in vocabulary().yes.items()
        for word in words
        if _spelled(word) in {_spelled(no) for no in vocabulary().no.get(language, ())}
    ]
    assert clashes == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_yes_and_no_a_menu_shows_can_be_typed_back(language: str) -> None:
    assert parse_yes_no(text("yes", language), language) == "yes"
    assert parse_yes_no(text("no", language), language) == "no"


REPROMPTS = {
    "single": ("example_single", {"count": 9}),
    "multiple": ("example_multiple", {"example": "1,3"}),
    "ranking": ("example_ranking", {"count": 3, "example": "3,1,2"}),
    "scale": ("example_scale", {"low": 1, "high": 5, "example": 4}),
    "wide_scale": ("example_scale", {"low": 0, "high": 10, "example": 9}),
    "yes_no": ("hint_yes_no", {}),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("opening", ["not_understood", "needs_answer"])
@pytest.mark.parametrize("kind", REPROMPTS, ids=str)
def test_a_reprompt_with_its_example_fits_one_segment(
    language: str, opening: str, kind: str
) -> None:
    example, values = REPROMPTS[kind]
    sent = f"{text(opening, language)} {text(example, language, **values)}"
    assert count_segments(sent).segments == 1, sent


@pytest.mark.parametrize("language", LANGUAGES)
def test_asking_which_one_fits_one_segment(language: str) -> None:
    sent = text("ask_which", language, choices="1 / 2 / 3")
    assert count_segments(sent).segments == 1, sent


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_stop_confirmation_fits_one_or_two_segments(language: str) -> None:
    sent = text("opted_out", language, program="Riverside Plan 2030")
    assert count_segments(sent).segments <= 2


# -- the catalog checks ---------------------------------------------------------------

HEADER = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'


def _catalog(*entries: str) -> str:
    return HEADER + "\n\n".join(entries) + "\n"


def _entry(message_id: str, msgid: str, msgstr: str, fuzzy: bool = False) -> str:
    flag = "#, fuzzy\n" if fuzzy else ""
    return f'{flag}msgctxt "{message_id}"\nmsgid "{msgid}"\nmsgstr "{msgstr}"'


def _problems_of(entry: str) -> list[str]:
    return [p for p in check_catalog(_catalog(entry), "xx.po") if ": help:" in p]


HELP = text("help", "en")

CATALOG_CASES = [
    ("current", _entry("help", HELP, "{program}. ¿Preguntas? {contact}."), []),
    ("empty", _entry("help", HELP, ""), ["xx.po: help: not translated"]),
    (
        "fuzzy",
        _entry("help", HELP, "{program} {contact}", fuzzy=True),
        ["xx.po: help: marked fuzzy; check it, then drop the mark"],
    ),
    (
        "stale",
        _entry("help", "An older English text.", "{program} {contact}"),
        ["xx.po: help: translated from an older English text; update it"],
    ),
    (
        "placeholder renamed",
        _entry("help", HELP, "{programa} {contact}"),
        ["xx.po: help: needs exactly the placeholders {contact}, {program}"],
    ),
    (
        "placeholder dropped",
        _entry("help", HELP, "{program}"),
        ["xx.po: help: needs exactly the placeholders {contact}, {program}"],
    ),
]


@pytest.mark.parametrize(
    ("entry", "expected"), [c[1:] for c in CATALOG_CASES], ids=[c[0] for c in CATALOG_CASES]
)
def test_a_catalog_entry_is_used_only_when_current(entry: str, expected: list[str]) -> None:
    assert _problems_of(entry) == expected


def test_a_catalog_entry_the_source_lacks_is_named() -> None:
    problems = check_catalog(_catalog(_entry("gone", "Old text", "Viejo")), "xx.po")
    assert "xx.po: gone: not in messages.pot; remove it" in problems


def test_a_language_without_a_catalog_is_named() -> None:
    assert catalog_problems(["en", "xx"]) == ["xx.po: there is no catalog for 'xx'"]


def test_a_missing_translation_falls_back_to_english() -> None:
    assert text("help", "xx", program="P", contact="C") == text(
        "help", "en", program="P", contact="C"
    )


def test_placeholders_are_read_from_a_template() -> None:
    assert placeholders("Reply {low} ({low_label}) to {high}.") == {"low", "low_label", "high"}


# -- the word files ----------------------------------------------------------------

PACK_CASES = [
    ("not toml", "name = ", "xx.toml: not valid TOML"),
    ("no name", "[keywords]\nstop = ['x']", "xx.toml: name: give the language's own name"),
    ("unknown field", "name = 'X'\ncolour = 'red'", "xx.toml: colour: unknown field"),
    (
        "unknown keyword table",
        "name = 'X'\n[keywords]\nhalt = ['x']",
        "xx.toml: keywords.halt: unknown field",
    ),
    (
        "words not a list",
        "name = 'X'\n[answers]\nyes = 'si'",
        "xx.toml: answers.yes: must be a list of words",
    ),
    (
        "empty word",
        "name = 'X'\n[keywords]\nstop = ['  ']",
        "xx.toml: keywords.stop: must be a list of words",
    ),
    (
        "number key",
        "name = 'X'\n[numbers]\none = ['uno']",
        "xx.toml: numbers.one: the key must be a number",
    ),
]


@pytest.mark.parametrize(
    ("source", "message"), [c[1:] for c in PACK_CASES], ids=[c[0] for c in PACK_CASES]
)
def test_a_broken_language_file_names_its_field(source: str, message: str) -> None:
    with pytest.raises(VocabularyError) as raised:
        parse_language_pack("xx", source, "xx.toml")
    assert str(raised.value).startswith(message)


def test_a_language_file_reads_numbers_by_value() -> None:
    pack = parse_language_pack("xx", "name = 'X'\n[numbers]\n2 = ['dos', 'dois']", "xx.toml")
    assert pack.numbers == {"dos": 2, "dois": 2}
    assert pack.words["stop"] == ()


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.po")), ids=lambda p: p.name)
def test_every_catalog_belongs_to_a_language_with_words(path: Path) -> None:
    assert path.stem in LANGUAGES
