"""The reply promise's clock: weekends, holidays and daylight saving time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.business_hours import BusinessHours

CHICAGO = ZoneInfo("America/Chicago")
EVERY_DAY = frozenset(range(7))
MLK_DAY = date(2026, 1, 19)


def local(*parts: int) -> datetime:
    """A Chicago wall-clock time as naive UTC."""
    return datetime(*parts, tzinfo=CHICAGO).astimezone(UTC).replace(tzinfo=None)


def wall(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(CHICAGO).replace(tzinfo=None)


WEEKDAYS = BusinessHours(CHICAGO)
OFFICE = BusinessHours(CHICAGO, opens=time(8), closes=time(17))
HOLIDAYS = BusinessHours(CHICAGO, holidays=frozenset({MLK_DAY}))

CASES = [
    # label, hours, sent (Chicago), promise, due (Chicago)
    ("a weekday message is due two days later", WEEKDAYS, (2026, 1, 6, 10), 48, (2026, 1, 8, 10)),
    ("friday afternoon is due tuesday", WEEKDAYS, (2026, 1, 9, 15), 48, (2026, 1, 13, 15)),
    ("saturday starts on monday", WEEKDAYS, (2026, 1, 10, 9), 48, (2026, 1, 14, 0)),
    ("a sunday night message too", WEEKDAYS, (2026, 1, 11, 23), 24, (2026, 1, 13, 0)),
    ("a holiday monday does not count", HOLIDAYS, (2026, 1, 16, 15), 48, (2026, 1, 21, 15)),
    ("a holiday is skipped mid-promise", HOLIDAYS, (2026, 1, 15, 12), 48, (2026, 1, 20, 12)),
    ("office hours only count 9 a day", OFFICE, (2026, 1, 6, 16), 18, (2026, 1, 8, 16)),
    ("after closing starts next morning", OFFICE, (2026, 1, 6, 18), 2, (2026, 1, 7, 10)),
    ("office friday evening", OFFICE, (2026, 1, 9, 16), 2, (2026, 1, 12, 9)),
    ("spring forward: monday is in daylight time", OFFICE, (2026, 3, 6, 16), 2, (2026, 3, 9, 9)),
    ("fall back: monday is in standard time", OFFICE, (2026, 10, 30, 16), 2, (2026, 11, 2, 9)),
    ("spring forward over the whole weekend", WEEKDAYS, (2026, 3, 6, 15), 48, (2026, 3, 10, 15)),
]


@pytest.mark.parametrize(
    ("hours", "sent", "promise", "due"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_promise_falls_due_after_its_business_hours(
    hours: BusinessHours,
    sent: tuple[int, ...],
    promise: int,
    due: tuple[int, ...],
) -> None:
    deadline = hours.add(local(*sent), timedelta(hours=promise))
    assert wall(deadline) == datetime(*due)
    assert hours.elapsed(local(*sent), deadline) == timedelta(hours=promise)


def test_the_spring_forward_night_has_one_hour_less() -> None:
    every_hour = BusinessHours(CHICAGO, days=EVERY_DAY)
    due = every_hour.add(local(2026, 3, 7, 12), timedelta(hours=48))
    # 48 hours of real time: noon on Saturday is 1 p.m. on Monday once clocks move.
    assert wall(due) == datetime(2026, 3, 9, 13)
    assert due - local(2026, 3, 7, 12) == timedelta(hours=48)


def test_the_fall_back_night_has_one_hour_more() -> None:
    every_hour = BusinessHours(CHICAGO, days=EVERY_DAY)
    due = every_hour.add(local(2026, 10, 31, 12), timedelta(hours=48))
    assert wall(due) == datetime(2026, 11, 2, 11)


def test_a_sunday_night_change_leaves_weekday_hours_whole() -> None:
    # Monday after spring forward: 00:00 CDT to 24:00 CDT, all 24 hours.
    monday = local(2026, 3, 9, 0)
    assert WEEKDAYS.elapsed(local(2026, 3, 6, 0), local(2026, 3, 10, 0)) == timedelta(hours=48)
    assert WEEKDAYS.elapsed(monday, monday + timedelta(days=1)) == timedelta(hours=24)


def test_time_outside_business_hours_does_not_count() -> None:
    assert WEEKDAYS.elapsed(local(2026, 1, 10, 0), local(2026, 1, 12, 0)) == timedelta(0)
    assert OFFICE.elapsed(local(2026, 1, 6, 17), local(2026, 1, 7, 8)) == timedelta(0)
    assert OFFICE.elapsed(local(2026, 1, 7, 12), local(2026, 1, 6, 12)) == timedelta(0)


def test_whether_the_clock_runs_now() -> None:
    assert OFFICE.is_open(local(2026, 1, 6, 8))
    assert not OFFICE.is_open(local(2026, 1, 6, 17))
    assert not OFFICE.is_open(local(2026, 1, 10, 12))
    assert not HOLIDAYS.is_open(local(2026, 1, 19, 12))


def test_a_zero_promise_starts_at_opening() -> None:
    assert wall(OFFICE.add(local(2026, 1, 10, 12), timedelta(0))) == datetime(2026, 1, 12, 8)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"days": frozenset()}, "at least one day"),
        ({"opens": time(17), "closes": time(8)}, "close after they open"),
    ],
)
def test_business_hours_that_never_open_are_refused(
    options: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        BusinessHours(CHICAGO, **options)  # type: ignore[arg-type]


@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 20),
    office=st.booleans(),
)
def test_elapsed_undoes_add(start: datetime, minutes: int, office: bool) -> None:
    hours = OFFICE if office else HOLIDAYS
    due = hours.add(start, timedelta(minutes=minutes))
    assert due >= start
    assert hours.elapsed(start, due) == timedelta(minutes=minutes)
