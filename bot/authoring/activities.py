"""Activities authored as YAML, checked with `file:line: field: problem` and built into core types.

The format is documented in docs/activities.md. A file is read in three passes
so that one run reports every problem, in file order:

1. YAML into nodes that remember their line (`read_yaml`); a syntax error stops here;
2. pydantic models: the activity's own fields, then each question on its own,
   so a broken question does not hide the problems of the others;
3. checks across fields: unique keys, skip logic that looks back at a real
   question and real options, texts in the default language, start keywords
   that are not STOP or HELP, Telegram button data within 64 bytes, WhatsApp
   templates whose variables the activity has in the template's language.

`check_activity_file` adds warnings: missing translations, questions that
cost more than two SMS segments as the engine renders them, and district
languages without a WhatsApp template when the activity declares some.

The YAML reader (`read_source`, `read_yaml`, `validation_problems`) is shared
with `bot.authoring.district`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeAlias, TypeVar, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
)
from pydantic_core import ErrorDetails

from bot.authoring.rounds import expand_rounds
from bot.core.activity import (
    DEFAULT_REACTIONS,
    Activity,
    ActivityKind,
    Condition,
    Exchange,
    Localized,
    Option,
    Question,
    QuestionType,
    Seed,
    authored_text,
)
from bot.core.disclosure import introduce, lint
from bot.core.ideas import Moderation
from bot.core.keywords import match_keyword, normalize
from bot.core.messages import Reply
from bot.core.prompts import question_reply
from bot.core.render import as_plain_text
from bot.core.segments import SegmentCount, count_segments, smart_encode
from bot.core.texts import text as system_text
from bot.core.vocabulary import spoken_languages
from bot.core.whatsapp import TEMPLATE_VARIABLES, WhatsAppTemplate
from bot.errors import ActivityError

__all__ = [
    "ActivityReport",
    "FieldPath",
    "SourceError",
    "YamlDocument",
    "check_activity_file",
    "field_path",
    "load_activity_file",
    "parse_activity",
    "read_source",
    "read_yaml",
    "validation_problems",
]

FieldPath: TypeAlias = tuple[str | int, ...]

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SLUG_PATTERN = re.compile(SLUG)
LANGUAGE = r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$"
# A Twilio Content SID: HX and 32 hex digits.
CONTENT_SID = r"^HX[0-9a-fA-F]{32}$"
ACTIVITY_KEY_LENGTH = 40
KEY_LENGTH = 32
# Telegram callback data; a choice's is `q:<activity>:<question>:<option>` (bot.core.prompts).
BUTTON_DATA_BYTES = 64
SMS_SEGMENTS_WARNED = 2
# The first message to a family is the intro, the first question and who we are:
# longer than any one text, so warned later.
FIRST_CONTACT_SEGMENTS_WARNED = 3
SCALE_POINTS = 11
# Aliases are followed each time they are used: a small file must not expand into millions.
MAX_YAML_VALUES = 20_000

CHOICE_TYPES = frozenset(
    {QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.RANKING}
)
CONDITION_TYPES = CHOICE_TYPES | {QuestionType.YES_NO, QuestionType.SCALE}


# -- YAML with line numbers -----------------------------------------------------------


class SourceError(Exception):
    """A file that is not a readable YAML mapping; `problem` is one `file:line: problem` line."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


# SafeLoader with YAML 1.2 scalars: answers are `yes`/`no` and Norway is `no`, so
# `no`, `on`, `1:30` and dates stay text, and `010` is not octal.
class _Loader(yaml.SafeLoader):
    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    ("float", r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$", "-+0123456789."),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("merge", r"^<<$", "<"),
):
    _Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """A YAML mapping, the line of every field path in it, and the keys it repeats."""

    name: str
    data: Mapping[Any, Any]
    lines: Mapping[FieldPath, int]
    repeated: tuple[tuple[int, FieldPath], ...] = ()
    # How messages name each question: by its key, where the author wrote it.
    questions: Mapping[int, str] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int:
        """The line of `path`, or of its nearest parent that has one."""
        key = tuple(path)
        while key and key not in self.lines:
            key = key[:-1]
        return self.lines.get(key, 1)

    def shown(self, path: Sequence[str | int]) -> str:
        """`path` as messages show it: `questions[priorities].prompt`, not `questions[1].prompt`."""
        if len(path) > 1 and path[0] == "questions" and isinstance(path[1], int):
            name = self.questions.get(path[1])
            if name is not None:
                rest = field_path(path[2:])
                # A section's question is made from its title and summary: name the section.
                if rest == "(file)" or (name.startswith("sections[") and rest == "prompt"):
                    return name
                return f"{name}.{rest}"
        return field_path(path)


def field_path(path: Sequence[str | int]) -> str:
    """`("questions", 2, "options")` -> `questions[2].options`; the empty path is `(file)`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(file)"


def read_source(path: Path) -> str:
    """The text of `path` (UTF-8, a byte-order mark is fine); SourceError when unreadable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise SourceError(f"{path}: no such file") from error
    except IsADirectoryError as error:
        raise SourceError(f"{path}: is a folder, not a file") from error
    except OSError as error:
        raise SourceError(f"{path}: cannot read it: {error.strerror}") from error
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        byte = raw[error.start]
        raise SourceError(
            f"{path}:{line}: not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8"
        ) from error


def read_yaml(source: str, name: str, what: str) -> YamlDocument:
    """Parse `source` as one YAML mapping; `what` names it in messages ("an activity").

    Raises SourceError for a syntax error (with its line), an empty file, or a
    document that is not a mapping.
    """
    text = source.removeprefix("\ufeff")
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            raise SourceError(f"{name}:1: the file is empty; write {what} as fields (name: value)")
        if not isinstance(node, yaml.MappingNode):
            kind = "list" if isinstance(node, yaml.SequenceNode) else "single value"
            raise SourceError(
                f"{name}:{node.start_mark.line + 1}: {what} is a mapping of fields "
                f"(name: value), not a {kind}"
            )
        lines, repeated = _index(node, name)
        data = loader.construct_document(node)
    except yaml.YAMLError as error:
        raise SourceError(_syntax_problem(error, text, name)) from error
    except RecursionError as error:
        raise SourceError(f"{name}:1: the YAML is nested too deeply") from error
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(name, data, lines, repeated)


# The line of every field path, and each key a mapping repeats (with its second line).
# Iterative, and bounded: an alias is walked again each time it is used.
def _index(
    root: yaml.Node, name: str
) -> tuple[dict[FieldPath, int], tuple[tuple[int, FieldPath], ...]]:
    lines: dict[FieldPath, int] = {}
    repeated: list[tuple[int, FieldPath]] = []
    stack: list[tuple[yaml.Node, FieldPath]] = [(root, ())]
    visited = 0
    while stack:
        node, path = stack.pop()
        visited += 1
        if visited > MAX_YAML_VALUES:
            raise SourceError(
                f"{name}:1: the file holds more than {MAX_YAML_VALUES} values "
                "(an alias counts each time it is used)"
            )
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[object] = set()
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    stack.append((value_node, path))
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                child = (*path, key)
                if key in seen:
                    repeated.append((key_node.start_mark.line + 1, child))
                    continue
                seen.add(key)
                lines.setdefault(child, key_node.start_mark.line + 1)
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, index)) for index, item in enumerate(node.value))
    return lines, tuple(repeated)


# Inside { } and [ ], a text ends at , : ? [ ] { } unless it is quoted.
_IN_BRACES = "inside { } or [ ], put quotes around a text with , : or ?"
_SYNTAX_HINTS = {
    "found character '\\t' that cannot start any token": "indent with spaces, not tabs",
    "found a tab character that violates indentation": "indent with spaces, not tabs",
    "mapping values are not allowed here": "put quotes around a text that contains ': '",
    "expected ',' or '}', but got '?'": _IN_BRACES,
    "expected ',' or '}', but got ':'": _IN_BRACES,
    "expected ',' or ']', but got '?'": _IN_BRACES,
    "expected ',' or ']', but got ':'": _IN_BRACES,
}


def _syntax_problem(error: yaml.YAMLError, source: str, name: str) -> str:
    if isinstance(error, yaml.reader.ReaderError):
        line = source[: error.position].count("\n") + 1
        return f"{name}:{line}: not valid YAML: character U+{error.character:04X} is not allowed"
    if not isinstance(error, yaml.MarkedYAMLError):
        return f"{name}:1: not valid YAML: {error}"
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else 1
    if error.problem == "but found another document":
        return f"{name}:{line}: a second YAML document starts here; a file holds only one"
    problem = error.problem or error.context or "cannot be read"
    if error.context and error.context_mark is not None and error.context_mark.line + 1 != line:
        problem += f" ({error.context} on line {error.context_mark.line + 1})"
    hint = _SYNTAX_HINTS.get(error.problem or "")
    return f"{name}:{line}: not valid YAML: {problem}" + (f"; {hint}" if hint else "")


# -- pydantic errors in words ---------------------------------------------------------


def validation_problems(
    error: ValidationError, root: type[BaseModel], prefix: FieldPath = ()
) -> list[tuple[FieldPath, str]]:
    """Each problem pydantic found, as (field path, message in plain words).

    `root` is the model that was validated; it names the fields an unknown
    field could have meant. `prefix` is where that model sits in the file.
    """
    problems: list[tuple[FieldPath, str]] = []
    items = error.errors(include_url=False)
    # A mapping key that is wrong says it all: its value's problem would be noise.
    bad_keys = {_clean(item["loc"]) for item in items if item["loc"][-1:] == ("[key]",)}
    for item in items:
        path = _clean(item["loc"])
        if path in bad_keys and item["loc"][-1:] != ("[key]",):
            continue
        message = _describe(item, path, root)
        if (path, message) not in problems:
            problems.append((path, message))
    return [((*prefix, *path), message) for path, message in problems]


# The author's field path: without pydantic's union tags ("<text>") and "[key]".
def _clean(loc: tuple[str | int, ...]) -> FieldPath:
    return tuple(p for p in loc if not (isinstance(p, str) and p[:1] in "<["))


def _describe(item: ErrorDetails, path: FieldPath, root: type[BaseModel]) -> str:
    kind, value = item["type"], item["input"]
    ctx: dict[str, Any] = dict(item.get("ctx") or {})
    if kind == "extra_forbidden":
        if not path:  # a field with no name (`? >`, `'': x`)
            return "a field without a name; write fields as name: value"
        return _unknown_field(str(path[-1]), _field_names(root, path[:-1]))
    if kind == "missing":
        return "is required"
    if value is None:
        return "is empty"
    if item["loc"][-1:] == ("[key]",):
        message = f"{_shown(value)} is not a language code; use a code like en, es or vi"
        if " " in str(value):
            message += " (inside { }, a comma starts a new entry: put quotes around the text)"
        return message
    match kind:
        case "string_pattern_mismatch" if ctx.get("pattern") == SLUG:
            school = path[-1:] in (("school",), ("code",))
            noun, like = ("school code", "lincoln-es") if school else ("key", "top-priority")
            return f"{_shown(value)} is not a {noun}: use lowercase letters, digits and dashes, like {like}"
        case "string_pattern_mismatch" if ctx.get("pattern") == CONTENT_SID:
            return (
                f"{_shown(value)} is not a Content SID; copy the template's SID from Twilio "
                "(HX and 32 letters and digits)"
            )
        case "string_pattern_mismatch" if ctx.get("pattern") == LANGUAGE:
            return f"{_shown(value)} is not a language code; use a code like en, es or vi"
        case "string_too_short":
            return "is empty"
        case "string_too_long":
            return f"is {len(str(value))} characters long; at most {ctx['max_length']}"
        case "string_type":
            return "must be a text"
        case "int_type" | "int_parsing" | "int_from_float":
            return "must be a whole number"
        case "bool_type" | "bool_parsing":
            return "must be true or false"
        case "list_type":
            return "must be a list (one '- ' line per item)"
        case "dict_type" | "model_type" | "model_attributes_type":
            return "must be a mapping of fields (name: value)"
        case "enum" | "literal_error":
            allowed = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
            return f"{_shown(value)} is not one of: {allowed}"
        case "greater_than_equal":
            return f"must be {ctx['ge']} or more"
        case "less_than_equal":
            return f"must be {ctx['le']} or less"
        case "too_short":
            return f"needs at least {ctx['min_length']}"
        case "too_long":
            return f"has more than {ctx['max_length']}"
        case "date_type" | "date_parsing" | "date_from_datetime_parsing":
            return f"{_shown(value)} is not a date; write it as 2026-03-30"
    message = item["msg"]
    return message[:1].lower() + message[1:]


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unknown_field(name: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown field; did you mean '{close[0]}'?"
    if allowed:
        return f"unknown field; the fields here are {', '.join(allowed)}"
    return "unknown field"


# The fields of the model found at `path` under `root`, for "did you mean".
def _field_names(root: type[BaseModel], path: FieldPath) -> list[str]:
    model: type[BaseModel] | None = root
    keyed = False  # the next part is a mapping's key (a language), not a field
    for part in path:
        if isinstance(part, int) or keyed:
            keyed = False
            continue
        if model is None or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        keyed = any(get_origin(a) is dict for a in (annotation, *get_args(annotation)))
        model = _model_in(annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, (_model_in(arg) for arg in get_args(annotation))), None)


# -- the format ----------------------------------------------------------------------


def _text_kind(value: object) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return "<text>"
    return "<translations>" if isinstance(value, dict) else None


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
LanguageCode = Annotated[str, StringConstraints(pattern=LANGUAGE)]
Key = Annotated[str, StringConstraints(pattern=SLUG, max_length=KEY_LENGTH)]
# A text is one string (in the default language) or a mapping language -> string.
Text = Annotated[
    Annotated[Line, Tag("<text>")] | Annotated[dict[LanguageCode, Line], Tag("<translations>")],
    Discriminator(
        _text_kind,
        custom_error_type="text_type",
        custom_error_message="must be a text, or a mapping of language to text",
    ),
]
Words = Annotated[list[Line], BeforeValidator(_as_list)]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)


class OptionFields(_Fields):
    key: Key
    label: Text


class ScaleFields(_Fields):
    min: int = Field(default=1, ge=0)
    max: int = 5
    min_label: Text | None = None
    max_label: Text | None = None


class ConditionFields(_Fields):
    question: Key
    any_of: Words = Field(default_factory=list)
    at_least: int | None = None
    at_most: int | None = None


class QuestionFields(_Fields):
    key: Key
    type: QuestionType
    prompt: Text
    options: list[OptionFields] | None = None
    max_choices: int | None = Field(default=None, ge=1)
    scale: ScaleFields | None = None
    optional: bool = False
    when: ConditionFields | None = None


class SeedFields(_Fields):
    key: Key
    text: Text


# The fields only an exchange has (docs/exchange.md).
EXCHANGE_FIELDS = (
    "prompt",
    "scope",
    "seeds",
    "reactions_per_participant",
    "moderation",
    "opens",
    "closes",
)
MAX_REACTIONS = 50


class TemplateFields(_Fields):
    content_sid: Annotated[str, StringConstraints(strip_whitespace=True, pattern=CONTENT_SID)]
    variables: Words = Field(default_factory=list)


class ActivityFields(_Fields):
    key: Annotated[str, StringConstraints(pattern=SLUG, max_length=ACTIVITY_KEY_LENGTH)]
    kind: ActivityKind
    version: int = Field(default=1, ge=1)
    default_language: LanguageCode = "en"
    title: Text
    intro: Text | None = None
    closing: Text | None = None
    reminder: Text | None = None
    round: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None
    ) = None
    start_keywords: Words = Field(default_factory=list)
    school: Annotated[str, StringConstraints(pattern=SLUG, max_length=64)] | None = None
    whatsapp_templates: dict[LanguageCode, TemplateFields] | None = None
    # Each question is validated on its own (QuestionFields), so one bad question
    # does not hide the problems of the others.
    questions: Annotated[list[Any], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list
    )
    prompt: Text | None = None
    scope: Literal["district", "school"] | None = None
    seeds: list[SeedFields] | None = None
    reactions_per_participant: int | None = Field(default=None, ge=1, le=MAX_REACTIONS)
    moderation: Moderation | None = None
    opens: date | None = None
    closes: date | None = None


TextValue = str | dict[str, str]
M = TypeVar("M", bound=BaseModel)


# -- problems, in file order -----------------------------------------------------------


class _Problems:
    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.found: list[tuple[int, int, str]] = []

    def add(self, path: Sequence[str | int], message: str, line: int | None = None) -> None:
        at = self.document.line(path) if line is None else line
        text = f"{self.document.name}:{at}: {self.document.shown(path)}: {message}"
        if all(text != seen for _, _, seen in self.found):
            self.found.append((at, len(self.found), text))

    def extend(self, problems: Iterable[tuple[FieldPath, str]]) -> None:
        for path, message in problems:
            self.add(path, message)

    def lines(self) -> list[str]:
        return [text for _, _, text in sorted(self.found)]


@dataclass(frozen=True, slots=True)
class _Parsed:
    activity: Activity
    document: YamlDocument
    texts: tuple[tuple[FieldPath, Localized], ...]


def _parse(source: str, name: str) -> _Parsed:
    try:
        document = read_yaml(source, name, "an activity")
    except SourceError as error:
        raise ActivityError([error.problem]) from error
    # A feedback round's sections and an update's message and pulse become the
    # intro and questions the engine knows (bot.authoring.rounds), lines kept.
    data, lines, round_problems = expand_rounds(document.data, document.lines)
    document = replace(
        document, data=data, lines=lines, questions=_question_names(document.data, data)
    )
    problems = _Problems(document)
    for line, path in document.repeated:
        problems.add(path, f"appears twice; line {document.line(path)} sets it too", line)
    problems.extend(round_problems)
    header = _salvage(ActivityFields, document.data, (), problems)
    raw_questions = document.data.get("questions")
    raw_questions = raw_questions if isinstance(raw_questions, list) else []
    questions = {
        index: _salvage(QuestionFields, raw, ("questions", index), problems)
        for index, raw in enumerate(raw_questions)
    }
    checks = _Checks(problems, header)
    checks.activity(bool(raw_questions))
    checks.questions(raw_questions, questions)
    if problems.found or header.model is None or not header.valid:
        raise ActivityError(problems.lines())
    built = [q.model for q in questions.values() if q.model is not None and q.valid]
    return _build(header.model, built, document)


def _question_names(written: Mapping[Any, Any], expanded: Mapping[Any, Any]) -> dict[int, str]:
    """Each question's name in messages, by the key the author gave it where they wrote
    it: `questions[priorities]`, `sections[reading]` (a feedback round's), `pulse`."""
    questions = expanded.get("questions")
    if not isinstance(questions, list):
        return {}
    keys = [q.get("key") if isinstance(q, Mapping) else None for q in questions]
    sections = written.get("sections")
    section_keys = (
        {str(s.get("key")) for s in sections if isinstance(s, Mapping)}
        if isinstance(sections, list) and "sections" not in expanded
        else set()
    )
    explicit = written.get("questions")
    first_written = len(questions) - (len(explicit) if isinstance(explicit, list) else 0)
    if "pulse" in written and "pulse" not in expanded:
        return {0: "pulse"}
    names = {}
    for index, key in enumerate(keys):
        unique = isinstance(key, str) and bool(SLUG_PATTERN.match(key)) and keys.count(key) == 1
        if index < first_written and section_keys:
            section = str(key).removesuffix("-comment")
            if section in section_keys:
                names[index] = f"sections[{section}]" + (".comment" if section != key else "")
        elif unique:
            names[index] = f"questions[{key}]"
        else:
            names[index] = f"questions[{index - first_written}]"
    return names


# A model validated with its broken fields set aside (`broken`), so that the checks
# across fields can still run on the others; `valid` when nothing was broken.
@dataclass(frozen=True, slots=True)
class _Salvaged(Generic[M]):
    model: M | None
    broken: frozenset[str]
    valid: bool

    def usable(self, *names: str) -> bool:
        return self.model is not None and self.broken.isdisjoint(names)


# Stand-ins for required fields that failed, so the other fields can still be checked.
_STAND_INS: Mapping[str, object] = {
    "key": "x",
    "kind": "update",
    "title": "x",
    "type": "info",
    "prompt": "x",
}


def _salvage(model: type[M], data: object, prefix: FieldPath, problems: _Problems) -> _Salvaged[M]:
    try:
        return _Salvaged(model.model_validate(data), frozenset(), True)
    except ValidationError as error:
        found = validation_problems(error, model, prefix)
    problems.extend(found)
    broken = frozenset(str(path[len(prefix)]) for path, _ in found if len(path) > len(prefix))
    if not isinstance(data, dict) or any(len(path) == len(prefix) for path, _ in found):
        return _Salvaged(None, broken, False)
    kept = {k: v for k, v in data.items() if k not in broken}
    kept |= {k: v for k, v in _STAND_INS.items() if k in broken and k in model.model_fields}
    try:
        return _Salvaged(model.model_validate(kept), broken, False)
    except ValidationError:
        return _Salvaged(None, broken, False)


# The rules pydantic cannot see, as they compare fields with each other. A field that
# failed validation is left out (`_Salvaged.usable`): its problem is reported once,
# not again as a consequence.
class _Checks:
    def __init__(self, problems: _Problems, header: _Salvaged[ActivityFields]) -> None:
        self.problems = problems
        self.header = header
        model = header.model
        self.default: str | None = None
        self.activity_key: str | None = None
        if model is not None:
            self.default = model.default_language if header.usable("default_language") else None
            self.activity_key = model.key if header.usable("key") else None

    def text(self, value: TextValue | None, path: FieldPath) -> None:
        if isinstance(value, dict) and self.default is not None and self.default not in value:
            self.problems.add(path, f"needs a text in '{self.default}', the default language")

    def activity(self, has_questions: bool) -> None:
        header = self.header.model
        if header is None:
            return
        for name in ("title", "intro", "closing", "reminder", "prompt"):
            if self.header.usable(name):
                self.text(getattr(header, name), (name,))
        if self.header.usable("kind"):
            self.exchange(header, has_questions)
        if self.header.usable("kind", "questions") and not has_questions:
            if header.kind not in (ActivityKind.UPDATE, ActivityKind.EXCHANGE):
                self.problems.add(
                    ("questions",), f"a {header.kind.value} needs at least 1 question"
                )
        if self.header.usable("start_keywords"):
            seen: dict[str, int] = {}
            for index, word in enumerate(header.start_keywords):
                self.start_keyword(word, index, seen)
        if self.header.usable("whatsapp_templates", "default_language", "title"):
            for language, template in (header.whatsapp_templates or {}).items():
                self.template(header, language, template)

    def template(self, header: ActivityFields, language: str, template: TemplateFields) -> None:
        """Every variable is one the activity has, in the template's language."""
        path: FieldPath = ("whatsapp_templates", language)
        default = header.default_language
        if language not in authored_text(header.title, default):
            self.problems.add(
                path,
                f"the activity has no '{language}' texts (its title has none), so no family "
                f"would get this template; translate the activity or remove the template",
            )
            return
        for index, name in enumerate(template.variables):
            here = (*path, "variables", index)
            if name not in TEMPLATE_VARIABLES:
                self.problems.add(
                    here,
                    f"'{name}' is not a template variable; use {', '.join(TEMPLATE_VARIABLES)}",
                )
                continue
            if name == "program" or not self.header.usable(name):
                continue
            value = getattr(header, name)
            if value is None:
                self.problems.add(here, f"the activity has no {name} to fill it with")
            elif language not in authored_text(value, default):
                self.problems.add(
                    here,
                    f"the {name} has no '{language}' text; the template would mix languages",
                )

    def exchange(self, header: ActivityFields, has_questions: bool) -> None:
        if header.kind is not ActivityKind.EXCHANGE:
            for name in EXCHANGE_FIELDS:
                if getattr(header, name) is not None and self.header.usable(name):
                    self.problems.add(
                        (name,), f"only an exchange has it, not a {header.kind.value}"
                    )
            return
        if has_questions:
            self.problems.add(
                ("questions",), "an exchange asks no questions: its prompt asks for ideas"
            )
        if header.prompt is None and self.header.usable("prompt"):
            self.problems.add(("prompt",), "an exchange needs a prompt (what ideas to share)")
        if self.header.usable("scope", "school"):
            if header.scope == "school" and header.school is None:
                self.problems.add(("scope",), "scope school needs the school's code in 'school'")
            if header.scope == "district" and header.school is not None:
                self.problems.add(("school",), "a district-wide exchange names no school")
        if self.header.usable("opens", "closes") and header.opens and header.closes:
            if header.closes < header.opens:
                self.problems.add(("closes",), f"is before opens ({header.opens.isoformat()})")
        if header.seeds is not None and self.header.usable("seeds"):
            keys: dict[str, int] = {}
            for index, seed in enumerate(header.seeds):
                if seed.key in keys:
                    self.problems.add(
                        ("seeds", index, "key"),
                        f"'{seed.key}' is already the key of seeds[{keys[seed.key]}]",
                    )
                keys.setdefault(seed.key, index)
                self.text(seed.text, ("seeds", index, "text"))

    def start_keyword(self, word: str, index: int, seen: dict[str, int]) -> None:
        path: FieldPath = ("start_keywords", index)
        said = normalize(word)
        reserved = match_keyword(word, spoken_languages())
        if reserved is not None:
            name = reserved.keyword.value.upper()
            self.problems.add(path, f"'{word}' already means {name}; pick another word")
        elif not any(char.isalpha() for char in said):
            self.problems.add(path, f"'{word}' would be read as an answer; use a word like PLAN")
        elif said in seen:
            self.problems.add(path, f"'{word}' is already start_keywords[{seen[said]}]")
        seen.setdefault(said, index)

    def questions(
        self, raw: Sequence[object], questions: Mapping[int, _Salvaged[QuestionFields]]
    ) -> None:
        positions: dict[str, int] = {}
        for index, item in enumerate(raw):
            key = item.get("key") if isinstance(item, dict) else None
            if isinstance(key, str | int) and not isinstance(key, bool):
                positions.setdefault(str(key), index)
        for index, salvaged in questions.items():
            question = salvaged.model
            if question is None:
                continue
            path: FieldPath = ("questions", index)
            first = positions.get(question.key, index)
            if salvaged.usable("key") and first != index:
                self.problems.add(
                    (*path, "key"), f"'{question.key}' is already the key of questions[{first}]"
                )
            if salvaged.usable("prompt"):
                self.text(question.prompt, (*path, "prompt"))
            if salvaged.usable("type"):
                self.question(salvaged, path)
            if question.when is not None and salvaged.usable("when"):
                self.condition(question.when, index, positions, questions, (*path, "when"))

    def question(self, salvaged: _Salvaged[QuestionFields], path: FieldPath) -> None:
        question = salvaged.model
        assert question is not None
        kind = question.type
        options = question.options or []
        if kind in CHOICE_TYPES and salvaged.usable("options"):
            if len(options) < 2:
                self.problems.add((*path, "options"), "needs at least 2 options")
            self.options(options, (*path, "options"))
            if question.max_choices is not None and question.max_choices > len(options) >= 2:
                self.problems.add(
                    (*path, "max_choices"), f"is more than the {len(options)} options"
                )
        elif question.options is not None and kind not in CHOICE_TYPES:
            self.problems.add((*path, "options"), f"not allowed for a {kind.value} question")
        if question.max_choices is not None and kind not in (
            QuestionType.MULTIPLE_CHOICE,
            QuestionType.RANKING,
        ):
            self.problems.add(
                (*path, "max_choices"), "only multiple_choice and ranking questions have it"
            )
        if question.scale is not None and kind is not QuestionType.SCALE:
            self.problems.add((*path, "scale"), f"not allowed for a {kind.value} question")
        elif question.scale is not None:
            self.scale(question.scale, (*path, "scale"))
        if salvaged.usable("key", "options", "scale"):
            self.button_data(question, path)

    def options(self, options: Sequence[OptionFields], path: FieldPath) -> None:
        keys: dict[str, int] = {}
        labels: dict[tuple[str, str], int] = {}
        for position, option in enumerate(options):
            here = (*path, position)
            if option.key in keys:
                self.problems.add(
                    (*here, "key"),
                    f"'{option.key}' is already the key of options[{keys[option.key]}]",
                )
            keys.setdefault(option.key, position)
            self.text(option.label, (*here, "label"))
            for language, label in authored_text(option.label, self.default or "en").items():
                same = labels.setdefault((language, normalize(label)), position)
                if same != position:
                    self.problems.add(
                        (*here, "label", language),
                        f"same text as options[{same}]; answers could not tell them apart",
                    )

    def scale(self, scale: ScaleFields, path: FieldPath) -> None:
        if scale.min >= scale.max:
            self.problems.add((*path, "max"), f"must be more than min ({scale.min})")
        elif scale.max - scale.min + 1 > SCALE_POINTS:
            self.problems.add(
                (*path, "max"),
                f"a scale has at most {SCALE_POINTS} points ({scale.min} to "
                f"{scale.min + SCALE_POINTS - 1})",
            )
        if (scale.min_label is None) != (scale.max_label is None):
            self.problems.add(path, "give both min_label and max_label, or neither")
        self.text(scale.min_label, (*path, "min_label"))
        self.text(scale.max_label, (*path, "max_label"))

    def button_data(self, question: QuestionFields, path: FieldPath) -> None:
        if self.activity_key is None:
            return
        values: list[tuple[FieldPath, str]] = []
        if question.type in CHOICE_TYPES:
            options = question.options or []
            values = [((*path, "options", i, "key"), o.key) for i, o in enumerate(options)]
        elif question.type is QuestionType.YES_NO:
            values = [((*path, "key"), "yes"), ((*path, "key"), "no")]
        elif question.type is QuestionType.SCALE:
            scale = question.scale or ScaleFields()
            values = [((*path, "key"), str(n)) for n in (scale.min, scale.max)]
        for at, value in values:
            data = f"q:{self.activity_key}:{question.key}:{value}"
            size = len(data.encode())
            if size > BUTTON_DATA_BYTES:
                self.problems.add(
                    at,
                    f"the button data '{data}' is {size} bytes, more than Telegram's "
                    f"{BUTTON_DATA_BYTES}; shorten the activity, question or option key",
                )
                return

    def condition(
        self,
        when: ConditionFields,
        index: int,
        positions: Mapping[str, int],
        questions: Mapping[int, _Salvaged[QuestionFields]],
        path: FieldPath,
    ) -> None:
        target_index = positions.get(when.question)
        if target_index is None:
            self.problems.add((*path, "question"), f"there is no question '{when.question}'")
            return
        if target_index >= index:
            where = "this question" if target_index == index else f"questions[{target_index}]"
            self.problems.add(
                (*path, "question"),
                f"'{when.question}' is {where}; a condition can only look at an earlier answer",
            )
            return
        salvaged = questions[target_index]
        target = salvaged.model
        if target is None or not salvaged.usable("type"):
            return
        if target.type not in CONDITION_TYPES:
            self.problems.add(
                (*path, "question"),
                f"'{target.key}' is a {target.type.value} question; a condition needs "
                "a choice, yes_no or scale question",
            )
            return
        bounded = when.at_least is not None or when.at_most is not None
        if not when.any_of and not bounded:
            self.problems.add(path, "needs any_of, or at_least / at_most")
        if target.type is QuestionType.SCALE:
            if salvaged.usable("scale"):
                self.scale_condition(when, target, path)
            return
        if bounded:
            name = "at_least" if when.at_least is not None else "at_most"
            self.problems.add(
                (*path, name),
                f"only for a scale question; '{target.key}' is a {target.type.value} question",
            )
        if target.type is QuestionType.YES_NO:
            allowed = ["yes", "no"]
        elif salvaged.usable("options"):
            allowed = [o.key for o in target.options or []]
        else:
            return
        for position, value in enumerate(when.any_of):
            if value not in allowed:
                self.problems.add(
                    (*path, "any_of", position),
                    f"'{value}' is not one of the answers to '{target.key}': {', '.join(allowed)}",
                )

    def scale_condition(
        self, when: ConditionFields, target: QuestionFields, path: FieldPath
    ) -> None:
        if when.any_of:
            self.problems.add(
                (*path, "any_of"), f"'{target.key}' is a scale question: use at_least or at_most"
            )
        scale = target.scale or ScaleFields()
        if scale.min >= scale.max:
            return
        for name in ("at_least", "at_most"):
            value = getattr(when, name)
            if value is not None and not scale.min <= value <= scale.max:
                self.problems.add(
                    (*path, name), f"{value} is outside the scale ({scale.min} to {scale.max})"
                )
        if when.at_least is not None and when.at_most is not None and when.at_least > when.at_most:
            self.problems.add((*path, "at_most"), f"is less than at_least ({when.at_least})")


# -- building the core types -----------------------------------------------------------


def _build(
    header: ActivityFields, questions: Sequence[QuestionFields], document: YamlDocument
) -> _Parsed:
    default = header.default_language
    texts: list[tuple[FieldPath, Localized]] = []

    def text(value: TextValue, path: FieldPath) -> Localized:
        localized = Localized(authored_text(value, default))
        texts.append((path, localized))
        return localized

    def maybe(value: TextValue | None, path: FieldPath) -> Localized | None:
        return None if value is None else text(value, path)

    built: list[Question] = []
    for index, q in enumerate(questions):
        path: FieldPath = ("questions", index)
        scale = q.scale or ScaleFields()
        when = q.when
        built.append(
            Question(
                key=q.key,
                type=q.type,
                prompt=text(q.prompt, (*path, "prompt")),
                options=tuple(
                    Option(o.key, text(o.label, (*path, "options", i, "label")))
                    for i, o in enumerate(q.options or [])
                ),
                optional=q.optional,
                when=None
                if when is None
                else Condition(when.question, tuple(when.any_of), when.at_least, when.at_most),
                scale_min=scale.min,
                scale_max=scale.max,
                scale_min_label=maybe(scale.min_label, (*path, "scale", "min_label")),
                scale_max_label=maybe(scale.max_label, (*path, "scale", "max_label")),
                max_choices=q.max_choices,
            )
        )
    title = text(header.title, ("title",))
    intro = maybe(header.intro, ("intro",))
    closing = maybe(header.closing, ("closing",))
    extra: dict[str, object] = {}
    if header.reminder is not None:
        extra["reminder"] = text(header.reminder, ("reminder",))
    if header.round is not None:
        extra["round"] = header.round
    exchange = None
    if header.kind is ActivityKind.EXCHANGE and header.prompt is not None:
        exchange = Exchange(
            prompt=text(header.prompt, ("prompt",)),
            seeds=tuple(
                Seed(seed.key, text(seed.text, ("seeds", index, "text")))
                for index, seed in enumerate(header.seeds or [])
            ),
            reactions=header.reactions_per_participant or DEFAULT_REACTIONS,
            moderation=header.moderation or Moderation.BEFORE,
            opens=header.opens,
            closes=header.closes,
        )
    activity = Activity(
        key=header.key,
        kind=header.kind,
        title=title,
        questions=tuple(built),
        version=header.version,
        intro=intro,
        closing=closing,
        start_keywords=tuple(header.start_keywords),
        school=header.school,
        default_language=default,
        extra=extra,
        exchange=exchange,
        whatsapp_templates={
            language: WhatsAppTemplate(t.content_sid, tuple(t.variables))
            for language, t in (header.whatsapp_templates or {}).items()
        },
    )
    return _Parsed(activity, document, tuple(texts))


# -- public API -----------------------------------------------------------------------


def parse_activity(source: str, name: str) -> Activity:
    """Build an activity from the YAML text `source`; `name` is the file name in messages.

    Deterministic: the service re-parses the source it stored. Raises
    ActivityError listing every problem, in file order, as `name:line: field: problem`.
    """
    return _parse(source, name).activity


def load_activity_file(path: Path) -> Activity:
    """Read an activity file (UTF-8, a byte-order mark is fine) and parse it.

    Raises ActivityError for a missing or unreadable file as well as for an invalid one.
    """
    try:
        source = read_source(path)
    except SourceError as error:
        raise ActivityError([error.problem]) from error
    return parse_activity(source, str(path))


@dataclass(frozen=True)
class ActivityReport:
    """What `engage activity validate` prints for one file: errors stop a load, warnings do not.

    `translated` counts, per district language, the texts that have it (of
    `texts`); `segments` is what each message costs by SMS, per language,
    keyed by the field it comes from.
    """

    path: Path
    activity: Activity | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    texts: int = 0
    translated: Mapping[str, int] = field(default_factory=dict)
    segments: Mapping[str, Mapping[str, SegmentCount]] = field(default_factory=dict)


def check_activity_file(
    path: Path, languages: Sequence[str], program: str | None = None
) -> ActivityReport:
    """Errors (as `load_activity_file` raises them) and warnings for the district's `languages`.

    Warnings: a text without a translation in one of `languages`; a question
    (or intro, closing) that costs more than 2 SMS segments in one of them,
    rendered exactly as the engine sends it by SMS; a public URL shortener;
    a few characters that make a text UCS-2 and cost it segments. With
    `program`, the first message a family who never heard from us gets (the
    intro and first question, opened by who we are and how to stop) is checked
    too: it must name the program and say how to stop, in every language.
    """
    try:
        parsed = _parse(read_source(path), str(path))
    except SourceError as error:
        return ActivityReport(path, None, errors=[error.problem])
    except ActivityError as error:
        return ActivityReport(path, None, errors=list(error.problems))
    wanted = list(dict.fromkeys(languages)) or [parsed.activity.default_language]
    costs = list(_sms_costs(parsed.activity, wanted))
    segments: dict[str, dict[str, SegmentCount]] = {}
    for at, language, cost, _, _ in costs:
        segments.setdefault(parsed.document.shown(at), {})[language] = cost
    return ActivityReport(
        path,
        parsed.activity,
        warnings=_warnings(parsed, wanted, costs, program),
        texts=len(parsed.texts),
        translated={
            language: sum(language in localized.values for _, localized in parsed.texts)
            for language in wanted
        },
        segments=segments,
    )


_Cost = tuple[FieldPath, str, SegmentCount, SegmentCount, str]


def _warnings(
    parsed: _Parsed, wanted: Sequence[str], costs: Sequence[_Cost], program: str | None = None
) -> list[str]:
    activity, document = parsed.activity, parsed.document
    warnings = _Problems(document)
    line = document.line
    if activity.default_language not in wanted:
        warnings.add(
            ("default_language",),
            f"'{activity.default_language}' is not one of the district's languages "
            f"({', '.join(wanted)})",
        )
    unused: dict[str, FieldPath] = {}
    for path, localized in parsed.texts:
        for language in wanted:
            if language not in localized.values:
                warnings.add(path, f"no '{language}' translation (the default language is shown)")
        for language in localized.values:
            here = (*path, language)
            first = unused.get(language)
            if language not in wanted and (first is None or line(here) < line(first)):
                unused[language] = here
    for language, path in unused.items():
        warnings.add(path, _unused_language(language, wanted))
    for path, language, cost, plain, sms in costs:
        over = cost.segments > SMS_SEGMENTS_WARNED
        if over:
            warnings.add(path, _cost(cost, language, plain))
        # Over the limit, the cost line says already what straight quotes would save.
        for problem in lint(sms, language, encoding=not over):
            warnings.add(path, problem)
    if program is not None:
        invitation = _first_contact(activity, wanted, program)
        if invitation is not None:
            opening, first_texts = invitation
            for language, sms in first_texts.items():
                for problem in lint(
                    sms,
                    language,
                    program=program,
                    first_contact=True,
                    segments_over=FIRST_CONTACT_SEGMENTS_WARNED,
                ):
                    warnings.add(opening, f"as a first message {problem}")
    templates = activity.whatsapp_templates
    if templates:
        have = activity.title.languages()
        for language in wanted:
            if language in have and language not in templates:
                warnings.add(
                    ("whatsapp_templates",),
                    f"no '{language}' template: WhatsApp families reading {language} who have "
                    "not written in 24 hours cannot be sent this activity",
                )
        for language in templates:
            if language not in wanted:
                warnings.add(
                    ("whatsapp_templates", language),
                    f"'{language}' is not one of the district's languages "
                    f"({', '.join(wanted)}); no family gets this template",
                )
    return warnings.lines()


def _first_contact(
    activity: Activity, languages: Sequence[str], program: str
) -> tuple[FieldPath, dict[str, str]] | None:
    """Where the first message starts, and per language the SMS a family who never
    heard from us gets when invited: who we are and how to stop, the intro, the first
    question (for an update, its intro and closing)."""
    default = activity.default_language
    path: FieldPath
    if activity.intro is not None:
        path = ("intro",)
    elif activity.questions:
        path = ("questions", 0, "prompt")
    else:
        return None
    texts = {}
    for language in languages:
        parts: list[Reply] = []
        if activity.intro is not None:
            parts.append(Reply(activity.intro.get(language, default)))
        if activity.questions:
            parts.append(question_reply(activity, activity.questions[0], language))
        elif activity.closing is not None:
            parts.append(Reply(activity.closing.get(language, default)))
        text = "\n\n".join(p.text for p in parts if p.text)
        choices = next((p.choices for p in reversed(parts) if p.choices), ())
        first = introduce(Reply(text, choices), program, language)
        texts[language] = as_plain_text(first.text, first.choices)
    return path, texts


# A translation no family will see, said once per language.
def _unused_language(language: str, wanted: Sequence[str]) -> str:
    if language not in spoken_languages():
        return f"'{language}' is not a language the bot speaks; no family sees these texts"
    return (
        f"'{language}' is not one of the district's languages ({', '.join(wanted)}); "
        "no family sees these texts until district.yaml lists it"
    )


# What each message costs by SMS in each language, and what it would with straight quotes.
def _sms_costs(activity: Activity, languages: Sequence[str]) -> Iterable[_Cost]:
    renderings: list[tuple[FieldPath, Callable[[str], str]]] = []
    for name in ("intro", "closing"):
        localized: Localized | None = getattr(activity, name)
        if localized is not None:
            renderings.append(((name,), _in(localized, activity.default_language)))
    for index, question in enumerate(activity.questions):

        def sms(language: str, question: Question = question) -> str:
            reply = question_reply(activity, question, language)
            return as_plain_text(reply.text, reply.choices)

        renderings.append((("questions", index, "prompt"), sms))
    exchange = activity.exchange
    if exchange is not None:
        # The first message of an exchange: its prompt and how to answer it.
        prompt = _in(exchange.prompt, activity.default_language)
        renderings.append(
            (
                ("prompt",),
                lambda language: f"{prompt(language)}\n{system_text('idea_share_hint', language)}",
            )
        )
    for path, render in renderings:
        for language in languages:
            text = render(language)
            yield path, language, count_segments(text), count_segments(smart_encode(text)), text


def _in(localized: Localized, default: str) -> Callable[[str], str]:
    return lambda language: localized.get(language, default)


def _cost(cost: SegmentCount, language: str, plain: SegmentCount) -> str:
    message = f"{cost.segments} SMS segments in '{language}' ({cost.encoding.value})"
    if plain.segments < cost.segments:
        message += f"; {plain.segments} with straight quotes and plain dashes"
    return message
