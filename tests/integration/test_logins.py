"""Dashboard sign-ins on SQLite and PostgreSQL: attempts made at once are all counted."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from storage import models
from storage.logins import begin_login, finish_login, is_live_session, revoke_session, start_session

NOW = datetime(2026, 9, 30, 12, 0)


def test_attempts_made_at_once_each_see_every_one_before_them(engine: Engine) -> None:
    def attempt(_: int) -> int:
        return begin_login(engine, "203.0.113.5", NOW - timedelta(minutes=15), NOW)[1]

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = sorted(pool.map(attempt, range(40)))

    assert seen == list(range(40))  # no two counted the same failures
    with engine.connect() as connection:
        recorded = connection.execute(
            select(func.count()).where(models.AuditEntry.action == "dashboard.login_failed")
        ).scalar_one()
    assert recorded == 40


def test_a_right_token_turns_its_attempt_into_a_sign_in(engine: Engine) -> None:
    attempt, before = begin_login(engine, "203.0.113.5", NOW - timedelta(minutes=15), NOW)
    finish_login(engine, attempt)
    _, after = begin_login(engine, "203.0.113.5", NOW - timedelta(minutes=15), NOW)

    assert (before, after) == (0, 0)


def test_a_revoked_or_expired_session_is_not_live(engine: Engine) -> None:
    start_session(engine, "s1", "203.0.113.5", NOW, NOW + timedelta(hours=12))
    start_session(engine, "s2", "203.0.113.5", NOW, NOW + timedelta(hours=12))
    revoke_session(engine, "s2", NOW)

    assert is_live_session(engine, "s1", NOW)
    assert not is_live_session(engine, "s1", NOW + timedelta(hours=13))
    assert not is_live_session(engine, "s2", NOW)
    assert not is_live_session(engine, "unknown", NOW)
