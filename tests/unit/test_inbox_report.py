"""The inbox against the reply promise: open threads by age, the share kept per school and
language."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.business_hours import BusinessHours
from bot.core.inbox_report import inbox_report
from bot.core.promise import ReplyPromise
from bot.core.staff import InboxItem, ItemStatus

PROMISE = ReplyPromise(BusinessHours(ZoneInfo("America/Chicago")), timedelta(hours=48))
MONDAY = datetime(2026, 9, 14, 14, 0)
DUE = datetime(2026, 9, 16, 14, 0)
NOW = datetime(2026, 9, 18, 14, 0)


def thread(
    number: int,
    school: str | None,
    language: str,
    answered: datetime | None,
    status: ItemStatus = ItemStatus.OPEN,
    created: datetime = MONDAY,
    closing: bool = False,
) -> InboxItem:
    return InboxItem(
        number,
        f"P-{number}",
        "sms",
        "text",
        created,
        school=school,
        language=language,
        status=status,
        first_response_at=answered,
        owner="U0OWNER",
        claimed_by="U0ANA" if number == 2 else None,
        due_at=PROMISE.due_at(created),
        is_closing=closing,
    )


def test_the_promise_is_counted_per_school_and_language() -> None:
    roots = [
        thread(1, "lincoln-es", "es", MONDAY + timedelta(hours=3), ItemStatus.RESOLVED),
        thread(2, "lincoln-es", "en", DUE + timedelta(minutes=1)),
        thread(3, "kennedy-hs", "es", None),
        thread(4, None, "vi", None, created=NOW - timedelta(hours=1)),
        thread(5, None, "vi", None, ItemStatus.RESOLVED, closing=True),
    ]
    report = inbox_report(roots, PROMISE, NOW)
    assert [(s.key, s.kept, s.broken, s.waiting) for s in report.by_school] == [
        ("(not given)", 0, 0, 1),
        ("kennedy-hs", 0, 1, 0),
        ("lincoln-es", 1, 1, 0),
    ]
    assert [(s.key, s.share) for s in report.by_language] == [
        ("en", 0.0),
        ("es", 0.5),
        ("vi", None),
    ]
    assert report.overall.share == 1 / 3
    assert [t.item.id for t in report.open] == [2, 3, 4]
    assert [t.is_overdue for t in report.open] == [False, True, False]
    assert report.open[1].age == timedelta(hours=96)
    assert report.by_owner == (("U0OWNER", 2), ("U0ANA", 1))
