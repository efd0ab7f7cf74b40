"""Inbound Telegram and Slack: the webhooks under the same load as SMS, and Slack's ack
while the engine is busy. Run by benchmarks/inbound.py (`--channels`), or alone:

    python benchmarks/chat_inbound.py [--requests 4000] [--connections 16]

- telegram: updates with the secret header, families going through onboarding
  and the survey, each answered after the service has committed (as SMS);
- slack: signed DM events from staff; Bolt answers before the engine runs, so
  `slack_rps` is the ack rate and `slack_done_rps` how fast the engine then
  worked through them;
- slack busy: Slack events at a few connections while 16 connections of SMS
  keep the engine's single SQLite writer busy: the ack must stay under 300 ms.

Each is compared with a bare ASGI app on the same uvicorn (the ceiling).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.inbound import (  # noqa: E402
    drive,
    free_port,
    messages,
    prepare_database,
    run_server,
    signed_requests,
    stop,
)
from tests.fakes.server import serve  # noqa: E402
from tests.fakes.slack_api import BOT_TOKEN, FakeSlackApi  # noqa: E402

TELEGRAM_TOKEN = "123456789:AAFakeTokenForTheBenchmark_abcdefgh"
TELEGRAM_SECRET = "benchmark-telegram-secret"
SLACK_SECRET = "benchmark-slack-signing-secret"
BUSY_SLACK_CONNECTIONS = 4


def _request(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n").encode() + body


def telegram_requests(port: int, items: list[tuple[str, str, str]]) -> list[bytes]:
    """Private-chat text updates, one chat per family, update ids increasing."""
    requests = []
    for number, (phone, body, _) in enumerate(items):
        chat = int(phone[-7:]) + 100_000_000
        update = {
            "update_id": 900_000_000 + number,
            "message": {
                "message_id": number + 1,
                "from": {"id": chat, "is_bot": False, "first_name": "Ana", "language_code": "es"},
                "chat": {"id": chat, "first_name": "Ana", "type": "private"},
                "date": int(time.time()),
                "text": body,
            },
        }
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
        }
        requests.append(_request(port, "/webhooks/telegram", json.dumps(update).encode(), headers))
    return requests


def slack_requests(port: int, items: list[tuple[str, str, str]], tag: str = "") -> list[bytes]:
    """Signed DM events from staff members, one event id each."""
    requests = []
    for number, (phone, body, _) in enumerate(items):
        user = f"U{tag}{phone[-7:]}"
        ts = f"{time.time():.6f}"
        event = {
            "type": "event_callback",
            "team_id": "T0001",
            "api_app_id": "A0APP",
            "event_id": f"Ev{tag}{number:010d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0001", "user_id": "U0BOT", "is_bot": True}],
            "event": {
                "type": "message",
                "channel": "D" + user[1:],
                "channel_type": "im",
                "user": user,
                "text": body,
                "ts": ts,
                "event_ts": ts,
                "team": "T0001",
            },
        }
        raw = json.dumps(event).encode()
        at = str(int(time.time()))
        signature = hmac.new(SLACK_SECRET.encode(), f"v0:{at}:".encode() + raw, hashlib.sha256)
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": at,
            "X-Slack-Signature": "v0=" + signature.hexdigest(),
        }
        requests.append(_request(port, "/webhooks/slack/events", raw, headers))
    return requests


def progress(stage: str) -> None:
    print(f"… {stage}", file=sys.stderr, flush=True)


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    return statistics.median(latencies) * 1000, statistics.quantiles(latencies, n=100)[98] * 1000


def _count(database: Path, channel: str) -> int:
    with sqlite3.connect(database) as db:
        return int(
            db.execute(
                "SELECT count(*) FROM messages WHERE channel = ? AND direction = 'in'", (channel,)
            ).fetchone()[0]
        )


def _wait_processed(database: Path, channel: str, expected: int, timeout: float = 600) -> float:
    """Seconds until the engine has logged `expected` inbound messages of `channel`."""
    started = time.perf_counter()
    while _count(database, channel) < expected:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"only {_count(database, channel)} of {expected} {channel} processed")
        time.sleep(0.05)
    return time.perf_counter() - started


@contextmanager
def chat_server(folder: Path, name: str, port: int, slack_api: str) -> Iterator[Path]:
    env = prepare_database(folder, name)
    env.update(
        ENGAGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
        TELEGRAM_BOT_USERNAME="district_bench_bot",
        TELEGRAM_API_BASE_URL="http://127.0.0.1:9",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_BASE_URL=slack_api + "/api/",
        SLACK_TEAM_ID="T0001",
    )
    command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--no-sender"]
    server = run_server(command, env, port)
    try:
        yield folder / name
    finally:
        stop(server)


def bare_rps(requests_for: Callable[[int], list[bytes]], connections: int) -> float:
    """The ceiling: the same requests to a bare ASGI app on the same uvicorn."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.inbound:bare_app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = run_server(command, dict(os.environ), port)
    try:
        requests = requests_for(port)
        asyncio.run(drive(port, requests[:500], connections))
        elapsed, _ = asyncio.run(drive(port, requests, connections))
    finally:
        stop(server)
    return len(requests) / elapsed


def measure(count: int, connections: int) -> list[str]:
    """The benchmark's result lines, key=value, one per measurement."""
    items = messages(count)
    warm = [(f"+1666{n:07d}", "hi", f"W{n}") for n in range(200)]
    lines = []
    slack_fake = FakeSlackApi()
    with tempfile.TemporaryDirectory() as tmp, serve(slack_fake.app) as slack_api:
        folder = Path(tmp)

        # Telegram: answered after the commit, like SMS.
        progress("telegram")
        port = free_port()
        with chat_server(folder, "telegram.db", port, slack_api):
            asyncio.run(drive(port, telegram_requests(port, warm), connections))
            elapsed, latencies = asyncio.run(
                drive(port, telegram_requests(port, items), connections)
            )
        rps = count / elapsed
        p50, p99 = _percentiles(latencies)
        bare = bare_rps(lambda p: telegram_requests(p, items), connections)
        lines.append(
            f"telegram_rps={rps:.0f} bare_rps={bare:.0f} ratio={rps / bare:.2f} "
            f"p50_ms={p50:.1f} p99_ms={p99:.1f}"
        )

        # Slack: acknowledged first, the engine works through them afterwards.
        progress("slack")
        port = free_port()
        with chat_server(folder, "slack.db", port, slack_api) as database:
            asyncio.run(drive(port, slack_requests(port, warm, "W"), connections))
            _wait_processed(database, "slack", len(warm))
            started = time.perf_counter()
            elapsed, latencies = asyncio.run(drive(port, slack_requests(port, items), connections))
            done = _wait_processed(database, "slack", len(warm) + count)
            processed = time.perf_counter() - started
        rps = count / elapsed
        p50, p99 = _percentiles(latencies)
        bare = bare_rps(lambda p: slack_requests(p, items), connections)
        lines.append(
            f"slack_rps={rps:.0f} bare_rps={bare:.0f} ratio={rps / bare:.2f} "
            f"p50_ms={p50:.1f} p99_ms={p99:.1f} slack_done_rps={count / processed:.0f} "
            f"drain_s={done:.1f}"
        )

        # Slack's ack while SMS keeps the engine busy.
        progress("slack while busy")
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        with chat_server(folder, "busy.db", port, slack_api):
            sms = signed_requests(port, public_url, items)
            few = messages(max(count // 4, 100))
            slack = slack_requests(port, few, "B")

            async def both() -> tuple[tuple[float, list[float]], tuple[float, list[float]]]:
                sms_load = asyncio.create_task(drive(port, sms, connections))
                await asyncio.sleep(0.5)  # the engine is busy before the first Slack event
                acks = await drive(port, slack, BUSY_SLACK_CONNECTIONS)
                return await sms_load, acks

            (sms_elapsed, sms_latencies), (_, ack_latencies) = asyncio.run(both())
        ack_p50, ack_p99 = _percentiles(ack_latencies)
        _, sms_p99 = _percentiles(sms_latencies)
        lines.append(
            f"slack_busy_ack_p50_ms={ack_p50:.1f} slack_busy_ack_p99_ms={ack_p99:.1f} "
            f"busy_sms_rps={count / sms_elapsed:.0f} busy_sms_p99_ms={sms_p99:.1f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    for line in measure(args.requests, args.connections):
        print(line)


if __name__ == "__main__":
    main()
