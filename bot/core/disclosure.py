"""What an outgoing text must say, and what carriers hold against it.

A family whose number came from a roster never asked us to write. The first
message they get from us therefore opens with who is writing and how to stop
(`introduce`), in their language, as carriers and the TCPA expect of any
message a person did not ask for.

`lint` checks a text as it would go out by SMS: the program's name and a way
to stop where the text is a first contact, public URL shorteners (carriers
filter links through them, since spammers hide behind them), characters that
silently switch the whole text to UCS-2 (a curly quote or an emoji in an
English text more than halves what fits in a segment), and the number of
segments.
"""

from __future__ import annotations

import re
import unicodedata

from bot.core.keywords import Keyword, fold, keyword_words
from bot.core.messages import Reply
from bot.core.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments, smart_encode
from bot.core.texts import text as system_text

__all__ = ["SHORTENERS", "introduce", "lint", "stop_words"]

# Public shorteners carriers filter (T-Mobile and AT&T block many outright).
SHORTENERS = (
    "bit.ly",
    "bitly.com",
    "tinyurl.com",
    "goo.gl",
    "ow.ly",
    "t.co",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "tiny.cc",
    "rb.gy",
    "t.ly",
    "lnkd.in",
    "s.id",
    "v.gd",
    "tr.im",
    "shorte.st",
    "adf.ly",
)
_SHORTENER = re.compile(
    r"(?<![\w.-])(?:https?://)?(?:www\.)?("
    + "|".join(re.escape(domain) for domain in SHORTENERS)
    + r")(?=/|\b)",
    re.IGNORECASE,
)
# At most this many of the characters that switch a text to UCS-2 are named.
_FEW = 5


def introduce(reply: Reply, program: str, language: str) -> Reply:
    """`reply` as a first contact: opened by who is writing and how to stop, in `language`."""
    opening = system_text("first_contact", language, program=program)
    body = f"{opening}\n\n{reply.text}" if reply.text else opening
    return Reply(body, reply.choices)


def stop_words(language: str) -> tuple[str, ...]:
    """The words that opt out in `language`, English STOP among them (always understood)."""
    words = keyword_words()[Keyword.STOP]
    return tuple(dict.fromkeys(("stop", *words.get(language, ()))))


def lint(
    text: str,
    language: str,
    *,
    program: str | None = None,
    first_contact: bool = False,
    segments_over: int | None = None,
    encoding: bool = True,
) -> list[str]:
    """What is wrong with `text` as an SMS in `language`, one sentence each; empty if nothing.

    With `first_contact`, the text must name `program` and say how to stop.
    With `segments_over`, a text billed as more segments than that is named.
    With `encoding` (the default), so are the characters that alone make it
    UCS-2 and cost it segments.
    """
    where = f"in '{language}'"
    problems: list[str] = []
    if first_contact:
        if program and fold(program.casefold()) not in fold(text.casefold()):
            problems.append(f"{where}: does not name the program ({program})")
        if not _says_how_to_stop(text, language):
            problems.append(f"{where}: does not say how to stop (reply STOP)")
    for domain in dict.fromkeys(m.group(1).lower() for m in _SHORTENER.finditer(text)):
        problems.append(
            f"{where}: links through {domain}, a public shortener carriers filter; "
            "use the full link or the district's own domain"
        )
    switch = _ucs2_switch(text) if encoding else None
    if switch is not None:
        problems.append(f"{where}: {switch}")
    if segments_over is not None:
        cost = count_segments(text)
        if cost.segments > segments_over:
            problems.append(f"{where}: {cost.segments} SMS segments ({cost.encoding.value})")
    return problems


def _says_how_to_stop(text: str, language: str) -> bool:
    said = fold(text.casefold())
    return any(fold(word.casefold()) in said for word in stop_words(language))


def _is_gsm7(char: str) -> bool:
    return char in GSM7_BASIC or char in GSM7_EXTENSION


def _ucs2_switch(text: str) -> str | None:
    """The characters that alone make `text` UCS-2 and cost it segments, if that is so.

    Only punctuation, spaces, symbols and emoji count: a letter outside GSM-7
    (Spanish á, any Vietnamese or Chinese text) is the language, not a slip, and
    its cost is in the segment count.
    """
    odd = list(dict.fromkeys(char for char in text if not _is_gsm7(char)))
    if not odd or any(unicodedata.category(char)[0] in "LM" for char in odd):
        return None
    cost = count_segments(text)
    plain = "".join(char if _is_gsm7(char) else "?" for char in smart_encode(text))
    without = count_segments(plain)
    if without.segments >= cost.segments:
        return None
    named = ", ".join(_describe(char) for char in odd[:_FEW])
    if len(odd) > _FEW:
        named += f" and {len(odd) - _FEW} more"
    return (
        f"{named} {'makes' if len(odd) == 1 else 'make'} it UCS-2: "
        f"{cost.segments} SMS segments instead of {without.segments}"
    )


def _describe(char: str) -> str:
    name = unicodedata.name(char, f"U+{ord(char):04X}").lower()
    shown = char if char.isprintable() and not char.isspace() else ""
    return f"{shown} ({name})".strip() if shown else f"({name})"
