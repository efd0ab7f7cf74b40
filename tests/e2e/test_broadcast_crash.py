"""Exactly once, for real: `kill -9` an `engage worker` in the middle of a broadcast.

A real worker process sends a broadcast through the real twilio client to a
fake Twilio on loopback. It is killed at a moment when Twilio has accepted
messages the worker has not yet written down, then started again. Every
recipient must end with exactly one message, and nobody who opted out with any;
and families who say STOP while the dead worker still holds their message get
nothing from the worker that takes over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from bot.authoring.activities import parse_activity
from bot.bootstrap import build_broadcasting, build_runtime, sync_schools
from bot.core.messages import Channel, InboundMessage
from bot.core.roster import RosterRules
from bot.core.texts import text
from bot.services.inbound import utcnow
from bot.services.roster import RosterImport
from bot.settings import Settings
from storage import models
from storage.activities import store_activity
from storage.database import migrate
from storage.roster import SqlRosterUnitOfWork
from tests.conftest import EXAMPLES, ROOT
from tests.fakes.twilio_api import FakeTwilio, run_fake_twilio

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ACCOUNT = "AC" + "2" * 32
TOKEN = "crash-test-token"
OUR_NUMBER = "+13125550100"
AREAS = ("312", "773", "872")
FAMILIES = 300
OPTED_OUT = 20
SURVEY = EXAMPLES / "family-priorities.yaml"
INTROS = {
    "en": "5 quick questions",
    "es": "5 preguntas rápidas",
    "vi": "5 câu hỏi nhanh",
}


def phone(n: int) -> str:
    return f"+1{AREAS[n // 100]}555{100 + n % 100:04d}"


def roster(path: Path) -> Path:
    languages = ("en", "es", "vi")
    schools = ("lincoln-es", "garfield-es", "roosevelt-ms", "kennedy-hs")
    lines = ["external_id,phone,language,school,role"]
    for n in range(FAMILIES):
        lines.append(f"F{n},{phone(n)},{languages[n % 3]},{schools[n % 4]},parent")
    path.write_text("\n".join(lines) + "\n")
    return path


def environment(db_url: str, fake: FakeTwilio) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ENGAGE_", "TWILIO_", "TELEGRAM_", "SLACK_"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "ENGAGE_DATABASE_URL": db_url,
            "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
            "ENGAGE_QUIET_HOURS": "off",
            "ENGAGE_SMS_PER_SECOND": "100",
            "ENGAGE_OUTBOX_LEASE_SECONDS": "3",
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_FROM_NUMBER": OUR_NUMBER,
            "TWILIO_API_BASE_URL": fake.url,
        }
    )
    return env


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with run_fake_twilio(ACCOUNT, TOKEN) as twilio:
        yield twilio


def prepare(db_url: str, fake: FakeTwilio, tmp_path: Path) -> tuple[Engine, set[str]]:
    """A district with a roster, 20 opted out, and a broadcast to everyone confirmed."""
    env = environment(db_url, fake)
    settings = Settings(
        database_url=db_url,
        district_file=EXAMPLES / "district.yaml",
        quiet_hours="off",
        twilio_account_sid=ACCOUNT,
        twilio_auth_token=TOKEN,
        twilio_from_number=OUR_NUMBER,
        twilio_api_base_url=env["TWILIO_API_BASE_URL"],
    )
    runtime = build_runtime(settings, detector=False)
    engine = runtime.engine
    migrate(engine)
    sync_schools(engine, runtime.district)
    source = SURVEY.read_text("utf-8")
    store_activity(engine, parse_activity(source, str(SURVEY)), source, utcnow())
    district = runtime.district
    schools = {school.code: school.name for school in district.schools}
    rules = RosterRules(district.languages, district.default_language, district.roles, schools)
    report = RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, utcnow).run(
        roster(tmp_path / "roster.csv")
    )
    assert report.people_added == FAMILIES and not report.bad
    stopped = {phone(n) for n in range(0, FAMILIES, FAMILIES // OPTED_OUT)}
    contacts = models.Contact.__table__
    with engine.begin() as connection:
        connection.execute(
            update(contacts).where(contacts.c.address.in_(stopped)), {"opted_out_at": utcnow()}
        )
    broadcasting = build_broadcasting(runtime)
    plan = broadcasting.plan("family-priorities-2026", "role=parent", reminders=0)
    assert plan.counts.reachable == FAMILIES - OPTED_OUT
    broadcasting.confirm(plan, actor="e2e")
    return engine, stopped


def start_worker(db_url: str, fake: FakeTwilio, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker"],
            env=environment(db_url, fake),
            cwd=log.parent,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def recorded_sent(engine: Engine) -> int:
    o = models.Outbox
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).where(o.kind == "broadcast", o.status == "sent")
        ).scalar_one()


def test_a_worker_killed_mid_broadcast_and_restarted_sends_each_message_once(
    fake: FakeTwilio, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'engage.db'}"
    engine, stopped = prepare(db_url, fake, tmp_path)
    log = tmp_path / "worker.log"

    first = start_worker(db_url, fake, log)
    try:
        # Kill it while Twilio holds messages the worker has not written down yet.
        eventually(
            lambda: len(fake.messages) >= 40 and len(fake.messages) - recorded_sent(engine) >= 5,
            timeout=60,
            what="the worker to be mid-broadcast",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = len(fake.messages)
    assert 0 < at_kill < FAMILIES - OPTED_OUT, "the kill must land mid-broadcast"
    assert recorded_sent(engine) < at_kill, "some sends must be unrecorded at the kill"

    second = start_worker(db_url, fake, log)
    try:
        o = models.Outbox
        with engine.connect() as connection:
            total = connection.execute(select(func.count()).where(o.kind == "broadcast"))
            expected = total.scalar_one()

        def finished() -> bool:
            with engine.connect() as connection:
                done = connection.execute(
                    select(func.count()).where(
                        o.kind == "broadcast",
                        o.status.in_(("sent", "cancelled", "withheld", "failed")),
                    )
                ).scalar_one()
            return done == expected

        eventually(finished, timeout=90, what="the restarted worker to finish")
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=10)
        except subprocess.TimeoutExpired:
            second.kill()

    assert expected == FAMILIES - OPTED_OUT
    bodies = {phone(n): fake.bodies_to(phone(n)) for n in range(FAMILIES)}
    for number, got in bodies.items():
        if number in stopped:
            assert got == [], f"{number} opted out but got {len(got)} message(s)"
        else:
            assert len(got) == 1, f"{number} got {len(got)} messages"
    for n in range(FAMILIES):
        if phone(n) not in stopped:
            language = ("en", "es", "vi")[n % 3]
            # A roster family we never wrote to: first who we are and how to stop.
            first, _, rest = bodies[phone(n)][0].partition("\n\n")
            assert first == text("first_contact", language, program="Riverside Plan 2030")
            assert rest.startswith(INTROS[language])
    assert len(fake.messages) == FAMILIES - OPTED_OUT
    # The restart looked the unrecorded sends up at Twilio instead of sending them again.
    lookups = [r for r in fake.requests if r.method == "GET"]
    assert lookups, "the restarted worker never asked Twilio what it had"
    with engine.connect() as connection:
        statuses = dict(
            connection.execute(
                select(o.status, func.count()).where(o.kind == "broadcast").group_by(o.status)
            ).all()
        )
        logged = connection.execute(
            select(func.count(func.distinct(models.Message.provider_id))).where(
                models.Message.direction == "out"
            )
        ).scalar_one()
    assert statuses == {"sent": FAMILIES - OPTED_OUT}
    assert logged == FAMILIES - OPTED_OUT
    engine.dispose()


def test_a_stop_after_a_worker_is_killed_holding_a_batch_stops_those_messages(
    fake: FakeTwilio, tmp_path: Path
) -> None:
    """kill -9 a worker that holds a claimed batch; families whose messages it held say STOP
    before its lease runs out; the restarted worker sends them nothing."""
    db_url = f"sqlite:///{tmp_path / 'engage.db'}"
    engine, opted_out = prepare(db_url, fake, tmp_path)
    log = tmp_path / "worker.log"
    o = models.Outbox

    def claimed_not_in_flight() -> list[str]:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    select(o.address)
                    .where(o.kind == "broadcast", o.status == "sending", o.sending_at.is_(None))
                    .order_by(o.id)
                ).scalars()
            )

    first = start_worker(db_url, fake, log)
    try:
        eventually(
            lambda: len(fake.messages) >= 20 and len(claimed_not_in_flight()) >= 10,
            timeout=60,
            what="the worker to hold a claimed batch",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    held = claimed_not_in_flight()
    with engine.connect() as connection:
        in_flight = list(
            connection.execute(
                select(o.address).where(
                    o.kind == "broadcast", o.status == "sending", o.sending_at.is_not(None)
                )
            ).scalars()
        )
        pending = list(
            connection.execute(
                select(o.address)
                .where(o.kind == "broadcast", o.status == "pending")
                .order_by(o.id)
                .limit(3)
            ).scalars()
        )
    stopping = held[:8] + in_flight[:3] + pending
    before = {number: len(fake.bodies_to(number)) for number in stopping}
    assert all(before[number] == 0 for number in held[:8] + pending)

    settings = Settings(database_url=db_url, district_file=EXAMPLES / "district.yaml")
    runtime = build_runtime(settings, detector=False)
    for n, number in enumerate(stopping):
        runtime.service.handle_inbound(
            InboundMessage(Channel.SMS, number, "stop", provider_id=f"SMstop{n:030d}")
        )
    runtime.engine.dispose()

    second = start_worker(db_url, fake, log)
    try:

        def finished() -> bool:
            with engine.connect() as connection:
                left = connection.execute(
                    select(func.count()).where(
                        o.kind == "broadcast", o.status.in_(("pending", "sending"))
                    )
                ).scalar_one()
            return left == 0

        eventually(finished, timeout=90, what="the restarted worker to finish")
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=10)
        except subprocess.TimeoutExpired:
            second.kill()

    for number in stopping:
        assert len(fake.bodies_to(number)) == before[number], f"{number} got a message after STOP"
    with engine.connect() as connection:
        statuses = dict(
            connection.execute(
                select(o.address, o.status).where(o.address.in_(held[:8] + pending))
            ).all()
        )
    assert set(statuses.values()) == {"withheld"}
    for n in range(FAMILIES):
        if phone(n) not in stopping and phone(n) not in opted_out:
            assert len(fake.bodies_to(phone(n))) == 1, phone(n)
    engine.dispose()
