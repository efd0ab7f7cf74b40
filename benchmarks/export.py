"""Export benchmark: a million answers from SQLite to Parquet, against the raw ceiling.

    python benchmarks/export.py [--rows 1000000] [--repeat 2]

In one run, on this machine:
- data: a fresh SQLite file (migrated schema) with `--rows` answers to a
  ten-question survey (every question type, free text included) from
  `--rows / 10` participants in three languages and two schools;
- export: `storage.export.write_tidy` to Parquet, exactly what
  `engage export ACTIVITY -f parquet` runs: pseudonymous keys, labels in
  English and as seen, question texts, local times, participant attributes;
- ceiling: plain sqlite3 selecting the same rows and columns (the answers
  with the participant's role, school and grade, in id order, in chunks)
  and pyarrow writing them to Parquet unchanged: the floor for any exporter.

Each is run in its own process (so `peak_mb`, the export's peak resident
memory, is its own), `--repeat` times alternately; the best time counts.

Ends with one line: export_1m_s=… ceiling_s=… ratio=… peak_mb=…
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SURVEY = """\
key: bench
kind: survey
title: {en: "Benchmark survey", es: "Encuesta", vi: "Khảo sát"}
questions:
  - key: top
    type: single_choice
    prompt: {en: "What matters most?", es: "¿Qué importa más?", vi: "Điều gì quan trọng nhất?"}
    options:
      - {key: a, label: {en: "Safety", es: "Seguridad", vi: "An toàn"}}
      - {key: b, label: {en: "Reading", es: "Lectura", vi: "Đọc"}}
      - {key: c, label: {en: "Buses", es: "Autobuses", vi: "Xe buýt"}}
      - {key: d, label: {en: "Meals", es: "Comidas", vi: "Bữa ăn"}}
  - key: many
    type: multiple_choice
    prompt: {en: "Which help?", es: "¿Qué ayuda?", vi: "Giúp gì?"}
    options:
      - {key: a, label: {en: "Tutoring", es: "Tutoría", vi: "Dạy kèm"}}
      - {key: b, label: {en: "Meals", es: "Comidas", vi: "Bữa ăn"}}
      - {key: c, label: {en: "Rides", es: "Transporte", vi: "Đưa đón"}}
      - {key: d, label: {en: "Counseling", es: "Consejería", vi: "Tư vấn"}}
  - key: safe
    type: scale
    prompt: {en: "How safe is school?", es: "¿Qué tan segura?", vi: "An toàn thế nào?"}
  - key: news
    type: yes_no
    prompt: {en: "News in your language?", es: "¿Noticias en su idioma?", vi: "Tin bằng tiếng mình?"}
  - key: rank
    type: ranking
    max_choices: 3
    prompt: {en: "Rank these", es: "Ordene", vi: "Xếp hạng"}
    options:
      - {key: a, label: {en: "Safety", es: "Seguridad", vi: "An toàn"}}
      - {key: b, label: {en: "Reading", es: "Lectura", vi: "Đọc"}}
      - {key: c, label: {en: "Buses", es: "Autobuses", vi: "Xe buýt"}}
      - {key: d, label: {en: "Meals", es: "Comidas", vi: "Bữa ăn"}}
  - key: why
    type: free_text
    prompt: {en: "What would help?", es: "¿Qué ayudaría?", vi: "Điều gì sẽ giúp?"}
  - key: top2
    type: single_choice
    prompt: {en: "And next?", es: "¿Y después?", vi: "Tiếp theo?"}
    options:
      - {key: a, label: {en: "Safety", es: "Seguridad", vi: "An toàn"}}
      - {key: b, label: {en: "Reading", es: "Lectura", vi: "Đọc"}}
  - key: safe2
    type: scale
    prompt: {en: "How welcome?", es: "¿Qué tan bienvenido?", vi: "Được chào đón?"}
  - key: news2
    type: yes_no
    prompt: {en: "Do you read the newsletter?", es: "¿Lee el boletín?", vi: "Có đọc bản tin?"}
  - key: why2
    type: free_text
    prompt: {en: "Anything else?", es: "¿Algo más?", vi: "Còn gì nữa?"}
"""
QUESTIONS = [
    ("top", "single"),
    ("many", "multi"),
    ("safe", "scale"),
    ("news", "yesno"),
    ("rank", "rank"),
    ("why", "free"),
    ("top2", "single2"),
    ("safe2", "scale"),
    ("news2", "yesno"),
    ("why2", "free"),
]
WORDS = (
    "bus late teachers reading safety lunch homework math buses traffic notes english "
    "spanish translation counselor xe buýt trễ giờ học toán autobús tarde maestros"
).split()
STAMP = "2026-09-01 00:00:00.000000"
CHUNK = 100_000


def build(path: Path, rows: int) -> None:
    """A migrated SQLite file holding `rows` answers (ten per participant)."""
    from bot.authoring.activities import parse_activity
    from storage.activities import store_activity
    from storage.database import connect, migrate

    engine = connect(f"sqlite:///{path}")
    migrate(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO schools (code, name, created_at) VALUES "
            f"('lincoln-es', 'Lincoln', '{STAMP}'), ('adams-ms', 'Adams', '{STAMP}')"
        )
    store_activity(engine, parse_activity(SURVEY, "bench.yaml"), SURVEY, datetime(2026, 9, 1))
    engine.dispose()
    rnd = random.Random(1)
    people = rows // len(QUESTIONS)
    db = sqlite3.connect(path)
    schools = [
        (rnd.choice(("lincoln-es", "adams-ms")), str(rnd.randint(1, 12))) for _ in range(people)
    ]
    db.executemany(
        "INSERT INTO households (id, created_at) VALUES (?, ?)",
        ((i, STAMP) for i in range(1, people + 1)),
    )
    db.executemany(
        "INSERT INTO participants (id, pseudonym, role, household_id, language, consent, "
        "onboarding_started, attempts, pending, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, 1, 1, 0, '[]', ?, ?)",
        (
            (
                i,
                f"P-{i:010X}",
                rnd.choice(("parent", "student", "staff")),
                i,
                rnd.choice(("en", "es", "vi")),
                STAMP,
                STAMP,
            )
            for i in range(1, people + 1)
        ),
    )
    db.executemany(
        "INSERT INTO conversations (id, participant_id, activity_id, status, attempts, "
        "answers, household_id, schools, started_at, updated_at) "
        "VALUES (?, ?, 1, 'completed', 0, '{}', ?, ?, ?, ?)",
        (
            (i, i, i, json.dumps({school: [grade]}), STAMP, STAMP)
            for i, (school, grade) in enumerate(schools, start=1)
        ),
    )
    db.executemany(
        "INSERT INTO responses (participant_id, conversation_id, activity_id, question, "
        "value, text, status, language, detected_language, channel, created_at) "
        "VALUES (?, ?, 1, ?, ?, ?, 'answered', ?, ?, 'sms', ?)",
        _answers(rnd, people),
    )
    db.commit()
    db.close()


def _answers(rnd: random.Random, people: int):  # type: ignore[no-untyped-def]
    for person in range(1, people + 1):
        language = rnd.choice(("en", "es", "vi"))
        for question, kind in QUESTIONS:
            match kind:
                case "single":
                    value = json.dumps(rnd.choice("abcd"))
                    text = rnd.choice(("1", "2", "b", "3"))
                case "single2":
                    value, text = json.dumps(rnd.choice("ab")), "1"
                case "multi":
                    value, text = json.dumps(sorted(rnd.sample("abcd", 2))), "1,3"
                case "rank":
                    value, text = json.dumps(rnd.sample("abcd", 3)), "3 1 2"
                case "scale":
                    number = rnd.randint(1, 5)
                    value, text = json.dumps(number), str(number)
                case "yesno":
                    answer = rnd.choice(("yes", "no"))
                    value, text = json.dumps(answer), answer
                case _:
                    text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 14)))
                    value = json.dumps(text, ensure_ascii=False)
            stamp = (
                f"2026-09-{rnd.randint(1, 28):02d} {rnd.randint(0, 23):02d}:"
                f"{rnd.randint(0, 59):02d}:00.000000"
            )
            detected = language if kind == "free" else None
            yield (person, person, question, value, text, language, detected, stamp)


def run_export(path: Path, out: Path) -> int:
    from bot.authoring.activities import parse_activity
    from storage.database import connect
    from storage.export import ExportFormat, write_tidy

    engine = connect(f"sqlite:///{path}")
    rows = write_tidy(
        engine,
        "bench",
        parse_activity,
        "benchmark-secret",
        "America/Chicago",
        out,
        ExportFormat.PARQUET,
    )
    engine.dispose()
    return rows


CEILING_SQL = """
SELECT r.participant_id, r.activity_id, r.question, CAST(r.value AS TEXT), r.text, r.status,
       r.language, r.detected_language, r.channel, r.created_at, p.role, c.household_id,
       c.schools
FROM responses AS r NOT INDEXED JOIN participants AS p ON p.id = r.participant_id
JOIN conversations AS c ON c.id = r.conversation_id
WHERE r.activity_id IN (1) ORDER BY r.id
"""
CEILING_COLUMNS = (
    "participant_id activity_id question value text status language detected_language "
    "channel created_at role household schools"
).split()


def run_ceiling(path: Path, out: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    db = sqlite3.connect(path)
    cursor = db.execute(CEILING_SQL)
    writer = None
    rows = 0
    while chunk := cursor.fetchmany(CHUNK):
        table = pa.table(
            {
                name: pa.array(column)
                for name, column in zip(CEILING_COLUMNS, zip(*chunk, strict=True), strict=True)
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema)
        writer.write_table(table)
        rows += len(chunk)
    if writer is not None:
        writer.close()
    db.close()
    return rows


def measure(kind: str, path: Path, out: Path) -> dict[str, float]:
    """Run one measurement in a fresh process; its time, rows and peak memory."""
    result = subprocess.run(
        [sys.executable, __file__, "--measure", kind, "--db", str(path), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def child(kind: str, path: Path, out: Path) -> None:
    # Imports are not what is measured.
    import pyarrow.parquet  # noqa: F401

    import bot.authoring.activities  # noqa: F401
    import storage.export  # noqa: F401

    started = time.perf_counter()
    rows = run_export(path, out) if kind == "export" else run_ceiling(path, out)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--measure", choices=("export", "ceiling"), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        child(args.measure, args.db, args.out)
        return
    with tempfile.TemporaryDirectory(prefix="engage-export-bench-") as folder:
        path = Path(folder) / "bench.db"
        started = time.perf_counter()
        build(path, args.rows)
        print(f"data: {args.rows:,} answers in {time.perf_counter() - started:.1f}s", flush=True)
        best: dict[str, dict[str, float]] = {}
        for attempt in range(args.repeat):
            for kind in ("ceiling", "export"):
                figures = measure(kind, path, Path(folder) / f"{kind}.parquet")
                if figures["rows"] != args.rows:
                    raise SystemExit(f"{kind} wrote {figures['rows']} rows, not {args.rows}")
                print(
                    f"{kind} #{attempt + 1}: {figures['seconds']:.2f}s, "
                    f"peak {figures['peak_mb']:.0f} MB",
                    flush=True,
                )
                if kind not in best or figures["seconds"] < best[kind]["seconds"]:
                    best[kind] = figures
        export, ceiling = best["export"], best["ceiling"]
        ratio = export["seconds"] / ceiling["seconds"]
        print(
            f"export_1m_s={export['seconds']:.2f} ceiling_s={ceiling['seconds']:.2f} "
            f"ratio={ratio:.2f} peak_mb={export['peak_mb']:.0f}"
        )


if __name__ == "__main__":
    main()
