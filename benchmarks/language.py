"""Language detection benchmark: accuracy by text length, and texts per second.

    python benchmarks/language.py PATH [--languages en,es,...] [--detector words|lingua]
                                       [--half even|odd]

PATH is a JSONL file of {"lang": ..., "text": ...} lines. A text labelled
`und` carries no language: only an abstention (None) is right for it. Any
other label is right only when the detector returns exactly that code.

The detector is restricted to the languages present in the file (`und`
excluded) unless --languages is given. --half keeps every other line: the
detector's constants are tuned on the even lines (the first line is line 0)
and reported on the odd ones. Building it (model loading) and the
first call are timed apart. The rate is one pass over the file after a
warm-up on a few texts of our own, so the per-word caches start cold for the
file's texts; a second pass shows the rate with warm caches.

Ends with one line: overall=… short=… rate=…
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.detection import DETECTORS, build_detector  # noqa: E402

UNDETERMINED = "und"
SHORT = 10
# Upper bound of each length bucket, in characters.
BUCKETS = {"<=10": 10, "11-25": 25, "26-60": 60, ">60": None}
HALVES = {"even": 0, "odd": 1}
WARM_UP = ["Hello there", "Bonjour", "¿Dónde?", "Obrigado", "Привет", "你好", "안녕", "5"]


@dataclass(frozen=True, slots=True)
class Sample:
    lang: str
    text: str


def read_samples(path: Path) -> list[Sample]:
    samples = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                samples.append(Sample(row["lang"], row["text"]))
    return samples


def is_right(sample: Sample, answer: str | None) -> bool:
    if answer is None:
        return sample.lang == UNDETERMINED
    return answer == sample.lang


def bucket_of(text: str) -> str:
    return next(name for name, bound in BUCKETS.items() if bound is None or len(text) <= bound)


def accuracy(results: list[tuple[Sample, bool]]) -> float:
    return sum(right for _, right in results) / len(results) if results else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--languages", help="comma-separated codes; default: the file's labels")
    parser.add_argument(
        "--detector", default="words", choices=sorted(DETECTORS), help="which detector (words)"
    )
    parser.add_argument(
        "--half", choices=sorted(HALVES), help="only the even or the odd lines (counted from 0)"
    )
    args = parser.parse_args()

    samples = read_samples(args.path)
    if args.half is not None:
        samples = samples[HALVES[args.half] :: 2]
    if args.languages:
        languages = [code.strip() for code in args.languages.split(",") if code.strip()]
    else:
        languages = sorted({sample.lang for sample in samples} - {UNDETERMINED})

    started = time.perf_counter()
    detector = build_detector(languages, args.detector)
    built = time.perf_counter()
    detector.detect(WARM_UP[0])
    first_call = time.perf_counter() - built
    for text in WARM_UP:
        detector.detect(text)

    started_pass = time.perf_counter()
    answers = [detector.detect(sample.text) for sample in samples]
    elapsed = time.perf_counter() - started_pass
    # The same texts again, with every per-word cache warm: the ceiling.
    started_pass = time.perf_counter()
    for sample in samples:
        detector.detect(sample.text)
    warm_elapsed = time.perf_counter() - started_pass

    results = [
        (sample, is_right(sample, answer)) for sample, answer in zip(samples, answers, strict=True)
    ]
    short = [result for result in results if len(result[0].text) <= SHORT]
    rate = len(samples) / elapsed

    print(f"languages: {','.join(languages)}")
    print(f"texts: {len(samples)}" + (f" ({args.half} lines)" if args.half else ""))
    print(f"build: {built - started:.2f} s  first call: {first_call * 1000:.2f} ms")
    for name in BUCKETS:
        in_bucket = [result for result in results if bucket_of(result[0].text) == name]
        print(f"  {name:>6}: {accuracy(in_bucket):.3f}  ({len(in_bucket)} texts)")
    print(f"warm caches: {len(samples) / warm_elapsed:.0f} texts/s")
    print(f"overall={accuracy(results):.3f} short={accuracy(short):.3f} rate={rate:.0f}")


if __name__ == "__main__":
    main()
