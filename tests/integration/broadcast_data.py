"""A broadcast part sent, part failed, part waiting: for the dashboard's tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select

from storage import models

WHEN = datetime(2026, 9, 3, 15, 0)


def broadcast_with_failures(engine: Engine) -> int:
    """A broadcast to 5 people: 2 sent, 1 number out of service, 1 retrying, 1 queued."""
    with engine.begin() as connection:
        broadcast = connection.execute(
            insert(models.Broadcast.__table__).returning(models.Broadcast.__table__.c.id),
            {
                "kind": "reminder",
                "message": {"en": "Please answer"},
                "audience": {},
                "status": "queued",
                "scheduled_at": WHEN,
                "total": 5,
                "created_by": "cli:ana",
                "created_at": WHEN,
            },
        ).scalar_one()
        contacts = connection.execute(select(models.Contact.__table__.c.id).limit(5)).scalars()
        states = [
            ("sent", None, None),
            ("sent", None, None),
            ("failed", "30005", "Unknown destination handset"),
            ("pending", "30003", "Unreachable destination handset"),
            ("pending", None, None),
        ]
        for contact, (status, code, error) in zip(contacts, states, strict=True):
            connection.execute(
                insert(models.Outbox.__table__),
                {
                    "contact_id": contact,
                    "channel": "sms",
                    "address": "+15550000000",
                    "body": "Please answer",
                    "kind": "broadcast",
                    "status": status,
                    "not_before": WHEN,
                    "error_code": code,
                    "error": error,
                    "broadcast_id": broadcast,
                    "created_at": WHEN,
                },
            )
    return int(broadcast)
