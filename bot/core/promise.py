"""The district's reply promise: when a Let's Talk thread is due, when to remind, who answered in time.

Pure: times are naive UTC; the clock runs only in business hours
(bot.core.business_hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.business_hours import BusinessHours

__all__ = ["DEFAULT_PROMISE", "ReplyPromise"]


@dataclass(frozen=True, slots=True)
class ReplyPromise:
    """Answer within `within` business time; remind the owner `remind_before` it is due.

    After the deadline the thread is escalated to its team's lead.
    """

    hours: BusinessHours
    within: timedelta = timedelta(hours=48)
    remind_before: timedelta = timedelta(hours=4)

    def due_at(self, received: datetime) -> datetime:
        """When a message received at `received` must have had its first answer."""
        return self.hours.add(received, self.within)

    def remind_at(self, received: datetime) -> datetime:
        """When to remind the owner, `remind_before` of business time before it is due."""
        return self.hours.add(received, max(self.within - self.remind_before, timedelta(0)))

    def is_kept(self, received: datetime, answered: datetime | None, now: datetime) -> bool | None:
        """Whether the promise was kept: True or False once known, None while still open."""
        if answered is not None:
            return answered <= self.due_at(received)
        return False if now > self.due_at(received) else None

    def age(self, received: datetime, now: datetime) -> timedelta:
        """Business time a message has waited."""
        return self.hours.elapsed(received, now)


DEFAULT_PROMISE = ReplyPromise(BusinessHours(ZoneInfo("America/Chicago")))
