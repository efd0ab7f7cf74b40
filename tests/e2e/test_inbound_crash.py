"""Nothing acknowledged is lost: `kill -9` a real `engage serve` with work still queued.

Slack (whose events are not sent again once answered) and SMS, on SQLite and
PostgreSQL.

Requests are signed for real and sent to a server process; the moment the last
one is acknowledged the process is killed, mid-drain, then started again on the
same database. Every acknowledged message must end up handled exactly once.
"""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from bot.authoring.activities import parse_activity
from bot.bootstrap import build_runtime, sync_schools
from bot.services.inbound import utcnow
from bot.settings import Settings
from storage import models
from storage.activities import store_activity
from storage.database import migrate
from storage.spool import Spool
from tests.conftest import EXAMPLES, ROOT
from tests.e2e.chat_bot import SLACK_FIXTURES, SLACK_SECRET, ChatBot, fixture
from tests.fakes.server import free_port, serve
from tests.fakes.slack_api import BOT_TOKEN, FakeSlackApi

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DMS = 30
SURVEY = EXAMPLES / "family-priorities.yaml"


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlackApi, str]]:
    fake = FakeSlackApi()
    with serve(fake.app) as base:
        yield fake, base


def environment(db_url: str, slack_base: str, port: int, tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ENGAGE_", "TWILIO_", "TELEGRAM_", "SLACK_"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "ENGAGE_DATABASE_URL": db_url,
            "ENGAGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
            "ENGAGE_SPOOL_DIR": str(tmp_path / "spool"),
            "ENGAGE_QUIET_HOURS": "off",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SLACK_SECRET,
            "SLACK_API_BASE_URL": slack_base + "/api/",
            "SLACK_TEAM_ID": "T0001",
        }
    )
    return env


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database with the example survey; the server processes share it."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=db_url, district_file=EXAMPLES / "district.yaml"
    )
    runtime = build_runtime(settings, detector=False)
    migrate(runtime.engine)
    sync_schools(runtime.engine, runtime.district)
    source = SURVEY.read_text("utf-8")
    store_activity(runtime.engine, parse_activity(source, str(SURVEY)), source, utcnow())
    yield runtime.engine
    runtime.engine.dispose()
    if runtime.queue.put_engine is not runtime.engine:
        runtime.queue.put_engine.dispose()


def start_server(
    env: dict[str, str], port: int, log: Path, *options: str
) -> subprocess.Popen[bytes]:
    process = start(env, log, "serve", "--port", str(port), "--no-sender", *options)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the server did not start: " + log.read_text()[-2000:])
        time.sleep(0.1)


def start(env: dict[str, str], log: Path, *command: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *command],
            env=env,
            cwd=log.parent,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def kill(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def dm(n: int) -> dict[str, Any]:
    data = copy.deepcopy(fixture(SLACK_FIXTURES, "message__im"))
    data["event_id"] = f"EvCrash{n:04d}"
    data["event"].update(
        text=f"hola {n}",
        user=f"U0CRASH{n:03d}",
        ts=f"1726500000.{n:06d}",
        client_msg_id=f"crash-{n:04d}",
    )
    return data


def counts(engine: Engine, channel: str = "slack") -> tuple[int, int, int]:
    m, o = models.Message, models.Outbox
    with engine.connect() as connection:
        inbound = connection.execute(
            select(func.count()).where(m.direction == "in", m.channel == channel)
        ).scalar_one()
        distinct = connection.execute(
            select(func.count(func.distinct(m.provider_id))).where(m.direction == "in")
        ).scalar_one()
        replies = connection.execute(select(func.count()).select_from(o)).scalar_one()
    return inbound, distinct, replies


def test_acknowledged_slack_dms_survive_a_kill_9(
    db_url: str, engine: Engine, slack: tuple[FakeSlackApi, str], tmp_path: Path
) -> None:
    fake, base = slack
    # A slow Slack: each DM waits on a profile lookup, so most are still queued at the kill.
    fake.delay = 0.2
    port = free_port()
    env = environment(db_url, base, port, tmp_path)
    log = tmp_path / "serve.log"
    server = start_server(env, port, log)
    bot = ChatBot(f"http://127.0.0.1:{port}", None)  # type: ignore[arg-type]
    bot.slack_base = base
    try:
        for n in range(DMS):
            assert bot.slack_event(dm(n)).status_code == 200
    finally:
        kill(server)
    handled_before, _, _ = counts(engine)
    assert handled_before < DMS, "the server handled everything before the kill"

    fake.delay = 0.0
    server = start_server(env, port, log)
    try:
        eventually(lambda: counts(engine)[0] == DMS, 60, "every acknowledged DM")
        time.sleep(0.5)
        # Slack retrying an event we answered changes nothing either.
        assert bot.slack_event(dm(0), headers={"X-Slack-Retry-Num": "1"}).status_code == 200
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    inbound, distinct, replies = counts(engine)
    assert (inbound, distinct, replies) == (DMS, DMS, DMS)
    queue = models.InboundQueue
    with engine.connect() as connection:
        statuses = connection.execute(
            select(queue.kind, queue.status, func.count()).group_by(queue.kind, queue.status)
        ).all()
    # Each request as Slack sent it, and the message the desk made of it.
    assert sorted(statuses) == [("message", "done", DMS), ("slack", "done", DMS)]


def test_a_worker_handles_the_slack_requests_a_server_without_engine_recorded(
    db_url: str, engine: Engine, slack: tuple[FakeSlackApi, str], tmp_path: Path
) -> None:
    """`engage serve --no-engine` beside `engage worker`: Slack's requests are recorded by
    the one and handled by the other, as texts are."""
    fake, base = slack
    port = free_port()
    env = environment(db_url, base, port, tmp_path)
    log = tmp_path / "serve.log"
    server = start_server(env, port, log, "--no-engine")
    worker = start(env, log, "worker", "--no-sender")
    bot = ChatBot(f"http://127.0.0.1:{port}", None)  # type: ignore[arg-type]
    bot.slack_base = base
    try:
        for n in range(3):
            assert bot.slack_event(dm(n)).status_code == 200
        try:
            eventually(lambda: counts(engine)[0] == 3, 60, "the DMs handled by the worker")
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    finally:
        for process in (worker, server):
            process.terminate()
            process.wait(timeout=30)
    inbound, distinct, replies = counts(engine)
    assert (inbound, distinct, replies) == (3, 3, 3)


# What a family sends (examples/district.yaml, examples/family-priorities.yaml):
# onboarding (language, consent, role, school), then the survey.
CONVERSATION = ["Hola", "2", "sí", "1", "1", "2", "3,1,5", "no", "Las notas llegan", "SKIP"]
FAMILIES = 60
ACCOUNT = "AC" + "3" * 32
TWILIO_TOKEN = "crash-test-token"
OUR_NUMBER = "+13125550100"


def family(n: int) -> str:
    return f"+1312555{n:04d}"


async def text_all(url: str, acknowledged: set[str], families: range) -> None:
    """Each family texts its conversation, one message after the other's answer; the
    families at once, over a few connections. A family whose text gets no answer (the
    server died) stops; `acknowledged` collects the ids that got a 200."""
    validator = RequestValidator(TWILIO_TOKEN)
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def converse(n: int) -> None:
            for turn, body in enumerate(CONVERSATION):
                sid = f"SM{turn:02d}{n:030d}"
                form = {
                    "MessageSid": sid,
                    "SmsSid": sid,
                    "AccountSid": ACCOUNT,
                    "From": family(n),
                    "To": OUR_NUMBER,
                    "Body": body,
                    "NumMedia": "0",
                }
                signature = validator.compute_signature(url, form)
                try:
                    response = await client.post(
                        url, data=form, headers={"X-Twilio-Signature": signature}
                    )
                except httpx.HTTPError:
                    return
                assert response.status_code == 200
                acknowledged.add(sid)

        await asyncio.gather(*(converse(n) for n in families))


def test_acknowledged_texts_survive_a_kill_9_mid_drain_in_order(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    """Each database as a district runs it. On PostgreSQL the webhooks (`engage serve
    --no-engine`) and the engine (`engage worker`) run apart: the worker is paused
    while families text, so texts are certainly waiting, let go, and killed with the
    server the moment it handles one. On SQLite one `engage serve` does both (its one
    writer's lock is shared in the process) and is killed once texts are waiting, or
    else when the last is acknowledged."""
    port = free_port()
    env = environment(db_url, "http://127.0.0.1:9", port, tmp_path)
    env.update(
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TWILIO_FROM_NUMBER=OUR_NUMBER,
        TWILIO_API_BASE_URL="http://127.0.0.1:9",
    )
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        env.pop(key)
    log = tmp_path / "serve.log"
    apart = engine.dialect.name == "postgresql"

    def start_all() -> list[subprocess.Popen[bytes]]:
        if not apart:
            return [start_server(env, port, log)]
        return [
            start_server(env, port, log, "--no-engine"),
            start(env, log, "worker", "--no-sender"),
        ]

    processes = start_all()
    acknowledged: set[str] = set()
    queue = models.InboundQueue

    def pending() -> int:
        with engine.connect() as connection:
            return connection.execute(
                select(func.count()).where(queue.status == "pending")
            ).scalar_one()

    url = f"http://127.0.0.1:{port}/webhooks/twilio/sms"
    # One family first, so the engine is up and draining before the others text.
    asyncio.run(text_all(url, acknowledged, range(FAMILIES, FAMILIES + 1)))
    eventually(lambda: counts(engine, "sms")[0] > 0, 120, "the engine handling texts")
    if apart:
        os.kill(processes[1].pid, signal.SIGSTOP)
    texted = threading.Event()
    failures: list[BaseException] = []

    def kill_midway() -> None:
        try:
            if apart:
                eventually(lambda: pending() >= 300, 120, "texts waiting for the engine")
                paused_at = counts(engine, "sms")[0]
                os.kill(processes[1].pid, signal.SIGCONT)
                eventually(lambda: counts(engine, "sms")[0] > paused_at, 60, "draining again")
            else:
                while not texted.is_set() and pending() < 5:
                    time.sleep(0.01)
        except BaseException as error:
            failures.append(error)
        finally:
            kill(*processes)

    killer = threading.Thread(target=kill_midway)
    killer.start()
    try:
        asyncio.run(text_all(url, acknowledged, range(FAMILIES)))
    finally:
        texted.set()
        killer.join()
        kill(*processes)
    if failures:
        raise failures[0]
    spool = Spool(tmp_path / "spool")

    def recorded() -> int:
        """Texts in the queue, and those the webhooks parked in the spool for it (on a
        busy machine SQLite's lock can outlast a webhook's wait)."""
        with engine.connect() as connection:
            queued = connection.execute(select(func.count()).select_from(queue)).scalar_one()
        return int(queued) + len(spool.pending())

    handled_before, recorded_before = counts(engine, "sms")[0], recorded()
    if apart:  # killed mid-drain: handling again, with texts still waiting
        assert handled_before < recorded_before, "nothing was waiting at the kill"
    processes = start_all()
    try:
        try:
            eventually(
                lambda: not spool.pending() and counts(engine, "sms")[0] == recorded(),
                120,
                "every recorded text",
            )
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        time.sleep(0.5)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    total = recorded()
    assert handled_before <= recorded_before == total
    m = models.Message
    with engine.connect() as connection:
        provider_ids = (
            connection.execute(select(m.provider_id).where(m.direction == "in").order_by(m.id))
            .scalars()
            .all()
        )
        queued = connection.execute(select(queue.status, func.count()).group_by(queue.status)).all()
    # Every acknowledged text handled, each once; some answered by nobody may be too
    # (recorded, then killed before the answer left).
    assert len(provider_ids) == len(set(provider_ids)) == total
    assert acknowledged <= set(provider_ids)
    # Each family's texts in the order they sent them, with no gap.
    for n in range(FAMILIES + 1):
        theirs = [sid for sid in provider_ids if sid.endswith(f"{n:030d}")]
        assert theirs == [f"SM{turn:02d}{n:030d}" for turn in range(len(theirs))]
    assert dict(queued) == {"done": total}
