"""Answer parser benchmark: replies as families type them, against what they meant.

    python benchmarks/answers.py [--corpus benchmarks/data/answers.jsonl] [--show N]

The corpus is a JSONL file of replies written for this benchmark, one per
line: the question (an id of benchmarks/data/answer_questions.json, and its
type), the participant's language, what kind of reply it is (plain, sloppy,
unaccented, mixed, ordinal, sentence, range, emoji, dont_know, adversarial),
the reply, and what should happen:

- a value: the answer to record (an option key, a list of keys, a number,
  "yes"/"no", or the text of a free-text answer);
- "skip": the question is passed (SKIP or "don't know" to an optional one);
- "ask again": the bot must ask again rather than record anything (two
  answers at once, "don't know" to a required question, no answer at all).

Each reply goes through what the engine does with it at a question: the SKIP
keyword, then `read_answer`. Its outcome is right when it equals the label;
it is asked again when the bot asks again; it is wrong when the bot records
a value (or a skip) that differs from the label, which must never happen.

Prints the shares by kind and by language, every wrong reply, the first
replies asked again needlessly, and the parse rate against a ceiling (words
split alone) in the same run. Ends with one line:
answers_accuracy=… asked_again=… wrong=…

Recorded when the corpus was written (877 replies, 206 of them labelled
"ask again"): answers_accuracy=0.993 asked_again=0.242 wrong=0.000, and 665
of the 671 replies that answer parsed without asking again. Any wrong value
is a bug; a lower accuracy is a regression.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.activity import Localized, Option, Question, QuestionType  # noqa: E402
from bot.core.answers import ReadingKind, read_answer  # noqa: E402
from bot.core.keywords import Keyword, match_keyword, split_words  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
ASK_AGAIN = "ask again"
SKIP = "skip"
PASSES = 5

Outcome = str | int | list[str]


@dataclass(frozen=True, slots=True)
class Case:
    line: int
    question: Question
    language: str
    kind: str
    reply: str
    expected: Outcome


def read_questions(path: Path) -> dict[str, Question]:
    questions = {}
    for key, spec in json.loads(path.read_text(encoding="utf-8")).items():
        scale = spec.get("scale", {})
        questions[key] = Question(
            key,
            QuestionType(spec["type"]),
            Localized({"en": spec["prompt"]}),
            options=tuple(
                Option(option, Localized(labels))
                for option, labels in spec.get("options", {}).items()
            ),
            optional=spec.get("optional", False),
            scale_min=scale.get("min", 1),
            scale_max=scale.get("max", 5),
            scale_min_label=Localized(spec["min_label"]) if "min_label" in spec else None,
            scale_max_label=Localized(spec["max_label"]) if "max_label" in spec else None,
            max_choices=spec.get("max_choices"),
        )
    return questions


def read_cases(path: Path, questions: dict[str, Question]) -> list[Case]:
    cases = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            question = questions[row["question"]]
            if question.type != row["type"]:
                raise SystemExit(f"{path}:{number}: {row['question']} is {question.type}")
            cases.append(
                Case(number, question, row["language"], row["kind"], row["reply"], row["expected"])
            )
    return cases


def outcome(case: Case) -> Outcome:
    """What the engine does with the reply at this question, as the corpus labels it."""
    keyword = match_keyword(case.reply, (case.language,))
    if keyword is not None and keyword.keyword is Keyword.SKIP:
        return SKIP if case.question.optional else ASK_AGAIN
    reading = read_answer(case.question, case.reply, case.language)
    match reading.kind:
        case ReadingKind.ANSWER:
            value = reading.value
            if isinstance(value, tuple):
                return list(value)
            return value if value is not None else ASK_AGAIN
        case ReadingKind.DONT_KNOW:
            return SKIP if case.question.optional else ASK_AGAIN
        case _:
            return ASK_AGAIN


def share(count: int, total: int) -> float:
    return count / total if total else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DATA / "answers.jsonl")
    parser.add_argument("--questions", type=Path, default=DATA / "answer_questions.json")
    parser.add_argument("--show", type=int, default=15, help="needless asks to list (15)")
    args = parser.parse_args()

    cases = read_cases(args.corpus, read_questions(args.questions))
    results = [(case, outcome(case)) for case in cases]

    # The parse rate: every reply, again and again, with the caches warm as on a
    # busy day; the ceiling is cutting the same replies into words alone.
    started = time.perf_counter()
    for _ in range(PASSES):
        for case in cases:
            read_answer(case.question, case.reply, case.language)
    parsing = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(PASSES):
        for case in cases:
            split_words.__wrapped__(case.reply)
    splitting = time.perf_counter() - started

    right = [case for case, got in results if got == case.expected]
    asked = [case for case, got in results if got == ASK_AGAIN]
    wrong = [(case, got) for case, got in results if got not in (case.expected, ASK_AGAIN)]
    answerable = [case for case in cases if case.expected != ASK_AGAIN]
    needless = [case for case in answerable if case in asked]

    print(f"replies: {len(cases)} ({len(answerable)} that answer, the rest must be asked again)")
    for label, key in (("kind", "kind"), ("language", "language")):
        groups: dict[str, list[tuple[Case, Outcome]]] = defaultdict(list)
        for case, got in results:
            groups[getattr(case, key)].append((case, got))
        print(f"by {label}:")
        for name, group in sorted(groups.items(), key=lambda item: -len(item[1])):
            good = sum(got == case.expected for case, got in group)
            again = sum(got == ASK_AGAIN for _, got in group)
            print(
                f"  {name:>12}: {share(good, len(group)):.3f} right, "
                f"{share(again, len(group)):.3f} asked again  ({len(group)})"
            )
    print(
        f"parsed without asking again: {len(answerable) - len(needless)} of {len(answerable)} "
        f"replies that answer ({share(len(answerable) - len(needless), len(answerable)):.3f})"
    )
    for case, got in wrong:
        print(
            f"WRONG {args.corpus.name}:{case.line}: {case.reply!r} -> {got!r}, not {case.expected!r}"
        )
    for case in needless[: args.show]:
        print(
            f"  asked again: {case.question.key} {case.language} {case.reply!r} ({case.expected!r})"
        )
    rate = len(cases) * PASSES / parsing
    print(
        f"rate: {rate:.0f} replies/s; splitting words alone {len(cases) * PASSES / splitting:.0f}/s "
        f"(ratio {splitting / parsing:.3f})"
    )
    print(
        f"answers_accuracy={share(len(right), len(cases)):.3f} "
        f"asked_again={share(len(asked), len(cases)):.3f} "
        f"wrong={share(len(wrong), len(cases)):.3f}"
    )


if __name__ == "__main__":
    main()
