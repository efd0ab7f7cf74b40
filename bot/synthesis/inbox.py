"""The Let's Talk inbox as a table: one row per thread, pseudonymized, for the district's
reports on owners, answer times, the reply promise and urgent messages.

No message text (the synthesis pack's lets_talk table has it): only who, where,
when and how fast. Times are local to the district; durations are in hours,
wall-clock and business time (the promise counts business time).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from bot.core.inbox_report import ThreadRecord
from bot.core.keys import participant_key
from bot.core.promise import ReplyPromise

__all__ = ["INBOX_COLUMNS", "inbox_table"]

INBOX_COLUMNS = (
    "thread",
    "participant",
    "received_at",
    "school",
    "language",
    "role",
    "channel",
    "urgency",
    "concerns",
    "topics",
    "team",
    "owner",
    "claimed_by",
    "status",
    "due_at",
    "first_reply_at",
    "hours_to_first_reply",
    "business_hours_to_first_reply",
    "within_promise",
    "resolved_at",
    "hours_to_resolution",
    "resolved_by",
    "messages",
    "staff_replies",
    "translated_replies",
)


def inbox_table(
    records: Sequence[ThreadRecord],
    promise: ReplyPromise,
    secret: str,
    timezone: str,
    now: datetime,
) -> pd.DataFrame:
    """One row per thread (thank-yous set aside are left out), oldest first."""
    zone = ZoneInfo(timezone)

    def local(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def hours(start: datetime, end: datetime | None) -> float | None:
        return round((end - start).total_seconds() / 3600, 2) if end is not None else None

    rows = []
    for record in records:
        item = record.item
        if item.is_closing:
            continue
        due = item.due_at or promise.due_at(item.created_at)
        if item.first_response_at is not None:
            kept = "yes" if item.first_response_at <= due else "no"
        else:
            kept = "no" if now > due else "open"
        answered = item.first_response_at
        rows.append(
            {
                "thread": item.id,
                "participant": participant_key(secret, record.export_salt),
                "received_at": local(item.created_at),
                "school": item.school or "",
                "language": item.language or "",
                "role": item.role or "",
                "channel": item.channel,
                "urgency": item.urgency.value,
                "concerns": ", ".join(item.concerns),
                "topics": ", ".join(item.topics),
                "team": item.team or "",
                "owner": item.owner or "",
                "claimed_by": item.claimed_by or "",
                "status": item.status.value,
                "due_at": local(due),
                "first_reply_at": local(answered),
                "hours_to_first_reply": hours(item.created_at, answered),
                "business_hours_to_first_reply": (
                    round(promise.age(item.created_at, answered).total_seconds() / 3600, 2)
                    if answered is not None
                    else None
                ),
                "within_promise": kept,
                "resolved_at": local(item.resolved_at),
                "hours_to_resolution": hours(item.created_at, item.resolved_at),
                "resolved_by": item.resolved_by or "",
                "messages": record.messages,
                "staff_replies": record.replies,
                "translated_replies": record.translated,
            }
        )
    return pd.DataFrame.from_records(rows, columns=list(INBOX_COLUMNS))
