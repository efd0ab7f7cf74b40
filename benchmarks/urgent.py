"""Urgent-message detection: precision and recall on labelled messages, per language.

    python benchmarks/urgent.py [--languages en,es,...] [--misses dev|all]

Reads every `benchmarks/data/urgent/<code>.tsv` (label, concern, text; see
the README there). A message labelled `urgent` is a hit when bot.core.urgency
reads it as URGENT; POSSIBLE (routed as usual, marked for staff) counts as
not urgent, so recall is what reaches the urgent channel at once. `flagged`
is the share of urgent messages read at least as POSSIBLE, `hard_fp` the
share of hard negatives (safety words in a message that is not urgent) read
as URGENT.

The lists were tuned looking only at the misses of the `dev` half (the
messages on even lines); the `held-out` half (odd lines) was read only as
figures. The phrases of every language given by --languages (default: every
language with an inbox file) are read for every message, as a district with
all of them configured would.

Speed: messages per second, and the ratio to splitting the same messages
into words (the floor any phrase lookup pays), both measured in this run.

Ends with one line:
precision=… recall=… heldout_precision=… heldout_recall=… rate=… ratio=…
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.inbox_words import inbox_languages  # noqa: E402
from bot.core.phrases import message_words  # noqa: E402
from bot.core.urgency import Urgency, assess  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "urgent"
URGENT = "urgent"
HARD = "hard"


@dataclass(frozen=True, slots=True)
class Sample:
    language: str
    line: int
    urgent: bool
    concern: str
    text: str

    @property
    def split(self) -> str:
        return "dev" if self.line % 2 == 0 else "held-out"


def read_samples(folder: Path) -> list[Sample]:
    samples = []
    for path in sorted(folder.glob("*.tsv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            for line, row in enumerate(rows, start=2):
                samples.append(
                    Sample(path.stem, line, row["label"] == URGENT, row["concern"], row["text"])
                )
    return samples


@dataclass
class Tally:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    urgent: int = 0
    flagged: int = 0
    hard: int = 0
    hard_fp: int = 0
    total: int = 0

    def add(self, sample: Sample, urgency: Urgency) -> None:
        said = urgency is Urgency.URGENT
        self.total += 1
        if sample.urgent:
            self.urgent += 1
            self.flagged += urgency is not Urgency.NONE
            self.true_pos += said
            self.false_neg += not said
        else:
            self.false_pos += said
            if sample.concern == HARD:
                self.hard += 1
                self.hard_fp += said

    @property
    def precision(self) -> float:
        said = self.true_pos + self.false_pos
        return self.true_pos / said if said else 1.0

    @property
    def recall(self) -> float:
        return self.true_pos / self.urgent if self.urgent else 1.0

    def row(self, name: str) -> str:
        flagged = self.flagged / self.urgent if self.urgent else 1.0
        hard = self.hard_fp / self.hard if self.hard else 0.0
        return (
            f"{name:<14} {self.total:>5} {self.urgent:>6} {self.precision:>9.3f} "
            f"{self.recall:>7.3f} {flagged:>8.3f} {hard:>8.3f}"
        )


HEADER = (
    f"{'':<14} {'n':>5} {'urgent':>6} {'precision':>9} {'recall':>7} {'flagged':>8} {'hard_fp':>8}"
)


def measure_rate(samples: Sequence[Sample], languages: Sequence[str]) -> tuple[float, float]:
    """(messages per second, ratio of assess time to word splitting), cold caches."""
    texts = [s.text for s in samples]
    assess("warm up the phrase lists", languages)
    message_words.cache_clear()
    start = time.perf_counter()
    for text in texts:
        assess(text, languages)
    took = time.perf_counter() - start
    message_words.cache_clear()
    start = time.perf_counter()
    for text in texts:
        message_words(text)
    floor = time.perf_counter() - start
    return len(texts) / took, took / floor if floor else float("inf")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", help="comma-separated codes (default: all)")
    parser.add_argument("--misses", choices=["dev", "all"], help="list misread messages")
    args = parser.parse_args(argv)
    languages = args.languages.split(",") if args.languages else list(inbox_languages())
    samples = read_samples(DATA)
    by_language: dict[str, Tally] = {}
    by_split: dict[str, Tally] = {"dev": Tally(), "held-out": Tally()}
    by_concern: dict[str, Tally] = {}
    overall = Tally()
    misses = []
    for sample in samples:
        assessment = assess(sample.text, languages)
        for tally in (
            by_language.setdefault(sample.language, Tally()),
            by_split[sample.split],
            overall,
        ):
            tally.add(sample, assessment.urgency)
        if sample.urgent:
            by_concern.setdefault(sample.concern, Tally()).add(sample, assessment.urgency)
        if sample.urgent != assessment.is_urgent and (
            args.misses == "all" or (args.misses == "dev" and sample.split == "dev")
        ):
            misses.append((sample, assessment))
    print(f"languages read: {','.join(languages)}")
    print(HEADER)
    for language in sorted(by_language, key=lambda code: -by_language[code].total):
        print(by_language[language].row(language))
    for name, tally in by_split.items():
        print(tally.row(name))
    print(overall.row("all"))
    print("recall by concern:")
    for concern, tally in sorted(by_concern.items()):
        print(f"  {concern:<10} {tally.recall:.3f} of {tally.urgent}")
    for sample, assessment in misses:
        expected = f"urgent/{sample.concern}" if sample.urgent else sample.concern
        found = f"{assessment.urgency.value} {','.join(assessment.concerns)}"
        print(f"MISS {sample.language}:{sample.line} [{expected} -> {found}] {sample.text}")
    rate, ratio = measure_rate(samples, languages)
    print(f"rate: {rate:,.0f} messages/s, {ratio:.1f}x the time to split them into words")
    held = by_split["held-out"]
    print(
        f"precision={overall.precision:.3f} recall={overall.recall:.3f} "
        f"heldout_precision={held.precision:.3f} heldout_recall={held.recall:.3f} "
        f"rate={rate:.0f} ratio={ratio:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
