"""An activity's stored versions, parsed, and the order their questions are shown in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.activity import Activity, QuestionType

__all__ = ["Parse", "Version", "question_order"]

# Parses a stored definition (source, name for errors) into an activity.
Parse = Callable[[str, str], Activity]


@dataclass(frozen=True, slots=True)
class Version:
    """One stored version of an activity, parsed."""

    id: int
    version: int
    activity: Activity

    @property
    def round(self) -> str:
        """The definition's `round` label when it has one, else its version ("v2")."""
        value = self.activity.extra.get("round")
        return f"v{self.version}" if value is None else str(value)


def question_order(versions: Sequence[Version]) -> list[tuple[str, str, str]]:
    """(key, type, English prompt) of every question, in the newest version's order;
    questions only older versions asked come after. Display-only texts are left out."""
    seen: dict[str, tuple[str, str, str]] = {}
    for version in reversed(versions):
        activity = version.activity
        for question in activity.questions:
            if question.type is QuestionType.INFO or question.key in seen:
                continue
            seen[question.key] = (
                question.key,
                question.type.value,
                question.prompt.get("en", activity.default_language),
            )
    return list(seen.values())
