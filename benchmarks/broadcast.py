"""Broadcast benchmark: enqueue at district scale, send rate, and scale-out on PostgreSQL.

    python benchmarks/broadcast.py [--contacts 100000] [--send 20000] [--pg-url URL]
                                   [--roster-rows 200000]

In one run, on this machine:
- enqueue: a fresh SQLite file with 100,000 families (bulk-inserted, not
  timed) and the example survey; a broadcast to all of them is planned
  (counted), confirmed and enqueued through `Broadcasting`, each invitation
  going through the engine's invite(). Timed: the enqueue. Peak memory: the
  enqueueing process's peak RSS (it runs alone in a subprocess).
- send: one worker (`OutboxSender` with the defaults `engage worker` uses: 500
  rows a claim, 32 sends at once, no rate limit) sends the first 20,000 of those rows
  to a fake provider that answers each send after 5 ms.
- pg_scale: on PostgreSQL, 1 and then 2 worker processes send from a shared
  outbox for a fixed window to a fake provider answering after 50 ms (a
  provider-bound worker, as against Twilio); the ratio of their rates.

- roster: a student × guardian SIS export of 200,000 rows (≈ 120,000
  households: one guardian of one child, two guardians of one child with a
  phone each or one shared, two guardians of two children at two schools)
  is imported into a fresh SQLite file through `engage roster import`'s
  service, in its own process. Timed: the import, against reading the same
  file with the csv module (the ceiling no import can beat); peak RSS.
  Then a district-wide broadcast to every household is planned, confirmed
  and enqueued (each phone once). Timed: the enqueue.

Ends with one line: enqueue_100k_s=… peak_mb=… send_rate=… pg_scale=…
roster_200k_s=… roster_vs_read=… households=… enqueue_s=… roster_peak_mb=…
(targets: ≤ 10 s, ≤ 300 MB, ≥ 1,000/s, ≥ 1.6; roster ≤ 60 s and ≤ 1 GB,
its broadcast enqueued ≤ 10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, insert, select, text  # noqa: E402

from bot.authoring.activities import parse_activity  # noqa: E402
from bot.core.audience import AudienceRules  # noqa: E402
from bot.core.messages import Channel, OutboundMessage  # noqa: E402
from bot.core.roster import RosterRules  # noqa: E402
from bot.core.state import Program, School  # noqa: E402
from bot.services.broadcasting import Broadcasting, BroadcastPolicy  # noqa: E402
from bot.services.inbound import utcnow  # noqa: E402
from bot.services.roster import RosterImport  # noqa: E402
from bot.services.sender import OutboxSender  # noqa: E402
from storage import models  # noqa: E402
from storage.activities import store_activity  # noqa: E402
from storage.broadcasts import BroadcastStore  # noqa: E402
from storage.database import connect, migrate  # noqa: E402
from storage.outbox import OutboxStore  # noqa: E402
from storage.roster import SqlRosterUnitOfWork  # noqa: E402

SURVEY = ROOT / "examples" / "family-priorities.yaml"
SCHOOLS = (
    ("lincoln-es", "Lincoln Elementary"),
    ("garfield-es", "Garfield Elementary"),
    ("roosevelt-ms", "Roosevelt Middle School"),
    ("kennedy-hs", "Kennedy High"),
)
LANGUAGES = ("en", "es", "vi")
PROGRAM = Program(
    name="Riverside Plan 2030",
    contact="555-0100",
    languages=LANGUAGES,
    schools=tuple(School(code, name) for code, name in SCHOOLS),
)
RULES = AudienceRules(LANGUAGES, "en", PROGRAM.roles, (Channel.SMS,))
PG_URL = os.environ.get("ENGAGE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/")


class FakeProvider:
    """A provider with no rate limit: each send is answered after `latency` seconds."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.count = 0

    async def send(self, message: OutboundMessage) -> str:
        await asyncio.sleep(self.latency)
        self.count += 1
        return f"SM{os.getpid():08d}{self.count:024d}"


def populate(engine: Engine, families: int, outbox_rows: bool = False) -> None:
    """Families with a phone each (and, for the scale test, a queued message each)."""
    now = utcnow()
    p, c, o = models.Participant.__table__, models.Contact.__table__, models.Outbox.__table__
    step = 20_000
    with engine.begin() as connection:
        connection.execute(
            insert(models.School.__table__),
            [{"code": code, "name": name, "created_at": now} for code, name in SCHOOLS],
        )
        for start in range(0, families, step):
            block = range(start, min(start + step, families))
            connection.execute(
                insert(p),
                [
                    {
                        "id": n + 1,
                        "pseudonym": f"P-{n:08d}",
                        "role": "parent",
                        "language": LANGUAGES[n % 3],
                        "onboarding_started": True,
                        "attempts": 0,
                        "pending": [],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in block
                ],
            )
            connection.execute(
                insert(c),
                [
                    {
                        "id": n + 1,
                        "participant_id": n + 1,
                        "channel": "sms",
                        "address": f"+1312{n:07d}",
                        "created_at": now,
                    }
                    for n in block
                ],
            )
            if outbox_rows:
                connection.execute(
                    insert(o),
                    [
                        {
                            "contact_id": n + 1,
                            "channel": "sms",
                            "address": f"+1312{n:07d}",
                            "body": f"Invitation {n}: how welcome do you feel? Reply 1 to 5.",
                            "choices": [],
                            "kind": "broadcast",
                            "status": "pending",
                            "attempts": 0,
                            "not_before": now,
                            "broadcast_id": 1,
                            "dedup_key": f"b:1:{n + 1}",
                            "created_at": now,
                        }
                        for n in block
                    ],
                )


def write_sis_roster(path: Path, rows: int) -> int:
    """A student × guardian export of about `rows` rows; how many households it holds.

    Of every 100 households: 62 are one guardian of one child (1 row), 25 two
    guardians of one child (2 rows; one in five share one phone), 13 two
    guardians of two children at two schools (4 rows): 164 rows a hundred, so
    200,000 rows are about 122,000 households.
    """
    header = (
        "Student ID,School,Grade,Guardian ID,Guardian Name,Relationship,Phone,"
        "Home Language,Contact Order\n"
    )
    languages = ("English", "Spanish", "vi", "en", "es")
    schools = [code for code, _ in SCHOOLS]
    written = households = student = guardian = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(header)
        lines: list[str] = []
        while written < rows:
            home = households
            households += 1
            language = languages[home % len(languages)]
            shape = home % 100
            kids = 2 if shape >= 87 else 1
            adults = 1 if shape < 62 else 2
            shared = 62 <= shape < 67
            children = []
            for k in range(kids):
                student += 1
                school = schools[(home + k) % len(schools)]
                children.append((student, school, str((home + 3 * k) % 12 + 1)))
            phones = []
            for a in range(adults):
                guardian += 1
                number = guardian if not (shared and a) else guardian - 1
                phone = f"+1312{200 + number // 10_000}{number % 10_000:04d}"
                phones.append((f"G{guardian}", ("mother", "father")[a], phone, a + 1))
            for sid, school, grade in children:
                for gid, relation, phone, order in phones:
                    lines.append(
                        f"S{sid},{school},{grade},{gid},Guardian {gid},{relation},{phone},"
                        f"{language},{order}\n"
                    )
                    written += 1
            if len(lines) >= 10_000:
                out.writelines(lines)
                lines = []
        out.writelines(lines)
    return households


# -- phases (each runs in its own process) -------------------------------------------


def phase_enqueue(url: str) -> dict[str, Any]:
    engine = connect(url)
    source = SURVEY.read_text("utf-8")
    store_activity(engine, parse_activity(source, str(SURVEY)), source, utcnow())
    policy = BroadcastPolicy(rates={Channel.SMS: 0.0}, reminders=0)
    broadcasting = Broadcasting(
        BroadcastStore(engine), PROGRAM, RULES, policy, parse_activity, utcnow
    )
    started = time.perf_counter()
    plan = broadcasting.plan("family-priorities-2026", "all")
    planned = time.perf_counter() - started
    broadcast_id = broadcasting.confirm(plan, actor="benchmark")
    started = time.perf_counter()
    outcome = broadcasting.enqueue(broadcast_id)
    seconds = time.perf_counter() - started
    assert outcome is not None
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine.dispose()
    return {
        "seconds": seconds,
        "plan_seconds": planned,
        "queued": outcome.queued,
        "peak_mb": peak_kb / 1024,
    }


def phase_roster(url: str, path: str) -> dict[str, Any]:
    """Import the roster into an empty database, then enqueue a broadcast to everyone."""
    import csv

    engine = connect(url)
    migrate(engine)
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            insert(models.School.__table__),
            [{"code": code, "name": name, "created_at": now} for code, name in SCHOOLS],
        )
    source = SURVEY.read_text("utf-8")
    store_activity(engine, parse_activity(source, str(SURVEY)), source, now)
    started = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as file:
        read = sum(1 for _ in csv.reader(file))
    read_seconds = time.perf_counter() - started
    rules = RosterRules(LANGUAGES, "en", PROGRAM.roles, dict(SCHOOLS))
    roster = RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, utcnow)
    started = time.perf_counter()
    report = roster.run(Path(path))
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    p = models.Participant.__table__
    with engine.connect() as connection:
        households = connection.execute(
            select(func.count(func.distinct(p.c.household_id)))
        ).scalar_one()
        people = connection.execute(select(func.count()).select_from(p)).scalar_one()
        phones = connection.execute(
            select(func.count()).select_from(models.Contact.__table__)
        ).scalar_one()
    policy = BroadcastPolicy(rates={Channel.SMS: 0.0}, reminders=0)
    broadcasting = Broadcasting(
        BroadcastStore(engine), PROGRAM, RULES, policy, parse_activity, utcnow
    )
    plan = broadcasting.plan("family-priorities-2026", "all")
    broadcast_id = broadcasting.confirm(plan, actor="benchmark")
    started = time.perf_counter()
    outcome = broadcasting.enqueue(broadcast_id)
    enqueue_seconds = time.perf_counter() - started
    assert outcome is not None
    engine.dispose()
    return {
        "rows": read - 1,
        "read_seconds": read_seconds,
        "seconds": seconds,
        "peak_mb": peak_kb / 1024,
        "bad": len(report.bad),
        "people": people,
        "phones": phones,
        "households": households,
        "enqueue_seconds": enqueue_seconds,
        "queued": outcome.queued,
        "shared": outcome.shared,
    }


def phase_send(url: str, count: int, latency: float) -> dict[str, Any]:
    engine = connect(url)
    provider = FakeProvider(latency)
    sender = OutboxSender(
        OutboxStore(engine), {Channel.SMS: provider}, utcnow, run_db=asyncio.to_thread
    )

    async def run() -> tuple[int, float]:
        handled = 0
        started = time.perf_counter()
        while handled < count:
            done = await sender.run_once()
            if done == 0:
                break
            handled += done
        return handled, time.perf_counter() - started

    handled, seconds = asyncio.run(run())
    with engine.connect() as connection:
        sent = connection.execute(
            select(func.count()).where(models.Outbox.status == "sent")
        ).scalar_one()
    engine.dispose()
    return {"sent": sent, "handled": handled, "seconds": seconds, "rate": sent / seconds}


def phase_worker(url: str, start_at: float, window: float, latency: float) -> dict[str, Any]:
    """Send from the shared outbox between `start_at` and `start_at + window` (wall clock)."""
    engine = connect(url)
    provider = FakeProvider(latency)
    sender = OutboxSender(
        OutboxStore(engine), {Channel.SMS: provider}, utcnow, run_db=asyncio.to_thread
    )

    async def run() -> None:
        await asyncio.sleep(max(start_at - time.time(), 0))
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop, idle=0.05))
        await asyncio.sleep(max(start_at + window - time.time(), 0))
        stop.set()
        await task

    asyncio.run(run())
    engine.dispose()
    return {"sent": provider.count}


# -- orchestration -------------------------------------------------------------------


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )


def result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"benchmark phase failed ({process.returncode})")
    answer: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return answer


def sqlite_phases(contacts: int, send: int, latency: float) -> tuple[dict[str, Any], ...]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = connect(url)
        migrate(engine)
        populate(engine, contacts)
        engine.dispose()
        enqueued = result(spawn("--phase", "enqueue", "--url", url))
        sent = result(
            spawn("--phase", "send", "--url", url, "--count", str(send), "--latency", str(latency))
        )
    return enqueued, sent


def roster_phase(rows: int) -> tuple[dict[str, Any], int]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sis.csv"
        households = write_sis_roster(path, rows)
        url = f"sqlite:///{Path(folder) / 'roster.db'}"
        return result(spawn("--phase", "roster", "--url", url, "--path", str(path))), households


def pg_rate(url: str, workers: int, rows: int, window: float, latency: float) -> float:
    engine = connect(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate(engine)
    populate(engine, rows, outbox_rows=True)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()
    start_at = time.time() + 3.0  # every worker imported and connected by then
    processes = [
        spawn(
            "--phase",
            "worker",
            "--url",
            url,
            "--start-at",
            str(start_at),
            "--window",
            str(window),
            "--latency",
            str(latency),
        )
        for _ in range(workers)
    ]
    sent = sum(result(p)["sent"] for p in processes)
    return sent / window


def bench_database(base: str) -> str | None:
    """A database of our own for the benchmark, never the tests' one."""
    from sqlalchemy.exc import OperationalError

    admin = connect(base.rstrip("/") + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = 'engage_bench'")
            ).scalar()
            if not found:
                connection.execute(text("CREATE DATABASE engage_bench"))
    except OperationalError as error:
        print(f"PostgreSQL not reachable ({error.orig}); pg_scale skipped", file=sys.stderr)
        return None
    finally:
        admin.dispose()
    return base.rstrip("/") + "/engage_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--pg-url", default=PG_URL, help="server URL, without a database")
    parser.add_argument("--pg-rows", type=int, default=30_000)
    parser.add_argument("--pg-window", type=float, default=10.0)
    parser.add_argument("--pg-latency-ms", type=float, default=50.0)
    parser.add_argument("--roster-rows", type=int, default=200_000)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--latency", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--window", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase == "enqueue":
        print(json.dumps(phase_enqueue(args.url)))
        return
    if args.phase == "roster":
        print(json.dumps(phase_roster(args.url, args.path)))
        return
    if args.phase == "send":
        print(json.dumps(phase_send(args.url, args.count, args.latency)))
        return
    if args.phase == "worker":
        print(json.dumps(phase_worker(args.url, args.start_at, args.window, args.latency)))
        return

    enqueued, sent = sqlite_phases(args.contacts, args.send, args.latency_ms / 1000)
    print(
        f"enqueue: {enqueued['queued']} invitations in {enqueued['seconds']:.1f} s "
        f"(audience counted in {enqueued['plan_seconds']:.1f} s before), "
        f"peak RSS {enqueued['peak_mb']:.0f} MB"
    )
    print(
        f"send: one worker, {sent['sent']} messages in {sent['seconds']:.1f} s to a provider "
        f"answering after {args.latency_ms:g} ms: {sent['rate']:.0f}/s"
    )
    scale = float("nan")
    database = bench_database(args.pg_url)
    if database is not None:
        latency = args.pg_latency_ms / 1000
        one = pg_rate(database, 1, args.pg_rows, args.pg_window, latency)
        two = pg_rate(database, 2, args.pg_rows, args.pg_window, latency)
        scale = two / one
        print(
            f"postgresql: 1 worker {one:.0f}/s, 2 workers {two:.0f}/s "
            f"(provider answering after {args.pg_latency_ms:g} ms): {scale:.2f}x"
        )
    roster, written = roster_phase(args.roster_rows)
    print(
        f"roster: {roster['rows']:,} rows ({written:,} households written) imported in "
        f"{roster['seconds']:.1f} s ({roster['seconds'] / roster['read_seconds']:.0f}x reading "
        f"it with csv, {roster['read_seconds']:.2f} s), peak RSS {roster['peak_mb']:.0f} MB: "
        f"{roster['people']:,} guardians, {roster['phones']:,} phones, "
        f"{roster['households']:,} households, {roster['bad']} bad rows; "
        f"broadcast to all: {roster['queued']:,} messages "
        f"({roster['shared']:,} people on a phone already counted) "
        f"enqueued in {roster['enqueue_seconds']:.1f} s"
    )
    scaled = enqueued["seconds"] * 100_000 / max(args.contacts, 1)
    roster_s = roster["seconds"] * 200_000 / max(roster["rows"], 1)
    print(
        f"enqueue_100k_s={scaled:.1f} peak_mb={enqueued['peak_mb']:.0f} "
        f"send_rate={sent['rate']:.0f} pg_scale={scale:.2f} "
        f"roster_200k_s={roster_s:.1f} "
        f"roster_vs_read={roster['seconds'] / roster['read_seconds']:.0f} "
        f"households={roster['households']} enqueue_s={roster['enqueue_seconds']:.1f} "
        f"roster_peak_mb={roster['peak_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
