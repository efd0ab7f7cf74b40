"""Idea exchange benchmark: a district-sized exchange analysed, and the next idea picked.

    python benchmarks/ideas.py [--participants 50000] [--ideas 2000] [--reactions 1000000]

In one run, on this machine:
- data: a fresh SQLite file (migrated schema) with one exchange of `--ideas`
  approved ideas (half of them translated into Spanish) and `--reactions`
  reactions from `--participants` people in ten schools and two languages,
  each reacting to the same number of ideas. The people come in three
  planted opinion groups (45 %, 35 %, 20 %): a fifth of the ideas every
  group likes, a tenth none likes, and on the rest each group leans its own
  way (90 % or 10 % agree); one reaction in ten is a pass.
- report: what `engage ideas report` runs, in its own process (so `peak_mb`
  is its own peak resident memory): the exchange read from the database,
  the analysis (PCA, k-means with k by silhouette, per-idea, per-group,
  per-school and per-language figures, consensus, divisive and
  representative ideas), and the report's tables written (XLSX and CSV).
  `ari` is the adjusted Rand index of the groups found against the planted
  ones. The ceiling is plain sqlite3 reading the same reactions: the floor
  for any report.
- next idea: for 2,000 random participants, what the service does for each
  reaction: read the ideas they may not see again (one indexed query) and
  draw the next one from the exchange's weighed pool (rebuilt at most once a
  second, timed apart). The ceiling is one primary-key SELECT on the same
  connection.

Targets (issue 17): report ≤ 30 s and ≤ 2 GB, ari ≥ 0.9, next idea ≤ 5 ms p99.
Ends with one line: report_s=… peak_mb=… ari=… next_p99_ms=…
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEY = "belonging-2026"
SCHOOLS = tuple(f"school-{n}" for n in range(10))
GROUP_SHARES = (0.45, 0.35, 0.20)
START = datetime(2026, 3, 2, 8, 0)
PICKS = 2000


def _populate(path: Path, people: int, idea_count: int, reactions: int, seed: int) -> None:
    from sqlalchemy import insert, update

    from storage import models
    from storage.database import connect, migrate
    from storage.ideas import insert_ideas, insert_reactions

    rng = np.random.default_rng(seed)
    engine = connect(f"sqlite:///{path}")
    migrate(engine)
    now = START
    with engine.begin() as connection:
        connection.execute(
            insert(models.table(models.School)),
            [{"code": code, "name": code.title(), "created_at": now} for code in SCHOOLS],
        )
        planted = rng.choice(len(GROUP_SHARES), size=people, p=GROUP_SHARES)
        languages = rng.choice(["en", "es"], size=people, p=[0.7, 0.3])
        schools = rng.choice(len(SCHOOLS), size=people)
        connection.execute(
            insert(models.table(models.Participant)),
            [
                {
                    "id": n + 1,
                    "pseudonym": f"P-{n:010d}",
                    "role": "parent",
                    "language": str(languages[n]),
                    "consent": True,
                    "onboarding_started": True,
                    "attempts": 0,
                    "pending": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(people)
            ],
        )
        connection.execute(
            insert(models.table(models.ParticipantSchool)),
            [
                {"participant_id": n + 1, "school": SCHOOLS[schools[n]], "created_at": now}
                for n in range(people)
            ],
        )
    np.save(path.with_suffix(".planted.npy"), planted)
    kind = rng.random(idea_count)
    leaning = rng.choice([0.1, 0.9], size=(len(GROUP_SHARES), idea_count))
    agree_chance = np.where(kind < 0.2, 0.85, np.where(kind < 0.3, 0.15, leaning))
    insert_ideas(
        engine,
        [
            {
                "activity_key": KEY,
                "number": n,
                "seed_key": None,
                "text": f"Idea number {n} for the district",
                "original": f"Idea number {n} for the district",
                "language": "en",
                "status": "approved",
                "flags": [],
                "reviewed_by": "bench",
                "live_at": now + timedelta(minutes=n),
                "agree": 0,
                "disagree": 0,
                "passed": 0,
                "created_at": now + timedelta(minutes=n),
                "updated_at": now + timedelta(minutes=n),
            }
            for n in range(idea_count)
        ],
    )
    with engine.begin() as connection:
        connection.execute(
            insert(models.table(models.IdeaTranslation)),
            [
                {
                    "idea_id": n + 1,
                    "language": "es",
                    "text": f"Idea número {n} para el distrito",
                    "translated_by": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(0, idea_count, 2)
            ],
        )
    each = max(reactions // people, 1)
    who = np.repeat(np.arange(people), each)
    which = np.concatenate(
        [rng.choice(idea_count, size=each, replace=False) for _ in range(people)]
    )
    chance = agree_chance[planted[who], which]
    vote = np.where(rng.random(len(who)) < 0.1, 0, np.where(rng.random(len(who)) < chance, 1, -1))
    at = START + timedelta(days=1)
    seconds = rng.integers(0, 14 * 86400, size=len(who))
    rows = [
        {
            "idea_id": int(i) + 1,
            "participant_id": int(p) + 1,
            "activity_key": KEY,
            "vote": int(v),
            "channel": "sms",
            "message_id": None,
            "created_at": at + timedelta(seconds=int(s)),
            "updated_at": at + timedelta(seconds=int(s)),
        }
        for p, i, v, s in zip(who, which, vote, seconds, strict=True)
    ]
    insert_reactions(engine, rows)
    ideas = models.table(models.Idea)
    agree = np.bincount(which[vote > 0], minlength=idea_count)
    disagree = np.bincount(which[vote < 0], minlength=idea_count)
    passed = np.bincount(which[vote == 0], minlength=idea_count)
    with engine.begin() as connection:
        for n in range(idea_count):
            connection.execute(
                update(ideas).where(ideas.c.id == n + 1),
                {"agree": int(agree[n]), "disagree": int(disagree[n]), "passed": int(passed[n])},
            )
    engine.dispose()


def _report(path: Path, out: Path) -> None:
    """The child process: run the report once, print its time, peak memory and ARI."""
    from sklearn.metrics import adjusted_rand_score

    from bot.synthesis.ideas import ExchangeVotes, analyse_exchange, write_report
    from storage.database import connect
    from storage.ideas import exchange_tables

    engine = connect(f"sqlite:///{path}")
    started = time.perf_counter()
    with engine.connect() as connection:
        tables = exchange_tables(connection, KEY, "en")
    data = ExchangeVotes(
        KEY, "What would help students belong?", "", tables.ideas, tables.votes, tables.participants
    )
    report = analyse_exchange(data, threshold=10)
    write_report(data, report, out, public=False)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    planted = np.load(path.with_suffix(".planted.npy"))
    opinion = report.opinion
    found = opinion.labels >= 0
    ids = np.array([tables.participant_ids[int(m)] for m in opinion.members[found]])
    ari = adjusted_rand_score(planted[ids - 1], opinion.labels[found])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak_mb,
                "ari": ari,
                "groups": opinion.count,
                "silhouette": opinion.silhouette,
            }
        )
    )


def _ceiling(path: Path) -> float:
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    rows = connection.execute(
        "SELECT r.participant_id, i.number, r.vote, r.updated_at FROM reactions r "
        "JOIN ideas i ON i.id = r.idea_id WHERE r.activity_key = ?",
        (KEY,),
    ).fetchall()
    connection.close()
    assert rows
    return time.perf_counter() - started


def _next_idea(path: Path, people: int, seed: int) -> tuple[float, float, float]:
    """p99 of one pick (ms), p99 of the ceiling query (ms), the pool's build time (ms)."""
    from sqlalchemy import select

    from bot.core.ideas import build_pool, pick_next_idea
    from storage import models
    from storage.database import connect
    from storage.ideas import idea_tallies, ideas_seen

    rng = np.random.default_rng(seed + 1)
    engine = connect(f"sqlite:///{path}")
    participants = models.table(models.Participant)
    picks, floors = [], []
    with engine.connect() as connection:
        built = time.perf_counter()
        pool = build_pool(KEY, idea_tallies(connection, KEY), START + timedelta(days=15))
        build_ms = (time.perf_counter() - built) * 1000
        languages = {
            row.id: row.language
            for row in connection.execute(select(participants.c.id, participants.c.language))
        }
        for participant in rng.integers(1, people + 1, size=PICKS):
            started = time.perf_counter()
            seen = ideas_seen(connection, int(participant), KEY)
            idea = pick_next_idea(pool, languages[int(participant)], seen, int(participant))
            picks.append(time.perf_counter() - started)
            assert idea is not None and idea not in seen
            started = time.perf_counter()
            connection.execute(
                select(participants.c.language).where(participants.c.id == int(participant))
            ).scalar()
            floors.append(time.perf_counter() - started)
    engine.dispose()
    return (
        float(np.percentile(picks, 99) * 1000),
        float(np.percentile(floors, 99) * 1000),
        build_ms,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=50_000)
    parser.add_argument("--ideas", type=int, default=2_000)
    parser.add_argument("--reactions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--report", nargs=2, metavar=("DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report:
        _report(Path(args.report[0]), Path(args.report[1]))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ideas.db"
        started = time.perf_counter()
        _populate(path, args.participants, args.ideas, args.reactions, args.seed)
        print(
            f"data: {args.participants:,} people, {args.ideas:,} ideas, "
            f"{args.reactions:,} reactions in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        child = subprocess.run(
            [sys.executable, __file__, "--report", str(path), str(Path(folder) / "report")],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        ceiling = _ceiling(path)
        print(
            f"report: {result['seconds']:.1f}s, {result['groups']} groups "
            f"(silhouette {result['silhouette']:.3f}); ceiling (sqlite3 reading the "
            f"reactions) {ceiling:.2f}s; ratio {result['seconds'] / ceiling:.1f}"
        )
        pick_p99, floor_p99, build_ms = _next_idea(path, args.participants, args.seed)
        print(
            f"next idea: p99 {pick_p99:.2f} ms; ceiling (one primary-key SELECT) "
            f"p99 {floor_p99:.2f} ms; ratio {pick_p99 / floor_p99:.1f}; pool built in "
            f"{build_ms:.0f} ms"
        )
        print(
            f"report_s={result['seconds']:.1f} peak_mb={result['peak_mb']:.0f} "
            f"ari={result['ari']:.3f} next_p99_ms={pick_p99:.2f}"
        )


if __name__ == "__main__":
    main()
