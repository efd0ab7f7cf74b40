"""Dashboard sign-ins: failed attempts are audit entries, and they rate-limit the next ones.

Kept in the database, not in memory, so every `engage serve` process behind a
load balancer counts the same attempts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from storage import models
from storage.activities import record_audit

__all__ = ["FAILED_LOGIN", "count_failed_logins", "record_login"]

FAILED_LOGIN = "dashboard.login_failed"
audit = models.table(models.AuditEntry)


def _actor(client: str) -> str:
    return f"ip:{client}"[:128]


def record_login(engine: Engine, client: str, ok: bool, now: datetime) -> None:
    """Audit a sign-in attempt from `client` (an IP address)."""
    action = "dashboard.login" if ok else FAILED_LOGIN
    record_audit(engine, _actor(client), action, {}, now)


def count_failed_logins(engine: Engine, client: str, since: datetime) -> int:
    """Failed sign-ins from `client` at or after `since`."""
    with engine.connect() as connection:
        found = connection.execute(
            select(func.count()).where(
                audit.c.action == FAILED_LOGIN,
                audit.c.actor == _actor(client),
                audit.c.created_at >= since,
            )
        ).scalar_one()
    return int(found)
