"""How a question is put to a participant: its text, a short hint and its choices."""

from __future__ import annotations

from bot.core.activity import Activity, Question, QuestionType
from bot.core.messages import Choice, Reply
from bot.core.state import AnswerValue
from bot.core.texts import text

__all__ = ["ask_which", "choice_payload", "question_choices", "question_reply", "reprompt"]


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


def reprompt(activity: Activity, question: Question, language: str, opening: str) -> Reply:
    """One short message asking again, with an example of a reply that works.

    `opening` is the text that starts it: "not_understood" ("Sorry, I didn't
    understand.") or "needs_answer" (to "I don't know" or SKIP where an answer
    is required). A free-text question is asked again in full.
    """
    example = _example(question, language)
    if not example:
        again = question_reply(activity, question, language)
        return Reply(f"{text(opening, language)} {again.text}", again.choices)
    return Reply(f"{text(opening, language)} {example}")


def ask_which(question: Question, alternatives: tuple[AnswerValue, ...], language: str) -> Reply:
    """Ask which of the answers a reply named was meant: "Which one do you mean: 4 / 5?".

    Options are named by their menu numbers, as the family chose them.
    """
    return Reply(
        text(
            "ask_which",
            language,
            choices=" / ".join(_as_typed(question, value) for value in alternatives),
        )
    )


def _as_typed(question: Question, value: AnswerValue) -> str:
    keys = [option.key for option in question.options]
    if isinstance(value, tuple):
        return ",".join(_as_typed(question, key) for key in value)
    if isinstance(value, str) and value in keys:
        return str(keys.index(value) + 1)
    return str(value)


def _example(question: Question, language: str) -> str:
    count = len(question.options)
    match question.type:
        case QuestionType.SINGLE_CHOICE:
            return text("example_single", language, count=count)
        case QuestionType.MULTIPLE_CHOICE:
            return text("example_multiple", language, example="1,3" if count >= 3 else "1,2")
        case QuestionType.RANKING:
            most = min(question.max_choices or count, count)
            order = "3,1,2" if most >= 3 else "2,1"
            return text("example_ranking", language, count=most, example=order)
        case QuestionType.SCALE:
            low, high = question.scale_min, question.scale_max
            return text("example_scale", language, low=low, high=high, example=max(low, high - 1))
        case QuestionType.YES_NO:
            return text("hint_yes_no", language)
        case _:
            return ""
