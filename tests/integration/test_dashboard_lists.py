"""The dashboard's broadcast list on SQLite and PostgreSQL, with why messages failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from storage.dashboard_lists import SendProblem, recent_broadcasts
from tests.integration.broadcast_data import broadcast_with_failures
from tests.integration.round_data import seed_round

NOW = datetime(2026, 9, 4, 12, 0)


def test_a_broadcast_counts_its_messages_and_groups_why_they_failed(engine: Engine) -> None:
    survey = seed_round(engine)
    for index in range(5):
        survey.person(phone=f"+1555070{index:04d}")
    first = broadcast_with_failures(engine)
    second = broadcast_with_failures(engine)

    lines = recent_broadcasts(engine)

    assert [line.id for line in lines] == [second, first]  # newest first
    line = lines[0]
    assert (line.kind, line.status, line.total, line.waiting) == ("reminder", "queued", 5, 2)
    assert line.counts == {"sent": 2, "failed": 1, "pending": 2}
    assert line.problems == [
        SendProblem("sms", "30003", 1, retrying=True),
        SendProblem("sms", "30005", 1, retrying=False),
    ]
    assert recent_broadcasts(engine, limit=1)[0].id == second
