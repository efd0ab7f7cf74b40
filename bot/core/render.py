"""Rendering a reply: plain text for channels without buttons (SMS, terminal), and the
direction marks that keep right-to-left messages readable on every channel."""

from __future__ import annotations

import unicodedata
from dataclasses import replace

from bot.core.messages import Choice, OutboundMessage

__all__ = ["RIGHT_TO_LEFT_MARK", "as_plain_text", "with_direction"]

RIGHT_TO_LEFT_MARK = "\u200f"
_RIGHT_TO_LEFT = frozenset({"R", "AL"})


def as_plain_text(text: str, choices: tuple[Choice, ...]) -> str:
    """The text followed by one numbered line per choice: `1) Safety`.

    Choices labelled with their own number (a 1-5 scale) need no lines: the
    prompt already says what the numbers mean.
    """
    if not choices or all(
        choice.label == choice.key and choice.key.isdigit() for choice in choices
    ):
        return text
    lines = [text, *(f"{number}) {choice.label}" for number, choice in enumerate(choices, 1))]
    return "\n".join(lines)


def with_direction(message: OutboundMessage) -> OutboundMessage:
    """`message`, each line starting with a right-to-left mark when it is mostly Arabic or
    Hebrew script; otherwise unchanged.

    A phone lays each line out by its first strong letter, so an Arabic line
    that opens with the program's Latin name, or an option that is a school's
    English name, would run left to right with its words out of order. The
    mark (U+200F) settles every line; such a text is UCS-2 by SMS already.
    """
    letters = [
        unicodedata.bidirectional(char)
        for char in (message.text + "".join(c.label for c in message.choices))
        if char.isalpha()
    ]
    right_to_left = sum(kind in _RIGHT_TO_LEFT for kind in letters)
    if right_to_left * 2 <= len(letters):
        return message
    return replace(
        message,
        text=_marked(message.text),
        # A number alone ("1" to "5" on a scale) needs no mark and must stay a bare number.
        choices=tuple(
            replace(choice, label=_marked(choice.label))
            if any(char.isalpha() for char in choice.label)
            else choice
            for choice in message.choices
        ),
    )


def _marked(text: str) -> str:
    return "\n".join(
        line if not line or line.startswith(RIGHT_TO_LEFT_MARK) else RIGHT_TO_LEFT_MARK + line
        for line in text.split("\n")
    )
