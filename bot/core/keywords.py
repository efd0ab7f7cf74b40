"""Keywords that work at any point of a conversation, and the word matching behind them.

A keyword is the whole message: the keyword alone, with filler around it
("STOP please", "请停止"), or a known opt-out phrase ("stop texting me"). Words
in a sentence never count: "we need to stop bullying" is an answer, not STOP.

The answer parser reuses the pieces here: `split_words` cuts a message into
casefolded words, `Phrasebook` looks phrases up case- and accent-insensitively,
and `readings` lists every way to read a message as a sequence of phrases.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from typing import Generic, TypeVar

from bot.core.vocabulary import vocabulary

__all__ = [
    "Keyword",
    "KeywordMatch",
    "Phrasebook",
    "fits",
    "fold",
    "keyword_words",
    "match_keyword",
    "normalize",
    "readings",
    "split_words",
]

V = TypeVar("V", bound=Hashable)

# Keywords are short; a long message is something the family wants to say.
MAX_KEYWORD_WORDS = 12
# More readings than this means the message is too ambiguous to act on.
MAX_READINGS = 64
# Twilio and the carriers only know English keywords, so English always counts.
ALWAYS_COUNTED = "en"


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"
    LANGUAGE = "language"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """A keyword, and the language it was written in (None when several languages share it)."""

    keyword: Keyword
    language: str | None


def keyword_words() -> Mapping[Keyword, Mapping[str, tuple[str, ...]]]:
    """Each keyword's words, per language."""
    words = vocabulary()
    return {
        Keyword.STOP: words.stop,
        Keyword.START: words.start,
        Keyword.HELP: words.help,
        Keyword.LANGUAGE: words.language,
        Keyword.SKIP: words.skip,
    }


# Keycap emoji: a digit, an optional emoji selector, the enclosing keycap.
_KEYCAP = re.compile("([0-9])\ufe0f?\u20e3")
_KEYCAP_TEN = "\N{KEYCAP TEN}"
_APOSTROPHES = str.maketrans(dict.fromkeys("'’‘ʼ`´ʻ", ""))
_MINUS_SIGNS = frozenset("-−–")
_KANA_VOICING = frozenset("\u3099\u309a")
# Letters that carry a stroke instead of a combining mark; a reply without a
# Vietnamese keyboard writes đ as d.
_STROKED = {
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "ł": "l",
    "Ł": "L",
    "ø": "o",
    "Ø": "O",
    "ħ": "h",
    "ı": "i",
}


def normalize(text: str) -> str:
    """`text` casefolded, without accents, whitespace collapsed and outer punctuation gone.

    "  ¡Sí, GRACIAS! " becomes "si, gracias"; full-width and other-script digits
    become ASCII digits. Kana voicing marks stay, so distinct Japanese words do
    not merge; Hangul and Chinese are unchanged.
    """
    folded = fold(_ascii_digits(unicodedata.normalize("NFKC", text).casefold()))
    collapsed = " ".join(folded.split())
    start, end = 0, len(collapsed)
    while start < end and not _is_word_char(collapsed[start]):
        start += 1
    while end > start and not _is_word_char(collapsed[end - 1]):
        end -= 1
    return collapsed[start:end]


@lru_cache(maxsize=16384)
def fold(text: str) -> str:
    """`text` without accents or strokes: "dừng" -> "dung", "Đúng" -> "Dung"."""
    return _take_marks(text)[0]


@lru_cache(maxsize=16384)
def split_words(text: str) -> tuple[str, ...]:
    """The words of `text`, casefolded with their accents kept, punctuation and emoji dropped.

    Each Chinese character or kana is a word of its own, as Chinese is not written
    with spaces; apostrophes vanish ("don't" -> "dont"); digits become ASCII, keycap
    emoji too ("4️⃣" -> "4", "🔟" -> "10"), and a minus sign stays on a number that
    starts a word ("-2").
    """
    if "\u20e3" in text or _KEYCAP_TEN in text:
        text = _KEYCAP.sub(r" \1 ", text).replace(_KEYCAP_TEN, " 10 ")
    prepared = unicodedata.normalize("NFKC", text.translate(_APOSTROPHES)).casefold()
    prepared = unicodedata.normalize("NFC", _ascii_digits(prepared))
    words: list[str] = []
    current: list[str] = []
    after_wide = False
    for index, char in enumerate(prepared):
        category = unicodedata.category(char)
        if category[0] == "M":
            if current:
                current.append(char)
            elif after_wide:
                words[-1] += char
            continue
        after_wide = False
        if _is_wide(char):
            if current:
                words.append("".join(current))
                current = []
            words.append(char)
            after_wide = True
        elif category[0] in "LN":
            current.append(char)
        elif (
            char in _MINUS_SIGNS
            and not current
            and index + 1 < len(prepared)
            and prepared[index + 1].isdigit()
        ):
            current.append("-")
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return tuple(word for word in words if fold(word))


class Phrasebook(Generic[V]):
    """Phrases mapped to values, looked up by whole words.

    A reply fits a phrase when its words have the same letters, case and
    accents aside, and no accent the phrase lacks: "dung" and "dưng" fit
    "dừng", "đúng" does not. A phrase of one letter must match with its
    accent ("a" is not "ạ"); inside a longer phrase it may drop it ("dong y"
    is "đồng ý"). A word no phrase has may stretch its letters: "yesss",
    "siii" and "nooo" are "yes", "si" and "no".
    """

    __slots__ = ("_index", "_squeezed", "longest")

    def __init__(self, entries: Iterable[tuple[str, V]]) -> None:
        index: dict[tuple[str, ...], list[tuple[tuple[str, ...], V]]] = {}
        longest = 0
        for phrase, value in entries:
            words = split_words(phrase)
            if not words:
                continue
            key = tuple(fold(word) for word in words)
            index.setdefault(key, []).append((words, value))
            longest = max(longest, len(words))
        self._index: Mapping[tuple[str, ...], tuple[tuple[tuple[str, ...], V], ...]] = {
            key: tuple(found) for key, found in index.items()
        }
        squeezed: dict[tuple[str, ...], list[tuple[tuple[str, ...], V]]] = {}
        for key, found in self._index.items():
            for words, value in found:
                squeezed.setdefault(tuple(map(_squeeze, key)), []).append(
                    (tuple(map(_squeeze, words)), value)
                )
        self._squeezed: Mapping[tuple[str, ...], tuple[tuple[tuple[str, ...], V], ...]] = {
            key: tuple(found) for key, found in squeezed.items()
        }
        self.longest = longest

    def find(self, words: Sequence[str]) -> tuple[V, ...]:
        """The values of every phrase that `words` (from `split_words`) fit, each once."""
        key = tuple(_fold_word(word)[0] for word in words)
        found = self._fitting(self._index.get(key, ()), words)
        if found or not any(_squeeze(word) != word for word in words):
            return found
        squeezed = tuple(map(_squeeze, words))
        return self._fitting(self._squeezed.get(tuple(map(_squeeze, key)), ()), squeezed)

    def starting_at(self, words: Sequence[str], start: int) -> Iterator[tuple[int, tuple[V, ...]]]:
        """(end, values) for each phrase found at `words[start:end]`, shortest first."""
        for end in range(start + 1, min(len(words), start + self.longest) + 1):
            found = self.find(words[start:end])
            if found:
                yield end, found

    @staticmethod
    def _fitting(
        candidates: Iterable[tuple[tuple[str, ...], V]], words: Sequence[str]
    ) -> tuple[V, ...]:
        found: list[V] = []
        for phrase, value in candidates:
            alone = len(phrase) == 1
            if value not in found and all(
                fits(said, word, alone=alone) for said, word in zip(words, phrase, strict=True)
            ):
                found.append(value)
        return tuple(found)


T = TypeVar("T", bound=Hashable)


def readings(
    count: int, pieces: Callable[[int], Iterable[tuple[int, T | None]]]
) -> frozenset[tuple[T, ...]] | None:
    """Every way to read `count` words as a run of pieces, as the tuple of their values.

    `pieces(start)` yields (end, value) for each piece that may start at `start`;
    a value of None (filler) is left out of the reading. An empty set means no
    reading covers the message; None means too many do to trust any.
    """
    found: list[set[tuple[T, ...]]] = [set() for _ in range(count + 1)]
    found[count].add(())
    for start in range(count - 1, -1, -1):
        here = found[start]
        for end, value in pieces(start):
            if not start < end <= count:
                continue
            for rest in found[end]:
                here.add(rest if value is None else (value, *rest))
            if len(here) > MAX_READINGS:
                return None
    return frozenset(found[0])


def match_keyword(text: str, languages: Collection[str]) -> KeywordMatch | None:
    """The keyword `text` is, in one of `languages` or English, or None.

    "Stop!", "ＳＴＯＰ", "please stop", "Parar por favor", "dung" (Vietnamese
    DỪNG) and "stop texting me" are STOP; "the bus stops too early" and "NO"
    are no keyword at all. `language` is the one language whose words the
    message used, None when it was in words several configured languages share.
    """
    return _match_keyword(text, frozenset(languages))


# Families send the same short replies ("1", "si", "STOP") again and again.
@lru_cache(maxsize=8192)
def _match_keyword(text: str, languages: frozenset[str]) -> KeywordMatch | None:
    words = split_words(text)
    if not words or len(words) > MAX_KEYWORD_WORDS:
        return None
    counted = frozenset({ALWAYS_COUNTED, *languages})
    keywords, fillers = _keyword_book(), _filler_book()

    def pieces(start: int) -> Iterator[tuple[int, tuple[Keyword, frozenset[str]] | None]]:
        for end, found in fillers.starting_at(words, start):
            if counted.intersection(found):
                yield end, None
        for end, hits in keywords.starting_at(words, start):
            by_keyword: dict[Keyword, set[str]] = {}
            for keyword, language in hits:
                if language in counted:
                    by_keyword.setdefault(keyword, set()).add(language)
            for keyword, used in by_keyword.items():
                yield end, (keyword, frozenset(used))

    found = readings(len(words), pieces)
    if not found:
        return None
    # The longest phrases win: "hủy đăng ký" is one STOP, not STOP then START.
    fewest = min((len(reading) for reading in found if reading), default=0)
    meant = [reading for reading in found if len(reading) == fewest > 0]
    if len({keyword for reading in meant for keyword, _ in reading}) != 1:
        return None
    spoken = {frozenset.intersection(*(used for _, used in reading)) for reading in meant}
    only = next(iter(spoken)) if len(spoken) == 1 else frozenset()
    return KeywordMatch(meant[0][0][0], next(iter(only)) if len(only) == 1 else None)


@cache
def _keyword_book() -> Phrasebook[tuple[Keyword, str]]:
    return Phrasebook(
        (phrase, (keyword, language))
        for keyword, table in keyword_words().items()
        for language, phrases in table.items()
        for phrase in phrases
    )


@cache
def _filler_book() -> Phrasebook[str]:
    return Phrasebook(
        (phrase, language)
        for language, phrases in vocabulary().filler.items()
        for phrase in phrases
    )


def fits(said: str, phrase: str, *, alone: bool = True) -> bool:
    """Whether the word `said` may stand for `phrase`: the same letters, no accent it lacks.

    "dung" and "dưng" fit "dừng", "đúng" does not. A lone letter must keep its
    accent ("a" is not "ạ") unless it is part of a longer phrase (`alone`
    False: "dong y" is "đồng ý"). Both words as `split_words` gives them.
    """
    # Accents are compared per word, not per letter: Vietnamese may put a tone
    # mark on either vowel ("huỷ", "hủy").
    said_base, said_marks = _fold_word(said)
    phrase_base, phrase_marks = _fold_word(phrase)
    if said_base != phrase_base:
        return False
    # A lone letter without its accent is just a letter: "a" is option a, not Vietnamese "ạ".
    if alone and len(phrase_base) == 1 and said_marks != phrase_marks:
        return False
    have = dict(phrase_marks)
    return all(have.get(mark, 0) >= count for mark, count in said_marks)


def _take_marks(word: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    # The word without accents, and the accents taken off as (mark, count).
    base: list[str] = []
    marks: dict[str, int] = {}
    for char in unicodedata.normalize("NFKD", word):
        if char in _STROKED:
            base.append(_STROKED[char])
            marks[char] = marks.get(char, 0) + 1
        elif unicodedata.category(char) == "Mn" and char not in _KANA_VOICING:
            marks[char] = marks.get(char, 0) + 1
        else:
            base.append(char)
    return unicodedata.normalize("NFC", "".join(base)), tuple(sorted(marks.items()))


# Words repeat (vocabulary, labels, short replies); whole messages go through fold().
_fold_word = lru_cache(maxsize=8192)(_take_marks)


@lru_cache(maxsize=8192)
def _squeeze(word: str) -> str:
    # Each run of one letter as that letter once: "yesss" -> "yes", "siii" -> "si".
    return "".join(char for index, char in enumerate(word) if index == 0 or word[index - 1] != char)


def _ascii_digits(text: str) -> str:
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(char))
        if not char.isascii() and unicodedata.category(char) == "Nd"
        else char
        for char in text
    )


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def _is_wide(char: str) -> bool:
    point = ord(char)
    return (
        0x3040 <= point <= 0x30FF  # hiragana, katakana
        or 0x3400 <= point <= 0x4DBF
        or 0x4E00 <= point <= 0x9FFF
        or 0xF900 <= point <= 0xFAFF
        or 0x20000 <= point <= 0x3134F
        or point == 0x3007  # 〇
    )
