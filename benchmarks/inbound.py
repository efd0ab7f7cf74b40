"""Inbound SMS benchmark: signed webhook -> inbound queue -> engine -> outbox row, over HTTP.

    python benchmarks/inbound.py [--requests 4000] [--connections 16] [--channels none]
                                 [--pg-rows 6000] [--pg-url URL]

In one run, on this machine:
- bare: uvicorn serving a bare ASGI endpoint that returns the same TwiML: the
  ceiling for any webhook on this server;
- durable: the same uvicorn serving a minimal webhook that parses the form,
  checks the Twilio signature with RequestValidator and inserts the message
  into SQLite with a commit, nothing else: the ceiling for a webhook that
  acknowledges only what it has written down;
- webhook: `engage serve` (engine on, outbox sender off) on a fresh SQLite
  file, driven over HTTP keep-alive connections with Twilio-shaped, really
  signed requests; families go through onboarding and the survey. `run_drain_s`
  is how long after the first request the engine had handled every message;
- drain: the engine alone on a queue holding every message of the run, in one
  process (`drain_rps`);
- busy: SMS latency while Slack DMs arrive on 4 more connections and a
  broadcast to 5,000 families is being enqueued and sent (to a fake Twilio);
- pg: on PostgreSQL, a queue of `--pg-rows` messages drained by 1 and then by
  2 `engage worker --no-sender` processes (`pg_drain_scale` = 2 over 1);
- raw and service: plain sqlite3 doing the same writes one transaction per
  message, and the service layer in-process (`service_ratio`).

The machine may be shared: figures move with its load; the ratios less so.
Ends with one line: webhook_rps=… bare_rps=… durable_rps=… ratio_durable=… p99_ms=…
drain_rps=… busy_sms_p99_ms=… pg_drain_scale=…, after, with `--channels chat`
(on by default), the Telegram and Slack lines of benchmarks/chat_inbound.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "benchmark-auth-token"
OUR_NUMBER = "+15550100000"
# What a family sends: onboarding (language, consent, role, school), then the survey.
CONVERSATION = [
    "Hola",
    "2",
    "sí",
    "1",
    "1",
    "2",
    "3,1,5",
    "no",
    "Las notas llegan en inglés",
    "SKIP",
]
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def bare_app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    """The ceiling: read the body, answer the same TwiML, nothing else."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/xml"),
                (b"content-length", str(len(EMPTY_TWIML)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": EMPTY_TWIML})


DURABLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (id INTEGER PRIMARY KEY, channel TEXT, provider_id TEXT,
  sender TEXT, payload TEXT, received_at TEXT, UNIQUE(channel, provider_id))
"""


class DurableApp:
    """The durable ceiling: parse the form, check the signature, insert, commit, answer."""

    def __init__(self) -> None:
        self.db: sqlite3.Connection | None = None
        self.validator = RequestValidator(AUTH_TOKEN)
        self.public_url = os.environ.get("BENCH_PUBLIC_URL", "")

    async def __call__(self, scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.db = sqlite3.connect(os.environ["BENCH_DURABLE_DB"], isolation_level=None)
                    self.db.execute("PRAGMA journal_mode=WAL")
                    self.db.execute("PRAGMA synchronous=NORMAL")
                    self.db.execute(DURABLE_SCHEMA)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        form = dict(parse_qsl(b"".join(chunks).decode(), keep_blank_values=True))
        signature = dict(scope["headers"]).get(b"x-twilio-signature", b"").decode()
        url = self.public_url + scope["path"]
        status = 200 if self.validator.validate(url, form, signature) else 403
        if status == 200:
            assert self.db is not None
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT INTO inbound (channel, provider_id, sender, payload, received_at) "
                "VALUES ('sms', ?, ?, ?, datetime('now')) ON CONFLICT DO NOTHING",
                (form.get("MessageSid"), form.get("From"), json.dumps(form)),
            )
            self.db.execute("COMMIT")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/xml"),
                    (b"content-length", str(len(EMPTY_TWIML)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": EMPTY_TWIML})


durable_app = DurableApp()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def messages(count: int) -> list[tuple[str, str, str]]:
    """(phone, body, sid) in the order families would send them, interleaved."""
    families = count // len(CONVERSATION) + 1
    out = []
    for turn, body in enumerate(CONVERSATION):
        for family in range(families):
            out.append((f"+1555{family:07d}", body, f"SM{turn:04d}{family:028d}"))
    return out[:count]


def signed_requests(port: int, public_url: str, items: list[tuple[str, str, str]]) -> list[bytes]:
    validator = RequestValidator(AUTH_TOKEN)
    url = public_url + "/webhooks/twilio/sms"
    requests = []
    for phone, body, sid in items:
        form = {
            "ToCountry": "US",
            "ToState": "IL",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "CHICAGO",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "IL",
            "SmsStatus": "received",
            "FromCity": "CHICAGO",
            "Body": body,
            "FromCountry": "US",
            "To": OUR_NUMBER,
            "ToZip": "60601",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": phone,
            "ApiVersion": "2010-04-01",
        }
        payload = urlencode(form).encode()
        signature = validator.compute_signature(url, form)
        head = (
            f"POST /webhooks/twilio/sms HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        requests.append(head.encode() + payload)
    return requests


async def drive(port: int, requests: list[bytes], connections: int) -> tuple[float, list[float]]:
    """Send every request over `connections` keep-alive connections; (seconds, latencies)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                request = queue.get_nowait()
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses: {statuses}")
    return elapsed, latencies


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                "server exited early; run it by hand to see why: "
                + " ".join(map(str, process.args))
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def run_server(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        # Its logs go nowhere: a pipe nobody reads would fill and stall the server.
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(port, process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def prepare_database(folder: Path, name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ENGAGE_DATABASE_URL=f"sqlite:///{folder / name}",
        ENGAGE_DISTRICT_FILE=str(ROOT / "examples" / "district.yaml"),
        ENGAGE_SPOOL_DIR=str(folder / "spool"),
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER=OUR_NUMBER,
    )
    engage = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*engage, "init"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [*engage, "activity", "load", "examples/family-priorities.yaml"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return env


def pending(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(
            db.execute("SELECT count(*) FROM inbound_queue WHERE status = 'pending'").fetchone()[0]
        )


def wait_drained(database: Path, timeout: float = 900) -> float:
    """Seconds until the engine has handled every recorded message."""
    started = time.perf_counter()
    while pending(database):
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"{pending(database)} messages still queued after {timeout} s")
        time.sleep(0.01)
    return time.perf_counter() - started


def ceiling(app: str, env: dict[str, str], requests_for, connections: int) -> float:  # type: ignore[no-untyped-def]
    """Requests a second `app` (module:attribute) answers on the same uvicorn."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = run_server(command, env, port)
    try:
        requests = requests_for(port)
        asyncio.run(drive(port, requests[:500], connections))
        elapsed, _ = asyncio.run(drive(port, requests[500:], connections))
    finally:
        stop(server)
    return (len(requests) - 500) / elapsed


def measure_http(folder: Path, count: int, connections: int) -> dict[str, float]:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    env = prepare_database(folder, "webhook.db")
    env["ENGAGE_PUBLIC_URL"] = public_url
    items = messages(count)
    requests = signed_requests(port, public_url, items)
    warm = signed_requests(
        port, public_url, [(f"+1666{n:07d}", "hi", f"SMW{n:032d}") for n in range(200)]
    )

    server = run_server(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--no-sender"], env, port
    )
    try:
        asyncio.run(drive(port, warm, connections))
        wait_drained(folder / "webhook.db")
        started = time.perf_counter()
        elapsed, latencies = asyncio.run(drive(port, requests, connections))
        wait_drained(folder / "webhook.db")
        run_drain = time.perf_counter() - started
    finally:
        stop(server)
    # The ceilings get the same requests, signed for the same public URL.
    more = [(f"+1777{n:07d}", "hi", f"SMC{n:032d}") for n in range(500)]
    signed = lambda p: signed_requests(p, public_url, more + items)  # noqa: E731
    bare = ceiling("benchmarks.inbound:bare_app", env, signed, connections)
    durable_env = dict(
        env, BENCH_DURABLE_DB=str(folder / "durable.db"), BENCH_PUBLIC_URL=public_url
    )
    durable = ceiling("benchmarks.inbound:durable_app", durable_env, signed, connections)
    return {
        "webhook_rps": len(requests) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": statistics.quantiles(latencies, n=100)[98] * 1000,
        "run_drain_s": run_drain,
        "bare_rps": bare,
        "durable_rps": durable,
    }


def fill_queue(engine, items: list[tuple[str, str, str]]) -> None:  # type: ignore[no-untyped-def]
    """Every message recorded, as the webhooks would have (in one transaction, for speed)."""
    from sqlalchemy import insert

    from bot.core.messages import Channel, InboundMessage, message_to_record
    from bot.services.inbound import utcnow
    from storage import models

    now = utcnow()
    rows = [
        {
            "channel": "sms",
            "provider_id": sid,
            "kind": "message",
            "sender": f"sms:{phone}",
            "payload": message_to_record(InboundMessage(Channel.SMS, phone, body, provider_id=sid)),
            "status": "pending",
            "attempts": 0,
            "received_at": now,
        }
        for phone, body, sid in items
    ]
    with engine.begin() as connection:
        connection.execute(insert(models.InboundQueue.__table__), rows)


def measure_drain(folder: Path, items: list[tuple[str, str, str]]) -> float:
    """The engine alone, in this process, on a queue holding every message: messages/s."""
    env = prepare_database(folder, "drain.db")
    os.environ.update({k: v for k, v in env.items() if k.startswith(("ENGAGE_", "TWILIO_"))})
    from bot.bootstrap import build_runtime
    from bot.services.inbound import utcnow
    from bot.services.inbound_queue import MessageBatches
    from bot.settings import Settings

    runtime = build_runtime(Settings(), detector=True)
    fill_queue(runtime.engine, items)
    batches = MessageBatches(runtime.queue, runtime.service.handle_once, utcnow)
    started = time.perf_counter()
    while batches():
        pass
    elapsed = time.perf_counter() - started
    left = pending(folder / "drain.db")
    runtime.engine.dispose()
    if left:
        raise SystemExit(f"the drain left {left} messages")
    return len(items) / elapsed


BUSY_FAMILIES = 5000


def measure_busy(folder: Path, count: int, connections: int) -> float:
    """SMS p99 (ms) at `connections` while Slack DMs arrive on 4 more and a broadcast to
    5,000 families is enqueued and sent."""
    from benchmarks.chat_inbound import BUSY_SLACK_CONNECTIONS, SLACK_SECRET, slack_requests
    from tests.fakes.server import serve
    from tests.fakes.slack_api import BOT_TOKEN, FakeSlackApi
    from tests.fakes.twilio_api import run_fake_twilio

    env = prepare_database(folder, "busy.db")
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    slack_fake = FakeSlackApi()
    with serve(slack_fake.app) as slack_api, run_fake_twilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        env.update(
            ENGAGE_PUBLIC_URL=public_url,
            ENGAGE_QUIET_HOURS="off",
            ENGAGE_SMS_PER_SECOND="500",
            TWILIO_API_BASE_URL=twilio.url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SLACK_SECRET,
            SLACK_API_BASE_URL=slack_api + "/api/",
            SLACK_TEAM_ID="T0001",
        )
        plan_broadcast(folder / "busy.db", env)
        server = run_server(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env, port
        )
        try:
            sms = signed_requests(port, public_url, messages(count))
            slack = slack_requests(port, messages(count), "B")

            async def together() -> list[float]:
                chat = asyncio.create_task(drive(port, slack, BUSY_SLACK_CONNECTIONS))
                await asyncio.sleep(0.5)  # Slack and the broadcast are under way
                _, latencies = await drive(port, sms, connections)
                chat.cancel()
                return latencies

            latencies = asyncio.run(together())
        finally:
            stop(server)
    return statistics.quantiles(latencies, n=100)[98] * 1000


def plan_broadcast(database: Path, env: dict[str, str]) -> None:
    """5,000 families on file and a broadcast to them confirmed, to be enqueued and sent
    by the server."""
    import sqlite3 as raw

    now = "2026-09-01 15:00:00"
    with raw.connect(database) as db:
        db.executemany(
            "INSERT INTO participants (id, pseudonym, role, language, onboarding_started, "
            "attempts, pending, consent, created_at, updated_at) "
            "VALUES (?, ?, 'parent', 'en', 1, 0, '[]', 1, ?, ?)",
            [(1_000_000 + n, f"P-B{n:07d}", now, now) for n in range(BUSY_FAMILIES)],
        )
        db.executemany(
            "INSERT INTO contacts (id, participant_id, channel, address, created_at) "
            "VALUES (?, ?, 'sms', ?, ?)",
            [(1_000_000 + n, 1_000_000 + n, f"+1313{n:07d}", now) for n in range(BUSY_FAMILIES)],
        )
    os.environ.update({k: v for k, v in env.items() if k.startswith(("ENGAGE_", "TWILIO_"))})
    from bot.bootstrap import build_broadcasting, build_runtime
    from bot.settings import Settings

    runtime = build_runtime(Settings(), detector=False)
    broadcasting = build_broadcasting(runtime)
    plan = broadcasting.plan("family-priorities-2026", "role=parent", reminders=0)
    broadcasting.confirm(plan, actor="benchmark")
    runtime.engine.dispose()


PG_URL = os.environ.get("ENGAGE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/")


def pg_database(base: str) -> str | None:
    """A database of our own for this benchmark, never the tests' one."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from storage.database import connect

    admin = connect(base.rstrip("/") + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = 'engage_inbound_bench'")
            ).scalar()
            if not found:
                connection.execute(text("CREATE DATABASE engage_inbound_bench"))
    except OperationalError as error:
        print(f"PostgreSQL not reachable ({error.orig}); pg_drain_scale skipped", file=sys.stderr)
        return None
    finally:
        admin.dispose()
    return base.rstrip("/") + "/engage_inbound_bench"


def pg_drain_rate(url: str, workers: int, rows: int) -> float:
    """Messages/s `workers` `engage worker --no-sender` processes drain from a full queue
    (first handled to last handled, so start-up is not counted)."""
    from sqlalchemy import text

    from storage.database import connect

    engine = connect(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    env = dict(os.environ)
    for key in [k for k in env if k.startswith(("ENGAGE_", "TWILIO_", "TELEGRAM_", "SLACK_"))]:
        del env[key]
    env.update(
        ENGAGE_DATABASE_URL=url,
        ENGAGE_DISTRICT_FILE=str(ROOT / "examples" / "district.yaml"),
    )
    engage = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*engage, "init"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [*engage, "activity", "load", "examples/family-priorities.yaml"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    engine = connect(url)
    fill_queue(engine, messages(rows))
    processes = [
        subprocess.Popen(
            [*engage, "worker", "--no-sender"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 900
        while True:
            with engine.connect() as connection:
                left = connection.execute(
                    text("SELECT count(*) FROM inbound_queue WHERE status = 'pending'")
                ).scalar_one()
            if not left:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{left} messages still queued on PostgreSQL")
            time.sleep(0.1)
        with engine.connect() as connection:
            first, last = connection.execute(
                text("SELECT min(handled_at), max(handled_at) FROM inbound_queue")
            ).one()
    finally:
        for process in processes:
            stop(process)
        engine.dispose()
    return rows / max((last - first).total_seconds(), 1e-3)


RAW_SCHEMA = """
CREATE TABLE participants (id INTEGER PRIMARY KEY, language TEXT, role TEXT, school TEXT,
  consent INTEGER, onboarding TEXT, attempts INTEGER, pending TEXT, updated_at TEXT);
CREATE TABLE contacts (id INTEGER PRIMARY KEY, participant_id INTEGER, channel TEXT, address TEXT,
  opted_out_at TEXT, last_inbound_at TEXT, UNIQUE(channel, address));
CREATE TABLE conversations (id INTEGER PRIMARY KEY, participant_id INTEGER, status TEXT,
  question TEXT, attempts INTEGER, answers TEXT, updated_at TEXT);
CREATE INDEX ix_conv ON conversations(participant_id, status);
CREATE TABLE messages (id INTEGER PRIMARY KEY, channel TEXT, direction TEXT, provider_id TEXT,
  contact_id INTEGER, body TEXT, created_at TEXT, UNIQUE(channel, direction, provider_id));
CREATE TABLE responses (id INTEGER PRIMARY KEY, participant_id INTEGER, conversation_id INTEGER,
  question TEXT, value TEXT, text TEXT, created_at TEXT);
CREATE TABLE outbox (id INTEGER PRIMARY KEY, contact_id INTEGER, address TEXT, body TEXT,
  status TEXT, not_before TEXT);
"""


def measure_raw(folder: Path, items: list[tuple[str, str, str]]) -> float:
    """The ceiling: the same writes with sqlite3 and nothing else, one transaction each."""
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(RAW_SCHEMA)
    now = "2026-09-01 15:00:00"
    started = time.perf_counter()
    for phone, body, sid in items:
        db.execute("BEGIN IMMEDIATE")
        row = db.execute(
            "SELECT c.id, c.participant_id, p.language, v.id, v.question FROM contacts c "
            "JOIN participants p ON p.id = c.participant_id LEFT JOIN conversations v "
            "ON v.participant_id = p.id AND v.status = 'active' WHERE c.channel = ? AND c.address = ?",
            ("sms", phone),
        ).fetchone()
        if row is None:
            pid = db.execute(
                "INSERT INTO participants (attempts, updated_at) VALUES (0, ?)", (now,)
            ).lastrowid
            cid = db.execute(
                "INSERT INTO contacts (participant_id, channel, address) VALUES (?, 'sms', ?)",
                (pid, phone),
            ).lastrowid
            conversation = db.execute(
                "INSERT INTO conversations (participant_id, status, attempts, answers, updated_at) "
                "VALUES (?, 'active', 0, '{}', ?)",
                (pid, now),
            ).lastrowid
        else:
            cid, pid, conversation = row[0], row[1], row[3]
        inserted = db.execute(
            "INSERT INTO messages (channel, direction, provider_id, contact_id, body, created_at) "
            "VALUES ('sms', 'in', ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (sid, cid, body, now),
        ).fetchone()
        if inserted is None:
            db.execute("ROLLBACK")
            continue
        db.execute("UPDATE contacts SET last_inbound_at = ? WHERE id = ?", (now, cid))
        db.execute(
            "INSERT INTO responses (participant_id, conversation_id, question, value, text, "
            "created_at) VALUES (?, ?, 'q', ?, ?, ?)",
            (pid, conversation, '"x"', body, now),
        )
        db.execute(
            "UPDATE conversations SET question = 'q', attempts = 0, answers = ?, updated_at = ? "
            "WHERE id = ?",
            ('{"q": "x"}', now, conversation),
        )
        db.execute(
            "UPDATE participants SET language = 'es', attempts = 0, updated_at = ? WHERE id = ?",
            (now, pid),
        )
        db.execute(
            "INSERT INTO outbox (contact_id, address, body, status, not_before) "
            "VALUES (?, ?, 'next question', 'pending', ?)",
            (cid, phone, now),
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return len(items) / elapsed


def measure_service(folder: Path, items: list[tuple[str, str, str]]) -> float:
    env = prepare_database(folder, "service.db")
    os.environ.update({k: v for k, v in env.items() if k.startswith(("ENGAGE_", "TWILIO_"))})
    from bot.bootstrap import build_runtime
    from bot.core.messages import Channel, InboundMessage
    from bot.settings import Settings

    runtime = build_runtime(Settings(), detector=True)
    inbound = [
        InboundMessage(Channel.SMS, phone, body, provider_id=sid) for phone, body, sid in items
    ]
    for message in inbound[:50]:
        runtime.service.handle_inbound(message)
    started = time.perf_counter()
    for message in inbound[50:]:
        runtime.service.handle_inbound(message)
    elapsed = time.perf_counter() - started
    runtime.engine.dispose()
    return (len(inbound) - 50) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pg-url", default=PG_URL, help="server URL, without a database")
    parser.add_argument("--pg-rows", type=int, default=6000, help="0: skip PostgreSQL")
    parser.add_argument(
        "--channels",
        default="sms,chat",
        help="what to measure besides the ceilings: sms, chat (Telegram and Slack: "
        "benchmarks/chat_inbound.py), both (sms,chat), or none (SMS only, without chat)",
    )
    args = parser.parse_args()
    wanted = {name.strip() for name in args.channels.split(",") if name.strip()}
    unknown = wanted - {"sms", "chat", "none"}
    if unknown or not wanted or ("none" in wanted and len(wanted) > 1):
        parser.error(f"--channels: expected sms, chat, sms,chat or none, not {args.channels!r}")
    if wanted == {"none"}:
        wanted = {"sms"}
    chat_lines: list[str] = []
    if "chat" in wanted:
        from benchmarks.chat_inbound import measure as measure_chat

        chat_lines = measure_chat(args.requests, args.connections)
    if "sms" not in wanted:
        print("\n".join(chat_lines))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        http = measure_http(folder, args.requests, args.connections)
        items = messages(args.requests)
        drain_rps = measure_drain(folder, items)
        busy_p99 = measure_busy(folder, args.requests // 2, args.connections)
        raw_rate = measure_raw(folder, items)
        service_rate = measure_service(folder, items)
    scale = float("nan")
    database = pg_database(args.pg_url) if args.pg_rows else None
    if database is not None:
        one = pg_drain_rate(database, 1, args.pg_rows)
        two = pg_drain_rate(database, 2, args.pg_rows)
        scale = two / one
        print(f"postgresql drain: 1 worker {one:.0f} msg/s, 2 workers {two:.0f} msg/s")
    webhook_rps, bare_rps, durable_rps = http["webhook_rps"], http["bare_rps"], http["durable_rps"]
    print(
        f"webhook: {webhook_rps:.0f} req/s, p50 {http['p50']:.1f} ms, p99 {http['p99']:.1f} ms "
        f"({args.requests} requests, {args.connections} connections); every message handled "
        f"{http['run_drain_s']:.1f} s after the first request"
    )
    print(f"bare ASGI: {bare_rps:.0f} req/s; durable webhook: {durable_rps:.0f} req/s")
    print(f"engine drain, one process: {drain_rps:.0f} msg/s")
    print(f"SMS p99 while Slack and a broadcast are busy: {busy_p99:.1f} ms")
    print(f"service layer: {service_rate:.0f} msg/s; raw sqlite3: {raw_rate:.0f} msg/s")
    if chat_lines:
        print("\n".join(chat_lines))
    print(
        f"webhook_rps={webhook_rps:.0f} bare_rps={bare_rps:.0f} durable_rps={durable_rps:.0f} "
        f"ratio_durable={webhook_rps / durable_rps:.2f} p99_ms={http['p99']:.1f} "
        f"drain_rps={drain_rps:.0f} busy_sms_p99_ms={busy_p99:.1f} pg_drain_scale={scale:.2f}"
    )


if __name__ == "__main__":
    main()
