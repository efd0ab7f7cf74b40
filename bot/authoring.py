"""Activities authored as YAML: validated with `file:line: field: problem`, built into core types.

The format is documented in docs/activities.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core.activity import (
    Activity,
    ActivityKind,
    Condition,
    Localized,
    Option,
    Question,
    QuestionType,
)
from bot.core.prompts import question_reply
from bot.core.render import as_plain_text
from bot.core.segments import count_segments
from bot.errors import ActivityError
from bot.yamlsource import YamlDocument, field_path, load_yaml

__all__ = ["ActivityReport", "check_activity_file", "load_activity_file", "parse_activity"]

SLUG = r"^[a-z0-9][a-z0-9-]*$"
MAX_SMS_SEGMENTS = 2
CHOICE_TYPES = {QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.RANKING}

Text = str | dict[str, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OptionModel(_Model):
    key: str = Field(pattern=SLUG, max_length=32)
    label: Text


class ScaleModel(_Model):
    min: int = 1
    max: int = 5
    min_label: Text | None = None
    max_label: Text | None = None


class WhenModel(_Model):
    question: str
    any_of: list[str] = Field(default_factory=list)
    at_least: int | None = None
    at_most: int | None = None


class QuestionModel(_Model):
    key: str = Field(pattern=SLUG, max_length=32)
    type: QuestionType
    prompt: Text
    options: list[OptionModel] | None = None
    max_choices: int | None = Field(default=None, ge=1)
    scale: ScaleModel | None = None
    optional: bool = False
    when: WhenModel | None = None


class ActivityModel(_Model):
    key: str = Field(pattern=SLUG, max_length=40)
    kind: ActivityKind
    version: int = Field(default=1, ge=1)
    default_language: str = Field(default="en", pattern=r"^[a-z]{2,3}$")
    title: Text
    intro: Text | None = None
    closing: Text | None = None
    start_keywords: list[str] = Field(default_factory=list)
    school: str | None = None
    questions: list[QuestionModel] = Field(default_factory=list)


@dataclass(frozen=True)
class ActivityReport:
    """What `engage activity validate` prints for one file."""

    path: Path
    activity: Activity | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Problems:
    def __init__(self, name: str, document: YamlDocument) -> None:
        self.name = name
        self.document = document
        self.items: list[str] = []

    def add(self, path: Sequence[str | int], message: str) -> None:
        line = self.document.line(path)
        self.items.append(f"{self.name}:{line}: {field_path(path)}: {message}")


def _text(value: Text | None, default_language: str) -> Localized | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Localized({default_language: value.strip()})
    return Localized({k: v.strip() for k, v in value.items()})


def _check_text(
    problems: _Problems, value: Text | None, path: tuple[str | int, ...], default: str
) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        if default not in value:
            problems.add(path, f"needs a '{default}' text (the default language)")
        for language, text in value.items():
            if not text.strip():
                problems.add((*path, language), "is empty")


def _check(model: ActivityModel, problems: _Problems) -> None:
    default = model.default_language
    for name in ("title", "intro", "closing"):
        _check_text(problems, getattr(model, name), (name,), default)
    if not model.questions and model.kind is not ActivityKind.UPDATE:
        problems.add(("questions",), "needs at least 1 question")
    seen: dict[str, QuestionModel] = {}
    for index, question in enumerate(model.questions):
        path: tuple[str | int, ...] = ("questions", index)
        if question.key in seen:
            problems.add((*path, "key"), f"duplicate question key '{question.key}'")
        _check_text(problems, question.prompt, (*path, "prompt"), default)
        options = question.options or []
        if question.type in CHOICE_TYPES:
            if len(options) < 2:
                problems.add((*path, "options"), "needs at least 2 options")
            keys = [o.key for o in options]
            for position, option in enumerate(options):
                if keys.count(option.key) > 1 and keys.index(option.key) != position:
                    problems.add(
                        (*path, "options", position, "key"), f"duplicate option key '{option.key}'"
                    )
                _check_text(problems, option.label, (*path, "options", position, "label"), default)
            if question.max_choices is not None and question.max_choices > max(len(options), 1):
                problems.add((*path, "max_choices"), f"is more than the {len(options)} options")
        elif question.options is not None:
            problems.add((*path, "options"), f"not allowed for a {question.type.value} question")
        if question.max_choices is not None and question.type not in (
            QuestionType.MULTIPLE_CHOICE,
            QuestionType.RANKING,
        ):
            problems.add((*path, "max_choices"), "only for multiple_choice and ranking")
        if question.scale is not None:
            if question.type is not QuestionType.SCALE:
                problems.add((*path, "scale"), f"not allowed for a {question.type.value} question")
            elif question.scale.min >= question.scale.max:
                problems.add((*path, "scale"), "min must be less than max")
            elif question.scale.max - question.scale.min > 10:
                problems.add((*path, "scale"), "at most 11 points")
        if question.when is not None:
            _check_when(problems, question.when, seen, (*path, "when"))
        seen[question.key] = question


def _check_when(
    problems: _Problems,
    when: WhenModel,
    earlier: dict[str, QuestionModel],
    path: tuple[str | int, ...],
) -> None:
    target = earlier.get(when.question)
    if target is None:
        problems.add((*path, "question"), f"'{when.question}' is not an earlier question")
        return
    if when.any_of:
        if target.type is QuestionType.YES_NO:
            allowed = {"yes", "no"}
        else:
            allowed = {o.key for o in target.options or []}
        unknown = [v for v in when.any_of if v not in allowed]
        if unknown:
            problems.add(
                (*path, "any_of"), f"not options of '{when.question}': {', '.join(unknown)}"
            )
    if (
        when.at_least is not None or when.at_most is not None
    ) and target.type is not QuestionType.SCALE:
        problems.add(path, f"at_least/at_most need a scale question, '{when.question}' is not")
    if not when.any_of and when.at_least is None and when.at_most is None:
        problems.add(path, "needs any_of, at_least or at_most")


def _build(model: ActivityModel) -> Activity:
    default = model.default_language
    questions = []
    for q in model.questions:
        scale = q.scale or ScaleModel()
        prompt = _text(q.prompt, default)
        assert prompt is not None
        questions.append(
            Question(
                key=q.key,
                type=q.type,
                prompt=prompt,
                options=tuple(
                    Option(o.key, _text(o.label, default) or Localized({})) for o in q.options or []
                ),
                optional=q.optional,
                when=Condition(
                    q.when.question, tuple(q.when.any_of), q.when.at_least, q.when.at_most
                )
                if q.when
                else None,
                scale_min=scale.min,
                scale_max=scale.max,
                scale_min_label=_text(scale.min_label, default),
                scale_max_label=_text(scale.max_label, default),
                max_choices=q.max_choices,
            )
        )
    title = _text(model.title, default)
    assert title is not None
    return Activity(
        key=model.key,
        kind=model.kind,
        title=title,
        questions=tuple(questions),
        version=model.version,
        intro=_text(model.intro, default),
        closing=_text(model.closing, default),
        start_keywords=tuple(w.strip() for w in model.start_keywords if w.strip()),
        school=model.school,
        default_language=default,
    )


def _parse(source: str, name: str) -> tuple[Activity, ActivityModel, YamlDocument]:
    try:
        document = load_yaml(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error)
        raise ActivityError([f"{name}:{line}: (file): not valid YAML: {problem}"]) from error
    if document.data is None:
        raise ActivityError([f"{name}:1: (file): the file is empty"])
    if not isinstance(document.data, dict):
        raise ActivityError([f"{name}:1: (file): an activity must be a mapping (key: value)"])
    problems = _Problems(name, document)
    try:
        model = ActivityModel.model_validate(document.data)
    except ValidationError as error:
        reported: list[tuple[str | int, ...]] = []
        for item in error.errors():
            # A text may be a string or a mapping: pydantic reports both failed
            # readings, and names them ("str", "dict[str,str]"); say it once.
            path = tuple(
                p for p in item["loc"] if not (isinstance(p, str) and ("[" in p or p == "str"))
            )
            if any(path[: len(seen)] == seen for seen in reported):
                continue
            reported.append(path)
            message = item["msg"]
            if item["type"] in ("string_type", "dict_type"):
                message = "must be a text, or a mapping of language to text"
            problems.add(path, message)
        raise ActivityError(problems.items) from error
    _check(model, problems)
    if problems.items:
        raise ActivityError(problems.items)
    return _build(model), model, document


def parse_activity(source: str, name: str) -> Activity:
    """Build an activity from YAML `source`; `name` is the file name used in errors.

    Raises ActivityError listing every problem as `name:line: field: problem`.
    """
    return _parse(source, name)[0]


def load_activity_file(path: Path) -> Activity:
    """Read (UTF-8, a BOM is fine) and parse an activity file."""
    return parse_activity(_read(path), str(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as error:
        raise ActivityError([f"{path}:1: (file): no such file"]) from error
    except UnicodeDecodeError as error:
        raise ActivityError([f"{path}:1: (file): not UTF-8 text; save it as UTF-8"]) from error
    except OSError as error:
        raise ActivityError([f"{path}:1: (file): cannot read it ({error.strerror})"]) from error


def check_activity_file(path: Path, languages: Sequence[str]) -> ActivityReport:
    """Errors, plus warnings: missing translations and prompts over 2 SMS segments."""
    name = str(path)
    try:
        activity, model, document = _parse(_read(path), name)
    except ActivityError as error:
        return ActivityReport(path, None, errors=error.problems)
    problems = _Problems(name, document)
    default = activity.default_language
    texts: list[tuple[tuple[str | int, ...], Localized | None]] = [
        (("title",), activity.title),
        (("intro",), activity.intro),
        (("closing",), activity.closing),
    ]
    for index, question in enumerate(activity.questions):
        texts.append((("questions", index, "prompt"), question.prompt))
        for position, option in enumerate(question.options):
            texts.append((("questions", index, "options", position, "label"), option.label))
    for path_, text in texts:
        if text is None:
            continue
        for language in languages:
            if language not in text.values:
                problems.add(path_, f"no '{language}' translation (the '{default}' text is shown)")
    for index, question in enumerate(activity.questions):
        for language in languages:
            reply = question_reply(activity, question, language)
            cost = count_segments(as_plain_text(reply.text, reply.choices))
            if cost.segments > MAX_SMS_SEGMENTS:
                problems.add(
                    ("questions", index, "prompt"),
                    f"{cost.segments} SMS segments in '{language}' ({cost.encoding.value})",
                )
    del model
    return ActivityReport(path, activity, warnings=problems.items)
