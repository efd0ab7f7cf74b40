"""Finding listed phrases anywhere in a message: urgent words, topics, closing words.

Keywords (bot.core.keywords) must be the whole message; these phrases are
looked for inside a sentence. Matching works on words (`split_words`), as
keywords do: case aside, and a word may leave out accents but not add ones
the listed word lacks ("nino" finds "niño", "bi bat nat" finds "bị bắt
nạt", "dã" does not find "đá"). Chinese is read per character.

Two conveniences keep the lists short:

- a word ending in `*` matches any word that starts with it: "bulli*" finds
  "bullied", "bullies" and "bullying" (accents aside);
- a language may list `prefixes` that attach to the next word in writing
  (Arabic و "and", ال "the", ب "with"): "وابني" is also read as "ابني".

Arabic letters that people write interchangeably are read as one (ة as ه,
ى as ي, hamza seats as their bare letter); the tatweel is dropped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from bot.core.keywords import fits, fold, split_words

__all__ = ["WILDCARD", "Hit", "PhraseMatcher", "message_words", "phrase_words"]

V = TypeVar("V")

WILDCARD = "*"
# A prefix is taken off only when a real word is left behind.
MIN_STEM = 2
_ARABIC_VARIANTS = str.maketrans(
    {
        "ة": "ه",
        "ى": "ي",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ئ": "ي",
        "ـ": None,
        # Short vowels and other marks: most people write without them.
        **dict.fromkeys(map(chr, range(0x064B, 0x0660)), None),
        "\u0670": None,
    }
)


@lru_cache(maxsize=4096)
def message_words(text: str) -> tuple[str, ...]:
    """The words of `text` as phrases are matched: casefolded, accents kept."""
    return split_words(text.translate(_ARABIC_VARIANTS))


def phrase_words(phrase: str) -> tuple[str, ...]:
    """A listed phrase's words; a trailing `*` on a word is kept as the wildcard."""
    words: list[str] = []
    for part in phrase.split():
        wild = part.endswith(WILDCARD)
        found = message_words(part.rstrip(WILDCARD))
        if not found:
            continue
        if wild:
            found = (*found[:-1], found[-1] + WILDCARD)
        words.extend(found)
    return tuple(words)


@dataclass(frozen=True, slots=True)
class Hit(Generic[V]):
    """A phrase found at `words[start:end]`."""

    start: int
    end: int
    phrase: str
    value: V


_Entry = tuple[tuple[str, ...], str, V]


class PhraseMatcher(Generic[V]):
    """Listed phrases, each with a value, found wherever they occur in a message."""

    __slots__ = ("_exact", "_prefixes", "_stems")

    def __init__(self, entries: Iterable[tuple[str, V]], prefixes: Collection[str] = ()) -> None:
        exact: dict[str, list[_Entry[V]]] = {}
        stems: dict[str, list[_Entry[V]]] = {}
        for phrase, value in entries:
            words = phrase_words(phrase)
            if not words:
                continue
            first = words[0]
            if first.endswith(WILDCARD):
                stems.setdefault(fold(first[:-1]), []).append((words, phrase, value))
            else:
                exact.setdefault(fold(first), []).append((words, phrase, value))
        self._exact = exact
        self._stems = stems
        self._prefixes = tuple(
            sorted({p.strip().casefold() for p in prefixes if p.strip()}, key=len, reverse=True)
        )

    def hits(self, words: Sequence[str]) -> list[Hit[V]]:
        """Every phrase found in `words` (from `message_words`), in order of where it starts."""
        forms = [self._forms(word) for word in words]
        found: list[Hit[V]] = []
        for start, candidates in enumerate(forms):
            for entry_words, phrase, value in self._starting_with(candidates):
                end = start + len(entry_words)
                if end <= len(words) and all(
                    _fits(forms[start + k], entry_words[k]) for k in range(len(entry_words))
                ):
                    found.append(Hit(start, end, phrase, value))
        return found

    def find(self, text: str) -> list[Hit[V]]:
        """Every phrase found in `text`."""
        return self.hits(message_words(text))

    def _forms(self, word: str) -> tuple[str, ...]:
        # Prefixes stack ("و" + "ل" + "ابني"), two at most.
        forms = [word]
        for _ in range(2):
            for form in list(forms):
                for prefix in self._prefixes:
                    stem = form[len(prefix) :]
                    if form.startswith(prefix) and len(stem) >= MIN_STEM and stem not in forms:
                        forms.append(stem)
        return tuple(forms)

    def _starting_with(self, candidates: tuple[str, ...]) -> Iterable[_Entry[V]]:
        seen: set[int] = set()
        for form in candidates:
            base = fold(form)
            for entry in self._exact.get(base, ()):
                if id(entry) not in seen:
                    seen.add(id(entry))
                    yield entry
            for size in range(1, len(base) + 1):
                for entry in self._stems.get(base[:size], ()):
                    if id(entry) not in seen:
                        seen.add(id(entry))
                        yield entry


def _fits(forms: tuple[str, ...], pattern: str) -> bool:
    if pattern.endswith(WILDCARD):
        stem = fold(pattern[:-1])
        return any(fold(form).startswith(stem) for form in forms)
    return any(fits(form, pattern) for form in forms)
