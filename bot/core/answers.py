"""Reading a reply to a question the way families really write it.

"2", "#2", "b)", "two", "dos", "hai", "二", an option's label in any of its
languages or a unique part of it, "1,3", "1 y 3", "Sí, 2", "4/5", "4 stars".
A reply that reads two ways is not understood: every parser returns None
rather than guess, and none raises.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from functools import cache, lru_cache
from typing import TypeVar

from bot.core.activity import Question, QuestionType
from bot.core.keywords import Keyword, Phrasebook, fold, keyword_words, readings, split_words
from bot.core.state import School
from bot.core.vocabulary import NO_SYMBOLS, YES_SYMBOLS, vocabulary

__all__ = [
    "NO",
    "YES",
    "AnswerValue",
    "parse_answer",
    "parse_language_choice",
    "parse_language_request",
    "parse_option",
    "parse_school",
    "parse_yes_no",
]

AnswerValue = str | int | tuple[str, ...]

YES = "yes"
NO = "no"

# Longer replies are messages for the district, not answers to pick apart.
MAX_ANSWER_WORDS = 40
MAX_YES_NO_WORDS = 8
# "I'd say 4" is a rating; "my 3 kids say the buses are late" is not.
MAX_SCALE_CHATTER = 4
# A part of a label must be this long to count ("saf" for "School safety");
# Chinese characters and Hangul syllables count double.
MIN_PARTIAL_WEIGHT = 3
# Yes/no questions are shown as "1) Yes 2) No".
YES_NO_NUMBERS = {"1": YES, "2": NO}

V = TypeVar("V", bound=Hashable)

_SEPARATOR = -1
_NUMBER = re.compile(r"-?[0-9]{1,6}")
_SLASH = re.compile(r"(\d)\s*[/／∕⁄]\s*(?=\d)")
_OUT_OF = "out of"


def parse_answer(question: Question, text: str, language: str) -> AnswerValue | None:
    """`text` as an answer to `question`, or None when it cannot be read with confidence.

    Single choice gives an option key; multiple choice the chosen keys in the
    order the options are defined (None beyond `max_choices`); ranking the keys
    in the order given; a scale an int within its bounds; yes/no "yes" or "no";
    free text the stripped text (None without a letter or digit); info None.
    `language` is the participant's: its number words count besides English.
    """
    match question.type:
        case QuestionType.SINGLE_CHOICE:
            return parse_option(text, _question_options(question), language)
        case QuestionType.MULTIPLE_CHOICE:
            return _parse_multiple(question, text, language)
        case QuestionType.RANKING:
            return _parse_ranking(question, text, language)
        case QuestionType.SCALE:
            return _parse_scale(question, text, language)
        case QuestionType.YES_NO:
            return parse_yes_no(text, language)
        case QuestionType.FREE_TEXT:
            stripped = text.strip()
            return stripped if any(_is_letter_or_digit(char) for char in stripped) else None
        case _:
            return None


def parse_option(
    text: str, options: Sequence[tuple[str, Sequence[str]]], language: str
) -> str | None:
    """The key of the one option `text` picks from a numbered menu, or None.

    `options` are (key, labels) in menu order, with the labels in every
    language. A reply picks by number ("2", "#2", "two", "2nd"), by letter
    ("b", "B)"), by label, or by a part of one label ("lincoln" when only
    "Lincoln Elementary" has it); a leading yes-word is ignored ("Sí, 2").
    """
    return _pick_one(text, options, language, schools=False)


def parse_school(text: str, schools: Sequence[School], language: str) -> str | None:
    """The code of the one school `text` names from a numbered menu of `schools`, or None.

    As `parse_option`, by any of a school's names or aliases, in any script
    ("林肯", "Lincoln"), and with the words that name a school in general
    around it ("truong lincoln", "la escuela Lincoln", "Lincoln school").
    """
    options = [(school.code, school.every_name()) for school in schools]
    return _pick_one(text, options, language, schools=True)


def _pick_one(
    text: str, options: Sequence[tuple[str, Sequence[str]]], language: str, *, schools: bool
) -> str | None:
    labels = tuple(_label_words(labels) for _, labels in options)
    found = _read_menu(text, labels, language, schools=schools)
    picks = {_unique(reading) for reading in found or ()}
    if len(picks) != 1:
        return None
    (pick,) = picks
    return options[pick[0]][0] if len(pick) == 1 else None


def parse_yes_no(text: str, language: str) -> str | None:
    """Read a yes/no reply in any language: "yes", "no", or None.

    Accepts "sí", "có", "是的", "no thanks", 👍, and "1"/"2" as the menu shows them.
    A word that means yes in one language and no in another is read in
    `language`, then in English. Mixed replies ("yes no", "no sé") are None.
    """
    words = split_words(text)
    if not words:
        return _yes_no_symbol(text)
    if len(words) > MAX_YES_NO_WORDS:
        return None
    answers, polite = _yes_no_book(), _polite_book()
    said: set[str] = set()
    start = 0
    while start < len(words):
        if words[start] in YES_NO_NUMBERS:
            said.add(YES_NO_NUMBERS[words[start]])
            start += 1
            continue
        end, hits = _longest(answers, words, start)
        filler_end, _ = _longest(polite, words, start)
        if filler_end > end:
            start = filler_end
            continue
        meant = _yes_or_no(hits, language)
        if meant is None:
            return None
        said.add(meant)
        start = end
    return said.pop() if len(said) == 1 else None


def parse_language_request(text: str, languages: Sequence[str]) -> str | None:
    """The code of the language `text` asks for by the LANGUAGE keyword and a name, or None.

    "idioma espanol", "language: Spanish", "ngon ngu tieng viet", "语言 中文":
    the keyword of any language with the name of one of `languages`, so a
    family need not go through the menu.
    """
    words = split_words(text)
    if not words or len(words) > MAX_YES_NO_WORDS:
        return None
    names, fillers, asking = _language_book(), _language_filler_book(), _language_keyword_book()
    marker = ""

    def pieces(start: int) -> Iterator[tuple[int, str | None]]:
        for end, _ in fillers.starting_at(words, start):
            yield end, None
        for end, _ in asking.starting_at(words, start):
            yield end, marker
        for end, codes in names.starting_at(words, start):
            for code in codes:
                if code in languages:
                    yield end, code

    found = readings(len(words), pieces)
    chosen = {
        code for reading in found or () if marker in reading for code in reading if code != marker
    }
    return chosen.pop() if len(chosen) == 1 else None


def parse_language_choice(text: str, languages: Sequence[str]) -> str | None:
    """The code of the language `text` chooses from a menu of `languages`, or None.

    Either the language's number in the menu ("2") or any name of a configured
    language: its own, English's or another's, with or without accents
    ("español", "espanol", "Spanish", "tieng viet", "中文", "en español").
    """
    words = split_words(text)
    if not words or len(words) > MAX_YES_NO_WORDS:
        return None
    names, fillers = _language_book(), _language_filler_book()

    def pieces(start: int) -> Iterator[tuple[int, str | None]]:
        for end, _ in fillers.starting_at(words, start):
            yield end, None
        if _NUMBER.fullmatch(words[start]) and 1 <= int(words[start]) <= len(languages):
            yield start + 1, languages[int(words[start]) - 1]
        for end, codes in names.starting_at(words, start):
            for code in codes:
                if code in languages:
                    yield end, code

    found = readings(len(words), pieces)
    chosen = {code for reading in found or () for code in reading}
    return chosen.pop() if len(chosen) == 1 else None


# -- choices --------------------------------------------------------------------


def _question_options(question: Question) -> list[tuple[str, tuple[str, ...]]]:
    return [(option.key, tuple(option.label.values.values())) for option in question.options]


def _parse_multiple(question: Question, text: str, language: str) -> tuple[str, ...] | None:
    options = _question_options(question)
    found = _read_menu(text, tuple(_label_words(labels) for _, labels in options), language)
    picks = {tuple(sorted(set(reading))) for reading in found or ()}
    if len(picks) != 1:
        return None
    (pick,) = picks
    if question.max_choices is not None and len(pick) > question.max_choices:
        return None
    return tuple(options[index][0] for index in pick)


def _parse_ranking(question: Question, text: str, language: str) -> tuple[str, ...] | None:
    options = _question_options(question)
    found = _read_menu(text, tuple(_label_words(labels) for _, labels in options), language)
    picks = {_unique(reading) for reading in found or ()}
    if len(picks) != 1:
        return None
    (pick,) = picks
    if len(pick) > (question.max_choices or len(options)):
        return None
    return tuple(options[index][0] for index in pick)


def _read_menu(
    text: str,
    labels: tuple[frozenset[tuple[str, ...]], ...],
    language: str,
    *,
    schools: bool = False,
) -> frozenset[tuple[int, ...]] | None:
    # Each way to read `text` as picks from a menu, as option indexes in the order
    # written: empty when nothing reads, None when too much does.
    words = split_words(text)
    # Every option of a long menu, "and" between each, is still an answer.
    if not words or len(words) > max(MAX_ANSWER_WORDS, 2 * len(labels)) or not labels:
        return frozenset()
    folded = tuple(fold(word) for word in words)
    # The whole reply is one option's label; a lone number is still a menu number.
    if len(words) > 1 or _menu_number(words[0]) is None:
        exact = [index for index, option in enumerate(labels) if folded in option]
        if len(exact) == 1:
            return frozenset({(exact[0],)})
    numbers, function = _number_book(language, True), _function_book(language, schools)
    answers = _yes_no_book()
    widest = max([1, numbers.longest, *(len(label) for option in labels for label in option)])
    resolved: dict[tuple[int, int], int | None] = {}

    def option_at(start: int, end: int) -> int | None:
        if (start, end) not in resolved:
            resolved[start, end] = _resolve(
                words[start:end], folded[start:end], labels, numbers, function
            )
        return resolved[start, end]

    def pieces(start: int) -> Iterator[tuple[int, int | None]]:
        for end, kinds in function.starting_at(words, start):
            for kind in set(kinds):
                yield end, _SEPARATOR if kind == "and" else None
        if start == 0:
            # "Sí, 2": a leading yes is filler, unless it is an option itself (y of a-y).
            for end, hits in answers.starting_at(words, start):
                if any(answer == YES for answer, _ in hits) and option_at(start, end) is None:
                    yield end, None
        for end in range(start + 1, min(len(words), start + widest) + 1):
            option = option_at(start, end)
            if option is not None:
                yield end, option

    found = readings(len(words), pieces)
    if found is None:
        return None
    read = [picks for reading in found if (picks := _between_separators(reading))]
    # The longest phrases win: "thứ hai" is "second", not "thứ" and "hai".
    fewest = min(map(len, read), default=0)
    return frozenset(picks for picks in read if len(picks) == fewest)


def _resolve(
    words: Sequence[str],
    folded: tuple[str, ...],
    labels: tuple[frozenset[tuple[str, ...]], ...],
    numbers: Phrasebook[int],
    function: Phrasebook[str],
) -> int | None:
    # A number, letter or whole label names an option outright; only without one
    # may a part of a label, and only a part no other option shares.
    count = len(labels)
    named: set[int] = set()
    if len(words) == 1:
        number = _menu_number(words[0])
        if number is not None and 1 <= number <= count:
            named.add(number - 1)
        letter = words[0]
        if len(letter) == 1 and "a" <= letter <= "z" and ord(letter) - ord("a") < count:
            named.add(ord(letter) - ord("a"))
    named.update(number - 1 for number in numbers.find(words) if 1 <= number <= count)
    named.update(index for index, option in enumerate(labels) if folded in option)
    if named:
        return named.pop() if len(named) == 1 else None
    if all(function.find([word]) for word in words) or _weight(folded) < MIN_PARTIAL_WEIGHT:
        return None
    partial = {
        index
        for index, option in enumerate(labels)
        if any(_is_part(folded, label) for label in option)
    }
    return partial.pop() if len(partial) == 1 else None


def _is_part(folded: tuple[str, ...], label: tuple[str, ...]) -> bool:
    # Whole words of the label, the last one perhaps cut short: "lincoln elem".
    size = len(folded)
    return any(
        label[start : start + size - 1] == folded[:-1]
        and label[start + size - 1].startswith(folded[-1])
        for start in range(len(label) - size + 1)
    )


def _between_separators(reading: tuple[int, ...]) -> tuple[int, ...]:
    # Every "and" must stand between two picks: "1 and" is not read.
    if not reading or reading[0] == _SEPARATOR or reading[-1] == _SEPARATOR:
        return ()
    if any(a == b == _SEPARATOR for a, b in zip(reading, reading[1:], strict=False)):
        return ()
    return tuple(index for index in reading if index != _SEPARATOR)


def _unique(picks: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(picks))


def _menu_number(word: str) -> int | None:
    match = _menu_number_pattern().fullmatch(word)
    return int(match.group(1)) if match else None


def _label_words(labels: Iterable[str]) -> frozenset[tuple[str, ...]]:
    return _label_words_of(tuple(labels))


# Option labels repeat on every message: read each set of them once.
@lru_cache(maxsize=4096)
def _label_words_of(labels: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    return frozenset(
        tuple(fold(word) for word in words) for label in labels if (words := split_words(label))
    )


def _weight(folded: Iterable[str]) -> int:
    return sum(2 if _is_dense(char) else 1 for word in folded for char in word)


# -- scale ----------------------------------------------------------------------


def _parse_scale(question: Question, text: str, language: str) -> int | None:
    low, high = question.scale_min, question.scale_max
    words = split_words(_SLASH.sub(rf"\1 {_OUT_OF} ", text))
    if not words or len(words) > MAX_ANSWER_WORDS:
        return None
    folded = tuple(fold(word) for word in words)
    for label, value in ((question.scale_min_label, low), (question.scale_max_label, high)):
        if label is not None and folded in _label_words(label.values.values()):
            return value
    cardinals, out_of, fillers = _number_book(language, False), _out_of_book(), _scale_filler_book()
    articles = _articles()
    numbers: list[tuple[int, bool]] = []
    chatter = 0
    start = 0
    while start < len(words):
        word = words[start]
        if _NUMBER.fullmatch(word):
            numbers.append((int(word), False))
            start += 1
            # "4 out of 5": the 5 must be the top of this scale.
            end, _ = _longest(out_of, words, start)
            if end > start and end < len(words) and _NUMBER.fullmatch(words[end]):
                if int(words[end]) != high:
                    return None
                start = end + 1
            continue
        if any(char.isdigit() for char in word):
            return None
        end, spoken = _longest(cardinals, words, start)
        if spoken:
            if len(set(spoken)) > 1:
                return None
            numbers.append((spoken[0], end == start + 1 and folded[start] in articles))
            start = end
            continue
        end, _ = _longest(fillers, words, start)
        if end > start:
            start = end
            continue
        chatter += 1
        start += 1
    if chatter > MAX_SCALE_CHATTER:
        return None
    # "un 4" gives a 4: an article that is also "one" yields to a real number.
    said = {value for value, article in numbers if not article} or {value for value, _ in numbers}
    if len(said) != 1:
        return None
    (value,) = said
    return value if low <= value <= high else None


# -- yes / no -------------------------------------------------------------------


def _yes_or_no(hits: Sequence[tuple[str, str]], language: str) -> str | None:
    meant = {answer for answer, _ in hits}
    for preferred in (language, "en"):
        if len(meant) > 1:
            meant = {answer for answer, spoken in hits if spoken == preferred} or meant
    return meant.pop() if len(meant) == 1 else None


def _yes_no_symbol(text: str) -> str | None:
    yes = any(symbol in text for symbol in YES_SYMBOLS)
    no = any(symbol in text for symbol in NO_SYMBOLS)
    if yes == no:
        return None
    return YES if yes else NO


# -- shared ---------------------------------------------------------------------


def _longest(book: Phrasebook[V], words: Sequence[str], start: int) -> tuple[int, tuple[V, ...]]:
    best: tuple[int, tuple[V, ...]] = (start, ())
    for found in book.starting_at(words, start):
        best = found
    return best


def _is_letter_or_digit(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def _is_dense(char: str) -> bool:
    point = ord(char)
    return (
        0xAC00 <= point <= 0xD7A3
        or 0x3040 <= point <= 0x30FF
        or 0x3400 <= point <= 0x9FFF
        or point >= 0x20000
    )


@cache
def _yes_no_book() -> Phrasebook[tuple[str, str]]:
    return Phrasebook(
        (phrase, (answer, language))
        for answer, table in ((YES, vocabulary().yes), (NO, vocabulary().no))
        for language, phrases in table.items()
        for phrase in phrases
    )


@cache
def _polite_book() -> Phrasebook[str]:
    return Phrasebook(_every(vocabulary().polite, "polite"))


@lru_cache(maxsize=128)
def _function_book(language: str, schools: bool = False) -> Phrasebook[str]:
    return Phrasebook(
        [
            *(
                (word, "and")
                for spoken in dict.fromkeys((language, "en"))
                for word in vocabulary().and_words.get(spoken, ())
            ),
            *_every(vocabulary().polite, "polite"),
            *_every(vocabulary().choice, "choice"),
            *(_every(vocabulary().school_words, "school") if schools else ()),
        ]
    )


@cache
def _scale_filler_book() -> Phrasebook[str]:
    return Phrasebook(
        [
            *_every(vocabulary().scale_units, "unit"),
            *_every(vocabulary().polite, "polite"),
            *_every(vocabulary().choice, "choice"),
        ]
    )


@cache
def _out_of_book() -> Phrasebook[str]:
    return Phrasebook([*_every(vocabulary().out_of, "out of"), (_OUT_OF, "out of")])


@cache
def _language_book() -> Phrasebook[str]:
    return Phrasebook((name, code) for code, names in vocabulary().names.items() for name in names)


@cache
def _language_keyword_book() -> Phrasebook[str]:
    return Phrasebook(_every(keyword_words()[Keyword.LANGUAGE], "language"))


@cache
def _language_filler_book() -> Phrasebook[str]:
    return Phrasebook(
        [
            *_every(vocabulary().name_fillers, "filler"),
            *_every(vocabulary().polite, "polite"),
        ]
    )


@lru_cache(maxsize=64)
def _number_book(language: str, ordinals: bool) -> Phrasebook[int]:
    tables = (vocabulary().numbers, vocabulary().ordinals) if ordinals else (vocabulary().numbers,)
    return Phrasebook(
        (word, value)
        for table in tables
        for spoken in dict.fromkeys((language, "en"))
        for word, value in table.get(spoken, {}).items()
    )


@cache
def _articles() -> frozenset[str]:
    return frozenset(fold(word) for words in vocabulary().articles.values() for word in words)


# A menu number, maybe with an ordinal's ending: 2nd, 2º (NFKC: 2o), 3e, 2번.
@cache
def _menu_number_pattern() -> re.Pattern[str]:
    endings = {s for words in vocabulary().ordinal_suffixes.values() for s in words}
    return re.compile(
        r"([0-9]{1,6})(?:"
        + "|".join(sorted(map(re.escape, endings), key=len, reverse=True))
        + r")?"
    )


def _every(table: Mapping[str, tuple[str, ...]], kind: str) -> list[tuple[str, str]]:
    return [(phrase, kind) for phrases in table.values() for phrase in phrases]
