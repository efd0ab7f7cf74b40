"""System texts the engine sends, in every language it speaks.

Message catalogs, not code: `bot/languages/messages.pot` holds each text in
English under its id (the entry's msgctxt), and `<code>.po` beside it holds
the translations, as gettext files that translators' tools open. They are
read once, on first use.

A translation that is missing, marked fuzzy, made from an older English text
or with other {placeholders} than the English one is not used: the English
text goes out instead, and `catalog_problems` names it.
"""

from __future__ import annotations

import io
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.core.vocabulary import language_pack, spoken_languages

__all__ = [
    "SOURCE_LANGUAGE",
    "catalog_problems",
    "check_catalog",
    "language_name",
    "message_ids",
    "placeholders",
    "text",
]

SOURCE_LANGUAGE = "en"
_TEMPLATE = "messages.pot"


def text(message_id: str, language: str, **values: object) -> str:
    """The system text `message_id` in `language` (English when it has none), filled in."""
    catalogs = _catalogs()
    template = catalogs.texts.get(language, {}).get(message_id) or catalogs.source[message_id]
    return template.format(**values) if values else template


def message_ids() -> tuple[str, ...]:
    """Every system text's id, in the order of messages.pot."""
    return tuple(_catalogs().source)


def language_name(code: str) -> str:
    """The language's own name, as its speakers would pick it from a menu ("Tiếng Việt")."""
    pack = language_pack(code)
    return pack.name if pack is not None else code


def placeholders(template: str) -> frozenset[str]:
    """The names of the `{placeholders}` in `template`."""
    return frozenset(
        field.split(".")[0].split("[")[0]
        for _, field, _, _ in string.Formatter().parse(template)
        if field
    )


def catalog_problems(languages: Sequence[str]) -> list[str]:
    """Why some system texts would go out in English to speakers of `languages`.

    One line per problem, like `so.po: consent: not translated`; empty when
    every text exists in every one of `languages`.
    """
    catalogs = _catalogs()
    problems: list[str] = []
    for language in dict.fromkeys(languages):
        if language == SOURCE_LANGUAGE:
            continue
        if language not in catalogs.texts:
            problems.append(f"{language}.po: there is no catalog for '{language}'")
            continue
        problems.extend(catalogs.problems.get(language, ()))
    return problems


def check_catalog(source: str, name: str) -> list[str]:
    """The problems of one `.po` catalog's text, as `catalog_problems` words them."""
    _, problems = _usable(read_po(io.BytesIO(source.encode("utf-8"))), _catalogs().source, name)
    return list(problems)


@dataclass(frozen=True, slots=True)
class _Catalogs:
    source: Mapping[str, str]
    texts: Mapping[str, Mapping[str, str]]
    problems: Mapping[str, tuple[str, ...]]


@cache
def _catalogs() -> _Catalogs:
    folder = resources.files("bot").joinpath("languages")
    with folder.joinpath(_TEMPLATE).open("rb") as file:
        template = read_po(file)
    source = {m.context: m.id for m in _entries(template)}
    texts: dict[str, Mapping[str, str]] = {}
    problems: dict[str, tuple[str, ...]] = {}
    for language in spoken_languages():
        if language == SOURCE_LANGUAGE:
            continue
        entry = folder.joinpath(f"{language}.po")
        if not entry.is_file():
            continue
        with entry.open("rb") as file:
            catalog = read_po(file)
        texts[language], problems[language] = _usable(catalog, source, entry.name)
    return _Catalogs(source, texts, problems)


@dataclass(frozen=True, slots=True)
class _Entry:
    context: str
    id: str
    string: str
    fuzzy: bool


def _entries(catalog: Catalog) -> Iterable[_Entry]:
    for message in catalog:
        if message.context and isinstance(message.id, str):
            translated = message.string if isinstance(message.string, str) else ""
            yield _Entry(message.context, message.id, translated, message.fuzzy)


def _usable(
    catalog: Catalog, source: Mapping[str, str], name: str
) -> tuple[dict[str, str], tuple[str, ...]]:
    found = {entry.context: entry for entry in _entries(catalog)}
    usable: dict[str, str] = {}
    problems: list[str] = []
    for message_id, english in source.items():
        entry = found.get(message_id)
        if entry is None or not entry.string.strip():
            problems.append(f"{name}: {message_id}: not translated")
        elif entry.fuzzy:
            problems.append(f"{name}: {message_id}: marked fuzzy; check it, then drop the mark")
        elif entry.id != english:
            problems.append(
                f"{name}: {message_id}: translated from an older English text; update it"
            )
        elif placeholders(entry.string) != placeholders(english):
            wanted = ", ".join(f"{{{p}}}" for p in sorted(placeholders(english))) or "none"
            problems.append(f"{name}: {message_id}: needs exactly the placeholders {wanted}")
        else:
            usable[message_id] = entry.string
    problems.extend(
        f"{name}: {message_id}: not in {_TEMPLATE}; remove it"
        for message_id in found
        if message_id not in source
    )
    return usable, tuple(problems)
