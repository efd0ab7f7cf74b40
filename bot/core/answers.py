"""Reading a reply to a question the way families really write it.

"2", "#2", "b)", "two", "dos", "hai", "二", "2️⃣", an option's label in any of
its languages or a unique part of it, "the second one", "la segunda", "cái
thứ hai", "第二个", "1,3", "1 y 3", "Sí, 2", "4/5", "4 stars", "👍".

`read_answer` says what a reply does with a question (a `Reading`):

- ANSWER: the value the family gave.
- DONT_KNOW: "no sé", "không biết", "不知道", "idk" to a question that offers
  no "don't know" option (where one does, that option is the ANSWER).
- WHICH: the reply names two or more answers ("4 or 5", "4-5", "3.5",
  "1 y 2" to a single choice, "lincoln" when two schools are Lincoln); the
  `alternatives` are what to ask between. It is never guessed.
- UNCLEAR: nothing in it answers the question.

Numbers inside sentences follow one rule, so that "I have 2 kids, so I would
say 4" is a 4 and "my 3 kids say the buses are always late" is no rating:

1. A number followed by what it counts ("2 kids", "3 años", "hai đứa con",
   "两个孩子", the `counted` words of each language) counts, it does not rate.
2. In a short reply (at most MAX_SCALE_CHATTER other words) every remaining
   number counts as an answer: "I'd say 4", "4 stars", "un 4".
3. In a longer one only a number that opens the reply in digits or closes it
   does ("4, because the buses are late", "... so I would say 4"); one in
   the middle ("we waited 20 minutes at the stop") is the family's message,
   not a rating, unless it stands beside one at an edge ("4 for my son, 2
   for my daughter"): then both are.
4. One value left is the answer; two or more are asked about (WHICH); none
   is UNCLEAR. A number outside the scale is UNCLEAR, never clipped, and so
   is one that is no single value ("not 5", "less than 3", "más de 2"); a
   half ("3.5", "3½", "3 y medio", "3 rưỡi") is asked about.

An ordinal is a position: on a 1-5 scale "the second one" is 2; on a 0-10
scale it could be 1 or 2, so it is asked about. None of these functions raises.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
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
    "Reading",
    "ReadingKind",
    "parse_answer",
    "parse_language_choice",
    "parse_language_request",
    "parse_option",
    "parse_school",
    "parse_yes_no",
    "read_answer",
    "says_dont_know",
]

AnswerValue = str | int | tuple[str, ...]

YES = "yes"
NO = "no"
_MAYBE = "maybe"

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
# "3-5" on a scale asks between 3, 4 and 5; a wider span is not a range anyone means.
MAX_RANGE = 10
# Option keys that offer "don't know", whatever their labels say.
DONT_KNOW_KEYS = frozenset({"dont_know", "dont-know", "not_sure", "not-sure", "unsure", "idk"})

V = TypeVar("V", bound=Hashable)

_SEPARATOR = -1
_ALTERNATIVE = -2
_NUMBER = re.compile(r"-?[0-9]{1,6}")
_SLASH = re.compile(r"(\d)\s*[/／∕⁄]\s*(?=\d)")
_DECIMAL = re.compile(r"(?<![\d.,])(\d{1,3})[.,](\d{1,2})(?![\d.,]*\d)")
_RANGE = re.compile(r"(?<![\d-])(\d{1,3})\s*[-–~〜]\s*(\d{1,3})(?!\d)")
_DIGITS_THEN_LETTERS = re.compile(r"(-?[0-9]{1,6})([^\W\d_]+)")
_OUT_OF = "out of"
_STARS = "\N{WHITE MEDIUM STAR}\N{GLOWING STAR}\N{BLACK STAR}"


class ReadingKind(StrEnum):
    ANSWER = "answer"
    DONT_KNOW = "dont_know"
    WHICH = "which"
    UNCLEAR = "unclear"


@dataclass(frozen=True, slots=True)
class Reading:
    """What a reply does with a question: answers it, says "don't know", or must be asked again.

    `value` is set for ANSWER; `alternatives` for WHICH, in the order the
    reply named them.
    """

    kind: ReadingKind
    value: AnswerValue | None = None
    alternatives: tuple[AnswerValue, ...] = ()


_UNCLEAR = Reading(ReadingKind.UNCLEAR)
_DONT_KNOW = Reading(ReadingKind.DONT_KNOW)


def _answer(value: AnswerValue) -> Reading:
    return Reading(ReadingKind.ANSWER, value)


def _which(alternatives: Iterable[AnswerValue]) -> Reading:
    unique = tuple(dict.fromkeys(alternatives))
    if len(unique) == 1:
        return _answer(unique[0])
    return Reading(ReadingKind.WHICH, alternatives=unique) if unique else _UNCLEAR


def read_answer(question: Question, text: str, language: str) -> Reading:
    """What `text` does with `question`; `language` is the participant's.

    An ANSWER's value is, by question type: single choice an option key;
    multiple choice the chosen keys in the order the options are defined (at
    most `max_choices`); ranking the keys in the order given; a scale an int
    within its bounds; yes/no "yes" or "no"; free text the stripped text.
    Info texts take no answer. The participant's language's number words
    count besides English's; labels count in every language.
    """
    if len(text) > 4000:
        text = text[:4000]
    match question.type:
        case QuestionType.INFO:
            return _UNCLEAR
        case QuestionType.FREE_TEXT:
            stripped = text.strip()
            if not any(_is_letter_or_digit(char) for char in stripped):
                return _UNCLEAR
            # "No sé" is what they said; only an optional question may take it as a skip.
            if question.optional and says_dont_know(stripped):
                return _DONT_KNOW
            return _answer(stripped)
        case _:
            pass
    words = split_words(text)
    dont_know = says_dont_know(text)
    # "Maybe" is "not sure yet" where the question offers that, and no answer elsewhere.
    if dont_know or (words and len(words) <= MAX_YES_NO_WORDS and _only_hedges(words)):
        offered = _offered_dont_know(question)
        if offered is not None:
            multiple = question.type in (QuestionType.MULTIPLE_CHOICE, QuestionType.RANKING)
            return _answer((offered,) if multiple else offered)
        if dont_know:
            return _DONT_KNOW
    match question.type:
        case QuestionType.SINGLE_CHOICE:
            return _read_single(question, text, language)
        case QuestionType.MULTIPLE_CHOICE | QuestionType.RANKING:
            return _read_several(question, text, language)
        case QuestionType.SCALE:
            return _read_scale(question, text, language)
        case _:
            said = parse_yes_no(text, language)
            return _answer(said) if said is not None else _UNCLEAR


def parse_answer(question: Question, text: str, language: str) -> AnswerValue | None:
    """`text` as an answer to `question`, or None unless it reads as exactly one answer.

    The value of `read_answer`'s ANSWER; None for anything else.
    """
    reading = read_answer(question, text, language)
    return reading.value if reading.kind is ReadingKind.ANSWER else None


def says_dont_know(text: str) -> bool:
    """Whether `text` says only "I don't know", in any language ("no se", "不知道", "idk")."""
    words = split_words(text)
    return bool(words) and len(words) <= MAX_YES_NO_WORDS and _says_dont_know(words)


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
    reading = _read_menu(text, labels, language, schools=schools)
    if reading.choices is None or reading.alternative or len(reading.choices) != 1:
        return None
    (pick,) = reading.choices
    return options[pick[0]][0] if len(_unique(pick)) == 1 else None


def parse_yes_no(text: str, language: str) -> str | None:
    """Read a yes/no reply in any language: "yes", "no", or None.

    Accepts "sí", "có", "是的", "no thanks", 👍, and "1"/"2" as the menu shows them.
    A word that means yes in one language and no in another is read in
    `language`, then in English. Mixed replies ("yes no", "no sé") and
    hedges ("maybe", "có thể", "um") are None.
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
        if meant is None or meant == _MAYBE:
            return None
        said.add(meant)
        start = end
    # "👍 no" says both.
    symbol = _yes_no_symbol(text)
    if symbol is not None:
        said.add(symbol)
    return said.pop() if len(said) == 1 else None


def parse_language_request(text: str, languages: Sequence[str]) -> str | None:
    """The code of the language `text` asks for by the LANGUAGE keyword and a name, or None.

    "idioma espanol", "language: Spanish", "ngon ngu tieng viet", "语言 中文":
    the keyword of any language with the name of one of `languages`, so a
    family need not go through the menu.
    """
    return _parse_language_request(text, frozenset(languages))


@lru_cache(maxsize=8192)
def _parse_language_request(text: str, languages: frozenset[str]) -> str | None:
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


def _question_options(question: Question) -> list[tuple[str, tuple[str, ...]]]:
    return [(option.key, tuple(option.label.values.values())) for option in question.options]


def _read_single(question: Question, text: str, language: str) -> Reading:
    options = _question_options(question)
    keys = [key for key, _ in options]
    labels = tuple(_label_words(labels) for _, labels in options)
    menu = _read_menu(text, labels, language)
    if menu.choices is None:
        return _UNCLEAR
    named = menu.named()
    if named:
        # "2 or 3", "1 y 2", "1 3": one answer was asked for, so ask which.
        return _which(keys[index] for index in named)
    words = split_words(text)
    said = None if any(char.isdigit() for char in text) else parse_yes_no(text, language)
    if said is not None:
        # 👍 or "sí" where one option is the yes (or the no) of the menu.
        meaning = [index for index, (_, names) in enumerate(options) if _means(names, said)]
        return _answer(keys[meaning[0]]) if len(meaning) == 1 else _UNCLEAR
    if len(words) == 1:
        # "2" where option 2 is labelled "1" and option 3 "2".
        named = _named_outright(words, labels, language)
        if len(named) > 1:
            return _which(keys[index] for index in named)
    numbers = _read_numbers(words, 1, len(options), language)
    if numbers:
        return _which(keys[value - 1] for value in numbers)
    return _which(keys[index] for index in _partly_named(words, labels, language))


def _read_several(question: Question, text: str, language: str) -> Reading:
    options = _question_options(question)
    keys = [key for key, _ in options]
    labels = tuple(_label_words(labels) for _, labels in options)
    menu = _read_menu(text, labels, language)
    if not menu.choices:
        return _UNCLEAR
    if menu.alternative:
        # "1 or 3": they meant one of them, and must say which.
        return _which((keys[index],) for index in menu.named())
    ranking = question.type is QuestionType.RANKING
    picks = {
        _unique(reading) if ranking else tuple(sorted(set(reading))) for reading in menu.choices
    }
    if len(picks) != 1:
        return _UNCLEAR
    (pick,) = picks
    if len(pick) > (question.max_choices or len(options)):
        return _UNCLEAR
    return _answer(tuple(keys[index] for index in pick))


def _means(names: Sequence[str], said: str) -> bool:
    return any(
        parse_yes_no(name, "en") == said
        for name in names
        if not any(char.isdigit() for char in name)
    )


def _partly_named(
    words: Sequence[str], labels: tuple[frozenset[tuple[str, ...]], ...], language: str
) -> tuple[int, ...]:
    # "lincoln" when the menu has Lincoln Elementary and Lincoln High: the
    # options a part of whose label the reply is, so the family can say which.
    function = _function_book(language, True)
    folded = tuple(fold(word) for word in words if not function.find([word]))
    if not folded or len(folded) > 3 or _weight(folded) < MIN_PARTIAL_WEIGHT:
        return ()
    return tuple(
        index
        for index, option in enumerate(labels)
        if any(_is_part(folded, label) for label in option)
    )


@dataclass(frozen=True, slots=True)
class _Menu:
    # Each way to read a reply as picks from a menu, as option indexes in the
    # order written: empty when nothing reads, None when too much does.
    choices: frozenset[tuple[int, ...]] | None
    # An "or" stood between the picks: one of them was meant.
    alternative: bool = False

    def named(self) -> tuple[int, ...]:
        """Every option any reading picks, in the order written when the readings agree."""
        if not self.choices:
            return ()
        if len(self.choices) == 1:
            return _unique(next(iter(self.choices)))
        return tuple(sorted({index for pick in self.choices for index in pick}))


def _read_menu(
    text: str,
    labels: tuple[frozenset[tuple[str, ...]], ...],
    language: str,
    *,
    schools: bool = False,
) -> _Menu:
    words = split_words(text)
    # Every option of a long menu, "and" between each, is still an answer.
    if not words or len(words) > max(MAX_ANSWER_WORDS, 2 * len(labels)) or not labels:
        return _Menu(frozenset())
    folded = tuple(fold(word) for word in words)
    # The whole reply is one option's label; a lone number is still a menu number.
    if len(words) > 1 or _menu_number(words[0]) is None:
        exact = [index for index, option in enumerate(labels) if folded in option]
        if len(exact) == 1:
            return _Menu(frozenset({(exact[0],)}))
    numbers, function = _number_book(language, True), _function_book(language, schools)
    answers, pronouns = _yes_no_book(), _pronoun_book()
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
                yield end, _SEPARATORS.get(kind)
        if start == 0:
            # "Sí, 2": a leading yes is filler, unless it is an option itself (y of a-y).
            for end, hits in answers.starting_at(words, start):
                if any(answer == YES for answer, _ in hits) and option_at(start, end) is None:
                    yield end, None
        for end in range(start + 1, min(len(words), start + widest) + 1):
            option = option_at(start, end)
            if option is not None:
                yield end, option
                # "2nd one": the one is the option, not option 1.
                if end == start + 1 and _ordinal_number(words[start]) is not None:
                    for after, _ in pronouns.starting_at(words, end):
                        yield after, option

    found = readings(len(words), pieces)
    if found is None:
        return _Menu(None)
    read = [picks for reading in found if (picks := _between_separators(reading))[0]]
    # The longest phrases win: "thứ hai" is "second", not "thứ" and "hai".
    fewest = min((len(picks) for picks, _ in read), default=0)
    chosen = [(picks, alternative) for picks, alternative in read if len(picks) == fewest]
    return _Menu(
        frozenset(picks for picks, _ in chosen), any(alternative for _, alternative in chosen)
    )


_SEPARATORS = {"and": _SEPARATOR, "or": _ALTERNATIVE}


def _resolve(
    words: Sequence[str],
    folded: tuple[str, ...],
    labels: tuple[frozenset[tuple[str, ...]], ...],
    numbers: Phrasebook[int],
    function: Phrasebook[str],
) -> int | None:
    # A number, letter or whole label names an option outright; only without one
    # may a part of a label, and only a part no other option shares.
    named = _named(words, folded, labels, numbers)
    if named:
        return named.pop() if len(named) == 1 else None
    if all(function.find([word]) for word in words) or _weight(folded) < MIN_PARTIAL_WEIGHT:
        return None
    # Most words of a long reply are in no label at all: rule them out at once.
    vocabulary_words = _words_in(labels)
    if any(word not in vocabulary_words for word in folded[:-1]) or not any(
        word.startswith(folded[-1]) for word in vocabulary_words
    ):
        return None
    partial = {
        index
        for index, option in enumerate(labels)
        if any(_is_part(folded, label) for label in option)
    }
    return partial.pop() if len(partial) == 1 else None


def _named(
    words: Sequence[str],
    folded: tuple[str, ...],
    labels: tuple[frozenset[tuple[str, ...]], ...],
    numbers: Phrasebook[int],
) -> set[int]:
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
    return named


def _named_outright(
    words: Sequence[str], labels: tuple[frozenset[tuple[str, ...]], ...], language: str
) -> tuple[int, ...]:
    folded = tuple(fold(word) for word in words)
    return tuple(sorted(_named(words, folded, labels, _number_book(language, True))))


def _is_part(folded: tuple[str, ...], label: tuple[str, ...]) -> bool:
    # Whole words of the label, the last one perhaps cut short: "lincoln elem".
    size = len(folded)
    return any(
        label[start : start + size - 1] == folded[:-1]
        and label[start + size - 1].startswith(folded[-1])
        for start in range(len(label) - size + 1)
    )


def _between_separators(reading: tuple[int, ...]) -> tuple[tuple[int, ...], bool]:
    # Every "and" or "or" must stand between two picks: "1 and" is not read.
    marks = (_SEPARATOR, _ALTERNATIVE)
    if not reading or reading[0] in marks or reading[-1] in marks:
        return (), False
    if any(a in marks and b in marks for a, b in zip(reading, reading[1:], strict=False)):
        return (), False
    picks = tuple(index for index in reading if index not in marks)
    return picks, _ALTERNATIVE in reading


def _unique(picks: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(picks))


def _menu_number(word: str) -> int | None:
    match = _menu_number_pattern().fullmatch(word)
    return int(match.group(1)) if match else None


def _ordinal_number(word: str) -> int | None:
    # A number with an ordinal's ending ("2nd", "2º", "3e"); a bare "2" is not one.
    match = _menu_number_pattern().fullmatch(word)
    return int(match.group(1)) if match and match.group(2) else None


def _label_words(labels: Iterable[str]) -> frozenset[tuple[str, ...]]:
    return _label_words_of(tuple(labels))


# Option labels repeat on every message: read each set of them once.
@lru_cache(maxsize=4096)
def _label_words_of(labels: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    return frozenset(
        tuple(fold(word) for word in words) for label in labels if (words := split_words(label))
    )


@lru_cache(maxsize=1024)
def _words_in(labels: tuple[frozenset[tuple[str, ...]], ...]) -> frozenset[str]:
    return frozenset(word for option in labels for label in option for word in label)


def _weight(folded: Iterable[str]) -> int:
    return sum(2 if _is_dense(char) else 1 for word in folded for char in word)


# -- don't know -----------------------------------------------------------------


def _says_dont_know(words: tuple[str, ...]) -> bool:
    return _dont_know_in(words)


@lru_cache(maxsize=4096)
def _dont_know_in(words: tuple[str, ...]) -> bool:
    book, fillers = _dont_know_book(), _hedge_book()
    marker = "?"

    def pieces(start: int) -> Iterator[tuple[int, str | None]]:
        for end, _ in book.starting_at(words, start):
            yield end, marker
        for end, _ in fillers.starting_at(words, start):
            yield end, None

    found = readings(len(words), pieces)
    return bool(found) and any(marker in reading for reading in found or ())


@lru_cache(maxsize=4096)
def _only_hedges(words: tuple[str, ...]) -> bool:
    hedges, fillers = _maybe_book(), _polite_book()

    def pieces(start: int) -> Iterator[tuple[int, str | None]]:
        for end, _ in hedges.starting_at(words, start):
            yield end, "maybe"
        for end, _ in fillers.starting_at(words, start):
            yield end, None

    found = readings(len(words), pieces)
    return bool(found) and any("maybe" in reading for reading in found or ())


def _offered_dont_know(question: Question) -> str | None:
    # The option that is "don't know" ("Not sure", "No sé"), when the question has one.
    options = _question_options(question)
    offered = _dont_know_options(tuple(options))
    return options[offered[0]][0] if len(offered) == 1 else None


@lru_cache(maxsize=1024)
def _dont_know_options(options: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[int, ...]:
    return tuple(
        index
        for index, (key, labels) in enumerate(options)
        if key.casefold() in DONT_KNOW_KEYS or any(says_dont_know(label) for label in labels)
    )


# -- scale and numbers in sentences ---------------------------------------------


def _read_scale(question: Question, text: str, language: str) -> Reading:
    low, high = question.scale_min, question.scale_max
    prepared = _SLASH.sub(rf"\1 {_OUT_OF} ", re.sub(r"\s*½", ".5", text))
    prepared = _DECIMAL.sub(_halves, prepared)
    prepared = _RANGE.sub(_span, prepared)
    words = split_words(prepared)
    if not words:
        # "⭐⭐⭐⭐": as many stars as the rating, and nothing else.
        stars = sum(text.count(star) for star in _STARS)
        if stars and not text.strip(_STARS + " \ufe0f"):
            return _answer(stars) if low <= stars <= high else _UNCLEAR
        return _UNCLEAR
    if len(words) > MAX_ANSWER_WORDS:
        return _UNCLEAR
    folded = tuple(fold(word) for word in words)
    for label, value in ((question.scale_min_label, low), (question.scale_max_label, high)):
        if label is not None and folded in _label_words(label.values.values()):
            return _answer(value)
    return _which(_read_numbers(words, low, high, language))


def _halves(match: re.Match[str]) -> str:
    # "4.0" is 4; "3.5" or "3,5" lies between 3 and 4, so both are asked about.
    whole, fraction = int(match.group(1)), int(match.group(2))
    return f" {whole} " if fraction == 0 else f" {whole} {whole + 1} "


def _span(match: re.Match[str]) -> str:
    first, last = int(match.group(1)), int(match.group(2))
    if not first < last <= first + MAX_RANGE:
        return match.group(0)
    return " " + " ".join(str(value) for value in range(first, last + 1)) + " "


@dataclass(slots=True)
class _Mention:
    # A number in a reply: the values it may stand for and where it is.
    values: tuple[int, ...]
    start: int
    end: int
    digits: bool
    article: bool = False  # "un" of "un 4"
    pronoun: bool = False  # "one", which "that one" uses as no number at all
    counts: bool = False  # followed by what it counts: "2 kids"


def _read_numbers(words: Sequence[str], low: int, high: int, language: str) -> tuple[int, ...]:
    # The values a reply names as its answer, by the rule of the module docstring:
    # counts are not answers and a long reply answers only at its edges. Empty
    # when it names none, or a number off the scale.
    if not words or len(words) > MAX_ANSWER_WORDS:
        return ()
    words = _apart(words)
    cardinals, ordinals = _number_book(language, False), _ordinal_book(language)
    out_of, counted, halves = _out_of_book(), _counted_book(), _half_book()
    hedged = _not_exactly_book()
    fillers, pronouns, last = _scale_filler_book(language), _pronoun_book(), _last_book()
    articles = _articles()
    mentions: list[_Mention] = []
    chatter: list[int] = []
    start = 0
    while start < len(words):
        word = words[start]
        position = _ordinal_number(word)
        if _NUMBER.fullmatch(word) or position is not None:
            values = (int(word),) if position is None else _positions(position, low)
            end = start + 1
            if position is not None:
                end, _ = _longest(pronouns, words, end)
            mentions.append(_Mention(values, start, end, digits=True))
            # "4 out of 5", "4 stars out of 5": the 5 must be the top of this scale.
            start = _past_the_top(words, end, high, out_of, fillers, cardinals)
            if start < 0:
                return ()
            continue
        if any(char.isdigit() for char in word):
            return ()
        end, _ = _longest(hedged, words, start)
        if end > start and end < len(words) and _names_a_number(words[end], cardinals):
            # "not 5", "less than 3", "más de 2": no one value.
            return ()
        end, _ = _longest(halves, words, start)
        if end > start and mentions and mentions[-1].end == start:
            # "3 y medio", "3 rưỡi": between 3 and 4.
            whole = mentions[-1].values[0]
            mentions[-1].values, mentions[-1].end = (whole, whole + 1), end
            start = end
            continue
        end, _ = _longest(last, words, start)
        if end > start:
            mentions.append(_Mention((high,), start, end, digits=False))
            start = end
            continue
        end, spoken = _longest(cardinals, words, start)
        placed_end, placed = _longest(ordinals, words, start)
        if placed and placed_end >= end:
            values = tuple(dict.fromkeys(v for p in placed for v in _positions(p, low)))
            mentions.append(_Mention(values, start, placed_end, digits=False))
            start = placed_end
            continue
        if spoken:
            one_word = end == start + 1
            after = _past_the_top(words, end, high, out_of, fillers, cardinals)
            if after < 0:
                return ()
            mentions.append(
                _Mention(
                    tuple(dict.fromkeys(spoken)),
                    start,
                    end,
                    digits=False,
                    article=one_word and fold(word) in articles,
                    pronoun=one_word and pronouns.find([word]) != (),
                )
            )
            start = after
            continue
        end, _ = _longest(counted, words, start)
        if end > start and mentions and mentions[-1].end == start:
            mentions[-1].counts = True
            start = end
            continue
        end, _ = _longest(fillers, words, start)
        if end > start:
            start = end
            continue
        chatter.append(start)
        start += 1
    kept = [mention for mention in mentions if not mention.counts]
    # "un 4" gives a 4: an article that is also "one" yields to a real number.
    if any(not mention.article for mention in kept):
        kept = [mention for mention in kept if not mention.article]
    if chatter:
        kept = [mention for mention in kept if not mention.pronoun]
    if len(chatter) > MAX_SCALE_CHATTER:
        edges = _at_the_edges(kept, chatter)
        # A rating in the middle as well ("4 for my son, 2 for my daughter"): ask.
        middle = [
            m for m in kept if all(m is not edge for edge in edges) and low <= m.values[0] <= high
        ]
        kept = [*edges, *middle] if edges else []
    if any(not low <= m.values[0] <= high for m in kept):
        return ()
    return tuple(dict.fromkeys(value for m in kept for value in m.values if low <= value <= high))


def _past_the_top(
    words: Sequence[str],
    end: int,
    high: int,
    out_of: Phrasebook[str],
    fillers: Phrasebook[str],
    cardinals: Phrasebook[int],
) -> int:
    # "4 out of 5", "4 stars out of 5", "cuatro de cinco": where the reply goes on
    # after the top of the scale, which must be this scale's (-1 when it is not).
    after, _ = _longest(fillers, words, end)
    top, _ = _longest(out_of, words, after)
    if not after < top < len(words):
        return end
    if _NUMBER.fullmatch(words[top]):
        return top + 1 if int(words[top]) == high else -1
    stop, spoken = _longest(cardinals, words, top)
    if spoken:
        return stop if high in spoken else -1
    return end


def _names_a_number(word: str, cardinals: Phrasebook[int]) -> bool:
    return (
        bool(_NUMBER.fullmatch(word))
        or _ordinal_number(word) is not None
        or bool(cardinals.find([word]))
    )


def _apart(words: Sequence[str]) -> Sequence[str]:
    # "4점", "4pts", "2kids": a number and the word written onto it ("2nd" stays).
    if not any(_DIGITS_THEN_LETTERS.fullmatch(word) for word in words):
        return words
    apart: list[str] = []
    for word in words:
        match = _DIGITS_THEN_LETTERS.fullmatch(word)
        if match is None or _ordinal_number(word) is not None:
            apart.append(word)
        else:
            apart.extend(match.groups())
    return apart


def _positions(position: int, low: int) -> tuple[int, ...]:
    # The second of 1-5 is 2; the second of 0-10 is 1, or 2 to one who counts from 1.
    return tuple(dict.fromkeys((low + position - 1, position)))


def _at_the_edges(mentions: list[_Mention], chatter: list[int]) -> list[_Mention]:
    # In a long reply, only the numbers that open it in digits or close it answer.
    groups: list[list[_Mention]] = []
    for mention in mentions:
        if groups and not any(groups[-1][-1].end <= at < mention.start for at in chatter):
            groups[-1].append(mention)
        else:
            groups.append([mention])
    kept: list[_Mention] = []
    if groups and groups[0][0].digits and all(at >= groups[0][-1].end for at in chatter):
        kept += groups[0]
    if groups and all(at < groups[-1][0].start for at in chatter):
        if not kept or groups[-1] is not groups[0]:
            kept += groups[-1]
    return kept


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
        for answer, table in (
            (YES, vocabulary().yes),
            (NO, vocabulary().no),
            (_MAYBE, vocabulary().maybe),
        )
        for language, phrases in table.items()
        for phrase in phrases
    )


@cache
def _polite_book() -> Phrasebook[str]:
    return Phrasebook(_every(vocabulary().polite, "polite"))


@cache
def _maybe_book() -> Phrasebook[str]:
    return Phrasebook(_every(vocabulary().maybe, "maybe"))


@cache
def _dont_know_book() -> Phrasebook[str]:
    return Phrasebook(_every(vocabulary().dont_know, "dont_know"))


@cache
def _hedge_book() -> Phrasebook[str]:
    # What may stand around "I don't know": "sorry, no sé todavía, gracias".
    return Phrasebook(
        [
            *_every(vocabulary().polite, "polite"),
            *_every(vocabulary().maybe, "maybe"),
            *_every(vocabulary().filler, "filler"),
        ]
    )


@lru_cache(maxsize=128)
def _function_book(language: str, schools: bool = False) -> Phrasebook[str]:
    return Phrasebook(
        [
            *_spoken_in(vocabulary().and_words, language, "and"),
            *_spoken_in(vocabulary().or_words, language, "or"),
            *_every(vocabulary().polite, "polite"),
            *_every(vocabulary().choice, "choice"),
            *(_every(vocabulary().school_words, "school") if schools else ()),
        ]
    )


@lru_cache(maxsize=64)
def _scale_filler_book(language: str) -> Phrasebook[str]:
    return Phrasebook(
        [
            *_every(vocabulary().scale_units, "unit"),
            *_every(vocabulary().polite, "polite"),
            *_every(vocabulary().choice, "choice"),
            *_spoken_in(vocabulary().and_words, language, "and"),
            *_spoken_in(vocabulary().or_words, language, "or"),
        ]
    )


@cache
def _out_of_book() -> Phrasebook[str]:
    return Phrasebook([*_every(vocabulary().out_of, "out of"), (_OUT_OF, "out of")])


@cache
def _counted_book() -> Phrasebook[str]:
    return Phrasebook(_every(vocabulary().counted, "counted"))


@cache
def _not_exactly_book() -> Phrasebook[str]:
    return Phrasebook(_every(vocabulary().not_exactly, "not exactly"))


@cache
def _half_book() -> Phrasebook[str]:
    return Phrasebook(_every(vocabulary().half, "half"))


@cache
def _last_book() -> Phrasebook[str]:
    return Phrasebook(_every(vocabulary().last, "last"))


@cache
def _pronoun_book() -> Phrasebook[str]:
    return Phrasebook(_every(vocabulary().ordinal_pronouns, "one"))


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
    words = (vocabulary().numbers, vocabulary().ordinals) if ordinals else (vocabulary().numbers,)
    return Phrasebook(
        [
            *((word, value) for table in words for word, value in _spoken_numbers(table, language)),
            *(_ordinal_phrases(language) if ordinals else ()),
        ]
    )


@lru_cache(maxsize=64)
def _ordinal_book(language: str) -> Phrasebook[int]:
    return Phrasebook(
        [*_spoken_numbers(vocabulary().ordinals, language), *_ordinal_phrases(language)]
    )


def _ordinal_phrases(language: str) -> list[tuple[str, int]]:
    # "second one": an ordinal and the word that stands for the option.
    return [
        (f"{word} {pronoun}", value)
        for spoken in dict.fromkeys((language, "en"))
        for word, value in vocabulary().ordinals.get(spoken, {}).items()
        for pronoun in vocabulary().ordinal_pronouns.get(spoken, ())
    ]


def _spoken_numbers(table: Mapping[str, Mapping[str, int]], language: str) -> list[tuple[str, int]]:
    return [
        (word, value)
        for spoken in dict.fromkeys((language, "en"))
        for word, value in table.get(spoken, {}).items()
    ]


@cache
def _articles() -> frozenset[str]:
    return frozenset(fold(word) for words in vocabulary().articles.values() for word in words)


# A menu number, maybe with an ordinal's ending: 2nd, 2º (NFKC: 2o), 3e, 2번.
@cache
def _menu_number_pattern() -> re.Pattern[str]:
    endings = {s for words in vocabulary().ordinal_suffixes.values() for s in words}
    return re.compile(
        r"([0-9]{1,6})(" + "|".join(sorted(map(re.escape, endings), key=len, reverse=True)) + r")?"
    )


def _spoken_in(
    table: Mapping[str, tuple[str, ...]], language: str, kind: str
) -> list[tuple[str, str]]:
    return [
        (word, kind) for spoken in dict.fromkeys((language, "en")) for word in table.get(spoken, ())
    ]


def _every(table: Mapping[str, tuple[str, ...]], kind: str) -> list[tuple[str, str]]:
    return [(phrase, kind) for phrases in table.values() for phrase in phrases]
