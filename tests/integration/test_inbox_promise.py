"""The reply promise at work: reminders to the owner, escalation to the lead, and the
`engage inbox` report, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from typer.testing import CliRunner

from bot.cli import app
from bot.core.business_hours import BusinessHours
from bot.core.messages import Choice
from bot.core.promise import ReplyPromise
from bot.core.routing import Routing, Team
from bot.core.staff import InboxItem, StaffReply
from bot.core.state import Program
from bot.core.urgency import Assessment, Concern, Urgency
from bot.errors import EngageError
from bot.services.inbox import Inbox
from storage.database import migrate
from storage.inbox import SqlInbox
from tests.conftest import EXAMPLES
from tests.integration.test_inbox_store import PHONE, family, lets_talk

T = TypeVar("T")
# A Monday morning in Chicago.
MONDAY = datetime(2026, 9, 14, 14, 0)
PROMISE = ReplyPromise(
    BusinessHours(ZoneInfo("America/Chicago")), timedelta(hours=48), timedelta(hours=4)
)
ROUTING = Routing(
    teams={"family": Team("family", "C0FAMILY", "U0OWNER", "U0LEAD")}, default_team="family"
)


class RecordingPoster:
    """Records what the inbox would post in Slack."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str, str | None]] = []
        self.posts = 0

    async def post_inbox_item(
        self, channel: str, item: InboxItem, school_name: str | None = None
    ) -> str:
        self.posts += 1
        return item.thread_ts or f"1.{self.posts}"

    async def update_inbox_item(
        self, channel: str, ts: str, item: InboxItem, school_name: str | None = None
    ) -> None:
        pass

    async def post_note(self, channel: str, text: str, thread_ts: str | None = None) -> None:
        self.notes.append((channel, text, thread_ts))

    async def post_message(self, channel: str, text: str) -> str:
        self.posts += 1
        self.notes.append((channel, text, None))
        return f"9.{self.posts}"

    async def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        choices: Sequence[Choice] = (),
    ) -> None:
        pass


async def run_db(work: Callable[[], T]) -> T:
    return work()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def inbox_at(engine: Engine, clock: Clock) -> tuple[Inbox, RecordingPoster]:
    poster = RecordingPoster()
    program = Program("Riverside Plan", "555-0100")
    inbox = Inbox(SqlInbox(engine), poster, ROUTING, PROMISE, program, run_db, clock)
    return inbox, poster


def test_the_owner_is_reminded_once_and_the_lead_told_once_past_the_deadline(
    engine: Engine,
) -> None:
    family(engine)
    lets_talk(engine, "The buses are late", at=MONDAY)
    clock = Clock(MONDAY)
    inbox, poster = inbox_at(engine, clock)
    assert asyncio.run(inbox.post_pending()) == 1
    [item] = SqlInbox(engine).roots()
    # 48 business hours from Monday 9:00 in Chicago: Wednesday 9:00.
    assert item.due_at == datetime(2026, 9, 16, 14, 0)
    assert asyncio.run(inbox.nudge()) == 0

    clock.now = datetime(2026, 9, 16, 10, 30)
    assert asyncio.run(inbox.nudge()) == 1
    [(channel, reminder, ts)] = poster.notes
    assert (channel, ts) == ("C0FAMILY", "1.1")
    assert reminder.startswith(":alarm_clock: <@U0OWNER> This family is waiting")
    assert "Wed Sep 16, 09:00 CDT" in reminder
    assert asyncio.run(inbox.nudge()) == 0

    clock.now = datetime(2026, 9, 16, 14, 1)
    assert asyncio.run(inbox.nudge()) == 1
    escalation = poster.notes[-1][1]
    assert escalation.startswith(":rotating_light: <@U0LEAD> This thread has waited past")
    assert "48 hours" in escalation and "Owner: <@U0OWNER>" in escalation
    clock.now += timedelta(days=3)
    assert asyncio.run(inbox.nudge()) == 0


def test_an_answered_thread_is_neither_reminded_nor_escalated(engine: Engine) -> None:
    family(engine)
    lets_talk(engine, "The buses are late", at=MONDAY)
    clock = Clock(MONDAY)
    inbox, poster = inbox_at(engine, clock)
    asyncio.run(inbox.post_pending())
    clock.now = MONDAY + timedelta(hours=1)
    said = StaffReply("C0FAMILY", "1.1", "U0OWNER", "We are on it", "Ev1")
    asyncio.run(inbox.reply(said))
    clock.now = MONDAY + timedelta(days=7)
    assert asyncio.run(inbox.nudge()) == 0
    report = inbox.report()
    assert (report.overall.kept, report.overall.broken, report.overall.waiting) == (1, 0, 0)


def test_engage_inbox_lists_open_threads_and_the_promise_per_school_and_language(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    migrate(engine)
    family(engine)
    family(engine, "+15550100002")
    clock = Clock(datetime(2026, 1, 5, 15, 0))
    inbox, _ = inbox_at(engine, clock)
    lets_talk(engine, "The buses are late", at=clock.now)
    lets_talk(engine, "More art classes please", phone="+15550100002", at=clock.now)
    asyncio.run(inbox.post_pending())
    clock.now += timedelta(hours=2)
    asyncio.run(inbox.reply(StaffReply("C0FAMILY", "1.1", "U0OWNER", "Noted", "Ev1")))
    env: dict[str, Any] = {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
        "COLUMNS": "160",
    }
    result = CliRunner().invoke(app, ["inbox"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # Both threads are open; the unanswered one is long overdue by now.
    assert lines[0] == (
        "Let's Talk inbox: 2 open, 1 overdue; answered within the promise: 50% (1 of 2)"
    )
    assert any("overdue" in line and "U0OWNER" in line for line in lines)
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]
    assert rows[0][0] == "1" and rows[0][2:] == ["U0OWNER", "-", "es", "", "answered"]
    assert rows[1][0] == "2" and rows[1][2:] == ["U0OWNER", "-", "es", "", "overdue"]
    assert ["(not given)", "1", "1", "0", "50% (1 of 2)"] in rows
    assert ["es", "1", "1", "0", "50% (1 of 2)"] in rows


def test_the_inbox_export_has_owners_answer_times_and_urgency_and_no_contact(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    migrate(engine)
    family(engine)
    clock = Clock(MONDAY)
    inbox, _ = inbox_at(engine, clock)
    urgent = Assessment(Urgency.URGENT, (Concern.BULLYING,), ("being bullied",))
    lets_talk(engine, '=HYPERLINK("x") my son is being bullied', at=MONDAY, assessment=urgent)
    asyncio.run(inbox.post_pending())
    clock.now = MONDAY + timedelta(hours=3)
    asyncio.run(inbox.reply(StaffReply("C0FAMILY", "1.1", "U0OWNER", "Calling you now", "Ev1")))
    asyncio.run(inbox.resolve(1, "U0OWNER"))
    env: dict[str, Any] = {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml"),
        "ENGAGE_PSEUDONYM_SECRET": "a-long-random-secret-for-the-inbox-export-test",
    }
    path = tmp_path / "inbox.csv"
    result = CliRunner().invoke(app, ["inbox", "--export", str(path)], env=env)
    assert result.exit_code == 0, result.output
    with path.open(encoding="utf-8") as handle:
        [row] = list(csv.DictReader(handle))
    content = path.read_text(encoding="utf-8")
    assert PHONE not in content and "HYPERLINK" not in content and "bullied" not in content
    # The export's keyed pseudonym, as in every export (not the pseudonym staff see in Slack).
    assert re.fullmatch("[0-9a-f]{16}", row["participant"])
    assert (row["urgency"], row["concerns"], row["team"], row["owner"]) == (
        "urgent",
        "bullying",
        "family",
        "U0OWNER",
    )
    assert (row["claimed_by"], row["status"], row["within_promise"]) == (
        "U0OWNER",
        "resolved",
        "yes",
    )
    assert (row["hours_to_first_reply"], row["hours_to_resolution"]) == ("3.0", "3.0")
    assert (row["received_at"], row["first_reply_at"]) == ("2026-09-14 09:00", "2026-09-14 12:00")
    assert row["staff_replies"] == "1" and row["messages"] == "1"
    bad = CliRunner().invoke(app, ["inbox", "--export", str(tmp_path / "inbox.txt")], env=env)
    assert isinstance(bad.exception, EngageError)
    assert "name a .csv, .xlsx or .parquet file" in str(bad.exception)
