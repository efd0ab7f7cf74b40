"""The words the Let's Talk inbox looks for, per language: urgent phrases and closing words.

Data, not code: one `bot/languages/inbox/<code>.toml` per language, read once
on first use (README.md in that folder describes every table). Phrases are
matched inside a message by bot.core.phrases: case and accents aside, a
trailing `*` for any ending.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from bot.core.phrases import WILDCARD, phrase_words

__all__ = [
    "Concern",
    "InboxWords",
    "InboxWordsError",
    "inbox_languages",
    "inbox_words",
    "parse_inbox_words",
]


class Concern(StrEnum):
    """What an urgent message is about."""

    BULLYING = "bullying"
    ABUSE = "abuse"
    SELF_HARM = "self_harm"
    VIOLENCE = "violence"
    MEDICAL = "medical"
    CALL_NOW = "call_now"


Phrases = tuple[str, ...]
# A wildcard needs this many letters before it (one for a Chinese, Japanese or Korean character).
MIN_STEM = 3
_TOP_LEVEL = ("prefixes", "ignore", "closing")
_TABLES = ("urgent", "concern", "context")
_CONTEXT = ("person", "pressing", "settled")


class InboxWordsError(ValueError):
    """A file the bot cannot read; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class InboxWords:
    """One language's inbox file."""

    code: str
    urgent: Mapping[Concern, Phrases]
    concern: Mapping[Concern, Phrases]
    person: Phrases = ()
    pressing: Phrases = ()
    settled: Phrases = ()
    ignore: Phrases = ()
    prefixes: Phrases = ()
    closing: Phrases = ()


def parse_inbox_words(code: str, source: str, name: str) -> InboxWords:
    """Read one inbox file's TOML text; `name` is the file's name in messages.

    Raises InboxWordsError naming the first problem (`es.toml: urgent.abuse: ...`).
    """
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        raise InboxWordsError(f"{name}: not valid TOML: {error}") from error
    for field in data:
        if field not in (*_TOP_LEVEL, *_TABLES):
            raise InboxWordsError(f"{name}: {field}: unknown field")
    tables: dict[str, dict[str, Phrases]] = {}
    for table in _TABLES:
        value = data.get(table, {})
        if not isinstance(value, dict):
            raise InboxWordsError(f"{name}: {table}: must be a table")
        allowed = _CONTEXT if table == "context" else tuple(Concern)
        for field in value:
            if field not in allowed:
                raise InboxWordsError(
                    f"{name}: {table}.{field}: unknown field; use one of {', '.join(allowed)}"
                )
        tables[table] = {
            field: _phrases(value.get(field, []), f"{name}: {table}.{field}") for field in allowed
        }
    top = {field: _phrases(data.get(field, []), f"{name}: {field}") for field in _TOP_LEVEL}
    return InboxWords(
        code=code,
        urgent={Concern(k): v for k, v in tables["urgent"].items() if v},
        concern={Concern(k): v for k, v in tables["concern"].items() if v},
        person=tables["context"]["person"],
        pressing=tables["context"]["pressing"],
        settled=tables["context"]["settled"],
        ignore=top["ignore"],
        prefixes=top["prefixes"],
        closing=top["closing"],
    )


def _phrases(value: Any, where: str) -> Phrases:
    if not isinstance(value, list) or not all(isinstance(p, str) and p.strip() for p in value):
        raise InboxWordsError(f"{where}: must be a list of phrases")
    for phrase in value:
        words = phrase_words(phrase)
        if not words:
            raise InboxWordsError(f"{where}: {phrase!r} has no word in it")
        for word in words:
            stem = word.removesuffix(WILDCARD)
            if word.endswith(WILDCARD) and len(stem) < MIN_STEM and not _is_syllabic(stem):
                raise InboxWordsError(
                    f"{where}: {phrase!r}: give at least {MIN_STEM} letters before a *"
                )
    return tuple(phrase.strip() for phrase in value)


def _is_syllabic(stem: str) -> bool:
    # One Hangul syllable or Chinese character already carries a word's meaning.
    return any(unicodedata.name(char, "").startswith(("HANGUL", "CJK")) for char in stem)


@cache
def _files() -> Mapping[str, InboxWords]:
    folder = resources.files("bot").joinpath("languages").joinpath("inbox")
    found: dict[str, InboxWords] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            code = entry.name.removesuffix(".toml")
            found[code] = parse_inbox_words(code, entry.read_text("utf-8"), f"inbox/{entry.name}")
    return found


def inbox_words(code: str) -> InboxWords | None:
    """The inbox file of `code`, or None when there is none."""
    return _files().get(code)


def inbox_languages() -> tuple[str, ...]:
    """Every language with an inbox file."""
    return tuple(_files())
