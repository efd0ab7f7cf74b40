"""Plain-text rendering of a reply, for channels without buttons (SMS, terminal)."""

from __future__ import annotations

from bot.core.messages import Choice

__all__ = ["as_plain_text"]


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
