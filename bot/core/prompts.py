"""How a question is put to a participant: its text, a short hint and its choices."""

from __future__ import annotations

from bot.core.activity import Activity, Question, QuestionType
from bot.core.messages import Choice, Reply
from bot.core.texts import text

__all__ = ["choice_payload", "question_choices", "question_reply"]


def choice_payload(activity: Activity, question: Question, option_key: str) -> str:
    """Button data naming activity, question and option (Telegram allows 64 bytes)."""
    return f"q:{activity.key}:{question.key}:{option_key}"[:64]


def question_choices(activity: Activity, question: Question, language: str) -> tuple[Choice, ...]:
    fallback = activity.default_language
    match question.type:
        case QuestionType.SINGLE_CHOICE | QuestionType.MULTIPLE_CHOICE | QuestionType.RANKING:
            return tuple(
                Choice(
                    o.key,
                    o.label.get(language, fallback),
                    choice_payload(activity, question, o.key),
                )
                for o in question.options
            )
        case QuestionType.YES_NO:
            return tuple(
                Choice(key, text(key, language), choice_payload(activity, question, key))
                for key in ("yes", "no")
            )
        case QuestionType.SCALE:
            return tuple(
                Choice(str(n), str(n), choice_payload(activity, question, str(n)))
                for n in range(question.scale_min, question.scale_max + 1)
            )
        case _:
            return ()


def _hint(activity: Activity, question: Question, language: str) -> str:
    fallback = activity.default_language
    match question.type:
        case QuestionType.SINGLE_CHOICE:
            return text("hint_single", language)
        case QuestionType.MULTIPLE_CHOICE:
            return text("hint_multiple", language)
        case QuestionType.RANKING:
            count = question.max_choices or len(question.options)
            return text("hint_ranking", language, count=count)
        case QuestionType.YES_NO:
            return text("hint_yes_no", language)
        case QuestionType.SCALE:
            low, high = question.scale_min_label, question.scale_max_label
            if low and high:
                return text(
                    "hint_scale",
                    language,
                    low=question.scale_min,
                    high=question.scale_max,
                    low_label=low.get(language, fallback),
                    high_label=high.get(language, fallback),
                )
            return text(
                "hint_scale_plain", language, low=question.scale_min, high=question.scale_max
            )
        case _:
            return ""


def question_reply(activity: Activity, question: Question, language: str) -> Reply:
    """The message that asks `question` in `language`."""
    parts = [question.prompt.get(language, activity.default_language)]
    hint = _hint(activity, question, language)
    if hint:
        parts.append(hint)
    if question.optional and question.type is not QuestionType.INFO:
        parts.append(text("hint_skip", language))
    return Reply(" ".join(parts), question_choices(activity, question, language))
