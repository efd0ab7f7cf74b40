"""The words families type, per language: keywords, yes and no, numbers, language names.

The words are data: one `bot/languages/<code>.toml` per language the bot
speaks, read once on first use (README.md in that folder describes every
table). `bot.core.keywords` and `bot.core.answers` read them through
`vocabulary()`, which gathers each table across languages: language code ->
what people write in that language.

Entries are written the way the language spells them: matching ignores case,
and a reply may leave out accents but not add ones the entry lacks ("dung"
stands for DỪNG, "đúng" does not). Chinese is matched per character, so
"请停止" reads as 请 + 停止.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "NO_SYMBOLS",
    "YES_SYMBOLS",
    "LanguagePack",
    "Vocabulary",
    "VocabularyError",
    "language_pack",
    "parse_language_pack",
    "spoken_languages",
    "vocabulary",
]

# A reply of only these symbols (any skin tone) answers a yes/no question, in any language.
YES_SYMBOLS: tuple[str, ...] = (
    "\N{THUMBS UP SIGN}",
    "\N{OK HAND SIGN}",
    "\N{WHITE HEAVY CHECK MARK}",
    "\N{HEAVY CHECK MARK}",
)
NO_SYMBOLS: tuple[str, ...] = (
    "\N{THUMBS DOWN SIGN}",
    "\N{CROSS MARK}",
    "\N{HEAVY MULTIPLICATION X}",
)

Words = tuple[str, ...]
Table = Mapping[str, Words]

_WORD_LISTS: Mapping[str, tuple[str, ...]] = {
    "": ("names", "name_fillers", "common_words"),
    "keywords": (
        "stop",
        "stop_requests",
        "stop_negations",
        "start",
        "help",
        "language",
        "skip",
        "link",
        "filler",
    ),
    "answers": (
        "yes",
        "no",
        "and",
        "choice",
        "polite",
        "scale_units",
        "out_of",
        "articles",
        "ordinal_suffixes",
        "ordinal_pronouns",
        "dont_know",
        "maybe",
        "or",
        "counted",
        "half",
        "last",
        "not_exactly",
        "school_words",
    ),
    "themes": ("stop_words",),
}
_NUMBER_TABLES = ("numbers", "ordinals")


class VocabularyError(ValueError):
    """A language file the bot cannot read; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class LanguagePack:
    """One language's file: its name and word lists."""

    code: str
    name: str
    words: Mapping[str, Words]
    numbers: Mapping[str, int]
    ordinals: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Every language's words, table by table (language code -> words)."""

    names: Table
    name_fillers: Table
    stop: Table
    stop_requests: Table
    stop_negations: Table
    start: Table
    help: Table
    language: Table
    skip: Table
    link: Table
    filler: Table
    yes: Table
    no: Table
    and_words: Table
    choice: Table
    polite: Table
    scale_units: Table
    out_of: Table
    articles: Table
    ordinal_suffixes: Table
    ordinal_pronouns: Table
    dont_know: Table
    maybe: Table
    or_words: Table
    counted: Table
    half: Table
    last: Table
    not_exactly: Table
    school_words: Table
    numbers: Mapping[str, Mapping[str, int]]
    ordinals: Mapping[str, Mapping[str, int]]


def parse_language_pack(code: str, source: str, name: str) -> LanguagePack:
    """Read one language file's TOML text; `name` is the file's name in messages.

    Raises VocabularyError naming the first problem (`es.toml: answers.yes: ...`).
    """
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        raise VocabularyError(f"{name}: not valid TOML: {error}") from error
    known = {"name", *_WORD_LISTS[""], *filter(None, _WORD_LISTS), *_NUMBER_TABLES}
    for field in data:
        if field not in known:
            raise VocabularyError(f"{name}: {field}: unknown field")
    title = data.get("name")
    if not isinstance(title, str) or not title.strip():
        raise VocabularyError(f"{name}: name: give the language's own name, like Español")
    words: dict[str, Words] = {}
    for section, fields in _WORD_LISTS.items():
        table = data if not section else data.get(section, {})
        if not isinstance(table, dict):
            raise VocabularyError(f"{name}: {section}: must be a table")
        for field in table if section else ():
            if field not in fields:
                raise VocabularyError(f"{name}: {section}.{field}: unknown field")
        for field in fields:
            where = f"{section}.{field}" if section else field
            words[field] = _word_list(table.get(field, []), f"{name}: {where}")
    return LanguagePack(
        code=code,
        name=title.strip(),
        words=words,
        numbers=_number_table(data.get("numbers", {}), f"{name}: numbers"),
        ordinals=_number_table(data.get("ordinals", {}), f"{name}: ordinals"),
    )


def _word_list(value: Any, where: str) -> Words:
    if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
        raise VocabularyError(f"{where}: must be a list of words")
    return tuple(word.strip() for word in value)


def _number_table(value: Any, where: str) -> Mapping[str, int]:
    if not isinstance(value, dict):
        raise VocabularyError(f'{where}: must be a table like 1 = ["one"]')
    table: dict[str, int] = {}
    for number, words in value.items():
        if not number.isdigit():
            raise VocabularyError(f"{where}.{number}: the key must be a number")
        for word in _word_list(words, f"{where}.{number}"):
            table[word] = int(number)
    return table


@cache
def language_pack(code: str) -> LanguagePack | None:
    """The language file for `code`, or None when the bot does not speak that language."""
    return _packs().get(code)


@cache
def _packs() -> Mapping[str, LanguagePack]:
    folder = resources.files("bot").joinpath("languages")
    packs: dict[str, LanguagePack] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            code = entry.name.removesuffix(".toml")
            packs[code] = parse_language_pack(code, entry.read_text("utf-8"), entry.name)
    # English first: it is the source language of every text.
    return dict(sorted(packs.items(), key=lambda item: item[0] != "en"))


def spoken_languages() -> tuple[str, ...]:
    """The codes of every language the bot speaks, English first."""
    return tuple(_packs())


@cache
def vocabulary() -> Vocabulary:
    """Every language file's words, gathered table by table."""
    packs = _packs()

    def table(field: str) -> Table:
        return {code: pack.words[field] for code, pack in packs.items() if pack.words[field]}

    return Vocabulary(
        names=table("names"),
        name_fillers=table("name_fillers"),
        stop=table("stop"),
        stop_requests=table("stop_requests"),
        stop_negations=table("stop_negations"),
        start=table("start"),
        help=table("help"),
        language=table("language"),
        skip=table("skip"),
        link=table("link"),
        filler=table("filler"),
        yes=table("yes"),
        no=table("no"),
        and_words=table("and"),
        choice=table("choice"),
        polite=table("polite"),
        scale_units=table("scale_units"),
        out_of=table("out_of"),
        articles=table("articles"),
        ordinal_suffixes=table("ordinal_suffixes"),
        ordinal_pronouns=table("ordinal_pronouns"),
        dont_know=table("dont_know"),
        maybe=table("maybe"),
        or_words=table("or"),
        counted=table("counted"),
        half=table("half"),
        last=table("last"),
        not_exactly=table("not_exactly"),
        school_words=table("school_words"),
        numbers={code: pack.numbers for code, pack in packs.items() if pack.numbers},
        ordinals={code: pack.ordinals for code, pack in packs.items() if pack.ordinals},
    )
