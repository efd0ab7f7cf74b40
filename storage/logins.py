"""Dashboard sign-ins and sessions, in the database so every server process sees the same.

A sign-in attempt is recorded as failed *before* its token is checked, in the
same transaction that counts the failures before it (one client at a time:
SQLite's write lock, a PostgreSQL advisory lock), so a hundred attempts at once
count as a hundred; a right token then marks its attempt successful. Sessions
are rows too, so signing out revokes one on every server at once.
"""

from __future__ import annotations

import zlib
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, text, update

from storage import models

__all__ = [
    "FAILED_LOGIN",
    "SqlDashboardSessions",
    "begin_login",
    "finish_login",
    "is_live_session",
    "revoke_session",
    "start_session",
]

FAILED_LOGIN = "dashboard.login_failed"
LOGIN = "dashboard.login"
audit = models.table(models.AuditEntry)
sessions = models.table(models.DashboardSession)
# Advisory-lock class for "a sign-in from this client is being counted" (PostgreSQL).
_LOCK_CLASS = 7406


def _actor(client: str) -> str:
    return f"ip:{client}"[:128]


def begin_login(engine: Engine, client: str, since: datetime, now: datetime) -> tuple[int, int]:
    """Record an attempt from `client` (an IP address) as failed, and count the failed ones
    since `since` before it: (the attempt's id, failures before it)."""
    actor = _actor(client)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:c, :k)"),
                {"c": _LOCK_CLASS, "k": zlib.crc32(actor.encode()) - 2**31},
            )
        before = connection.execute(
            select(func.count()).where(
                audit.c.action == FAILED_LOGIN,
                audit.c.actor == actor,
                audit.c.created_at >= since,
            )
        ).scalar_one()
        attempt = connection.execute(
            insert(audit).returning(audit.c.id),
            {"actor": actor, "action": FAILED_LOGIN, "detail": {}, "created_at": now},
        ).scalar_one()
    return int(attempt), int(before)


def finish_login(engine: Engine, attempt: int) -> None:
    """The attempt's token was right: it was a sign-in, not a failure."""
    with engine.begin() as connection:
        connection.execute(update(audit).where(audit.c.id == attempt), {"action": LOGIN})


def start_session(
    engine: Engine, session_id: str, client: str, now: datetime, expires_at: datetime
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(sessions),
            {
                "id": session_id,
                "client": _actor(client),
                "created_at": now,
                "expires_at": expires_at,
            },
        )


def is_live_session(engine: Engine, session_id: str, now: datetime) -> bool:
    """Whether the session exists, has not expired and was not signed out."""
    with engine.connect() as connection:
        found = connection.execute(
            select(sessions.c.id).where(
                sessions.c.id == session_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > now,
            )
        ).first()
    return found is not None


def revoke_session(engine: Engine, session_id: str, now: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(sessions).where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None)),
            {"revoked_at": now},
        )


class SqlDashboardSessions:
    """bot.ports.DashboardSessions on the database: each call its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def begin_login(self, client: str, since: datetime, now: datetime) -> tuple[int, int]:
        return begin_login(self.engine, client, since, now)

    def finish_login(self, attempt: int) -> None:
        finish_login(self.engine, attempt)

    def start_session(
        self, session_id: str, client: str, now: datetime, expires_at: datetime
    ) -> None:
        start_session(self.engine, session_id, client, now, expires_at)

    def is_live_session(self, session_id: str, now: datetime) -> bool:
        return is_live_session(self.engine, session_id, now)

    def revoke_session(self, session_id: str, now: datetime) -> None:
        revoke_session(self.engine, session_id, now)
