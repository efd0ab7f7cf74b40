"""Quiet hours: when the district does not text families a broadcast.

Pure: the clock is an argument. Times in and out are naive UTC, as the
database stores them; the window is local wall-clock time, so it follows
daylight saving time. A window may wrap midnight ("20:00-08:00") or not
("12:00-13:00"); "off" (or an empty window) means none.

The window is kept in each family's own time zone (`next_allowed_at` with
their `Place`); the district's zone stands in for a family whose zone is
unknown. A state may have a window of its own where its law is stricter than
the federal 8 am-9 pm (`ENGAGE_QUIET_HOURS_BY_STATE`); a family there waits
out both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.places import Place
from bot.errors import ConfigError

__all__ = ["QuietHours", "parse_quiet_hours"]

# finish_time walks window by window; a year of windows is more than any send needs.
_MAX_WINDOWS = 400


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window, local to `zone`, in which SMS broadcasts wait."""

    start: time
    end: time
    zone: ZoneInfo
    # (state, start, end): a state's own window, kept as well as the general one.
    by_state: tuple[tuple[str, time, time], ...] = ()

    @property
    def wraps_midnight(self) -> bool:
        return self.start > self.end

    def is_quiet(self, now: datetime) -> bool:
        """Whether `now` (naive UTC) falls inside the window."""
        local = _to_local(now, self.zone).time()
        if self.wraps_midnight:
            return local >= self.start or local < self.end
        return self.start <= local < self.end

    def next_allowed(self, now: datetime) -> datetime:
        """`now` if broadcasts may go out now, else the end of this quiet window (naive UTC)."""
        if not self.is_quiet(now):
            return now
        local = _to_local(now, self.zone)
        day = local.date()
        if self.wraps_midnight and local.time() >= self.start:
            day += timedelta(days=1)
        return _to_utc(day, self.end, self.zone)

    def next_allowed_at(self, now: datetime, place: Place | None) -> datetime:
        """`next_allowed`, where the family is: the first moment from `now` (naive UTC)
        outside every window that holds for them, in every zone they may be in."""
        windows = self._windows(place)
        moment = now
        # Each pass moves past one window; it ends when none holds (a few passes).
        for _ in range(_MAX_WINDOWS):
            later = max(window.next_allowed(moment) for window in windows)
            if later == moment:
                return moment
            moment = later
        return moment

    def is_quiet_at(self, now: datetime, place: Place | None) -> bool:
        """Whether a broadcast to a family at `place` must wait at `now` (naive UTC)."""
        return self.next_allowed_at(now, place) > now

    def _windows(self, place: Place | None) -> list[QuietHours]:
        zones = place.zones if place is not None and place.zones else (self.zone,)
        hours = [(self.start, self.end)]
        state = place.state if place is not None else None
        hours += [(start, end) for name, start, end in self.by_state if name == state]
        return [QuietHours(start, end, zone) for zone in zones for start, end in hours]

    def next_quiet(self, now: datetime) -> datetime:
        """The next start of a quiet window after `now` (naive UTC)."""
        local = _to_local(now, self.zone)
        day = local.date()
        start = _to_utc(day, self.start, self.zone)
        if start <= now:
            start = _to_utc(day + timedelta(days=1), self.start, self.zone)
        return start

    def finish_time(self, start: datetime, seconds: float) -> datetime:
        """When `seconds` of sending that begins at `start` ends, pausing through quiet windows."""
        moment = self.next_allowed(start)
        remaining = timedelta(seconds=max(seconds, 0.0))
        for _ in range(_MAX_WINDOWS):
            pause = self.next_quiet(moment)
            if moment + remaining <= pause:
                return moment + remaining
            remaining -= pause - moment
            moment = self.next_allowed(pause)
        return moment + remaining


def parse_quiet_hours(window: str, timezone: str, by_state: str = "") -> QuietHours | None:
    """Parse `ENGAGE_QUIET_HOURS` ("20:00-08:00") for `timezone` ("America/Chicago"),
    with `ENGAGE_QUIET_HOURS_BY_STATE` ("TX=21:00-09:00,FL=20:00-08:00").

    Returns None for "off", "none" or an empty window; raises ConfigError naming
    the variable when a value is malformed.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(
            f"ENGAGE_TIMEZONE: unknown time zone {timezone!r}; use a name like America/Chicago"
        ) from error
    cleaned = window.strip().lower()
    if cleaned in ("", "off", "none", "no"):
        return None
    parts = cleaned.replace("–", "-").split("-")
    if len(parts) != 2:
        raise ConfigError(
            f"ENGAGE_QUIET_HOURS: {window!r} is not a window like 20:00-08:00 (or 'off')"
        )
    start, end = (_parse_time(part, window) for part in parts)
    if start == end:
        return None
    return QuietHours(start, end, zone, _parse_states(by_state))


_BY_STATE = "ENGAGE_QUIET_HOURS_BY_STATE"


def _parse_states(text: str) -> tuple[tuple[str, time, time], ...]:
    found = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        state, _, hours = item.partition("=")
        state = state.strip().upper()
        parts = hours.strip().replace("–", "-").split("-")
        if len(state) != 2 or not state.isalpha() or len(parts) != 2:
            raise ConfigError(
                f"{_BY_STATE}: {item!r} is not like TX=21:00-09:00 "
                "(a state's two letters, then its quiet window)"
            )
        start, end = (_parse_time(part, item, _BY_STATE) for part in parts)
        if start != end:
            found.append((state, start, end))
    return tuple(found)


def _parse_time(value: str, window: str, variable: str = "ENGAGE_QUIET_HOURS") -> time:
    try:
        hours, _, minutes = value.strip().partition(":")
        return time(int(hours), int(minutes or 0))
    except ValueError as error:
        raise ConfigError(
            f"{variable}: {window!r} is not a window like 20:00-08:00 (or 'off')"
        ) from error


def _to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(zone)


def _to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    # A wall time inside a spring-forward gap resolves to the hour after it.
    local = datetime.combine(day, wall, tzinfo=zone)
    return local.astimezone(UTC).replace(tzinfo=None)
