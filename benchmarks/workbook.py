"""Workbook writer benchmark: a committee-ready XLSX against a bare one, same rows.

    python benchmarks/workbook.py [--rows 100000]

Writes a tidy-shaped table (ids, keys, a family's words, a number, a share, a
time; a few words start like formulas) twice, both streamed with openpyxl's
write-only mode: once bare (values only: the ceiling) and once through
bot.core.workbook (About sheet, formats, widths, filters, frozen header,
formula-like text quoted). Prints both rates and their ratio. Ends with one
line: workbook_rows_per_s=… bare_rows_per_s=… ratio=…
"""

from __future__ import annotations

import argparse
import io
import random
import time
from datetime import datetime, timedelta

from openpyxl import Workbook

from bot.core.workbook import About, Sheet, facts, write_workbook

COLUMNS = ["participant", "question", "value", "text", "score", "share", "received_at"]
WORDS = ["bus", "late", "math", "tutoring", "=cmd", "-2+3", "safety", "lunch", "@home", "music"]


def rows(count: int) -> list[list[object]]:
    rng = random.Random(7)
    start = datetime(2026, 9, 1, 8, 0)
    return [
        [
            f"p{rng.randrange(10**9):09d}",
            f"q{i % 8}",
            str(rng.randrange(1, 6)),
            " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 12))),
            rng.randrange(1, 6),
            rng.random(),
            start + timedelta(seconds=i * 7),
        ]
        for i in range(count)
    ]


def bare(table: list[list[object]]) -> float:
    begun = time.perf_counter()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("answers")
    sheet.append(COLUMNS)
    for row in table:
        sheet.append(row)
    book.save(io.BytesIO())
    return time.perf_counter() - begun


def ready(table: list[list[object]]) -> float:
    begun = time.perf_counter()
    write_workbook(
        io.BytesIO(),
        [Sheet("answers", "one row per answer", COLUMNS, iter(table), count=len(table))],
        About("Benchmark", facts({"Rows": f"{len(table):,}"})),
    )
    return time.perf_counter() - begun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    table = rows(args.rows)
    ceiling = bare(table)
    ours = ready(table)
    print(f"{args.rows:,} rows: bare {ceiling:.2f} s, committee-ready {ours:.2f} s")
    print(
        f"workbook_rows_per_s={args.rows / ours:.0f} bare_rows_per_s={args.rows / ceiling:.0f} "
        f"ratio={ceiling / ours:.3f}"
    )


if __name__ == "__main__":
    main()
