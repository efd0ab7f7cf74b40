"""Business hours: when the clock of the district's reply promise runs.

Pure: every time in and out is naive UTC, as the database stores it; the
hours are local wall-clock time in the district's zone, so they follow
daylight saving time (a spring-forward night has one hour less, a fall-back
night one more). A day counts when it is one of `days` and not a holiday.

The default is every hour of Monday to Friday: a 48-hour promise is then two
working days, and a message sent on Saturday is due on Tuesday night. With
`opens`/`closes` set (08:00-17:00), only those hours count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["WEEKDAYS", "BusinessHours"]

WEEKDAYS = frozenset(range(5))
# A walk through business days stops after this many calendar days; no promise is longer.
_MAX_DAYS = 3700


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Open hours on `days` (0 is Monday) in `zone`, except `holidays`.

    `closes` None means the end of the day (midnight after).
    """

    zone: ZoneInfo
    days: frozenset[int] = WEEKDAYS
    opens: time = time(0)
    closes: time | None = None
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("business hours need at least one day")
        if self.closes is not None and self.closes <= self.opens:
            raise ValueError("business hours must close after they open")

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals (naive UTC) that end after `start`, in order, the first cut at it."""
        day = _local(start, self.zone).date() - timedelta(days=1)
        for _ in range(_MAX_DAYS):
            if self.is_business_day(day):
                opens = _utc(day, self.opens, self.zone)
                closes = (
                    _utc(day + timedelta(days=1), time(0), self.zone)
                    if self.closes is None
                    else _utc(day, self.closes, self.zone)
                )
                if closes > start:
                    yield max(opens, start), closes
            day += timedelta(days=1)

    def is_open(self, moment: datetime) -> bool:
        """Whether the clock runs at `moment`."""
        for opens, _ in self.intervals(moment):
            return opens <= moment
        return False

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """When `duration` of business time after `start` has passed (naive UTC).

        A promise made outside business hours starts when they next open;
        a zero duration gives that moment.
        """
        remaining = max(duration, timedelta(0))
        for opens, closes in self.intervals(start):
            if opens + remaining <= closes:
                return opens + remaining
            remaining -= closes - opens
        raise ValueError("no business hours within ten years")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between `start` and `end` (zero when `end` is not later)."""
        total = timedelta(0)
        if end <= start:
            return total
        for opens, closes in self.intervals(start):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(zone)


def _utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    # A wall time inside a spring-forward gap resolves to the hour after it;
    # one that occurs twice (fall back) to its first occurrence.
    local = datetime.combine(day, wall, tzinfo=zone)
    return local.astimezone(UTC).replace(tzinfo=None)
