"""Withdrawing queued messages: a STOP, a block, a forget, a cancelled broadcast.

A message can be withdrawn until its provider call begins: while it is pending,
and also once a worker has claimed it but not yet cleared it for sending
(`sending_at` is NULL). The worker's `begin_sending` then finds it gone, so
a STOP or a cancel committed before that moment stops it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Connection, Select, and_, or_, update

from bot.ports import OutboxStatus
from storage import models

__all__ = ["not_in_flight", "withdraw_broadcasts", "withhold_contacts"]

outbox = models.table(models.Outbox)


def not_in_flight() -> ColumnElement[bool]:
    """Rows no provider call has begun for: pending, or claimed and not yet cleared."""
    return or_(
        outbox.c.status == OutboxStatus.PENDING,
        and_(outbox.c.status == OutboxStatus.SENDING, outbox.c.sending_at.is_(None)),
    )


def withhold_contacts(
    connection: Connection, contact_ids: Iterable[int] | Select[tuple[int]], reason: str
) -> int:
    """Withhold every unsent message to these contacts (they opted out, blocked us, …)."""
    ids = contact_ids if isinstance(contact_ids, Select) else list(contact_ids)
    result = connection.execute(
        update(outbox)
        .where(outbox.c.contact_id.in_(ids), not_in_flight())
        .values(status=OutboxStatus.WITHHELD, error=reason, lease_until=None)
    )
    return int(result.rowcount or 0)


def withdraw_broadcasts(connection: Connection, broadcast_ids: Iterable[int], reason: str) -> int:
    """Cancel every unsent message of these broadcasts; how many."""
    result = connection.execute(
        update(outbox)
        .where(outbox.c.broadcast_id.in_(list(broadcast_ids)), not_in_flight())
        .values(status=OutboxStatus.CANCELLED, error=reason, lease_until=None)
    )
    return int(result.rowcount or 0)
