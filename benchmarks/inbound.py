"""Inbound SMS benchmark: signed webhook -> engine -> commit -> outbox row, over HTTP.

    python benchmarks/inbound.py [--requests 4000] [--connections 16]

In one run, on this machine:
- webhook: `engage serve` (outbox sender off, so only the inbound path is
  measured) on a fresh SQLite file, driven over HTTP keep-alive connections
  with Twilio-shaped, really signed requests; families go through onboarding
  and the survey;
- bare: the same uvicorn serving a bare ASGI endpoint that returns the same
  TwiML: the ceiling for any webhook on this server;
- raw: plain sqlite3, one transaction per message doing the same writes
  (find the sender, log the message, update state, record the answer, queue
  the reply): the ceiling for the storage work;
- service: the service layer in-process on the same messages.

Ends with one line: webhook_rps=… bare_rps=… ratio=… p99_ms=… service_ratio=…
and, with `--channels chat` (on by default), the Telegram and Slack lines of
benchmarks/chat_inbound.py: telegram_rps=…, slack_rps=…, slack_busy_ack_p99_ms=….
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

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


def measure_http(folder: Path, count: int, connections: int) -> tuple[float, float, float, float]:
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
        elapsed, latencies = asyncio.run(drive(port, requests, connections))
    finally:
        stop(server)
    webhook_rps = len(requests) / elapsed
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000

    bare_port = free_port()
    bare = run_server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.inbound:bare_app",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env,
        bare_port,
    )
    try:
        bare_requests = signed_requests(bare_port, public_url, items)
        asyncio.run(drive(bare_port, bare_requests[:500], connections))
        bare_elapsed, _ = asyncio.run(drive(bare_port, bare_requests, connections))
    finally:
        stop(bare)
    return webhook_rps, len(requests) / bare_elapsed, p50, p99


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
        webhook_rps, bare_rps, p50, p99 = measure_http(folder, args.requests, args.connections)
        items = messages(args.requests)
        raw_rate = measure_raw(folder, items)
        service_rate = measure_service(folder, items)
    print(
        f"webhook: {webhook_rps:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"({args.requests} requests, {args.connections} connections)"
    )
    print(f"bare ASGI: {bare_rps:.0f} req/s")
    print(f"service layer: {service_rate:.0f} msg/s; raw sqlite3: {raw_rate:.0f} msg/s")
    print(
        f"webhook_rps={webhook_rps:.0f} bare_rps={bare_rps:.0f} ratio={webhook_rps / bare_rps:.2f} "
        f"p99_ms={p99:.1f} service_ratio={service_rate / raw_rate:.2f}"
    )
    if chat_lines:
        print("\n".join(chat_lines))


if __name__ == "__main__":
    main()
