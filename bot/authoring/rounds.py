"""Draft-plan feedback rounds and progress updates, as organizers write them.

A feedback round lists the draft plan's `sections` (title, a two-sentence
summary, a link to the full text); an update has a `message` and at most one
`pulse` question. Both are expanded here, before validation, into what the
engine already knows, so nothing new reaches `bot.core`:

- each section becomes a scale question whose prompt carries the section
  ("Part 2 of 4: \"Counselors in every school\": … Full text: https://…") and
  asks for support, then an optional free-text comment (`comments: false`
  leaves it out). One message per section, not an info text and a question:
  two texts sent at once can reach a phone in the wrong order;
- an update's `message` becomes its intro, its `pulse` its only question.

Pure: YAML data and its line map in, the expanded data, line map and
problems (`(path, message)`) out. Generated questions point at their
section's line, so errors and warnings name a line of the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.core.activity import authored_text, is_authored_text
from bot.core.texts import text

__all__ = ["expand_rounds"]

Path = tuple[str | int, ...]
Problems = list[tuple[Path, str]]

# Generated keys add "-comment" (8 characters) to a section key; question keys are ≤ 32.
SECTION_KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SECTION_KEY_LENGTH = 24
SECTION_FIELDS = ("key", "title", "summary", "link")
_URL = re.compile(r"^https?://\S+$")


def expand_rounds(
    data: Mapping[Any, Any], lines: Mapping[Path, int]
) -> tuple[dict[Any, Any], dict[Path, int], Problems]:
    """Expand `sections` (feedback) and `message`/`pulse` (update) into intro and questions."""
    expanded = dict(data)
    new_lines = dict(lines)
    problems: Problems = []
    kind = data.get("kind")
    for name in ("sections", "support_scale", "comments"):
        if name in data and kind != "feedback":
            problems.append(((name,), "only a feedback round (kind: feedback) has this"))
            expanded.pop(name)
    for name in ("message", "pulse"):
        if name in data and kind != "update":
            problems.append(((name,), "only an update (kind: update) has this"))
            expanded.pop(name)
    if kind == "feedback" and "sections" in data:
        _feedback(expanded, new_lines, problems)
    elif kind == "update":
        _update(expanded, new_lines, problems)
    return expanded, new_lines, problems


# -- feedback rounds ---------------------------------------------------------------------


def _feedback(data: dict[Any, Any], lines: dict[Path, int], problems: Problems) -> None:
    sections = data.pop("sections")
    scale = data.pop("support_scale", None)
    comments = data.pop("comments", True)
    if not isinstance(sections, list) or not sections:
        problems.append((("sections",), "list the draft plan's sections (at least 1)"))
        return
    if not isinstance(comments, bool):
        problems.append((("comments",), "must be true or false"))
        comments = True
    if scale is not None and not isinstance(scale, Mapping):
        problems.append((("support_scale",), "must be a mapping like {min: 1, max: 5}"))
        scale = None
    default = str(data.get("default_language") or "en")
    existing = data.get("questions")
    after = list(existing) if isinstance(existing, list) else []
    generated: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for index, section in enumerate(sections):
        if not _valid_section(section, index, seen, problems):
            continue
        for question in _section_questions(section, index, len(sections), scale, comments, default):
            generated.append((index, question))
    # Explicit questions follow the sections: move their lines along with them.
    shift = len(generated)
    moved = {
        ("questions", path[1] + shift, *path[2:]): line
        for path, line in lines.items()
        if len(path) > 1 and path[0] == "questions" and isinstance(path[1], int)
    }
    for path in [p for p in lines if len(p) > 1 and p[0] == "questions"]:
        del lines[path]
    lines.update(moved)
    for number, (index, _) in enumerate(generated):
        lines[("questions", number)] = lines.get(("sections", index), lines.get(("sections",), 1))
    data["questions"] = [question for _, question in generated] + after


def _valid_section(section: object, index: int, seen: dict[str, int], problems: Problems) -> bool:
    path: Path = ("sections", index)
    if not isinstance(section, Mapping):
        problems.append((path, "a section is a mapping of key, title, summary and link"))
        return False
    ok = True
    for name in section:
        if name not in SECTION_FIELDS:
            problems.append(((*path, str(name)), f"unknown field; use {', '.join(SECTION_FIELDS)}"))
            ok = False
    for name in SECTION_FIELDS:
        if section.get(name) in (None, ""):
            problems.append(((*path, name), "is required"))
            ok = False
    key = section.get("key")
    if isinstance(key, str) and key:
        if not SECTION_KEY.match(key) or len(key) > SECTION_KEY_LENGTH:
            problems.append(
                (
                    (*path, "key"),
                    f"use lowercase letters, digits and -, at most {SECTION_KEY_LENGTH}",
                )
            )
            ok = False
        elif key in seen:
            problems.append(((*path, "key"), f"also the key of sections[{seen[key]}]"))
            ok = False
        else:
            seen[key] = index
    elif key not in (None, ""):
        problems.append(((*path, "key"), "must be a text"))
        ok = False
    link = section.get("link")
    if link not in (None, "") and not (isinstance(link, str) and _URL.match(link)):
        problems.append(((*path, "link"), "must be an http(s) address"))
        ok = False
    for name in ("title", "summary"):
        value = section.get(name)
        if value not in (None, "") and not is_authored_text(value):
            problems.append(((*path, name), "must be a text, or a mapping of language to text"))
            ok = False
    return ok


def _section_questions(
    section: Mapping[str, Any],
    index: int,
    count: int,
    scale: Mapping[str, Any] | None,
    comments: bool,
    default: str,
) -> list[dict[str, Any]]:
    title = authored_text(section["title"], default)
    summary = authored_text(section["summary"], default)
    link = str(section["link"])
    languages = [lang for lang in title if lang in summary]

    prompt = {
        lang: (
            f"{text('section_part', lang, number=index + 1, count=count)} "
            f'"{title[lang]}": {summary[lang]} {text("section_full_text", lang)}: {link}\n'
            f"{text('section_support', lang)}"
        )
        for lang in languages
    }
    support: dict[str, Any] = {
        "min": 1,
        "max": 5,
        "min_label": {lang: text("support_low", lang) for lang in languages},
        "max_label": {lang: text("support_high", lang) for lang in languages},
    }
    if scale is not None:
        support.update(scale)
    questions: list[dict[str, Any]] = [
        {"key": section["key"], "type": "scale", "prompt": prompt, "scale": support}
    ]
    if comments:
        questions.append(
            {
                "key": f"{section['key']}-comment",
                "type": "free_text",
                "optional": True,
                "prompt": {
                    lang: text("section_comment", lang, title=title[lang]) for lang in languages
                },
            }
        )
    return questions


# -- progress updates --------------------------------------------------------------------


def _update(data: dict[Any, Any], lines: dict[Path, int], problems: Problems) -> None:
    if "message" in data:
        if data.get("intro") is not None:
            problems.append((("message",), "an update has a message or an intro, not both"))
        data["intro"] = data.pop("message")
        if ("message",) in lines:
            lines[("intro",)] = lines[("message",)]
    pulse = data.pop("pulse", None)
    questions = data.get("questions")
    asked = list(questions) if isinstance(questions, list) else []
    if pulse is not None:
        if asked:
            problems.append((("pulse",), "an update asks one pulse question, not questions too"))
        data["questions"] = [pulse]
        if ("pulse",) in lines:
            lines[("questions", 0)] = lines[("pulse",)]
    elif len(asked) > 1:
        problems.append(
            (("questions",), "an update asks at most one question (write it as pulse:)")
        )
    if data.get("intro") is None:
        problems.append((("message",), "an update needs the message to send"))
